// Package shim is the chaincode side of the Hyperledger Fabric chaincode
// protocol, source-compatible with
// github.com/hyperledger/fabric-chaincode-go/v2/shim (v2.3.0): a chaincode
// moves over by changing its import path, and every exported name of the
// original keeps its signature.
//
// # Two ways to run
//
// As a server (Fabric's ccaas builder, "chaincode as a service"): the peer
// dials the chaincode. Build a ChaincodeServer with the package id the
// peer installed (CCID), the listen address and TLSProps, and call Start
// or, for graceful stops, Serve and Shutdown:
//
//	server := &shim.ChaincodeServer{
//		CCID:    "basic_1.0:<sha256>",
//		Address: "0.0.0.0:9999",
//		CC:      mychaincode.New(),
//		TLSProps: shim.TLSProperties{
//			CertFile: "/certs/tls.crt", KeyFile: "/certs/tls.key",
//			ClientCAFile: "/certs/peer-ca.crt",
//		},
//	}
//	err := server.Start()
//
// As a client (a builder that launches the program): the chaincode dials
// the peer. Start(cc) reads the peer's CORE_* variables and -peer.address
// exactly as the original shim does; it is the only code of this package
// that reads the environment.
//
// For a whole command line around a server — flags, environment fallbacks,
// health, metrics, logs, signals — use serve.Main(cc) instead.
//
// # What differs from the original
//
// A panic in Init or Invoke fails that transaction with status 500 instead
// of ending the process. When a stream dies, every waiting stub call
// returns an error and its goroutines end. Transactions run on a bounded
// pool (ChaincodeServer.MaxConcurrentTx); an iterator the peer has already
// released is closed without a round trip; write batches and multi-key
// reads are used when the peer offers them (Fabric 3.1) and fall back to
// single calls otherwise. TLS is built by package tlsconfig: files reload
// when they change, peers can be pinned, checked against a CRL and
// authorized per connection, and TLS without a client CA must be asked for
// (InsecureNoClientAuth) instead of happening when ClientCACerts is empty.
//
// Everything that touches the protocol is also tested against real Fabric
// peers (v2.5.16 and v3.1.5) in the repository's e2e module.
package shim
