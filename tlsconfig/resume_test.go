package tlsconfig_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
)

// resumeRecorder wraps a ServerConfig so the test can see whether the
// handshake VerifyConnection judged was a resumed one.
type resumeRecorder struct {
	mu      sync.Mutex
	resumed []bool
}

func (rr *resumeRecorder) wrap(srv *tls.Config) *tls.Config {
	w := srv.Clone()
	w.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		c, err := srv.GetConfigForClient(h)
		if err != nil {
			return nil, err
		}
		c = c.Clone()
		inner := c.VerifyConnection
		c.VerifyConnection = func(s tls.ConnectionState) error {
			rr.mu.Lock()
			rr.resumed = append(rr.resumed, s.DidResume)
			rr.mu.Unlock()
			return inner(s)
		}
		return c, nil
	}
	return w
}

func (rr *resumeRecorder) last() bool {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return len(rr.resumed) > 0 && rr.resumed[len(rr.resumed)-1]
}

// TestResumedSessionRechecked: a session ticket from before a CA rotation
// or a revocation must not let the client back in.
func TestResumedSessionRechecked(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			t.Run("CA rotated", func(t *testing.T) { testResumeAfterCARotation(t, version) })
			t.Run("client revoked", func(t *testing.T) { testResumeAfterRevocation(t, version) })
			t.Run("authorizer changed its mind", func(t *testing.T) { testResumeAfterAuthorizerChange(t, version) })
		})
	}
}

func resumingClient(t *testing.T, ca *testpki.CA, leaf *testpki.Leaf, version uint16) *tls.Config {
	c := plainClient(ca, leaf, t)
	c.MaxVersion = version
	c.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	return c
}

func testResumeAfterCARotation(t *testing.T, version uint16) {
	oldCA, newCA := testpki.NewCA(t), testpki.NewCA(t, testpki.WithCommonName("new CA"))
	caFile := filepath.Join(t.TempDir(), "client-ca.crt")
	writeAtomic(t, caFile, oldCA.CertPEM, 0o644)
	trust, err := tlsconfig.NewFileTrust(caFile, tlsconfig.WithPollInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer trust.Close()
	srv, err := tlsconfig.ServerConfig(mustStaticIdentity(t, oldCA.Server(t)), tlsconfig.WithClientTrust(trust))
	if err != nil {
		t.Fatal(err)
	}
	cli := resumingClient(t, oldCA, oldCA.Client(t), version)
	if r := handshake(t, srv, cli); r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("first: server %v client %v", r.serverErr, r.clientErr)
	}
	if r := handshake(t, srv, cli); r.serverErr != nil || r.clientErr != nil || !r.client.DidResume {
		t.Fatalf("control: want a resumed session; resumed=%v server %v client %v", r.client.DidResume, r.serverErr, r.clientErr)
	}
	writeAtomic(t, caFile, newCA.CertPEM, 0o644)
	if err := trust.Reload(); err != nil {
		t.Fatal(err)
	}
	r := handshake(t, srv, cli)
	if got := reasonOf(r.serverErr); got != tlsconfig.ReasonUnknownCA {
		t.Fatalf("after CA rotation: server %v (reason %q), want unknown-ca", r.serverErr, got)
	}
	if r.clientErr == nil {
		t.Fatal("after CA rotation: client was admitted")
	}
}

func testResumeAfterRevocation(t *testing.T, version uint16) {
	ca := testpki.NewCA(t)
	client := ca.Client(t, testpki.WithSerial(77))
	trust := mustStaticTrust(t, ca.CertPEM)
	crlFile := filepath.Join(t.TempDir(), "ca.crl")
	now := time.Now()
	writeAtomic(t, crlFile, ca.CRL(t, now.Add(-time.Minute), now.Add(time.Hour)), 0o644)
	crl, err := tlsconfig.NewFileCRL(crlFile, trust, tlsconfig.WithPollInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer crl.Close()
	base, err := tlsconfig.ServerConfig(mustStaticIdentity(t, ca.Server(t)), tlsconfig.WithClientTrust(trust), tlsconfig.WithCRL(crl))
	if err != nil {
		t.Fatal(err)
	}
	var rr resumeRecorder
	srv := rr.wrap(base)
	cli := resumingClient(t, ca, client, version)
	if r := handshake(t, srv, cli); r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("first: server %v client %v", r.serverErr, r.clientErr)
	}
	if r := handshake(t, srv, cli); r.serverErr != nil || r.clientErr != nil || !r.client.DidResume {
		t.Fatalf("control: want a resumed session; server %v client %v", r.serverErr, r.clientErr)
	}
	writeAtomic(t, crlFile, ca.CRL(t, now, now.Add(time.Hour), big.NewInt(77)), 0o644)
	if err := crl.Reload(); err != nil {
		t.Fatal(err)
	}
	r := handshake(t, srv, cli)
	if got := reasonOf(r.serverErr); got != tlsconfig.ReasonRevoked {
		t.Fatalf("after revocation: server %v (reason %q), want revoked", r.serverErr, got)
	}
	if r.clientErr == nil {
		t.Fatal("after revocation: client was admitted")
	}
	if !rr.last() {
		t.Fatal("the refused handshake was not a resumption; the test proves nothing")
	}
}

// testResumeAfterAuthorizerChange: the Authorizer hook runs on resumed
// sessions too, with the verified chains, so a peer it stops admitting
// cannot come back on an old ticket.
func testResumeAfterAuthorizerChange(t *testing.T, version uint16) {
	ca := testpki.NewCA(t)
	client := ca.Client(t)
	var refuse atomic.Bool
	var runs atomic.Int32
	srv, err := tlsconfig.NewServer(tlsconfig.ServerSpec{
		Identity:      mustStaticIdentity(t, ca.Server(t)),
		ClientCACerts: ca.CertPEM,
		Authorizer: func(chains [][]*x509.Certificate) error {
			runs.Add(1)
			if len(chains) == 0 || !chains[0][0].Equal(client.Cert) {
				return errors.New("not the verified chain of the client")
			}
			if refuse.Load() {
				return errors.New("no longer on the allow list")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var rr resumeRecorder
	cfg := rr.wrap(srv.Config())
	cli := resumingClient(t, ca, client, version)
	if r := handshake(t, cfg, cli); r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("first: server %v client %v", r.serverErr, r.clientErr)
	}
	if r := handshake(t, cfg, cli); r.serverErr != nil || r.clientErr != nil || !r.client.DidResume {
		t.Fatalf("control: want a resumed session admitted; resumed=%v server %v client %v", r.client.DidResume, r.serverErr, r.clientErr)
	}
	if n := runs.Load(); n != 2 {
		t.Fatalf("the authorizer ran %d times for a handshake and a resumption, want 2", n)
	}
	refuse.Store(true)
	r := handshake(t, cfg, cli)
	if got := reasonOf(r.serverErr); got != tlsconfig.ReasonAuthorizer || !errors.Is(r.serverErr, tlsconfig.ErrNotAuthorized) {
		t.Fatalf("after the authorizer changed: server %v (reason %q), want authorizer", r.serverErr, got)
	}
	if r.clientErr == nil {
		t.Fatal("after the authorizer changed: client was admitted")
	}
	if !rr.last() {
		t.Fatal("the refused handshake was not a resumption; the test proves nothing")
	}
}
