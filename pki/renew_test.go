package pki

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
)

// fakeClock moves only when the test says so; waiters tells the test that
// the renewer is sleeping.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []fakeTimer
	waiters chan time.Duration
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, waiters: make(chan time.Duration, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{c.now.Add(d), ch})
	c.waiters <- d
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
		} else {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

func (c *fakeClock) waitSleep(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.waiters:
		return d
	case <-time.After(30 * time.Second):
		t.Fatal("renewer never went to sleep")
		return 0
	}
}

// flaky fails while down is set, as an unreachable CA does.
type flaky struct {
	Backend
	down  atomic.Bool
	calls atomic.Int32
}

func (f *flaky) Renew(ctx context.Context, cur *x509.Certificate, key crypto.Signer, req *Request) (*Issued, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return nil, fmt.Errorf("dial: %w", ErrUnavailable)
	}
	return f.Backend.Renew(ctx, cur, key, req)
}

func setupRenew(t *testing.T, lifetime time.Duration) (*Local, string, *KeyPair) {
	t.Helper()
	ca := newCA(t, InitOptions{})
	key, _ := GenerateKey(KeyECDSAP256)
	csr, _ := NewCSR(key, CSRSpec{Subject: pkix.Name{CommonName: "cc"}, Hosts: []string{"localhost"}})
	iss, err := ca.Issue(context.Background(), &Request{CSR: csr, Profile: "server", Lifetime: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "server")
	if err := LayoutCertManager.Write(dir, iss, key); err != nil {
		t.Fatal(err)
	}
	kp, err := ReadCertManager(dir, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ca, dir, kp
}

func TestRenewIfDue(t *testing.T) {
	ca, dir, old := setupRenew(t, time.Hour)
	clock := newFakeClock(time.Now())
	hooks := 0
	r, err := NewRenewer(RenewerConfig{Backend: ca, Dir: dir, Now: clock.Now,
		AfterRenew: func(context.Context, *Issued) error { hooks++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	renewed, next, err := r.RenewIfDue(context.Background())
	if err != nil || renewed {
		t.Fatalf("fresh cert renewed=%v err=%v", renewed, err)
	}
	// Due when a third of the lifetime (plus at most 1/20 jitter) is left.
	latest := old.Certificate.NotAfter.Add(-(time.Hour + backdate) / 3)
	earliest := latest.Add(-(time.Hour + backdate) / 20)
	if next.After(latest) || next.Before(earliest) {
		t.Fatalf("next renewal %v outside [%v, %v]", next, earliest, latest)
	}
	clock.Advance(next.Sub(clock.Now()) + time.Second)
	renewed, _, err = r.RenewIfDue(context.Background())
	if err != nil || !renewed || hooks != 1 {
		t.Fatalf("due cert: renewed=%v err=%v hooks=%d", renewed, err, hooks)
	}
	cur, err := ReadCertManager(dir, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cur.Certificate.SerialNumber.Cmp(old.Certificate.SerialNumber) == 0 || SPKIPin(cur.Certificate) == SPKIPin(old.Certificate) {
		t.Fatal("not renewed with a new key")
	}
	if got := cur.Certificate.NotAfter.Sub(cur.Certificate.NotBefore); got != time.Hour+backdate {
		t.Fatalf("renewed lifetime %v, want the original hour", got)
	}
	if cur.Certificate.DNSNames[0] != "localhost" || cur.Certificate.Subject.CommonName != "cc" {
		t.Fatal("names not carried over")
	}
	// Reusing the key keeps the pin.
	r2, _ := NewRenewer(RenewerConfig{Backend: ca, Dir: dir, ReuseKey: true})
	if _, err := r2.Renew(context.Background()); err != nil {
		t.Fatal(err)
	}
	again, _ := ReadCertManager(dir, ReadOptions{})
	if SPKIPin(again.Certificate) != SPKIPin(cur.Certificate) {
		t.Fatal("ReuseKey changed the key")
	}
}

// While the CA is unreachable the old files stay and Run retries with
// growing, capped delays; once the CA is back the certificate is renewed.
func TestRunRetriesWithBackoff(t *testing.T) {
	ca, dir, old := setupRenew(t, time.Hour)
	before, _ := os.ReadFile(filepath.Join(dir, CertFile))
	clock := newFakeClock(old.Certificate.NotAfter.Add(-time.Minute)) // due
	clocked, err := OpenLocal(ca.dir, LocalOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	backend := &flaky{Backend: clocked}
	backend.down.Store(true)
	renewed := make(chan *Issued, 1)
	r, err := NewRenewer(RenewerConfig{Backend: backend, Dir: dir, Now: clock.Now, MinBackoff: time.Second, MaxBackoff: 4 * time.Second,
		AfterRenew: func(_ context.Context, iss *Issued) error { renewed <- iss; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	r.after = clock.After
	ctx, cancel := context.WithCancel(context.Background())
	var errs atomic.Int32
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, func(err error) { errs.Add(1) }) }()
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		if got := clock.waitSleep(t); got != want {
			t.Fatalf("retry %d: backoff %v, want %v", i, got, want)
		}
		now, _ := os.ReadFile(filepath.Join(dir, CertFile))
		if string(now) != string(before) {
			t.Fatal("certificate changed while the CA was down")
		}
		if i < 3 {
			clock.Advance(want)
		}
	}
	backend.down.Store(false)
	clock.Advance(4 * time.Second)
	select {
	case iss := <-renewed:
		if iss.Certificate.SerialNumber.Cmp(old.Certificate.SerialNumber) == 0 {
			t.Fatal("same serial")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no renewal after the CA came back")
	}
	if d := clock.waitSleep(t); d < 30*time.Minute {
		t.Fatalf("after renewal slept only %v", d)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if errs.Load() != 4 || backend.calls.Load() != 5 {
		t.Fatalf("errors %d calls %d", errs.Load(), backend.calls.Load())
	}
}

func TestRenewFailsCleanly(t *testing.T) {
	_, dir, _ := setupRenew(t, time.Hour)
	if err := os.Chmod(filepath.Join(dir, "..data", KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	ca := newCA(t, InitOptions{})
	r, _ := NewRenewer(RenewerConfig{Backend: ca, Dir: dir})
	if _, err := r.Renew(context.Background()); err == nil {
		t.Fatal("group-readable key accepted")
	}
	if _, err := NewRenewer(RenewerConfig{Backend: ca, Dir: dir, RenewBefore: 1.5}); err == nil {
		t.Fatal("bad fraction accepted")
	}
	r, _ = NewRenewer(RenewerConfig{Backend: ca, Dir: t.TempDir()})
	if _, err := r.Renew(context.Background()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty dir: %v", err)
	}
}

// A certificate with both server and client usage (step-ca's default) names
// no profile; the local CA refuses to guess, and the error says what to do.
func TestRenewAmbiguousProfile(t *testing.T) {
	ca := newCA(t, InitOptions{})
	dir := filepath.Join(t.TempDir(), "both")
	leaf := testpki.NewCA(t).Issue(t, testpki.WithDNS("cc.example"),
		testpki.WithExtKeyUsage(x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	leaf.WriteFiles(t, dir)
	before, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRenewer(RenewerConfig{Backend: ca, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Renew(context.Background())
	if !errors.Is(err, ErrUnknownProfile) || !strings.Contains(err.Error(), "RenewerConfig.Profile") {
		t.Fatalf("renewing a server+client certificate without a profile: err = %v, want ErrUnknownProfile asking for RenewerConfig.Profile", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, CertFile))
	if string(after) != string(before) {
		t.Fatal("a failed renewal changed tls.crt")
	}
	r, err = NewRenewer(RenewerConfig{Backend: ca, Dir: dir, Profile: "server"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Renew(context.Background()); err != nil {
		t.Fatalf("with Profile server: %v", err)
	}
}
