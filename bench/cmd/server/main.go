// Command server serves the benchmark chaincode over mTLS with one of five
// implementations, so that a load generator can measure each in its own
// process:
//
//	ours      github.com/ccserver/ccserver/shim ChaincodeServer
//	anchor    github.com/hyperledger/fabric-chaincode-go/v2 shim.ChaincodeServer
//	raw       the generated-code reference: no shim, the same round trips by hand
//	lean      the protocol bound: raw's round trips on one goroutine per stream
//	          with a hand-rolled codec (package lean); the targets refer to it
//	leansync  the control: lean's codec and frames with the structure a
//	          synchronous stub API needs (a worker per transaction in flight
//	          blocking in each state call, a routing map, a send lock;
//	          lean.RegisterSync)
//
// When it listens it prints one JSON line to stdout: {"impl", "addr",
// "stats", "pid"}; "stats" is an HTTP URL serving its allocation counters.
// SIGINT or SIGTERM stops it (writing -cpuprofile / -memprofile first).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/ccserver/ccserver/bench/internal/benchcc"
	"github.com/ccserver/ccserver/bench/internal/lean"
	"github.com/ccserver/ccserver/bench/internal/raw"
	"github.com/ccserver/ccserver/bench/internal/stats"
	ours "github.com/ccserver/ccserver/shim"
	anchor "github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

type ourCC struct{}

func (ourCC) Init(ours.ChaincodeStubInterface) *peer.Response { return &peer.Response{Status: 200} }
func (ourCC) Invoke(stub ours.ChaincodeStubInterface) *peer.Response {
	return benchcc.Invoke[ours.StateQueryIteratorInterface](stub)
}

type anchorCC struct{}

func (anchorCC) Init(anchor.ChaincodeStubInterface) *peer.Response {
	return &peer.Response{Status: 200}
}
func (anchorCC) Invoke(stub anchor.ChaincodeStubInterface) *peer.Response {
	return benchcc.Invoke[anchor.StateQueryIteratorInterface](stub)
}

// Ready is the line a server prints once it accepts connections.
type Ready struct {
	Impl  string `json:"impl"`
	Addr  string `json:"addr"`
	Stats string `json:"stats"`
	PID   int    `json:"pid"`
}

func run() error {
	impl := flag.String("impl", "ours", "implementation: ours, anchor, raw, lean or leansync")
	addr := flag.String("addr", "127.0.0.1:0", "chaincode listen address (port 0 picks a free port)")
	certFile := flag.String("cert", "", "server certificate PEM file (required)")
	keyFile := flag.String("key", "", "server private key PEM file (required)")
	caFile := flag.String("client-ca", "", "PEM file of the CA whose clients (peers) are admitted (required)")
	ccid := flag.String("ccid", "bench_1.0:0000", "chaincode package id to register with")
	statsAddr := flag.String("stats", "127.0.0.1:0", "listen address of the stats HTTP endpoint")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memProfile := flag.String("memprofile", "", "write an allocation profile to this file at exit")
	memRate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate for -memprofile (1: every allocation; 0: Go's default sampling)")
	flag.Parse()
	if *memRate > 0 {
		runtime.MemProfileRate = *memRate
	}
	if *certFile == "" || *keyFile == "" || *caFile == "" {
		return errors.New("-cert, -key and -client-ca are required: the benchmark runs over mTLS only")
	}
	cert, err1 := os.ReadFile(*certFile)
	key, err2 := os.ReadFile(*keyFile)
	ca, err3 := os.ReadFile(*caFile)
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}

	statsLis, err := net.Listen("tcp", *statsAddr)
	if err != nil {
		return fmt.Errorf("stats listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/stats", stats.Handler())
	go func() { _ = http.Serve(statsLis, mux) }()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	var stop func()
	var listenAddr string
	switch *impl {
	case "ours":
		lis, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		cs := &ours.ChaincodeServer{CCID: *ccid, Address: lis.Addr().String(), CC: ourCC{},
			TLSProps: ours.TLSProperties{Cert: cert, Key: key, ClientCACerts: ca}}
		go func() { _ = cs.Serve(lis) }()
		listenAddr = lis.Addr().String()
		stop = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = cs.Shutdown(ctx)
		}
	case "anchor":
		// The anchor listens itself (Start): choose a free port for it.
		if listenAddr, err = freeAddr(*addr); err != nil {
			return err
		}
		cs := &anchor.ChaincodeServer{CCID: *ccid, Address: listenAddr, CC: anchorCC{},
			TLSProps: anchor.TLSProperties{Cert: cert, Key: key, ClientCACerts: ca}}
		errc := make(chan error, 1)
		go func() { errc <- cs.Start() }()
		if err := waitListening(listenAddr, errc); err != nil {
			return err
		}
		stop = func() {}
	case "raw":
		lis, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		s, err := rawServer(cert, key, ca)
		if err != nil {
			return err
		}
		peer.RegisterChaincodeServer(s, &raw.Server{CCID: *ccid})
		go func() { _ = s.Serve(lis) }()
		listenAddr = lis.Addr().String()
		stop = s.Stop
	case "lean", "leansync":
		lis, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		s, err := rawServer(cert, key, ca, lean.ServerOption())
		if err != nil {
			return err
		}
		if *impl == "lean" {
			lean.Register(s, *ccid)
		} else {
			lean.RegisterSync(s, *ccid)
		}
		go func() { _ = s.Serve(lis) }()
		listenAddr = lis.Addr().String()
		stop = s.Stop
	default:
		return fmt.Errorf("unknown -impl %q: want ours, anchor, raw, lean or leansync", *impl)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if err := json.NewEncoder(os.Stdout).Encode(Ready{Impl: *impl, Addr: listenAddr, Stats: "http://" + statsLis.Addr().String() + "/stats", PID: os.Getpid()}); err != nil {
		return err
	}
	<-sig
	stop()
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		return pprof.Lookup("allocs").WriteTo(f, 0)
	}
	return nil
}

// rawServer is a gRPC server with the settings both shims use: mTLS with
// a verified client certificate, 100 MiB messages, the peer's keepalive.
func rawServer(certPEM, keyPEM, caPEM []byte, extra ...grpc.ServerOption) (*grpc.Server, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("server key pair: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("-client-ca holds no PEM certificate")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	const maxMsg = 100 << 20
	return grpc.NewServer(append([]grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(cfg)),
		grpc.MaxRecvMsgSize(maxMsg), grpc.MaxSendMsgSize(maxMsg),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 20 * time.Second, PermitWithoutStream: true}),
	}, extra...)...), nil
}

func freeAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("-addr %q: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer lis.Close()
	return lis.Addr().String(), nil
}

// waitListening returns once addr accepts TCP connections, or Start failed.
func waitListening(addr string, errc <-chan error) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-errc:
			return fmt.Errorf("anchor server: %w", err)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("anchor server not listening on %s after 20s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
