package devpeer_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/ccaas"
	"github.com/ccserver/ccserver/devpeer"
	"github.com/ccserver/ccserver/internal/peerside/rawcc"
	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/internal/x509util"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ccid = "demo_1.0:abcdef"

// serve runs the raw chaincode on a loopback gRPC server (TLS when cfg is
// not nil) and returns its address.
func serve(t *testing.T, cfg *tls.Config, id string) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if cfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	s := grpc.NewServer(opts...)
	peer.RegisterChaincodeServer(s, rawcc.Server{CCID: id, CC: rawcc.Demo()})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

type pki struct {
	ca, otherCA *testpki.CA
	server      *testpki.Leaf
	client      *testpki.Leaf
}

func newPKI(t *testing.T) *pki {
	ca := testpki.NewCA(t)
	return &pki{ca: ca, otherCA: testpki.NewCA(t), server: ca.Server(t), client: ca.Client(t)}
}

// mtls is a chaincode server config requiring clients of ca.
func (p *pki) mtls(t *testing.T, leaf *testpki.Leaf) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{leaf.TLSCertificate(t)}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.ca.Pool()}
}

func (p *pki) conn(addr string) ccaas.Connection {
	return ccaas.Connection{Address: addr, DialTimeout: "20s", TLSRequired: true, ClientAuthRequired: true,
		RootCert: string(p.ca.CertPEM), ClientCert: string(p.client.CertPEM), ClientKey: string(p.client.KeyPEM)}
}

// TestBadConnection: settings the peer would refuse are a usage error
// naming the field, and never quote the key.
func TestBadConnection(t *testing.T) {
	p := newPKI(t)
	for name, mod := range map[string]func(*ccaas.Connection){
		"mismatching pair": func(c *ccaas.Connection) { c.ClientCert = string(p.otherCA.CertPEM) },
		"unrendered":       func(c *ccaas.Connection) { c.Address = "{{.peername}}:9999" },
		"no dial timeout":  func(c *ccaas.Connection) { c.DialTimeout = "" },
		"no root":          func(c *ccaas.Connection) { c.RootCert = "" },
		"address not h:p":  func(c *ccaas.Connection) { c.Address = "localhost" },
	} {
		c := p.conn("127.0.0.1:1")
		mod(&c)
		for _, err := range []error{probeErr(c), dialErr(c)} {
			var pe *devpeer.ProbeError
			var fe *ccaas.FieldError
			if !errors.As(err, &pe) || pe.Code != devpeer.ExitUsage || !errors.As(err, &fe) || strings.Contains(err.Error(), string(p.client.KeyPEM[40:80])) {
				t.Errorf("%s: err = %v", name, err)
			}
		}
	}
}

func probeErr(c ccaas.Connection) error {
	_, err := devpeer.Probe(context.Background(), c, "")
	return err
}

func dialErr(c ccaas.Connection) error {
	_, err := devpeer.Dial(context.Background(), c)
	return err
}

// TestClientKeyEncodings: client_key as the peer's tlsgen writes it (PKCS#8
// under "EC PRIVATE KEY") and as an MSP keystore priv_sk (PKCS#8 "PRIVATE
// KEY") completes a handshake; an encrypted key is refused saying so.
func TestClientKeyEncodings(t *testing.T) {
	p := newPKI(t)
	addr := serve(t, p.mtls(t, p.server), ccid)
	der, err := x509.MarshalPKCS8PrivateKey(p.client.Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"EC PRIVATE KEY", "PRIVATE KEY"} {
		c := p.conn(addr)
		c.ClientKey = string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
		if _, err := devpeer.Probe(context.Background(), c, ccid); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	c := p.conn(addr)
	c.ClientKey = string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}}))
	if err := probeErr(c); !errors.Is(err, ccaas.ErrInvalid) || !errors.Is(err, x509util.ErrEncryptedKey) {
		t.Fatalf("encrypted key: %v", err)
	}
}

func TestInvokeOverMTLSWithBoltStore(t *testing.T) {
	p := newPKI(t)
	addr := serve(t, p.mtls(t, p.server), ccid)
	path := filepath.Join(t.TempDir(), "state.db")
	ctx := context.Background()
	run := func(commit bool, args ...string) *devpeer.Result {
		t.Helper()
		st, err := devpeer.OpenBoltStore(path, "demo")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		cl, err := devpeer.Dial(ctx, p.conn(addr), devpeer.WithCCID(ccid), devpeer.WithState(st))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if cl.TLS == nil || cl.TLS.NegotiatedProtocol != "h2" {
			t.Fatalf("TLS state %+v", cl.TLS)
		}
		var bargs [][]byte
		for _, a := range args {
			bargs = append(bargs, []byte(a))
		}
		res, err := cl.Execute(ctx, devpeer.Tx{ChannelID: "mychannel", Args: bargs, Commit: commit})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := run(true, "put", "a", "1", "b", "2"); !res.Committed || len(res.Writes) != 2 || res.Writes[0].Kind != devpeer.WritePut ||
		res.Writes[0].Kind.String() != "put" || res.Writes[0].Key != "a" || string(res.Writes[0].Value) != "1" {
		t.Fatalf("put: %+v", res)
	}
	if res := run(false, "put", "a", "query-only"); res.Committed || len(res.Writes) != 1 {
		t.Fatalf("query: %+v", res)
	}
	run(true, "putmeta", "a", "VALIDATION_PARAMETER", "ep")
	run(true, "putpriv", "c1", "p", "secret")
	run(true, "getput", "a", "3")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "a"}, "3"},
		{[]string{"range", "", ""}, "a=3,b=2"},
		{[]string{"history", "a"}, "3,1"},
		{[]string{"getmeta", "a"}, "VALIDATION_PARAMETER=ep"},
		{[]string{"getpriv", "c1", "p"}, "secret"},
		{[]string{"query", `{"selector":{}}`}, ""},
	} {
		if got := string(run(false, tc.args...).Response.Payload); got != tc.want {
			t.Errorf("%v = %q, want %q", tc.args, got, tc.want)
		}
	}
	run(true, "del", "a")
	if got := string(run(false, "history", "a").Response.Payload); got != "<deleted>,3,1" {
		t.Errorf("history after delete = %q", got)
	}
	if got := string(run(false, "getmeta", "a").Response.Payload); got != "" {
		t.Errorf("metadata survived delete: %q", got)
	}
}

