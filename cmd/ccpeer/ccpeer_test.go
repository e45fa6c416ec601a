package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/devpeer"
	"github.com/ccserver/ccserver/examples/assettransfer"
	"github.com/ccserver/ccserver/internal/peerside/rawcc"
	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/rogpeppe/go-internal/testscript"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// leakChecked runs the tests, then checks for leaked goroutines.
type leakChecked struct{ m *testing.M }

func (l leakChecked) Run() int {
	code := l.m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

func TestMain(m *testing.M) {
	testscript.Main(leakChecked{m}, map[string]func(){
		"ccpeer": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

const (
	rawCCID  = "demo_1.0:1111"
	shimCCID = "basic_1.0:2222"
)

// TestScripts runs cmd/ccpeer/testdata/script/*.txtar against chaincode
// servers in this process: the raw responder over mTLS ($RAW), the real
// shim serving asset-transfer over mTLS ($SHIM), the raw responder in
// plaintext ($PLAIN), a server certificate for the wrong name ($WRONGNAME)
// and a closed port ($CLOSED). $CERTS holds ca.crt, peer.crt, peer.key and
// other-ca.crt; conn-*.json are connection.json files for each.
func TestScripts(t *testing.T) {
	ca, other := testpki.NewCA(t), testpki.NewCA(t)
	server, client := ca.Server(t), ca.Client(t)
	wrong := ca.Server(t, testpki.WithDNS("elsewhere.example.com"), testpki.WithIP())
	certs := t.TempDir()
	for name, data := range map[string][]byte{"ca.crt": ca.CertPEM, "peer.crt": client.CertPEM, "peer.key": client.KeyPEM, "other-ca.crt": other.CertPEM} {
		if err := os.WriteFile(filepath.Join(certs, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			raw, err := serveRaw(env.Defer, server, ca, true)
			if err != nil {
				return err
			}
			plain, err := serveRaw(env.Defer, nil, nil, false)
			if err != nil {
				return err
			}
			wrongName, err := serveRaw(env.Defer, wrong, ca, true)
			if err != nil {
				return err
			}
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			cs := &shim.ChaincodeServer{CCID: shimCCID, CC: assettransfer.New(), TLSProps: shim.TLSProperties{
				Key: server.KeyPEM, Cert: server.ChainPEM, ClientCACerts: ca.CertPEM}}
			go func() { _ = cs.Serve(lis) }()
			env.Defer(cs.Stop)
			closed, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			closedAddr := closed.Addr().String()
			closed.Close()
			env.Setenv("CERTS", certs)
			for name, addr := range map[string]string{"RAW": raw, "PLAIN": plain, "WRONGNAME": wrongName, "SHIM": lis.Addr().String(), "CLOSED": closedAddr} {
				env.Setenv(name, addr)
				tlsOn := name != "PLAIN"
				js := fmt.Sprintf(`{"address":%q,"dial_timeout":"20s","tls_required":%v`, addr, tlsOn)
				if tlsOn {
					js += fmt.Sprintf(`,"client_auth_required":true,"root_cert":%q,"client_cert":%q,"client_key":%q`, ca.CertPEM, client.CertPEM, client.KeyPEM)
				}
				js += "}"
				if err := os.WriteFile(filepath.Join(env.WorkDir, "conn-"+strings.ToLower(name)+".json"), []byte(js), 0o600); err != nil {
					return err
				}
			}
			// conn-tmpl.json is conn-raw.json with the address left to
			// the builder config; conn-domain.json names the wrong-name
			// server's DNS SAN in "domain", which the ccaas builder drops.
			for file, extra := range map[string]string{"conn-tmpl.json": `"address":"{{.addr}}"`, "conn-domain.json": fmt.Sprintf(`"address":%q,"domain":"elsewhere.example.com"`, wrongName)} {
				js := fmt.Sprintf(`{%s,"dial_timeout":"20s","tls_required":true,"client_auth_required":true,"root_cert":%q,"client_cert":%q,"client_key":%q}`, extra, ca.CertPEM, client.CertPEM, client.KeyPEM)
				if err := os.WriteFile(filepath.Join(env.WorkDir, file), []byte(js), 0o600); err != nil {
					return err
				}
			}
			env.Setenv("RAWCCID", rawCCID)
			env.Setenv("SHIMCCID", shimCCID)
			return nil
		},
	})
}

// serveRaw serves the raw responder on a loopback port until cleanup
// runs; with leaf, over TLS (mutual with mtls).
func serveRaw(cleanup func(func()), leaf *testpki.Leaf, ca *testpki.CA, mtls bool) (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	var opts []grpc.ServerOption
	if leaf != nil {
		cfg, err := leafConfig(leaf, ca, mtls)
		if err != nil {
			return "", err
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	s := grpc.NewServer(opts...)
	peer.RegisterChaincodeServer(s, rawcc.Server{CCID: rawCCID, CC: rawcc.Demo()})
	go func() { _ = s.Serve(lis) }()
	cleanup(s.Stop)
	return lis.Addr().String(), nil
}

func leafConfig(leaf *testpki.Leaf, ca *testpki.CA, mtls bool) (*tls.Config, error) {
	kp, err := tls.X509KeyPair(leaf.ChainPEM, leaf.KeyPEM)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{kp}}
	if mtls {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, ca.Pool()
	}
	return cfg, nil
}

// TestExitCodes runs Main in process: scripts and health checks branch on
// the codes --help documents, so each must come out as documented.
func TestExitCodes(t *testing.T) {
	ca, other := testpki.NewCA(t), testpki.NewCA(t)
	server, client := ca.Server(t), ca.Client(t)
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile, otherFile := file("ca.crt", ca.CertPEM), file("other.crt", other.CertPEM)
	certFile, keyFile := file("peer.crt", client.CertPEM), file("peer.key", client.KeyPEM)
	raw, err := serveRaw(t.Cleanup, server, ca, true)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := serveRaw(t.Cleanup, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	mtls := func(addr string, extra ...string) []string {
		return append([]string{"probe", "--address", addr, "--tls-root-cert", caFile, "--client-cert", certFile, "--client-key", keyFile}, extra...)
	}
	state := filepath.Join(dir, "state.db")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{mtls(raw), 0, "ccid: " + rawCCID},
		{[]string{"--version"}, 0, "ccpeer version "},
		{[]string{"probe", "--version"}, 0, "ccpeer version "},
		{[]string{"probe", "--nope"}, 2, "fix: see 'ccpeer probe --help'"},
		{[]string{"probe"}, 2, "no chaincode server given"},
		{[]string{"invoke", "--address", raw}, 2, "requires at least 1 arg"},
		{[]string{"query", "--address", plain, "--insecure-plaintext", "--state", state, "--transient", "x", "--", "noop"}, 2, `--transient "x"`},
		{[]string{"invoke", "--address", plain, "--insecure-plaintext", "--state", state, "--", "fail", "broken"}, 1, "message: broken"},
		{[]string{"probe", "--address", closedAddr, "--insecure-plaintext"}, devpeer.ExitRefused, "fix: start the chaincode server"},
		{append(mtls(raw)[:3], "--tls-root-cert", otherFile, "--client-cert", certFile, "--client-key", keyFile), devpeer.ExitUnknownAuthority, "not signed by a CA in root_cert"},
		{[]string{"probe", "--address", raw, "--tls-root-cert", caFile}, devpeer.ExitClientCertNeeded, "requires a client certificate"},
		{[]string{"probe", "--address", plain, "--tls-root-cert", caFile}, devpeer.ExitPlaintextServer, "server speaks plaintext"},
		{[]string{"probe", "--address", raw, "--insecure-plaintext"}, devpeer.ExitTLSServer, "server speaks TLS"},
		{mtls(raw, "--ccid", "wrong:1"), devpeer.ExitCCIDMismatch, `registered as "demo_1.0:1111", not "wrong:1"`},
	} {
		var out bytes.Buffer
		code := Main(tc.args, &out, &out)
		if code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("ccpeer %s: exit %d (want %d), output:\n%s(want %q)", strings.Join(tc.args, " "), code, tc.code, out.String(), tc.want)
		}
	}
}
