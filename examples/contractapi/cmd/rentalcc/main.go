// Command rentalcc serves the equipment-rental contract-api chaincode
// with ccserver: the same flags, environment variables, mutual TLS,
// health, metrics and signals as ccserver itself.
package main

import (
	"fmt"
	"os"

	"github.com/ccserver/ccserver/examples/contractapi/rental"
	"github.com/ccserver/ccserver/fabricshim"
	"github.com/ccserver/ccserver/serve"
)

func main() {
	cc, err := rental.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rentalcc:", err)
		os.Exit(1)
	}
	serve.Main(fabricshim.Wrap(cc))
}
