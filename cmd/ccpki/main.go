// Command ccpki issues and renews the certificates a chaincode-as-a-service
// deployment needs, from a local CA, and writes the ccaas package the peer
// installs. Run "ccpki --help" for the verbs.
package main

import (
	"os"
)

func main() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) }
