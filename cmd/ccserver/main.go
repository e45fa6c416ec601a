// Command ccserver serves the asset-transfer-basic sample chaincode to
// Fabric peers over mutual TLS. Run "ccserver --help" for its flags; any
// other chaincode gets the same command line from serve.Main.
package main

import (
	"github.com/ccserver/ccserver/examples/assettransfer"
	"github.com/ccserver/ccserver/serve"
)

func main() { serve.Main(assettransfer.New()) }
