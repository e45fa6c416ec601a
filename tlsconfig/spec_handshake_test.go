package tlsconfig_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
)

func mustRule(t testing.TB, s string) tlsconfig.IdentityRule {
	t.Helper()
	r, err := tlsconfig.ParseIdentityRule(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSpecHandshakes runs real handshakes between a NewServer and a
// NewClient built from specs over files, and checks what each side sees.
func TestSpecHandshakes(t *testing.T) {
	ca := testpki.NewCA(t)
	other := testpki.NewCA(t, testpki.WithCommonName("other CA"))
	dir := t.TempDir()
	certFile, keyFile, caFile := ca.Server(t).WriteFiles(t, dir)
	peer := ca.Client(t, testpki.WithOrganization("Org1MSP"), testpki.WithSerial(501))
	revoked := ca.Client(t, testpki.WithOrganization("Org1MSP"), testpki.WithSerial(502))
	peerDir, revokedDir := t.TempDir(), t.TempDir()
	peerCert, peerKey, _ := peer.WriteFiles(t, peerDir)
	revokedCert, revokedKey, _ := revoked.WriteFiles(t, revokedDir)
	now := time.Now()
	crlFile := filepath.Join(dir, "ca.crl")
	writeAtomic(t, crlFile, ca.CRL(t, now.Add(-time.Minute), now.Add(time.Hour), big.NewInt(502)), 0o644)

	var seen [][]*x509.Certificate
	tests := []struct {
		name       string
		server     func(*tlsconfig.ServerSpec)
		client     func(*tlsconfig.ClientSpec)
		serverSees tlsconfig.Reason // the server refuses the client
		clientSees tlsconfig.Reason // the client refuses the server
	}{
		{name: "mutual TLS from files"},
		{name: "pinned CA", server: func(s *tlsconfig.ServerSpec) {
			s.Pins = []string{testpki.SPKIPin(other.Cert), testpki.SPKIPin(ca.Cert)}
		}},
		{name: "pin mismatch", server: func(s *tlsconfig.ServerSpec) { s.Pins = []string{testpki.SPKIPin(other.Cert)} }, serverSees: tlsconfig.ReasonPin},
		{name: "client pins the server's CA", client: func(c *tlsconfig.ClientSpec) { c.Pins = []string{testpki.SPKIPin(ca.Cert)} }},
		{name: "client pin mismatch", client: func(c *tlsconfig.ClientSpec) { c.Pins = []string{testpki.SPKIPin(other.Cert)} }, clientSees: tlsconfig.ReasonPin},
		{name: "identity rule from text", server: func(s *tlsconfig.ServerSpec) {
			s.IdentityRules = []tlsconfig.IdentityRule{mustRule(t, "o=Org2MSP"), mustRule(t, "o=Org1MSP,dns=nope|peer0")}
		}, serverSees: tlsconfig.ReasonIdentityRule},
		{name: "identity rule match", server: func(s *tlsconfig.ServerSpec) {
			s.IdentityRules = []tlsconfig.IdentityRule{mustRule(t, "o=Org2MSP"), mustRule(t, "o=Org1MSP")}
		}},
		{name: "CRL file, peer not listed", server: func(s *tlsconfig.ServerSpec) { s.CRLFile = crlFile }},
		{name: "CRL file, peer revoked", server: func(s *tlsconfig.ServerSpec) { s.CRLFile = crlFile },
			client: func(c *tlsconfig.ClientSpec) { c.CertFile, c.KeyFile = revokedCert, revokedKey }, serverSees: tlsconfig.ReasonRevoked},
		{name: "authorizer admits and sees the verified chain", server: func(s *tlsconfig.ServerSpec) {
			s.Authorizer = func(chains [][]*x509.Certificate) error { seen = chains; return nil }
		}},
		{name: "authorizer refuses", server: func(s *tlsconfig.ServerSpec) {
			s.Authorizer = func([][]*x509.Certificate) error { return errors.New("not on the allow list") }
		}, serverSees: tlsconfig.ReasonAuthorizer},
		{name: "authorizer keeps its reason", server: func(s *tlsconfig.ServerSpec) {
			s.Authorizer = func([][]*x509.Certificate) error {
				return &tlsconfig.HandshakeError{Reason: tlsconfig.ReasonRevoked, Err: errors.New("revoked elsewhere")}
			}
		}, serverSees: tlsconfig.ReasonRevoked},
		{name: "client authorizer refuses the server", client: func(c *tlsconfig.ClientSpec) {
			c.Authorizer = func([][]*x509.Certificate) error { return errors.New("wrong server") }
		}, clientSees: tlsconfig.ReasonAuthorizer},
		{name: "server name mismatch", client: func(c *tlsconfig.ClientSpec) { c.ServerName = "elsewhere.example" }, clientSees: tlsconfig.ReasonIdentityRule},
		{name: "TLS 1.3 minimum on both", server: func(s *tlsconfig.ServerSpec) { s.MinVersion = tlsconfig.VersionTLS13 },
			client: func(c *tlsconfig.ClientSpec) { c.MinVersion = tlsconfig.VersionTLS13 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sev, cev events
			ss := tlsconfig.ServerSpec{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile, Events: sev.add}
			cs := tlsconfig.ClientSpec{CertFile: peerCert, KeyFile: peerKey, ServerCAFile: caFile, ServerName: "localhost", Events: cev.add}
			if tc.server != nil {
				tc.server(&ss)
			}
			if tc.client != nil {
				tc.client(&cs)
			}
			srv, err := tlsconfig.NewServer(ss)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			cli, err := tlsconfig.NewClient(cs)
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			r := handshake(t, srv.Config(), cli.Config())
			switch {
			case tc.serverSees != "":
				if got := reasonOf(r.serverErr); got != tc.serverSees || r.clientErr == nil {
					t.Fatalf("server %v (reason %q), client %v; want the server to refuse with %q", r.serverErr, got, r.clientErr, tc.serverSees)
				}
				if e := sev.waitKind(t, tlsconfig.EventHandshakeRejected, nil); e.Reason != tc.serverSees {
					t.Errorf("event %v", e)
				}
			case tc.clientSees != "":
				if got := reasonOf(r.clientErr); got != tc.clientSees || r.serverErr == nil {
					t.Fatalf("client %v (reason %q), server %v; want the client to refuse with %q", r.clientErr, got, r.serverErr, tc.clientSees)
				}
				if e := cev.waitKind(t, tlsconfig.EventHandshakeRejected, nil); e.Reason != tc.clientSees || e.Source != "client" {
					t.Errorf("event %v", e)
				}
			default:
				if r.serverErr != nil || r.clientErr != nil {
					t.Fatalf("want success; server %v, client %v", r.serverErr, r.clientErr)
				}
			}
		})
	}
	if len(seen) == 0 || !seen[0][0].Equal(peer.Cert) || !seen[0][len(seen[0])-1].Equal(ca.Cert) {
		t.Errorf("the authorizer saw %v, want the peer's chain up to the CA", seen)
	}
}

// TestServerRecheckOnTrustChange: when the CRL or the client CA bundle is
// replaced, TrustChanged runs and CheckConnection refuses the connections
// that no longer pass, with the handshake's reasons.
func TestServerRecheckOnTrustChange(t *testing.T) {
	ca, next := testpki.NewCA(t), testpki.NewCA(t, testpki.WithCommonName("next CA"))
	dir := t.TempDir()
	certFile, keyFile, caFile := ca.Server(t).WriteFiles(t, dir)
	revoked, kept := ca.Client(t, testpki.WithSerial(7)), ca.Client(t, testpki.WithSerial(8))
	now := time.Now()
	crlFile := filepath.Join(dir, "ca.crl")
	writeAtomic(t, crlFile, ca.CRL(t, now.Add(-time.Minute), now.Add(time.Hour)), 0o644)
	var changed calls
	srv, err := tlsconfig.NewServer(tlsconfig.ServerSpec{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile,
		CRLFile: crlFile, CRLFailOpen: true, TrustChanged: changed.hook})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	state := func(l *testpki.Leaf) tls.ConnectionState {
		return tls.ConnectionState{PeerCertificates: []*x509.Certificate{l.Cert}}
	}
	for _, l := range []*testpki.Leaf{revoked, kept} {
		if err := srv.CheckConnection(state(l)); err != nil {
			t.Fatalf("before any change: %v", err)
		}
	}
	waitChanged := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(waitFor)
		for changed.n.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("TrustChanged ran %d times, want %d", changed.n.Load(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	writeAtomic(t, crlFile, ca.CRL(t, now, now.Add(time.Hour), big.NewInt(7)), 0o644)
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	waitChanged(1)
	if got := reasonOf(srv.CheckConnection(state(revoked))); got != tlsconfig.ReasonRevoked {
		t.Errorf("revoked peer after the CRL change: reason %q", got)
	}
	if err := srv.CheckConnection(state(kept)); err != nil {
		t.Errorf("kept peer after the CRL change: %v", err)
	}

	writeAtomic(t, caFile, next.CertPEM, 0o644)
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	waitChanged(2)
	if got := reasonOf(srv.CheckConnection(state(kept))); got != tlsconfig.ReasonUnknownCA {
		t.Errorf("peer of the removed CA: reason %q", got)
	}
	if err := srv.CheckConnection(tls.ConnectionState{}); reasonOf(err) != tlsconfig.ReasonNoCertificate {
		t.Errorf("connection without a certificate: %v", err)
	}

	// Without client authentication there is nothing to re-check.
	open, err := tlsconfig.NewServer(tlsconfig.ServerSpec{CertFile: certFile, KeyFile: keyFile, InsecureNoClientAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := open.CheckConnection(state(kept)); err != nil {
		t.Errorf("no client auth: %v", err)
	}
}

// TestServerReloadKeepsLastGood: Reload reports a bad file and the server
// keeps serving the last good certificate.
func TestServerReloadKeepsLastGood(t *testing.T) {
	ca := testpki.NewCA(t)
	dir := t.TempDir()
	leaf := ca.Server(t)
	certFile, keyFile, caFile := leaf.WriteFiles(t, dir)
	srv, err := tlsconfig.NewServer(tlsconfig.ServerSpec{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	writeAtomic(t, certFile, []byte("torn"), 0o644)
	if err := srv.Reload(); !errors.Is(err, tlsconfig.ErrNoCertificate) {
		t.Fatalf("Reload of a torn file: %v", err)
	}
	r := handshake(t, srv.Config(), plainClient(ca, ca.Client(t), t))
	if r.clientErr != nil || !r.client.PeerCertificates[0].Equal(leaf.Cert) {
		t.Fatalf("after a failed reload: client %v", r.clientErr)
	}
	if got := fmt.Sprint(srv.Config().MinVersion == tls.VersionTLS12); got != "true" {
		t.Errorf("default minimum %x", srv.Config().MinVersion)
	}
	if !strings.Contains(fmt.Sprint(srv.Config().NextProtos), "h2") {
		t.Error("no h2")
	}
}
