package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
			raw, err := serveRaw(env, server, ca, true)
			if err != nil {
				return err
			}
			plain, err := serveRaw(env, nil, nil, false)
			if err != nil {
				return err
			}
			wrongName, err := serveRaw(env, wrong, ca, true)
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
			env.Setenv("RAWCCID", rawCCID)
			env.Setenv("SHIMCCID", shimCCID)
			return nil
		},
	})
}

func serveRaw(env *testscript.Env, leaf *testpki.Leaf, ca *testpki.CA, mtls bool) (string, error) {
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
	env.Defer(s.Stop)
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
