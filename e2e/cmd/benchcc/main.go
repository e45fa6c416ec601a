// Command benchcc serves the end-to-end benchmark's chaincode (package
// benchcc) as a chaincode server the peer's ccaas builder dials, over
// mTLS, with one of the two shims:
//
//	-impl ours    github.com/ccserver/ccserver/shim ChaincodeServer
//	-impl anchor  github.com/hyperledger/fabric-chaincode-go/v2 v2.3.0 shim.ChaincodeServer
//
// Both are the bare ChaincodeServer with its defaults and Start, which
// listens on -address itself; nothing else runs in the process (no
// metrics, no logging), so its CPU is the shim's and the chaincode's.
// cmd/peerbench starts one of each. SIGTERM or SIGINT stops it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ccserver/ccserver/e2e/chaincode/benchcc"
	ours "github.com/ccserver/ccserver/shim"
	anchor "github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchcc:", err)
		os.Exit(1)
	}
}

func run() error {
	impl := flag.String("impl", "ours", "shim: ours or anchor")
	addr := flag.String("address", "", "listen address, e.g. 127.0.0.1:9999 (required)")
	ccid := flag.String("ccid", "", "package id the peer installed, label:hash (required)")
	certFile := flag.String("tls-cert", "", "server certificate PEM file (required)")
	keyFile := flag.String("tls-key", "", "server private key PEM file (required)")
	caFile := flag.String("client-ca", "", "PEM file of the CA whose clients (peers) are admitted (required)")
	flag.Parse()
	if *addr == "" || *ccid == "" || *certFile == "" || *keyFile == "" || *caFile == "" {
		return errors.New("-address, -ccid, -tls-cert, -tls-key and -client-ca are required (mTLS only)")
	}
	cert, err1 := os.ReadFile(*certFile)
	key, err2 := os.ReadFile(*keyFile)
	ca, err3 := os.ReadFile(*caFile)
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}

	errc := make(chan error, 1)
	var stop func()
	switch *impl {
	case "ours":
		cs := &ours.ChaincodeServer{CCID: *ccid, Address: *addr, CC: benchcc.Ours{},
			TLSProps: ours.TLSProperties{Cert: cert, Key: key, ClientCACerts: ca}}
		go func() { errc <- cs.Start() }()
		stop = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = cs.Shutdown(ctx)
		}
	case "anchor":
		cs := &anchor.ChaincodeServer{CCID: *ccid, Address: *addr, CC: benchcc.Anchor{},
			TLSProps: anchor.TLSProperties{Cert: cert, Key: key, ClientCACerts: ca}}
		go func() { errc <- cs.Start() }()
		stop = func() {} // the anchor's server has no stop; the process ends
	default:
		return fmt.Errorf("unknown -impl %q: want ours or anchor", *impl)
	}
	fmt.Fprintf(os.Stderr, "benchcc: %s serving %s on %s\n", *impl, *ccid, *addr)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		return fmt.Errorf("%s server: %w", *impl, err)
	case <-sig:
		stop()
		return nil
	}
}
