package tlsconfig_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor is the generous deadline for anything asynchronous.
const waitFor = 30 * time.Second

// result is what each side saw in one connection attempt.
type result struct {
	serverErr, clientErr error
	client               tls.ConnectionState // valid when clientErr == nil
}

// handshake runs one real TLS connection over loopback: the server
// handshakes and writes one byte, the client handshakes and reads it. In
// TLS 1.3 the client learns of a server-side refusal only on that read.
func handshake(t testing.TB, server, client *tls.Config) result {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var r result
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			r.serverErr = err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(waitFor))
		tc := tls.Server(c, server)
		if err := tc.Handshake(); err != nil {
			r.serverErr = err
			return
		}
		if _, err := tc.Write([]byte("k")); err != nil {
			r.serverErr = err
			return
		}
		_, _ = io.Copy(io.Discard, tc) // until the client closes
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(waitFor))
	tc := tls.Client(c, client)
	r.clientErr = tc.Handshake()
	if r.clientErr == nil {
		var b [1]byte
		if _, err := io.ReadFull(tc, b[:]); err != nil {
			r.clientErr = err
		} else {
			r.client = tc.ConnectionState()
		}
	}
	c.Close()
	<-done
	return r
}

// plainClient is a crypto/tls client trusting ca and presenting leaf (if any).
func plainClient(ca *testpki.CA, leaf *testpki.Leaf, t testing.TB) *tls.Config {
	cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}
	if leaf != nil {
		cfg.Certificates = []tls.Certificate{leaf.TLSCertificate(t)}
	}
	return cfg
}

func mustStaticIdentity(t testing.TB, l *testpki.Leaf) tlsconfig.IdentitySource {
	t.Helper()
	id, err := tlsconfig.StaticIdentity(l.ChainPEM, l.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustStaticTrust(t testing.TB, pems ...[]byte) tlsconfig.TrustSource {
	t.Helper()
	var all []byte
	for _, p := range pems {
		all = append(all, p...)
	}
	tr, err := tlsconfig.StaticTrust(all)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func mustPin(t testing.TB, c *x509.Certificate) tlsconfig.Pin {
	t.Helper()
	p, err := tlsconfig.ParsePin(testpki.SPKIPin(c))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func reasonOf(err error) tlsconfig.Reason {
	var he *tlsconfig.HandshakeError
	if errors.As(err, &he) {
		return he.Reason
	}
	return ""
}

// events collects events for assertions.
type events struct {
	mu  sync.Mutex
	all []tlsconfig.Event
}

func (e *events) add(ev tlsconfig.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) option() tlsconfig.EventsOption { return tlsconfig.WithEvents(e.add) }

// waitKind waits until an event of kind k (matching pred, if any) arrived.
func (e *events) waitKind(t testing.TB, k tlsconfig.EventKind, pred func(tlsconfig.Event) bool) tlsconfig.Event {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		for _, ev := range e.all {
			if ev.Kind == k && (pred == nil || pred(ev)) {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t.Fatalf("no %s event within %s; got %v", k, waitFor, e.all)
	return tlsconfig.Event{}
}

// k8sDir reproduces a Kubernetes secret volume: files live in a
// timestamped directory, "..data" points at it, and each visible name is a
// symlink through "..data". Updates swap "..data" atomically.
type k8sDir struct {
	dir string
	gen int
	old string
}

func newK8sDir(t testing.TB) *k8sDir { return &k8sDir{dir: t.TempDir()} }

func (k *k8sDir) path(name string) string { return filepath.Join(k.dir, name) }

// publish writes a new generation and swaps it in the way the kubelet does.
func (k *k8sDir) publish(t testing.TB, files map[string][]byte) {
	t.Helper()
	k.gen++
	gen := "..2026_01_01_00_00_00." + strconv.Itoa(k.gen)
	genDir := filepath.Join(k.dir, gen)
	if err := os.Mkdir(genDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(genDir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(k.dir, "..data_tmp")
	if err := os.Symlink(gen, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(k.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(k.dir, name)
		if _, err := os.Lstat(link); errors.Is(err, os.ErrNotExist) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	if k.old != "" {
		if err := os.RemoveAll(filepath.Join(k.dir, k.old)); err != nil {
			t.Fatal(err)
		}
	}
	k.old = gen
}

func leafFiles(l *testpki.Leaf) map[string][]byte {
	return map[string][]byte{"tls.crt": l.ChainPEM, "tls.key": l.KeyPEM, "ca.crt": l.CA.Root().CertPEM}
}

// writeAtomic replaces a file by rename, as careful writers do.
func writeAtomic(t testing.TB, path string, data []byte, perm os.FileMode) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
