package tlsconfig_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"crypto/x509"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
)

// TestOrgAdmission runs real handshakes against a per-org allow list: a
// peer is admitted only as the org its certificate names, and only with a
// chain from that org's CA (or pin).
func TestOrgAdmission(t *testing.T) {
	srvCA, org1CA, org2CA := testpki.NewCA(t), testpki.NewCA(t, testpki.WithCommonName("Org1 CA")), testpki.NewCA(t, testpki.WithCommonName("Org2 CA"))
	dir := t.TempDir()
	certFile, keyFile, _ := srvCA.Server(t).WriteFiles(t, dir)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	org1File, org2File := write("org1.pem", org1CA.CertPEM), write("org2.pem", org2CA.CertPEM)
	peer1 := org1CA.Client(t, testpki.WithOrganization("Org1MSP"))
	peer2 := org2CA.Client(t, testpki.WithOrganization("Org2MSP"))
	forged := org1CA.Client(t, testpki.WithOrganization("Org2MSP")) // Org2's name from Org1's CA
	noOrg := org1CA.Client(t)
	allow := func(s ...string) []tlsconfig.OrgAdmission {
		var out []tlsconfig.OrgAdmission
		for _, e := range s {
			a, err := tlsconfig.ParseOrgAdmission(e)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, a)
		}
		return out
	}
	tests := []struct {
		name     string
		orgs     []tlsconfig.OrgAdmission
		clientCA string
		peer     *testpki.Leaf
		refused  tlsconfig.Reason
		org      string
	}{
		{name: "org1 by its CA", orgs: allow("Org1MSP=" + org1File), peer: peer1, org: "Org1MSP"},
		{name: "org2 not allowed", orgs: allow("Org1MSP=" + org1File), peer: peer2, refused: tlsconfig.ReasonUnknownCA}, // no list holds its CA
		{name: "org2 allowed", orgs: allow("Org1MSP="+org1File, "Org2MSP="+org2File), peer: peer2, org: "Org2MSP"},
		{name: "org2's name from org1's CA", orgs: allow("Org1MSP="+org1File, "Org2MSP="+org2File), peer: forged, refused: tlsconfig.ReasonOrg},
		{name: "no O", orgs: allow("Org1MSP=" + org1File), peer: noOrg, refused: tlsconfig.ReasonOrg},
		{name: "org by pin, chain from the client CA", orgs: allow("Org2MSP=" + testpki.SPKIPin(org2CA.Cert)), clientCA: org2File, peer: peer2, org: "Org2MSP"},
		{name: "pin of another org", orgs: allow("Org2MSP=" + testpki.SPKIPin(org1CA.Cert)), clientCA: org2File, peer: peer2, refused: tlsconfig.ReasonOrg},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ev events
			srv, err := tlsconfig.NewServer(tlsconfig.ServerSpec{CertFile: certFile, KeyFile: keyFile, ClientCAFile: tc.clientCA, Orgs: tc.orgs, Events: ev.add})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			r := handshake(t, srv.Config(), plainClient(srvCA, tc.peer, t))
			if tc.refused != "" {
				if got := reasonOf(r.serverErr); got != tc.refused || tc.refused == tlsconfig.ReasonOrg && !errors.Is(r.serverErr, tlsconfig.ErrOrgNotAllowed) {
					t.Fatalf("server %v (reason %q); want a refusal with reason %q", r.serverErr, got, tc.refused)
				}
				return
			}
			if r.serverErr != nil || r.clientErr != nil {
				t.Fatalf("want success; server %v, client %v", r.serverErr, r.clientErr)
			}
			// The client's view holds no peer certificates; ask with the server's.
			state := r.client
			state.PeerCertificates = []*x509.Certificate{tc.peer.Cert}
			if org, ok := srv.PeerOrg(state); !ok || org != tc.org {
				t.Fatalf("PeerOrg = %q, %v; want %q", org, ok, tc.org)
			}
		})
	}
}

// TestOrgsDirHotAdd: an org whose CA file appears in OrgsDir is admitted
// without a restart (Reload, as SIGHUP does; the watch does the same).
func TestOrgsDirHotAdd(t *testing.T) {
	srvCA, org1CA, org2CA := testpki.NewCA(t), testpki.NewCA(t, testpki.WithCommonName("Org1 CA")), testpki.NewCA(t, testpki.WithCommonName("Org2 CA"))
	dir, orgs := t.TempDir(), t.TempDir()
	certFile, keyFile, _ := srvCA.Server(t).WriteFiles(t, dir)
	writeAtomic(t, filepath.Join(orgs, "Org1MSP.pem"), org1CA.CertPEM, 0o644)
	var ev events
	srv, err := tlsconfig.NewServer(tlsconfig.ServerSpec{CertFile: certFile, KeyFile: keyFile, OrgsDir: orgs, Events: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	peer2 := plainClient(srvCA, org2CA.Client(t, testpki.WithOrganization("Org2MSP")), t)
	if r := handshake(t, srv.Config(), peer2); r.serverErr == nil {
		t.Fatal("before Org2 is allowed: admitted")
	}
	writeAtomic(t, filepath.Join(orgs, "Org2MSP.pem"), org2CA.CertPEM, 0o644)
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if r := handshake(t, srv.Config(), peer2); r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("after Org2 is allowed: server %v, client %v", r.serverErr, r.clientErr)
	}
	e := ev.waitKind(t, tlsconfig.EventRotated, func(e tlsconfig.Event) bool { return e.Source == tlsconfig.OrgsSource })
	if e.NewSerial != "Org1MSP,Org2MSP" {
		t.Errorf("rotated event names %q, want Org1MSP,Org2MSP", e.NewSerial)
	}
}

func TestOrgsValidate(t *testing.T) {
	base := tlsconfig.ServerSpec{Cert: []byte("x"), Key: []byte("y")}
	tests := []struct {
		name, field string
		spec        func(*tlsconfig.ServerSpec)
	}{
		{"orgs are a client trust", "", func(s *tlsconfig.ServerSpec) { s.OrgsDir = "/etc/orgs" }},
		{"pins only need a CA", "Orgs", func(s *tlsconfig.ServerSpec) {
			s.Orgs = []tlsconfig.OrgAdmission{{Org: "Org1MSP", Pins: []string{"sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}}
		}},
		{"no org name", "Orgs", func(s *tlsconfig.ServerSpec) { s.Orgs = []tlsconfig.OrgAdmission{{CAFile: "ca.pem"}} }},
		{"orgs and no client auth", "InsecureNoClientAuth", func(s *tlsconfig.ServerSpec) { s.OrgsDir, s.InsecureNoClientAuth = "/etc/orgs", true }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.spec(&s)
			err := s.Validate()
			var fe *tlsconfig.FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
				t.Fatalf("Validate: %v; want a FieldError on %s", err, tc.field)
			}
		})
	}
}
