package serve

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// rawH2 is an HTTP/2 connection driven frame by frame, so a test can
// send PINGs at any rate (grpc-go's client will not ping more often than
// every 10 s).
type rawH2 struct {
	conn *tls.Conn
	fr   *http2.Framer
}

func dialRawH2(t *testing.T, addr net.Addr, cfg *tls.Config) *rawH2 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr.String(), withH2(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return &rawH2{conn: conn, fr: fr}
}

// ping sends a PING and reads frames until its ACK or a GOAWAY; it
// returns the GOAWAY, if any.
func (c *rawH2) ping(t *testing.T, n byte) *http2.GoAwayFrame {
	t.Helper()
	data := [8]byte{n}
	if err := c.fr.WritePing(false, data); err != nil {
		t.Fatalf("write ping %d: %v", n, err)
	}
	c.conn.SetReadDeadline(time.Now().Add(wait))
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("waiting for the ack of ping %d: %v", n, err)
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			return f
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if f.IsAck() && f.Data == data {
				return nil
			}
		}
	}
}

// TestKeepalive scales the peer's habit down: the server accepts pings
// no more often than --keepalive-min-time. A client that waits longer
// than that between pings keeps its connection ping after ping; one that
// pings far more often is sent GOAWAY too_many_pings.
func TestKeepalive(t *testing.T) {
	p := newPKI(t)
	srv := startServer(t, newTestCC(), serverArgs(append(p.tlsArgs(), "--keepalive-min-time", "50ms")...), nil)

	t.Run("polite client keeps its connection", func(t *testing.T) {
		c := dialRawH2(t, srv.addrs.Chaincode, p.clientTLS(t, p.client))
		for i := range byte(6) {
			if ga := c.ping(t, i); ga != nil {
				t.Fatalf("GOAWAY %s %q after %d pings 500ms apart", ga.ErrCode, ga.DebugData(), i+1)
			}
			// Ten times the minimum: scheduling noise cannot bring two
			// pings closer than the server allows.
			time.Sleep(500 * time.Millisecond)
		}
	})
	t.Run("aggressive client gets too_many_pings", func(t *testing.T) {
		c := dialRawH2(t, srv.addrs.Chaincode, p.clientTLS(t, p.client))
		for i := range byte(50) {
			if ga := c.ping(t, i); ga != nil {
				if ga.ErrCode != http2.ErrCodeEnhanceYourCalm || string(ga.DebugData()) != "too_many_pings" {
					t.Fatalf("GOAWAY %s %q, want ENHANCE_YOUR_CALM too_many_pings", ga.ErrCode, ga.DebugData())
				}
				return
			}
		}
		t.Fatal("50 back-to-back pings and no GOAWAY")
	})
}

// TestDefaultKeepaliveAcceptsThePeer: by default the server accepts a
// ping every 20 s, so the peer's ping every 60 s is welcome.
func TestDefaultKeepaliveAcceptsThePeer(t *testing.T) {
	c, err := parse(mtls(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.keepaliveMinTime > peerPingInterval || c.keepaliveMinTime <= 0 {
		t.Fatalf("default --keepalive-min-time %s does not admit a ping every %s", c.keepaliveMinTime, peerPingInterval)
	}
}
