package tlsconfig_test

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
)

// TestRefuseToStart checks each startup refusal names the file and a fix.
func TestRefuseToStart(t *testing.T) {
	ca := testpki.NewCA(t)
	now := time.Now()
	good := ca.Server(t)
	for _, tc := range []struct {
		name      string
		leaf      *testpki.Leaf
		keyPEM    []byte // overrides the leaf's key
		keyMode   os.FileMode
		server    bool // build a ServerConfig too
		want      error
		wantFile  string
		wantInFix string
	}{
		{name: "expired", leaf: ca.Server(t, testpki.WithValidity(now.Add(-2*time.Hour), now.Add(-time.Hour))), want: tlsconfig.ErrExpired, wantFile: "tls.crt", wantInFix: "renew"},
		{name: "not yet valid", leaf: ca.Server(t, testpki.WithValidity(now.Add(time.Hour), now.Add(2*time.Hour))), want: tlsconfig.ErrNotYetValid, wantFile: "tls.crt", wantInFix: "clock"},
		{name: "key mismatch", leaf: good, keyPEM: ca.Server(t).KeyPEM, want: tlsconfig.ErrKeyMismatch, wantFile: "tls.key", wantInFix: "same issuance"},
		{name: "key readable by group", leaf: good, keyMode: 0o640, want: tlsconfig.ErrKeyPermissions, wantFile: "tls.key", wantInFix: "chmod 600"},
		{name: "key readable by others", leaf: good, keyMode: 0o604, want: tlsconfig.ErrKeyPermissions, wantFile: "tls.key", wantInFix: "chmod 600"},
		{name: "no serverAuth usage", leaf: ca.Client(t), server: true, want: tlsconfig.ErrNoServerAuth, wantFile: "tls.crt", wantInFix: "serverAuth"},
		{name: "garbage key", leaf: good, keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0, 0, 0}}), want: tlsconfig.ErrNoKey, wantFile: "tls.key", wantInFix: "PEM private key"},
		{name: "empty certificate", leaf: good, keyPEM: nil, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile, _ := tc.leaf.WriteFiles(t, dir)
			if tc.keyPEM != nil {
				writeAtomic(t, keyFile, tc.keyPEM, 0o600)
			}
			if tc.keyMode != 0 {
				if err := os.Chmod(keyFile, tc.keyMode); err != nil {
					t.Fatal(err)
				}
			}
			id, err := tlsconfig.NewFileIdentity(certFile, keyFile)
			if err == nil {
				defer id.Close()
				if tc.server {
					_, err = tlsconfig.ServerConfig(id, tlsconfig.WithInsecureNoClientAuth())
				}
			}
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var fe *tlsconfig.FileError
			if !errors.As(err, &fe) || filepath.Base(fe.File) != tc.wantFile || !strings.Contains(fe.Fix, tc.wantInFix) {
				t.Fatalf("err %v: want a FileError for %s whose fix mentions %q", err, tc.wantFile, tc.wantInFix)
			}
			if bytes.Contains([]byte(err.Error()), []byte("-----BEGIN")) || (len(tc.keyPEM) > 60 && bytes.Contains([]byte(err.Error()), tc.keyPEM[28:60])) {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
	t.Run("insecure key permissions allowed explicitly", func(t *testing.T) {
		certFile, keyFile, _ := good.WriteFiles(t, t.TempDir())
		if err := os.Chmod(keyFile, 0o640); err != nil {
			t.Fatal(err)
		}
		id, err := tlsconfig.NewFileIdentity(certFile, keyFile, tlsconfig.WithInsecureKeyPermissions())
		if err != nil {
			t.Fatal(err)
		}
		id.Close()
	})
}

// TestKubernetesSecretSwap builds the real ..data layout and swaps it
// twice; the watcher must see both swaps (a watch on the file would die
// after the first).
func TestKubernetesSecretSwap(t *testing.T) {
	ca := testpki.NewCA(t)
	k := newK8sDir(t)
	first := ca.Server(t)
	k.publish(t, leafFiles(first))
	var ev events
	// A long poll interval: only directory events can explain a reload.
	id, err := tlsconfig.NewFileIdentity(k.path("tls.crt"), k.path("tls.key"), tlsconfig.WithPollInterval(time.Hour), ev.option())
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	srv, err := tlsconfig.ServerConfig(id, tlsconfig.WithClientTrust(mustStaticTrust(t, ca.CertPEM)))
	if err != nil {
		t.Fatal(err)
	}
	client := ca.Client(t)
	prev := first
	for i := range 2 {
		next := ca.Server(t)
		k.publish(t, leafFiles(next))
		e := ev.waitKind(t, tlsconfig.EventRotated, func(e tlsconfig.Event) bool { return e.NewSerial == next.Cert.SerialNumber.Text(16) })
		if e.OldSerial != prev.Cert.SerialNumber.Text(16) || !e.NotAfter.Equal(next.Cert.NotAfter) {
			t.Fatalf("swap %d: event %v", i, e)
		}
		r := handshake(t, srv, plainClient(ca, client, t))
		if r.serverErr != nil || r.clientErr != nil {
			t.Fatalf("swap %d: server %v client %v", i, r.serverErr, r.clientErr)
		}
		if got := r.client.PeerCertificates[0].SerialNumber; got.Cmp(next.Cert.SerialNumber) != 0 {
			t.Fatalf("swap %d: served serial %x, want %x", i, got, next.Cert.SerialNumber)
		}
		prev = next
	}
}

// TestBadReloadKeepsLastGood writes broken content in place; the source
// must keep serving the last good pair and report the failure.
func TestBadReloadKeepsLastGood(t *testing.T) {
	ca := testpki.NewCA(t)
	good := ca.Server(t)
	next := ca.Server(t)
	half := next.ChainPEM[:len(next.ChainPEM)/2]
	for _, tc := range []struct {
		name     string
		certPEM  []byte
		keyPEM   []byte
		wantErr  error
		garbling string
	}{
		{name: "half-written certificate", certPEM: half, keyPEM: next.KeyPEM, wantErr: tlsconfig.ErrNoCertificate},
		{name: "garbage certificate", certPEM: []byte("not a certificate\x00\xff"), keyPEM: good.KeyPEM, wantErr: tlsconfig.ErrNoCertificate},
		{name: "new certificate, old key", certPEM: next.ChainPEM, keyPEM: good.KeyPEM, wantErr: tlsconfig.ErrKeyMismatch},
		{name: "truncated key", certPEM: next.ChainPEM, keyPEM: next.KeyPEM[:40], wantErr: tlsconfig.ErrNoKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile, _ := good.WriteFiles(t, dir)
			var ev events
			id, err := tlsconfig.NewFileIdentity(certFile, keyFile, tlsconfig.WithPollInterval(time.Hour), ev.option())
			if err != nil {
				t.Fatal(err)
			}
			defer id.Close()
			if err := os.WriteFile(certFile, tc.certPEM, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(keyFile, tc.keyPEM, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := id.Reload(); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Reload: %v, want %v", err, tc.wantErr)
			}
			e := ev.waitKind(t, tlsconfig.EventReloadFailed, nil)
			if !errors.Is(e.Err, tc.wantErr) || e.Source != certFile {
				t.Fatalf("event %v", e)
			}
			if strings.Contains(e.String(), "-----BEGIN") || strings.Contains(e.String(), string(good.KeyPEM[28:60])) {
				t.Fatalf("event leaks key material: %v", e)
			}
			if got := id.Leaf().SerialNumber; got.Cmp(good.Cert.SerialNumber) != 0 {
				t.Fatalf("serving serial %x after a bad reload, want the last good %x", got, good.Cert.SerialNumber)
			}
			srv, err := tlsconfig.ServerConfig(id, tlsconfig.WithInsecureNoClientAuth())
			if err != nil {
				t.Fatal(err)
			}
			if r := handshake(t, srv, plainClient(ca, nil, t)); r.clientErr != nil || r.client.PeerCertificates[0].SerialNumber.Cmp(good.Cert.SerialNumber) != 0 {
				t.Fatalf("handshake after bad reload: %v", r.clientErr)
			}
			// Repair: the next good content is picked up.
			next.WriteFiles(t, dir)
			if err := id.Reload(); err != nil {
				t.Fatal(err)
			}
			if id.Leaf().SerialNumber.Cmp(next.Cert.SerialNumber) != 0 {
				t.Fatal("repaired files not loaded")
			}
		})
	}
}

func TestUnchangedContentSkipped(t *testing.T) {
	ca := testpki.NewCA(t)
	certFile, keyFile, caFile := ca.Server(t).WriteFiles(t, t.TempDir())
	var ev events
	id, err := tlsconfig.NewFileIdentity(certFile, keyFile, tlsconfig.WithPollInterval(time.Hour), tlsconfig.WithExpiryWarning(0), ev.option())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tlsconfig.NewFileTrust(caFile, tlsconfig.WithPollInterval(time.Hour), ev.option())
	if err != nil {
		t.Fatal(err)
	}
	before, _ := id.Identity()
	for range 3 {
		writeAtomic(t, certFile, mustRead(t, certFile), 0o644) // same bytes, new inode
		if err := id.Reload(); err != nil {
			t.Fatal(err)
		}
		if err := tr.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	id.Close()
	tr.Close() // flushes events
	after, _ := id.Identity()
	if before != after {
		t.Fatal("identity replaced although the content did not change")
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.all) != 2 || ev.all[0].Kind != tlsconfig.EventLoaded || ev.all[1].Kind != tlsconfig.EventLoaded {
		t.Fatalf("want one Loaded per source and nothing else, got %v", ev.all)
	}
	if err := id.Reload(); !errors.Is(err, tlsconfig.ErrClosed) {
		t.Fatalf("Reload after Close: %v", err)
	}
}

func mustRead(t testing.TB, f string) []byte {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExpiringSoon(t *testing.T) {
	ca := testpki.NewCA(t)
	leaf := ca.Server(t, testpki.WithValidity(time.Now().Add(-time.Minute), time.Now().Add(time.Hour)))
	certFile, keyFile, _ := leaf.WriteFiles(t, t.TempDir())
	var ev events
	id, err := tlsconfig.NewFileIdentity(certFile, keyFile, tlsconfig.WithExpiryWarning(2*time.Hour), ev.option())
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	e := ev.waitKind(t, tlsconfig.EventExpiringSoon, nil)
	if e.NewSerial != leaf.Cert.SerialNumber.Text(16) || !e.NotAfter.Equal(leaf.Cert.NotAfter) {
		t.Fatalf("event %v", e)
	}
}

func TestPushedIdentity(t *testing.T) {
	ca := testpki.NewCA(t)
	var ev events
	p := tlsconfig.NewPushedIdentity(ev.option())
	if _, err := p.Identity(); !errors.Is(err, tlsconfig.ErrNoIdentity) {
		t.Fatalf("before Set: %v", err)
	}
	a, b := ca.Server(t), ca.Server(t)
	if err := p.Set(a.TLSCertificate(t)); err != nil {
		t.Fatal(err)
	}
	mismatched := b.TLSCertificate(t)
	mismatched.PrivateKey = a.Key
	if err := p.Set(mismatched); !errors.Is(err, tlsconfig.ErrKeyMismatch) {
		t.Fatalf("mismatched Set: %v", err)
	}
	expired := ca.Server(t, testpki.WithValidity(time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)))
	if err := p.Set(expired.TLSCertificate(t)); !errors.Is(err, tlsconfig.ErrExpired) {
		t.Fatalf("expired Set: %v", err)
	}
	srv, err := tlsconfig.ServerConfig(p, tlsconfig.WithInsecureNoClientAuth())
	if err != nil {
		t.Fatal(err)
	}
	if r := handshake(t, srv, plainClient(ca, nil, t)); r.clientErr != nil || r.client.PeerCertificates[0].SerialNumber.Cmp(a.Cert.SerialNumber) != 0 {
		t.Fatalf("want a served after failed Sets: %v", r.clientErr)
	}
	if err := p.Set(b.TLSCertificate(t)); err != nil {
		t.Fatal(err)
	}
	if r := handshake(t, srv, plainClient(ca, nil, t)); r.clientErr != nil || r.client.PeerCertificates[0].SerialNumber.Cmp(b.Cert.SerialNumber) != 0 {
		t.Fatalf("want b served after Set: %v", r.clientErr)
	}
	e := ev.waitKind(t, tlsconfig.EventRotated, nil)
	if e.OldSerial != a.Cert.SerialNumber.Text(16) || e.NewSerial != b.Cert.SerialNumber.Text(16) {
		t.Fatalf("event %v", e)
	}
	ev.waitKind(t, tlsconfig.EventReloadFailed, func(e tlsconfig.Event) bool { return errors.Is(e.Err, tlsconfig.ErrKeyMismatch) })
}

func TestParsePin(t *testing.T) {
	ca := testpki.NewCA(t)
	want := tlsconfig.PinOf(ca.Cert)
	b64 := testpki.SPKIPin(ca.Cert)
	hexPin := fmt.Sprintf("%x", want[:])
	var colon []string
	for i := 0; i < len(hexPin); i += 2 {
		colon = append(colon, strings.ToUpper(hexPin[i:i+2]))
	}
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{b64, true},
		{hexPin, true},
		{strings.Join(colon, ":"), true},
		{"  " + b64 + "\n", true},
		{"sha256/" + strings.Repeat("A", 43), false},
		{"sha1/" + b64[7:], false},
		{hexPin[:62], false},
		{strings.Repeat("zz", 32), false},
		{"", false},
	} {
		got, err := tlsconfig.ParsePin(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("ParsePin(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && got != want {
			t.Errorf("ParsePin(%q) = %v, want %v", tc.in, got, want)
		}
		if !tc.ok && !errors.Is(err, tlsconfig.ErrBadOption) {
			t.Errorf("ParsePin(%q) err %v not ErrBadOption", tc.in, err)
		}
	}
	if want.String() != b64 {
		t.Errorf("String() = %s, want %s", want, b64)
	}
}

func TestTrustRotationAppliesToNewHandshakes(t *testing.T) {
	oldCA, newCA := testpki.NewCA(t), testpki.NewCA(t, testpki.WithCommonName("new CA"))
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	writeAtomic(t, caFile, oldCA.CertPEM, 0o644)
	var ev events
	trust, err := tlsconfig.NewFileTrust(caFile, tlsconfig.WithPollInterval(time.Hour), ev.option())
	if err != nil {
		t.Fatal(err)
	}
	defer trust.Close()
	srv, err := tlsconfig.ServerConfig(mustStaticIdentity(t, oldCA.Server(t)), tlsconfig.WithClientTrust(trust))
	if err != nil {
		t.Fatal(err)
	}
	oldClient, newClient := oldCA.Client(t), newCA.Client(t)
	check := func(step string, c *testpki.Leaf, want tlsconfig.Reason) {
		t.Helper()
		r := handshake(t, srv, plainClient(oldCA, c, t))
		if got := reasonOf(r.serverErr); got != want {
			t.Fatalf("%s: server %v (reason %q), want %q; client %v", step, r.serverErr, got, want, r.clientErr)
		}
	}
	check("old bundle, old client", oldClient, "")
	check("old bundle, new client", newClient, tlsconfig.ReasonUnknownCA)
	writeAtomic(t, caFile, append(append([]byte{}, oldCA.CertPEM...), newCA.CertPEM...), 0o644)
	ev.waitKind(t, tlsconfig.EventRotated, nil) // picked up by the directory watch
	check("overlap bundle, old client", oldClient, "")
	check("overlap bundle, new client", newClient, "")
	writeAtomic(t, caFile, newCA.CertPEM, 0o644)
	ev.waitKind(t, tlsconfig.EventRotated, func(e tlsconfig.Event) bool { return e.NewSerial == newCA.Cert.SerialNumber.Text(16) })
	check("new bundle, old client", oldClient, tlsconfig.ReasonUnknownCA)
	check("new bundle, new client", newClient, "")
}
