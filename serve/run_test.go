package serve

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(cc.release) }) }
	defer release()
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
	cancel() // a watch would hold its connection open until the deadline
	// New transactions on the open stream are refused once the drain
	// reaches it (the health change may come a moment earlier).
	for i := 0; ; i++ {
		late, err := peer.send("ch", fmt.Sprint("tx-late-", i), "echo", "x")
		if err != nil {
			t.Fatal(err)
		}
		if m := peer.result(t, late); m.Type == pb.ChaincodeMessage_ERROR {
			if !strings.Contains(string(m.Payload), "shutting down") {
				t.Fatalf("refusal %q", m.Payload)
			}
			break
		}
		if i > 1000 {
			t.Fatal("transactions still accepted while draining")
		}
		time.Sleep(5 * time.Millisecond)
	}
	release()
	if r := completed(t, peer.result(t, ch)); string(r.Payload) != "released" {
		t.Fatalf("in-flight transaction: %+v", r)
	}
	if code := srv.exitCode(t); code != ExitOK {
		t.Fatalf("exit %d:\n%s", code, srv.stderr)
	}
}
