package chaostest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// bigMessage is just under the peer's 100 MiB message limit.
const bigMessage = 99 << 20

// BenchmarkBigMessageRSS measures what admitted peers can make ccserver
// hold: the peak RSS while 4 connections (or 4 streams on one connection)
// each send one 99 MiB transaction at once, and the RSS after the burst
// settled (CCSERVER_SETTLE, default 60s). It reports figures; it asserts
// none. CCSERVER_GOMEMLIMIT gives the server a GOMEMLIMIT. CCSERVER_BIN measures another build with the same method.
func BenchmarkBigMessageRSS(b *testing.B) {
	settle := 60 * time.Second
	if s := os.Getenv("CCSERVER_SETTLE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		settle = d
	}
	for _, tc := range []struct {
		name           string
		conns, perConn int
	}{
		{"4conns", 4, 1},
		{"4streams1conn", 1, 4},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := newPKI(b)
			var env []string
			if v := os.Getenv("CCSERVER_GOMEMLIMIT"); v != "" {
				env = []string{"GOMEMLIMIT=" + v} // as a container's limit would set it
			}
			s := startServerEnv(b, p, env, "--log-level", "error")
			idle, _ := s.rss()
			var peers []*rawPeer
			for range tc.conns {
				peers = append(peers, dialRaw(b, p, s.addr))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			for b.Loop() {
				var wg sync.WaitGroup
				errs := make(chan error, tc.conns*tc.perConn)
				for _, rp := range peers {
					for range tc.perConn {
						wg.Go(func() { errs <- rp.transact(ctx, bigMessage) })
					}
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						b.Log(err)
					}
				}
			}
			_, peak := s.rss()
			for _, rp := range peers {
				rp.conn.Close()
			}
			time.Sleep(settle)
			settled, _ := s.rss()
			b.ReportMetric(float64(idle)/1e6, "idle-MB")
			b.ReportMetric(float64(peak)/1e6, "peak-MB")
			b.ReportMetric(float64(settled)/1e6, "settled-MB")
		})
	}
}
