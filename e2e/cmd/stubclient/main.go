// Command stubclient runs the stub-areas test chaincode as a client of
// the peer: an external builder starts it with the peer's CORE_* variables
// (and -peer.address), and it dials the peer, as the peer's own chaincode
// launcher does.
package main

import (
	"fmt"
	"os"

	"github.com/ccserver/ccserver/e2e/chaincode/stubareas"
	"github.com/ccserver/ccserver/shim"
)

func main() {
	if err := shim.Start(stubareas.New()); err != nil {
		fmt.Fprintf(os.Stderr, "stubclient: %v\n", err)
		os.Exit(1)
	}
}
