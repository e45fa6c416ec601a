package devpeer_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/devpeer"
	"github.com/ccserver/ccserver/internal/peerside"
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

func (p *pki) conn(addr string) *devpeer.Connection {
	return &devpeer.Connection{Address: addr, DialTimeout: 20 * time.Second, TLSRequired: true, ClientAuthRequired: true,
		RootCert: p.ca.CertPEM, ClientCert: p.client.CertPEM, ClientKey: p.client.KeyPEM}
}

func TestParseConnection(t *testing.T) {
	for _, tc := range []struct {
		name, json, wantErr string
		check               func(*devpeer.Connection) bool
	}{
		{"sample plaintext", `{"address":"cc:9999","dial_timeout":"10s","tls_required":false}`, "", func(c *devpeer.Connection) bool {
			return c.Address == "cc:9999" && c.DialTimeout == 10*time.Second && !c.TLSRequired
		}},
		{"timeout in ns", `{"address":"cc:9999","dial_timeout":2000000000}`, "", func(c *devpeer.Connection) bool { return c.DialTimeout == 2*time.Second }},
		{"default timeout", `{"address":"cc:9999"}`, "", func(c *devpeer.Connection) bool { return c.DialTimeout == devpeer.DefaultDialTimeout }},
		{"tls", `{"address":"cc:9999","tls_required":true,"client_auth_required":true,"root_cert":"R","client_cert":"C","client_key":"K","domain":"d"}`, "", func(c *devpeer.Connection) bool {
			return c.TLSRequired && c.ClientAuthRequired && string(c.RootCert) == "R" && c.Domain == "d"
		}},
		{"string boolean", `{"address":"cc:9999","tls_required":"true"}`, `tls_required must be a JSON boolean`, nil},
		{"bad duration", `{"address":"cc:9999","dial_timeout":"10 seconds"}`, `dial_timeout "10 seconds" is not a duration`, nil},
		{"bad timeout type", `{"address":"cc:9999","dial_timeout":true}`, `dial_timeout must be a duration string`, nil},
		{"no address", `{"dial_timeout":"1s"}`, "chaincode address not provided", nil},
		{"bad address", `{"address":"cc"}`, `address "cc" is not host:port`, nil},
		{"tls without root", `{"address":"cc:1","tls_required":true}`, "chaincode tls root cert not provided", nil},
		{"client auth without key", `{"address":"cc:1","tls_required":true,"root_cert":"R","client_auth_required":true}`, "client_key or client_cert is missing", nil},
		{"not json", `address: cc`, "invalid connection.json", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := devpeer.ParseConnection([]byte(tc.json))
			if tc.wantErr != "" {
				if !errors.Is(err, devpeer.ErrBadConnection) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("got %+v, %v", c, err)
			}
		})
	}
}

func TestKeyNeverInErrors(t *testing.T) {
	p := newPKI(t)
	c := p.conn("127.0.0.1:1")
	c.ClientCert = p.otherCA.CertPEM // mismatching pair
	_, err := c.TLSConfig(nil)
	if err == nil || strings.Contains(err.Error(), string(p.client.KeyPEM[40:80])) {
		t.Fatalf("err = %v", err)
	}
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
		c.ClientKey = pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		if _, err := devpeer.Probe(context.Background(), c, ccid); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	c := p.conn(addr)
	c.ClientKey = pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}})
	if _, err := c.TLSConfig(nil); !errors.Is(err, devpeer.ErrBadConnection) || !errors.Is(err, x509util.ErrEncryptedKey) {
		t.Fatalf("encrypted key: %v", err)
	}
}

