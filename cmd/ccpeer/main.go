// Command ccpeer is a development peer for chaincode servers.
package main

import "os"

func main() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) }
