package tlsconfig_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
)

// TestServerRejections runs real handshakes against ServerConfig and checks
// what both sides see.
func TestServerRejections(t *testing.T) {
	ca := testpki.NewCA(t)
	other := testpki.NewCA(t, testpki.WithCommonName("other CA"))
	serverLeaf := ca.Server(t)
	good := ca.Client(t, testpki.WithOrganization("Org1MSP"))
	revoked := ca.Client(t, testpki.WithSerial(4242))
	now := time.Now()
	crlFile := t.TempDir() + "/ca.crl"
	writeAtomic(t, crlFile, ca.CRL(t, now.Add(-time.Minute), now.Add(time.Hour), big.NewInt(4242)), 0o644)
	trust := mustStaticTrust(t, ca.CertPEM)
	crl, err := tlsconfig.NewFileCRL(crlFile, trust)
	if err != nil {
		t.Fatal(err)
	}
	defer crl.Close()

	tests := []struct {
		name       string
		client     *testpki.Leaf
		clientCfg  func(*tls.Config)
		opts       []tlsconfig.Option
		wantReason tlsconfig.Reason // "" = accepted
		serverErr  string           // substring when not a HandshakeError
		clientErr  string
	}{
		{name: "valid client", client: good},
		{name: "no client certificate", wantReason: tlsconfig.ReasonNoCertificate, clientErr: "bad certificate"},
		{name: "other CA", client: other.Client(t), wantReason: tlsconfig.ReasonUnknownCA, clientErr: "bad certificate"},
		{name: "expired", client: ca.Client(t, testpki.WithValidity(now.Add(-2*time.Hour), now.Add(-time.Hour))),
			wantReason: tlsconfig.ReasonExpired, clientErr: "bad certificate"},
		{name: "not yet valid", client: ca.Client(t, testpki.WithValidity(now.Add(time.Hour), now.Add(2*time.Hour))),
			wantReason: tlsconfig.ReasonExpired, clientErr: "bad certificate"},
		{name: "server-only key usage", client: ca.Issue(t, testpki.WithExtKeyUsage(x509.ExtKeyUsageServerAuth)),
			wantReason: tlsconfig.ReasonKeyUsage, clientErr: "bad certificate"},
		{name: "revoked", client: revoked, opts: []tlsconfig.Option{tlsconfig.WithCRL(crl)},
			wantReason: tlsconfig.ReasonRevoked, clientErr: "bad certificate"},
		{name: "not revoked", client: good, opts: []tlsconfig.Option{tlsconfig.WithCRL(crl)}},
		{name: "pin mismatch", client: good, opts: []tlsconfig.Option{tlsconfig.WithPins(mustPin(t, other.Cert))},
			wantReason: tlsconfig.ReasonPin, clientErr: "bad certificate"},
		{name: "pin match on CA", client: good, opts: []tlsconfig.Option{tlsconfig.WithPins(mustPin(t, other.Cert), mustPin(t, ca.Cert))}},
		{name: "pin match on leaf", client: good, opts: []tlsconfig.Option{tlsconfig.WithPins(mustPin(t, good.Cert))}},
		{name: "identity rule mismatch", client: good,
			opts:       []tlsconfig.Option{tlsconfig.WithIdentityRules(tlsconfig.IdentityRule{Organizations: []string{"Org2MSP"}})},
			wantReason: tlsconfig.ReasonIdentityRule, clientErr: "bad certificate"},
		{name: "identity rule match", client: good,
			opts: []tlsconfig.Option{tlsconfig.WithIdentityRules(
				tlsconfig.IdentityRule{Organizations: []string{"Org2MSP"}},
				tlsconfig.IdentityRule{Organizations: []string{"Org1MSP"}})}},
		{name: "TLS 1.0 and 1.1 offered", client: good,
			clientCfg: func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 },
			serverErr: "unsupported versions", clientErr: "protocol version"},
		{name: "TLS 1.2 refused by TLS13Only", client: good, opts: []tlsconfig.Option{tlsconfig.WithTLS13Only()},
			clientCfg: func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 },
			serverErr: "unsupported versions", clientErr: "protocol version"},
		{name: "TLS 1.2 with forward secrecy", client: good,
			clientCfg: func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ev events
			opts := append([]tlsconfig.Option{tlsconfig.WithClientTrust(trust), ev.option()}, tc.opts...)
			srv, err := tlsconfig.ServerConfig(mustStaticIdentity(t, serverLeaf), opts...)
			if err != nil {
				t.Fatal(err)
			}
			cli := plainClient(ca, tc.client, t)
			if tc.clientCfg != nil {
				tc.clientCfg(cli)
			}
			r := handshake(t, srv, cli)
			switch {
			case tc.wantReason == "" && tc.serverErr == "":
				if r.serverErr != nil || r.clientErr != nil {
					t.Fatalf("want success; server: %v; client: %v", r.serverErr, r.clientErr)
				}
				if r.client.NegotiatedProtocol != "h2" {
					t.Errorf("ALPN = %q, want h2", r.client.NegotiatedProtocol)
				}
				return
			case tc.wantReason != "":
				if got := reasonOf(r.serverErr); got != tc.wantReason {
					t.Fatalf("server error %v: reason %q, want %q", r.serverErr, got, tc.wantReason)
				}
				e := ev.waitKind(t, tlsconfig.EventHandshakeRejected, nil)
				if e.Reason != tc.wantReason || e.Source != "server" {
					t.Errorf("event %v: want reason %q from server", e, tc.wantReason)
				}
			default:
				if r.serverErr == nil || !strings.Contains(r.serverErr.Error(), tc.serverErr) {
					t.Fatalf("server error %v, want it to contain %q", r.serverErr, tc.serverErr)
				}
			}
			if r.clientErr == nil || !strings.Contains(r.clientErr.Error(), tc.clientErr) {
				t.Fatalf("client error %v, want it to contain %q", r.clientErr, tc.clientErr)
			}
		})
	}
}

