// Command clientbuilder is a Fabric external builder for chaincode run as a
// client (the peer launches it; it dials the peer). Install it as
// BUILDER/bin/detect, bin/build and bin/run (clientbuilder.Install) and
// name BUILDER in core.yaml's chaincode.externalBuilders; it reads which
// step to do from the name it runs under.
package main

import (
	"os"

	"github.com/ccserver/ccserver/e2e/internal/clientbuilder"
)

func main() {
	os.Exit(clientbuilder.Main(os.Args, os.Environ(), os.Stderr))
}
