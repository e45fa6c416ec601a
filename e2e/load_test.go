package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
)

// load submits transactions continuously from several workers and counts
// what succeeded and what failed, so a phase can assert zero failures.
type load struct {
	ok, failed atomic.Int64
	// retryMVCC resubmits a transaction the orderer's block invalidated
	// with MVCC_READ_CONFLICT, counting it in retried: Fabric invalidates
	// transactions endorsed against a chaincode definition that a commit
	// in between replaced, as it does any read conflict.
	retryMVCC bool
	retried   atomic.Int64
	mu        sync.Mutex
	lastErrs  []string
	stop      chan struct{}
	wg        sync.WaitGroup
}

// startLoad runs workers that each submit CreateAsset with fresh ids.
func startLoad(t *testing.T, c *client.Contract, workers int, prefix string) *load {
	return startLoadRetrying(t, c, workers, prefix, false)
}

// startLoadRetrying is startLoad, resubmitting MVCC_READ_CONFLICT if retryMVCC.
func startLoadRetrying(t *testing.T, c *client.Contract, workers int, prefix string, retryMVCC bool) *load {
	l := &load{stop: make(chan struct{}), retryMVCC: retryMVCC}
	var seq atomic.Int64
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				id := fmt.Sprintf("%s-%d", prefix, seq.Add(1))
				_, err := c.Submit("CreateAsset", client.WithArguments(id, "grey", "1", "load", "1"))
				for l.retryMVCC && err != nil && strings.Contains(errorText(err), "MVCC_READ_CONFLICT") {
					l.retried.Add(1)
					_, err = c.Submit("CreateAsset", client.WithArguments(id, "grey", "1", "load", "1"))
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.lastErrs) < 5 {
						l.lastErrs = append(l.lastErrs, errorText(err))
					}
					l.mu.Unlock()
					time.Sleep(100 * time.Millisecond)
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	t.Cleanup(l.halt)
	return l
}

func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// counts returns successes and failures so far.
func (l *load) counts() (int64, int64) { return l.ok.Load(), l.failed.Load() }

func (l *load) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lastErrs...)
}

// waitOK waits until n more transactions have succeeded.
func (l *load) waitOK(t *testing.T, n int64, within time.Duration) {
	t.Helper()
	start, _ := l.counts()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ok, _ := l.counts(); ok >= start+n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ok, failed := l.counts()
	t.Fatalf("load made %d of %d transactions in %s (%d failed: %v)", ok-start, n, within, failed, l.errors())
}

// probeTLS connects to a chaincode server as a peer would (ALPN h2, the
// given client certificate) and returns the serial of the server's leaf.
// It reads the server's first HTTP/2 frame, so a client certificate the
// server refuses fails here even in TLS 1.3.
func probeTLS(addr, caFile, certFile, keyFile string) (*big.Int, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}, ServerName: "127.0.0.1"})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")); err != nil {
		return nil, err
	}
	if _, err := conn.Read(make([]byte, 9)); err != nil {
		return nil, err
	}
	return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

func certSerial(t *testing.T, file string) *big.Int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", file)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber
}

// writeAtomic replaces file with the concatenation of parts, by rename, as
// a configuration manager would.
func writeAtomic(t *testing.T, file string, parts ...string) {
	t.Helper()
	var data []byte
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b...)
	}
	tmp := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
