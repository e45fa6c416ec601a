// Command ccpki issues and renews the certificates a chaincode-as-a-service
// deployment needs, from a local CA, a step-ca or a cfssl server, and
// writes the ccaas package the peer installs. Run "ccpki --help" for the
// verbs.
package main

import (
	"os"

	"github.com/ccserver/ccserver/cmd/ccpki/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
