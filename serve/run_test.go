package serve

import (
	"context"
	"strings"
	"syscall"
	"testing"

	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestDrainOnSignal: SIGTERM with a transaction in flight reports
// NOT_SERVING to health watchers, refuses new transactions, lets the
// running one finish and reach the peer, then exits 0.
func TestDrainOnSignal(t *testing.T) {
	p := newPKI(t)
	cc := newTestCC()
	srv := startServer(t, cc, append([]string{"--address", "127.0.0.1:0", "--ccid", "drain:1", "--shutdown-timeout", "1m"}, p.tlsArgs()...), nil)
	peer := dialPeer(t, srv.addrs.Chaincode, p.clientTLS(t, p.client))

	hc, err := grpc.NewClient(srv.addrs.Chaincode.String(), grpc.WithTransportCredentials(credentials.NewTLS(p.clientTLS(t, p.client))))
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch, err := healthpb.NewHealthClient(hc).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := watch.Recv(); err != nil || st.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before drain: %v %v", st, err)
	}

	ch, err := peer.send("ch", "tx-block", "block")
	if err != nil {
		t.Fatal(err)
	}
	<-cc.started
	srv.signals <- syscall.SIGTERM
	if st, err := watch.Recv(); err != nil || st.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health while draining: %v %v", st, err)
	}
	waitFor(t, "the drain log", func() bool { return strings.Contains(srv.stderr.String(), "draining") })
	// A new transaction on the open stream is refused while draining.
	refused, err := peer.send("ch", "tx-late", "echo", "x")
	if err != nil {
		t.Fatal(err)
	}
	if m := peer.result(t, refused); m.Type != pb.ChaincodeMessage_ERROR {
		t.Fatalf("transaction during drain: %s %q, want ERROR", m.Type, m.Payload)
	}
	close(cc.release)
	defer func() { t.Log(srv.stderr.String()) }()
	if r := completed(t, peer.result(t, ch)); string(r.Payload) != "released" {
		t.Fatalf("in-flight transaction: %+v", r)
	}
	if code := srv.exitCode(t); code != ExitOK {
		t.Fatalf("exit %d:\n%s", code, srv.stderr)
	}
}
