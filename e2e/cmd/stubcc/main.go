// Command stubcc serves the stub-areas test chaincode as a chaincode
// server (the peer's ccaas builder dials it), with ccserver's flags,
// environment, health, metrics and signals.
package main

import (
	"github.com/ccserver/ccserver/e2e/chaincode/stubareas"
	"github.com/ccserver/ccserver/serve"
)

func main() { serve.Main(stubareas.New()) }