func TestProbe(t *testing.T) {
	p := newPKI(t)
	wrongName := p.ca.Server(t, testpki.WithDNS("chaincode.example.com"), testpki.WithIP())
	expired := p.ca.Server(t, testpki.WithValidity(time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)))
	foreignClient := p.otherCA.Client(t)
	tlsNoClientAuth := &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate(t)}}

	refused := func() string {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		a := l.Addr().String()
		l.Close()
		return a
	}()

	for _, tc := range []struct {
		name     string
		addr     string
		conn     func(addr string) ccaas.Connection
		ccid     string
		wantCode int
		wantText string
	}{
		{"mtls ok", serve(t, p.mtls(t, p.server), ccid), p.conn, ccid, devpeer.ExitOK, ""},
		{"tls without client auth ok", serve(t, tlsNoClientAuth, ccid), func(a string) ccaas.Connection {
			c := p.conn(a)
			c.ClientAuthRequired = false
			return c
		}, "", devpeer.ExitOK, ""},
		{"unknown authority", serve(t, p.mtls(t, p.server), ccid), func(a string) ccaas.Connection {
			c := p.conn(a)
			c.RootCert = string(p.otherCA.CertPEM)
			return c
		}, ccid, devpeer.ExitUnknownAuthority, "not signed by a CA in root_cert"},
		{"name mismatch", serve(t, p.mtls(t, wrongName), ccid), p.conn, ccid, devpeer.ExitNameMismatch, `does not cover the name "127.0.0.1"`},
		{"expired", serve(t, p.mtls(t, expired), ccid), p.conn, ccid, devpeer.ExitExpired, "expired"},
		{"client cert missing", serve(t, p.mtls(t, p.server), ccid), func(a string) ccaas.Connection {
			c := p.conn(a)
			c.ClientAuthRequired = false
			return c
		}, ccid, devpeer.ExitClientCertNeeded, "requires a client certificate"},
		{"client cert from another CA", serve(t, p.mtls(t, p.server), ccid), func(a string) ccaas.Connection {
			c := p.conn(a)
			c.ClientCert, c.ClientKey = string(foreignClient.CertPEM), string(foreignClient.KeyPEM)
			return c
		}, ccid, devpeer.ExitClientCertRefused, "rejected the client certificate"},
		{"plaintext server", serve(t, nil, ccid), p.conn, ccid, devpeer.ExitPlaintextServer, "server speaks plaintext"},
		{"tls server, plaintext config", serve(t, p.mtls(t, p.server), ccid), func(a string) ccaas.Connection {
			return ccaas.Connection{Address: a, DialTimeout: "20s"}
		}, ccid, devpeer.ExitTLSServer, "server speaks TLS but tls_required is false"},
		{"refused", refused, p.conn, ccid, devpeer.ExitRefused, "nothing accepts connections"},
		{"ccid mismatch", serve(t, p.mtls(t, p.server), "other:1"), p.conn, ccid, devpeer.ExitCCIDMismatch, `registered as "other:1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := devpeer.Probe(context.Background(), tc.conn(tc.addr), tc.ccid)
			if tc.wantCode == devpeer.ExitOK {
				if err != nil {
					t.Fatal(err)
				}
				if rep.ALPN != "h2" || rep.Version == "" || rep.CipherSuite == "" || len(rep.Chain) == 0 || rep.CCID != ccid || rep.RoundTrip <= 0 {
					t.Fatalf("report %+v", rep)
				}
				if rep.Chain[0].SPKIPin != testpki.SPKIPin(p.server.Cert) {
					t.Errorf("pin %s", rep.Chain[0].SPKIPin)
				}
				if want := tc.conn(tc.addr).ClientAuthRequired; rep.ClientCertRequested != want || rep.ClientCertSent != want {
					t.Errorf("client cert requested=%v sent=%v, want %v", rep.ClientCertRequested, rep.ClientCertSent, want)
				}
				return
			}
			var pe *devpeer.ProbeError
			if !errors.As(err, &pe) || pe.Code != tc.wantCode || !strings.Contains(pe.Problem, tc.wantText) || pe.Fix == "" {
				t.Fatalf("err = %v (%#v), want code %d with %q", err, pe, tc.wantCode, tc.wantText)
			}
			if (tc.wantCode == devpeer.ExitCCIDMismatch) != errors.Is(err, devpeer.ErrCCIDMismatch) {
				t.Fatalf("errors.Is(%v, ErrCCIDMismatch) = %v", err, !(tc.wantCode == devpeer.ExitCCIDMismatch))
			}
		})
	}
}