// TestRSAKeyExchangeRefused offers only TLS_RSA_* suites. A plain
// crypto/tls server configured for them accepts the same client, so the
// refusal comes from our policy.
func TestRSAKeyExchangeRefused(t *testing.T) {
	ca := testpki.NewCA(t)
	rsaServer := ca.Server(t, testpki.WithKey(rsaKey(t)))
	client := ca.Client(t)
	cli := plainClient(ca, client, t)
	cli.MaxVersion = tls.VersionTLS12
	cli.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}

	t.Run("control: plain server with RSA suites", func(t *testing.T) {
		plain := &tls.Config{Certificates: []tls.Certificate{rsaServer.TLSCertificate(t)}, ClientCAs: ca.Pool(),
			ClientAuth: tls.RequireAndVerifyClientCert, CipherSuites: cli.CipherSuites}
		if r := handshake(t, plain, cli); r.serverErr != nil || r.clientErr != nil {
			t.Fatalf("control failed; server: %v; client: %v", r.serverErr, r.clientErr)
		}
	})
	t.Run("ours", func(t *testing.T) {
		srv, err := tlsconfig.ServerConfig(mustStaticIdentity(t, rsaServer), tlsconfig.WithClientTrust(mustStaticTrust(t, ca.CertPEM)))
		if err != nil {
			t.Fatal(err)
		}
		r := handshake(t, srv, cli)
		if r.serverErr == nil || !strings.Contains(r.serverErr.Error(), "no cipher suite supported by both") {
			t.Fatalf("server error %v, want no shared cipher suite", r.serverErr)
		}
		if r.clientErr == nil || !strings.Contains(r.clientErr.Error(), "handshake failure") {
			t.Fatalf("client error %v, want handshake failure", r.clientErr)
		}
	})
}