func TestInvokeOverMTLSWithBoltStore(t *testing.T) {
	p := newPKI(t)
	addr := serve(t, p.mtls(t, p.server), ccid)
	path := filepath.Join(t.TempDir(), "state.db")
	ctx := context.Background()
	run := func(commit bool, args ...string) *peerside.Result {
		t.Helper()
		st, err := devpeer.OpenBoltStore(path, "demo")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		cl, err := devpeer.Dial(ctx, p.conn(addr), peerside.WithCCID(ccid), peerside.WithStore(st))
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
		res, err := cl.Execute(ctx, &peerside.Tx{ChannelID: "mychannel", Args: bargs, Commit: commit})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	run(true, "put", "a", "1", "b", "2")
	run(false, "put", "a", "query-only")
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

// TestStoresAgree runs the same commits on MemStore and BoltStore and
// compares every read.
func TestStoresAgree(t *testing.T) {
	bs, err := devpeer.OpenBoltStore(filepath.Join(t.TempDir(), "s.db"), "ns")
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	ms := peerside.NewMemStore()
	ts := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	updates := []*peerside.Update{
		{TxID: "t1", Timestamp: ts, Writes: []peerside.Write{{Kind: peerside.WritePut, Key: "b", Value: []byte("1")}, {Kind: peerside.WritePut, Key: "a", Value: []byte("2")}, {Kind: peerside.WritePut, Collection: "c", Key: "x", Value: []byte("p")}}},
		{TxID: "t2", Timestamp: ts.Add(time.Second), Writes: []peerside.Write{{Kind: peerside.WriteMetadata, Key: "a", MetaKey: "m1", Value: []byte("v1")}, {Kind: peerside.WriteMetadata, Key: "a", MetaKey: "m0", Value: []byte("v0")}, {Kind: peerside.WriteDelete, Key: "b"}}},
		{TxID: "t3", Timestamp: ts.Add(2 * time.Second), Writes: []peerside.Write{{Kind: peerside.WritePut, Key: "b", Value: []byte("3")}, {Kind: peerside.WritePurge, Collection: "c", Key: "x"}, {Kind: peerside.WritePut, Key: "c", Value: []byte("4")}}},
	}
	for _, u := range updates {
		if err := bs.Commit(u); err != nil {
			t.Fatal(err)
		}
		_ = ms.Commit(u)
	}
	dump := func(s peerside.Store) string {
		var b strings.Builder
		for _, coll := range []string{"", "c"} {
			_ = s.Scan(coll, "", "", func(k string, v []byte) bool { b.WriteString(coll + "/" + k + "=" + string(v) + ";"); return true })
			_ = s.Scan(coll, "a", "c", func(k string, v []byte) bool { b.WriteString("[" + k + "]"); return true })
		}
		for _, k := range []string{"a", "b", "zz"} {
			v, _ := s.Get("", k)
			md, _ := s.Metadata("", k)
			h, _ := s.History(k)
			mj, _ := json.Marshal(md)
			hj, _ := json.Marshal(h)
			b.WriteString(k + ":" + string(v) + string(mj) + string(hj) + ";")
		}
		return b.String()
	}
	if m, bo := dump(ms), dump(bs); m != bo {
		t.Fatalf("stores disagree:\nmem  %s\nbolt %s", m, bo)
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
		conn     func(addr string) *devpeer.Connection
		ccid     string
		wantCode int
		wantText string
	}{
		{"mtls ok", serve(t, p.mtls(t, p.server), ccid), p.conn, ccid, devpeer.ExitOK, ""},
		{"tls without client auth ok", serve(t, tlsNoClientAuth, ccid), func(a string) *devpeer.Connection {
			c := p.conn(a)
			c.ClientAuthRequired = false
			return c
		}, "", devpeer.ExitOK, ""},
		{"unknown authority", serve(t, p.mtls(t, p.server), ccid), func(a string) *devpeer.Connection {
			c := p.conn(a)
			c.RootCert = p.otherCA.CertPEM
			return c
		}, ccid, devpeer.ExitUnknownAuthority, "not signed by a CA in root_cert"},
		{"name mismatch", serve(t, p.mtls(t, wrongName), ccid), p.conn, ccid, devpeer.ExitNameMismatch, `does not cover the name "127.0.0.1"`},
		{"expired", serve(t, p.mtls(t, expired), ccid), p.conn, ccid, devpeer.ExitExpired, "expired"},
		{"client cert missing", serve(t, p.mtls(t, p.server), ccid), func(a string) *devpeer.Connection {
			c := p.conn(a)
			c.ClientAuthRequired = false
			return c
		}, ccid, devpeer.ExitClientCertNeeded, "requires a client certificate"},
		{"client cert from another CA", serve(t, p.mtls(t, p.server), ccid), func(a string) *devpeer.Connection {
			c := p.conn(a)
			c.ClientCert, c.ClientKey = foreignClient.CertPEM, foreignClient.KeyPEM
			return c
		}, ccid, devpeer.ExitClientCertRefused, "rejected the client certificate"},
		{"plaintext server", serve(t, nil, ccid), p.conn, ccid, devpeer.ExitPlaintextServer, "server speaks plaintext"},
		{"tls server, plaintext config", serve(t, p.mtls(t, p.server), ccid), func(a string) *devpeer.Connection {
			return &devpeer.Connection{Address: a, DialTimeout: 20 * time.Second}
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
		})
	}
}
