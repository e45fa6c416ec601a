package tlsconfig_test

import (
	"context"
	"crypto/tls"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
)

// grpcServer serves the health service over ServerConfig with a file
// identity in a Kubernetes-style directory.
type grpcServer struct {
	ca    *testpki.CA
	k     *k8sDir
	id    *tlsconfig.FileIdentity
	trust tlsconfig.TrustSource
	addr  string
	stop  func()
}

func startGRPC(t testing.TB) *grpcServer {
	t.Helper()
	g := &grpcServer{ca: testpki.NewCA(t), k: newK8sDir(t)}
	g.k.publish(t, leafFiles(g.ca.Server(t)))
	var err error
	// A long poll: the directory watch alone must carry every rotation.
	g.id, err = tlsconfig.NewFileIdentity(g.k.path("tls.crt"), g.k.path("tls.key"), tlsconfig.WithPollInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	g.trust = mustStaticTrust(t, g.ca.CertPEM)
	cfg, err := tlsconfig.ServerConfig(g.id, tlsconfig.WithClientTrust(g.trust))
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = ln.Addr().String()
	served := make(chan struct{})
	go func() { defer close(served); _ = gs.Serve(ln) }()
	g.stop = func() { gs.Stop(); <-served; g.id.Close() }
	return g
}

func (g *grpcServer) clientConfig(t testing.TB) *tls.Config {
	t.Helper()
	cfg, err := tlsconfig.ClientConfig(g.trust, tlsconfig.WithServerName("localhost"),
		tlsconfig.WithClientIdentity(mustStaticIdentity(t, g.ca.Client(t))))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// servedSerial opens a new TLS connection and returns the leaf serial the
// server presented.
func servedSerial(addr string, cfg *tls.Config) (*big.Int, error) {
	d := &net.Dialer{Timeout: waitFor}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// TestRotationUnderLoad rotates the server leaf every 100 ms for 10 s while
// 64 request loops run over gRPC: no request may fail, and new connections
// must see new certificates.
func TestRotationUnderLoad(t *testing.T) {
	duration := 10 * time.Second
	if testing.Short() {
		duration = 2 * time.Second
	}
	g := startGRPC(t)
	defer g.stop()
	cliCfg := g.clientConfig(t)

	const loops, conns = 64, 8
	var clients []*grpc.ClientConn
	for range conns {
		cc, err := grpc.NewClient(g.addr, grpc.WithTransportCredentials(credentials.NewTLS(cliCfg)))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		clients = append(clients, cc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	for i := range loops {
		hc := healthpb.NewHealthClient(clients[i%conns])
		wg.Go(func() {
			for ctx.Err() == nil {
				rctx, rcancel := context.WithTimeout(context.Background(), waitFor)
				_, err := hc.Check(rctx, &healthpb.HealthCheckRequest{})
				rcancel()
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		})
	}
	// New connections, continually, recording what they are served.
	var seenMu sync.Mutex
	seen := map[string]bool{}
	var dialFailed atomic.Int64
	wg.Go(func() {
		for ctx.Err() == nil {
			s, err := servedSerial(g.addr, cliCfg)
			if err != nil {
				dialFailed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				continue
			}
			seenMu.Lock()
			seen[s.Text(16)] = true
			seenMu.Unlock()
		}
	})

	published := map[string]bool{}
	var last *testpki.Leaf
	tick := time.NewTicker(100 * time.Millisecond)
	for end := time.Now().Add(duration); time.Now().Before(end); <-tick.C {
		last = g.ca.Server(t)
		g.k.publish(t, leafFiles(last))
		published[last.Cert.SerialNumber.Text(16)] = true
	}
	tick.Stop()
	// A new connection must get the last certificate.
	deadline := time.Now().Add(waitFor)
	for {
		s, err := servedSerial(g.addr, cliCfg)
		if err == nil && s.Cmp(last.Cert.SerialNumber) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new connections still not served the last certificate after %s (got %v, err %v)", waitFor, s, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()

	if n := failed.Load() + dialFailed.Load(); n > 0 {
		t.Fatalf("%d requests and %d new connections failed during rotation; first: %v", failed.Load(), dialFailed.Load(), firstErr.Load())
	}
	if ok.Load() == 0 {
		t.Fatal("no request completed")
	}
	rotatedSeen := 0
	for s := range seen {
		if published[s] {
			rotatedSeen++
		}
	}
	if rotatedSeen < 2 {
		t.Fatalf("new connections saw %d rotated certificates out of %d published", rotatedSeen, len(published))
	}
	t.Logf("%d requests ok during %d rotations; new connections saw %d distinct rotated certificates", ok.Load(), len(published), rotatedSeen)
}