// TestClientRejections runs ClientConfig against crypto/tls servers.
func TestClientRejections(t *testing.T) {
	ca := testpki.NewCA(t)
	other := testpki.NewCA(t, testpki.WithCommonName("other CA"))
	inter := ca.Intermediate(t)
	clientLeaf := ca.Client(t)
	tests := []struct {
		name       string
		server     *testpki.Leaf
		opts       []tlsconfig.Option
		wantReason tlsconfig.Reason
	}{
		{name: "valid server", server: ca.Server(t)},
		{name: "server via intermediate", server: inter.Server(t)},
		{name: "other CA", server: other.Server(t), wantReason: tlsconfig.ReasonUnknownCA},
		{name: "expired", server: ca.Server(t, testpki.WithValidity(time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))), wantReason: tlsconfig.ReasonExpired},
		{name: "client-only key usage", server: ca.Issue(t, testpki.WithDNS("localhost"), testpki.WithExtKeyUsage(x509.ExtKeyUsageClientAuth)), wantReason: tlsconfig.ReasonKeyUsage},
		{name: "wrong name", server: ca.Server(t, testpki.WithDNS("peer0.example.com"), testpki.WithIP()), wantReason: tlsconfig.ReasonIdentityRule},
		{name: "pin on intermediate", server: inter.Server(t), opts: []tlsconfig.Option{tlsconfig.WithPins(mustPin(t, inter.Cert))}},
		{name: "pin mismatch", server: ca.Server(t), opts: []tlsconfig.Option{tlsconfig.WithPins(mustPin(t, inter.Cert))}, wantReason: tlsconfig.ReasonPin},
		{name: "identity rule on URI", server: ca.Server(t, testpki.WithURI("spiffe://org1/peer0")),
			opts: []tlsconfig.Option{tlsconfig.WithIdentityRules(tlsconfig.IdentityRule{URIs: []string{"spiffe://org1/peer0"}})}},
		{name: "identity rule on URI mismatch", server: ca.Server(t, testpki.WithURI("spiffe://org2/peer0")),
			opts:       []tlsconfig.Option{tlsconfig.WithIdentityRules(tlsconfig.IdentityRule{URIs: []string{"spiffe://org1/peer0"}})},
			wantReason: tlsconfig.ReasonIdentityRule},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ev events
			opts := append([]tlsconfig.Option{tlsconfig.WithServerName("localhost"),
				tlsconfig.WithClientIdentity(mustStaticIdentity(t, clientLeaf)), ev.option()}, tc.opts...)
			cli, err := tlsconfig.ClientConfig(mustStaticTrust(t, ca.CertPEM), opts...)
			if err != nil {
				t.Fatal(err)
			}
			srv := &tls.Config{Certificates: []tls.Certificate{tc.server.TLSCertificate(t)},
				ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}
			r := handshake(t, srv, cli)
			if tc.wantReason == "" {
				if r.serverErr != nil || r.clientErr != nil {
					t.Fatalf("want success; server: %v; client: %v", r.serverErr, r.clientErr)
				}
				return
			}
			if got := reasonOf(r.clientErr); got != tc.wantReason {
				t.Fatalf("client error %v: reason %q, want %q", r.clientErr, got, tc.wantReason)
			}
			if r.serverErr == nil || !strings.Contains(r.serverErr.Error(), "bad certificate") {
				t.Fatalf("server error %v, want the client's bad certificate alert", r.serverErr)
			}
			if e := ev.waitKind(t, tlsconfig.EventHandshakeRejected, nil); e.Reason != tc.wantReason || e.Source != "client" {
				t.Errorf("event %v", e)
			}
		})
	}
}

func TestConfigOptionErrors(t *testing.T) {
	ca := testpki.NewCA(t)
	id := mustStaticIdentity(t, ca.Server(t))
	trust := mustStaticTrust(t, ca.CertPEM)
	for _, tc := range []struct {
		name string
		opts []tlsconfig.Option
		want error
	}{
		{"no client auth decision", nil, tlsconfig.ErrNoClientTrust},
		{"both decisions", []tlsconfig.Option{tlsconfig.WithClientTrust(trust), tlsconfig.WithInsecureNoClientAuth()}, tlsconfig.ErrBadOption},
		{"pins without client trust", []tlsconfig.Option{tlsconfig.WithInsecureNoClientAuth(), tlsconfig.WithPins(mustPin(t, ca.Cert))}, tlsconfig.ErrBadOption},
		{"empty rule", []tlsconfig.Option{tlsconfig.WithClientTrust(trust), tlsconfig.WithIdentityRules(tlsconfig.IdentityRule{})}, tlsconfig.ErrBadOption},
		{"TLS 1.1 minimum", []tlsconfig.Option{tlsconfig.WithClientTrust(trust), tlsconfig.WithMinVersion(tls.VersionTLS11)}, tlsconfig.ErrBadOption},
		{"client option on server", []tlsconfig.Option{tlsconfig.WithClientTrust(trust), tlsconfig.WithServerName("x")}, tlsconfig.ErrBadOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tlsconfig.ServerConfig(id, tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := tlsconfig.ClientConfig(trust, tlsconfig.WithClientTrust(trust)); !errors.Is(err, tlsconfig.ErrBadOption) {
		t.Fatalf("server option on client: err = %v", err)
	}
	cfg, err := tlsconfig.ServerConfig(id, tlsconfig.WithInsecureNoClientAuth())
	if err != nil {
		t.Fatal(err)
	}
	if r := handshake(t, cfg, plainClient(ca, nil, t)); r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("no client auth: server %v, client %v", r.serverErr, r.clientErr)
	}
}
