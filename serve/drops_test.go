package serve

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// dropReasons are every value of ccserver_connections_dropped_total's
// reason label.
var dropReasons = []string{dropConnectionLimit, dropHandshakeTime, dropNoALPN, dropHandshakeError, dropTooManyPings, dropMessageTooLarge}

// TestConnectionDrops provokes each reason a connection or stream is
// dropped with a real client over loopback, and checks that the drop is
// counted under that reason (and no other) and logged at debug with the
// client's address.
func TestConnectionDrops(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		args   []string
		// provoke makes the server drop a connection and returns the
		// client's address, which the log line must name.
		provoke func(t *testing.T, srv *running, p *pkiSet) net.Addr
	}{
		{"connection beyond --max-connections", dropConnectionLimit, []string{"--max-connections", "1"},
			func(t *testing.T, srv *running, p *pkiSet) net.Addr {
				// A peer holds the one connection; the next is closed at accept.
				dialPeer(t, srv.addrs.Chaincode, p.clientTLS(t, p.client))
				c := dialTCP(t, srv.addrs.Chaincode)
				c.SetReadDeadline(time.Now().Add(wait))
				if n, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
					t.Errorf("connection beyond the limit: read %d bytes, err %v; want it closed", n, err)
				}
				return c.LocalAddr()
			}},
		{"connection that never handshakes", dropHandshakeTime, nil,
			func(t *testing.T, srv *running, _ *pkiSet) net.Addr {
				// grpc's ConnectionTimeout (5 s in shim) ends it.
				return dialTCP(t, srv.addrs.Chaincode).LocalAddr()
			}},
		{"TLS client without ALPN", dropNoALPN, nil,
			func(t *testing.T, srv *running, p *pkiSet) net.Addr {
				return tlsClient(t, srv.addrs.Chaincode, p.clientTLS(t, p.client))
			}},
		{"TLS client offering ALPN without h2", dropNoALPN, nil,
			func(t *testing.T, srv *running, p *pkiSet) net.Addr {
				cfg := p.clientTLS(t, p.client)
				cfg.NextProtos = []string{"spdy/3"}
				return tlsClient(t, srv.addrs.Chaincode, cfg)
			}},
		{"plaintext client on the TLS port", dropHandshakeError, nil,
			func(t *testing.T, srv *running, _ *pkiSet) net.Addr {
				c := dialTCP(t, srv.addrs.Chaincode)
				if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				return c.LocalAddr()
			}},
		{"client pinging too often", dropTooManyPings, []string{"--keepalive-min-time", "1m"},
			func(t *testing.T, srv *running, p *pkiSet) net.Addr {
				c := dialRawH2(t, srv.addrs.Chaincode, p.clientTLS(t, p.client))
				for i := range byte(50) {
					if ga := c.ping(t, i); ga != nil {
						if string(ga.DebugData()) != "too_many_pings" {
							t.Fatalf("GOAWAY %s %q, want too_many_pings", ga.ErrCode, ga.DebugData())
						}
						return c.conn.LocalAddr()
					}
				}
				t.Fatal("50 back-to-back pings and no GOAWAY")
				return nil
			}},
		{"message above --max-message-size", dropMessageTooLarge, []string{"--max-message-size", "4194304"},
			func(t *testing.T, srv *running, p *pkiSet) net.Addr {
				var local localAddr
				peer, err := connectPeer(srv.addrs.Chaincode, p.clientTLS(t, p.client), grpc.WithContextDialer(local.dial))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(peer.close)
				big := &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "big", ChannelId: "ch", Payload: make([]byte, 4<<20+1)}
				// io.EOF: the server ended the stream first; Recv has why.
				if err := peer.stream.Send(big); err != nil && err != io.EOF {
					t.Fatalf("send: %v", err)
				}
				select {
				case <-peer.done:
				case <-time.After(wait):
					t.Fatal("the stream outlived a message above the limit")
				}
				if status.Code(peer.err()) != codes.ResourceExhausted {
					t.Errorf("stream ended with %v, want ResourceExhausted", peer.err())
				}
				return local.get()
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPKI(t)
			args := append(p.tlsArgs(), "--log-level", "debug", "--metrics-address", "127.0.0.1:0")
			srv := startServer(t, newTestCC(), serverArgs(append(args, tt.args...)...), nil)
			remote := tt.provoke(t, srv, p)

			series := `ccserver_connections_dropped_total{reason="` + tt.reason + `"}`
			var body string
			waitFor(t, series, func() bool {
				body = scrape(t, srv.addrs.Metrics)
				v, ok := metric(body, series)
				return ok && v >= 1
			})
			for _, r := range dropReasons {
				other := `ccserver_connections_dropped_total{reason="` + r + `"}`
				if v, ok := metric(body, other); r != tt.reason && ok && v > 0 {
					t.Errorf("%s = %v as well", other, v)
				}
			}
			want := []string{`msg="connection dropped"`, "reason=" + tt.reason, "remote=" + remote.String()}
			waitFor(t, "the debug line naming "+remote.String(), func() bool {
				return hasLine(srv.stderr.String(), want...)
			})
		})
	}
}

// hasLine reports whether one line of log holds every one of want.
func hasLine(log string, want ...string) bool {
	for line := range strings.SplitSeq(log, "\n") {
		all := true
		for _, w := range want {
			all = all && strings.Contains(line, w)
		}
		if all {
			return true
		}
	}
	return false
}

func dialTCP(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tlsClient completes a TLS handshake with cfg as given (no h2 added),
// waits for the server to close the connection and returns its address.
func tlsClient(t *testing.T, addr net.Addr, cfg *tls.Config) net.Addr {
	t.Helper()
	raw := dialTCP(t, addr)
	c := tls.Client(raw, cfg)
	c.SetDeadline(time.Now().Add(wait))
	if err := c.Handshake(); err == nil {
		// The server refuses after its side of the handshake: the
		// client learns it on the first read.
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Errorf("connection without ALPN h2: read err %v; want it closed", err)
		}
	}
	return raw.LocalAddr()
}

// localAddr records the local address of the connection a gRPC client dials.
type localAddr struct {
	mu   sync.Mutex
	addr net.Addr
}

func (l *localAddr) dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err == nil {
		l.mu.Lock()
		l.addr = c.LocalAddr()
		l.mu.Unlock()
	}
	return c, err
}

func (l *localAddr) get() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr
}
