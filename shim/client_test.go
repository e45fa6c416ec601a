package shim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
)

// verifyNoLeaks checks, after all of the test's cleanups, that none of the
// goroutines it started is left.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// supportPeer is a Fabric peer's chaincode listener: chaincode dials it
// and opens /protos.ChaincodeSupport/Register.
type supportPeer struct {
	pb.UnimplementedChaincodeSupportServer
	t        *testing.T
	addr     string
	calls    atomic.Int32
	name     chan string // REGISTER's chaincode id
	clientCN chan string
	result   chan *pb.ChaincodeMessage
}

// Register runs the peer's side of one stream: handshake, one
// transaction that writes a key, then it ends the stream.
func (s *supportPeer) Register(stream pb.ChaincodeSupport_RegisterServer) error {
	s.calls.Add(1)
	if p, ok := grpcpeer.FromContext(stream.Context()); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
			s.clientCN <- ti.State.PeerCertificates[0].Subject.CommonName
		}
	}
	m, err := stream.Recv()
	if err != nil {
		return err
	}
	if m.Type != pb.ChaincodeMessage_REGISTER {
		return errors.New("expected REGISTER, got " + m.Type.String())
	}
	var id pb.ChaincodeID
	if err := proto.Unmarshal(m.Payload, &id); err != nil {
		return err
	}
	s.name <- id.Name
	in, _ := proto.Marshal(&pb.ChaincodeInput{Args: [][]byte{[]byte("put"), []byte("k"), []byte("v")}})
	for _, out := range []*pb.ChaincodeMessage{
		{Type: pb.ChaincodeMessage_REGISTERED},
		{Type: pb.ChaincodeMessage_READY},
		{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "c1", ChannelId: "ch", Payload: in},
	} {
		if err := stream.Send(out); err != nil {
			return err
		}
	}
	m, err = stream.Recv()
	if err != nil {
		return err
	}
	var put pb.PutState
	if m.Type != pb.ChaincodeMessage_PUT_STATE || proto.Unmarshal(m.Payload, &put) != nil || put.Key != "k" {
		return errors.New("expected PUT_STATE k, got " + m.Type.String())
	}
	if err := stream.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: m.Txid, ChannelId: m.ChannelId}); err != nil {
		return err
	}
	m, err = stream.Recv()
	if err != nil {
		return err
	}
	s.result <- m
	return nil // the chaincode sees EOF
}

// clientPKI: the peer's TLS CA and server leaf, and the CA of the
// chaincode's client certificate.
type clientPKI struct {
	peerCA, ccCA *testpki.CA
	peerLeaf     *testpki.Leaf
	ccLeaf       *testpki.Leaf
}

func newClientPKI(t *testing.T) clientPKI {
	peerCA := testpki.NewCA(t, testpki.WithCommonName("org1 TLS CA"))
	ccCA := testpki.NewCA(t, testpki.WithCommonName("chaincode client CA"))
	return clientPKI{peerCA: peerCA, ccCA: ccCA, peerLeaf: peerCA.Server(t),
		ccLeaf: ccCA.Client(t, testpki.WithCommonName("kvstore-client"))}
}

// startSupportPeer serves the peer's chaincode listener on loopback; with
// pki it requires a client certificate from pki.ccCA, without it is
// plaintext.
func startSupportPeer(t *testing.T, pki *clientPKI) *supportPeer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if pki != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{pki.peerLeaf.TLSCertificate(t)},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pki.ccCA.Pool(),
			MinVersion:   tls.VersionTLS12,
		})))
	}
	srv := grpc.NewServer(opts...)
	sp := &supportPeer{t: t, addr: lis.Addr().String(), name: make(chan string, 4), clientCN: make(chan string, 4),
		result: make(chan *pb.ChaincodeMessage, 4)}
	pb.RegisterChaincodeSupportServer(srv, sp)
	served := make(chan struct{})
	go func() { _ = srv.Serve(lis); close(served) }()
	t.Cleanup(func() { srv.Stop(); <-served })
	return sp
}

// checkTransaction checks the peer saw the chaincode register as ccid and
// complete the transaction.
func (s *supportPeer) checkTransaction(t *testing.T, ccid, wantCN string) {
	t.Helper()
	if wantCN != "" {
		if cn := <-s.clientCN; cn != wantCN {
			t.Errorf("client certificate CN %q, want %q", cn, wantCN)
		}
	}
	select {
	case name := <-s.name:
		if name != ccid {
			t.Errorf("REGISTER for %q, want %q", name, ccid)
		}
	default:
		t.Fatal("the peer got no REGISTER")
	}
	select {
	case m := <-s.result:
		if m.Type != pb.ChaincodeMessage_COMPLETED || m.Txid != "c1" {
			t.Fatalf("transaction result %s %s %q", m.Type, m.Txid, m.Payload)
		}
	default:
		t.Fatal("the transaction did not complete")
	}
}

func putCC() Chaincode {
	return &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
		"put": func(s ChaincodeStubInterface) *pb.Response {
			_, params := s.GetFunctionAndParameters()
			if err := s.PutState(params[0], []byte(params[1])); err != nil {
				return Error(err.Error())
			}
			return Success(nil)
		}}}
}

// tlsEnv writes the chaincode's TLS material the two ways the peer hands
// it over and returns the CORE_* variables for the chosen one.
func (p clientPKI) tlsEnv(t *testing.T, base64Path bool) map[string]string {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	env := map[string]string{
		"CORE_CHAINCODE_ID_NAME":      "kvstore:1.0",
		"CORE_PEER_TLS_ENABLED":       "true",
		"CORE_PEER_TLS_ROOTCERT_FILE": write("peer-root.pem", p.peerCA.CertPEM),
	}
	if base64Path {
		env["CORE_TLS_CLIENT_KEY_PATH"] = write("client.key.b64", []byte(base64.StdEncoding.EncodeToString(p.ccLeaf.KeyPEM)+"\n"))
		env["CORE_TLS_CLIENT_CERT_PATH"] = write("client.crt.b64", []byte(base64.StdEncoding.EncodeToString(p.ccLeaf.ChainPEM)))
	} else {
		env["CORE_TLS_CLIENT_KEY_FILE"] = write("client.key", p.ccLeaf.KeyPEM)
		env["CORE_TLS_CLIENT_CERT_FILE"] = write("client.crt", p.ccLeaf.ChainPEM)
	}
	return env
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// runClientFor runs the chaincode as a client until the peer ends the
// stream (bounded: a hang fails the test).
func runClientFor(t *testing.T, cfg clientConfig, cc Chaincode) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return runClient(ctx, cfg, cc)
}

func TestClientModeOverMTLS(t *testing.T) {
	verifyNoLeaks(t)
	pki := newClientPKI(t)
	for _, tc := range []struct {
		name       string
		base64Path bool
		args       func(addr string) []string
	}{
		{"PEM files, -peer.address value", false, func(a string) []string { return []string{"-peer.address", a} }},
		{"base64 paths, --peer.address=value", true, func(a string) []string { return []string{"--peer.address=" + a} }},
		{"PEM files, -peer.address=value among other args", false, func(a string) []string { return []string{"-v", "-peer.address=" + a, "extra"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := startSupportPeer(t, &pki)
			cfg, err := loadClientConfig(lookupIn(pki.tlsEnv(t, tc.base64Path)), tc.args(sp.addr), os.ReadFile)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.peerAddress != sp.addr || !cfg.tlsEnabled {
				t.Fatalf("config: address %q tls %v", cfg.peerAddress, cfg.tlsEnabled)
			}
			err = runClientFor(t, cfg, putCC())
			if err == nil || !strings.Contains(err.Error(), "EOF") {
				t.Fatalf("runClient returned %v, want the EOF that ends the stream", err)
			}
			sp.checkTransaction(t, "kvstore:1.0", "kvstore-client")
		})
	}
}

// TestClientModeKeyEncodings: the key files a real peer and Fabric's tools
// hand over work in client mode. The peer's tlsgen writes PKCS#8 DER under
// the label "EC PRIVATE KEY"; cryptogen and fabric-ca write the MSP
// keystore's priv_sk as PKCS#8 "PRIVATE KEY".
func TestClientModeKeyEncodings(t *testing.T) {
	verifyNoLeaks(t)
	pki := newClientPKI(t)
	der, err := x509.MarshalPKCS8PrivateKey(pki.ccLeaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	tlsgen := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	privSK := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, tc := range []struct {
		name       string
		base64Path bool
		file       string // relative to a temp dir
		key        []byte
	}{
		{"tlsgen key, CORE_TLS_CLIENT_KEY_FILE", false, "client.key", tlsgen},
		{"tlsgen key, CORE_TLS_CLIENT_KEY_PATH (base64)", true, "client.key.b64", []byte(base64.StdEncoding.EncodeToString(tlsgen))},
		{"MSP keystore priv_sk, CORE_TLS_CLIENT_KEY_FILE", false, filepath.Join("keystore", "priv_sk"), privSK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := startSupportPeer(t, &pki)
			env := pki.tlsEnv(t, tc.base64Path)
			keyFile := filepath.Join(t.TempDir(), tc.file)
			if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(keyFile, tc.key, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.base64Path {
				env["CORE_TLS_CLIENT_KEY_PATH"] = keyFile
			} else {
				env["CORE_TLS_CLIENT_KEY_FILE"] = keyFile
			}
			cfg, err := loadClientConfig(lookupIn(env), []string{"-peer.address", sp.addr}, os.ReadFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := runClientFor(t, cfg, putCC()); err == nil || !strings.Contains(err.Error(), "EOF") {
				t.Fatalf("runClient returned %v, want the EOF that ends the stream", err)
			}
			sp.checkTransaction(t, "kvstore:1.0", "kvstore-client")
		})
	}
}

func TestClientModePlaintext(t *testing.T) {
	verifyNoLeaks(t)
	sp := startSupportPeer(t, nil)
	cfg, err := loadClientConfig(lookupIn(map[string]string{
		"CORE_CHAINCODE_ID_NAME": "kvstore:1.0", "CORE_PEER_TLS_ENABLED": "false", "CORE_PEER_ADDRESS": sp.addr,
	}), nil, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := runClientFor(t, cfg, putCC()); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("runClient: %v", err)
	}
	sp.checkTransaction(t, "kvstore:1.0", "")
}

// TestStartReadsCoreEnvironment runs the public entry point exactly as the
// peer launches chaincode: everything from CORE_* variables (the peer
// address from CORE_PEER_ADDRESS, since the test binary's arguments carry
// no -peer.address).
func TestStartReadsCoreEnvironment(t *testing.T) {
	verifyNoLeaks(t)
	pki := newClientPKI(t)
	sp := startSupportPeer(t, &pki)
	for k, v := range pki.tlsEnv(t, true) {
		t.Setenv(k, v)
	}
	t.Setenv("CORE_PEER_ADDRESS", sp.addr)
	done := make(chan error, 1)
	go func() { done <- Start(putCC()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "EOF") {
			t.Fatalf("Start returned %v, want the EOF that ends the stream", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Start did not return after the peer ended the stream")
	}
	sp.checkTransaction(t, "kvstore:1.0", "kvstore-client")
}

func TestClientModeRefusedByPeer(t *testing.T) {
	verifyNoLeaks(t)
	pki := newClientPKI(t)
	sp := startSupportPeer(t, &pki)
	other := testpki.NewCA(t, testpki.WithCommonName("unknown CA"))
	tests := []struct {
		name string
		want string // for the client side, the TLS alert may lose the race with a reset
		env  func() map[string]string
	}{
		{"client certificate from a CA the peer does not trust", "Unavailable", func() map[string]string {
			bad := pki
			bad.ccLeaf = other.Client(t)
			return bad.tlsEnv(t, false)
		}},
		{"peer certificate from a CA the chaincode does not trust", "unknown authority", func() map[string]string {
			bad := pki
			bad.peerCA = other
			return bad.tlsEnv(t, false)
		}},
		{"plaintext to a TLS peer", "Register stream", func() map[string]string {
			return map[string]string{"CORE_CHAINCODE_ID_NAME": "kv", "CORE_PEER_TLS_ENABLED": "false"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadClientConfig(lookupIn(tc.env()), []string{"-peer.address", sp.addr}, os.ReadFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := runClientFor(t, cfg, putCC()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("runClient: %v, want a connection error containing %q", err, tc.want)
			}
		})
	}
	select {
	case name := <-sp.name:
		t.Fatalf("the peer accepted a REGISTER from %q", name)
	default:
	}
}

func TestLoadClientConfigErrors(t *testing.T) {
	pki := newClientPKI(t)
	good := pki.tlsEnv(t, false)
	goodB64 := pki.tlsEnv(t, true)
	dir := t.TempDir()
	notB64 := filepath.Join(dir, "not-base64")
	if err := os.WriteFile(notB64, []byte("-----BEGIN nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-peer.address", "127.0.0.1:7052"}
	with := func(base map[string]string, k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		if v == "<unset>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr []string
	}{
		{"no peer address", good, nil, []string{"peer.address"}},
		{"no chaincode id", with(good, "CORE_CHAINCODE_ID_NAME", "<unset>"), args, []string{"CORE_CHAINCODE_ID_NAME"}},
		{"TLS enabled unset", with(good, "CORE_PEER_TLS_ENABLED", "<unset>"), args, []string{"CORE_PEER_TLS_ENABLED", "'true' or 'false'"}},
		{"TLS enabled unparsable", with(good, "CORE_PEER_TLS_ENABLED", "yes please"), args, []string{"CORE_PEER_TLS_ENABLED", "'true' or 'false'"}},
		{"key file missing", with(good, "CORE_TLS_CLIENT_KEY_FILE", filepath.Join(dir, "absent.key")), args,
			[]string{"CORE_TLS_CLIENT_KEY_FILE", "absent.key", "no such file"}},
		{"cert file missing", with(good, "CORE_TLS_CLIENT_CERT_FILE", filepath.Join(dir, "absent.crt")), args,
			[]string{"CORE_TLS_CLIENT_CERT_FILE", "absent.crt"}},
		{"no key given either way", with(good, "CORE_TLS_CLIENT_KEY_FILE", "<unset>"), args,
			[]string{"CORE_TLS_CLIENT_KEY_FILE", "CORE_TLS_CLIENT_KEY_PATH"}},
		{"key path missing", with(goodB64, "CORE_TLS_CLIENT_KEY_PATH", filepath.Join(dir, "absent.b64")), args,
			[]string{"CORE_TLS_CLIENT_KEY_PATH", "absent.b64"}},
		{"cert path not base64", with(goodB64, "CORE_TLS_CLIENT_CERT_PATH", notB64), args,
			[]string{"CORE_TLS_CLIENT_CERT_PATH", "base64"}},
		{"root cert missing", with(good, "CORE_PEER_TLS_ROOTCERT_FILE", filepath.Join(dir, "absent-root.pem")), args,
			[]string{"CORE_PEER_TLS_ROOTCERT_FILE", "absent-root.pem"}},
		{"root cert unset", with(good, "CORE_PEER_TLS_ROOTCERT_FILE", "<unset>"), args, []string{"CORE_PEER_TLS_ROOTCERT_FILE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadClientConfig(lookupIn(tc.env), tc.args, os.ReadFile)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("the error quotes key material: %v", err)
			}
		})
	}

	// Key material that reads fine but is not a key pair fails at dial time
	// with a clear message, before any connection.
	cfg, err := loadClientConfig(lookupIn(with(good, "CORE_TLS_CLIENT_KEY_FILE", good["CORE_PEER_TLS_ROOTCERT_FILE"])), args, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := runClientFor(t, cfg, putCC()); err == nil || !strings.Contains(err.Error(), "client TLS: CORE_TLS_CLIENT_KEY_FILE: ") {
		t.Fatalf("bad key pair: %v", err)
	}
}

func TestClientConfigSources(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantAddr string
	}{
		{"argument wins over CORE_PEER_ADDRESS", map[string]string{"CORE_PEER_ADDRESS": "env:1"}, []string{"-peer.address", "arg:1"}, "arg:1"},
		{"CORE_PEER_ADDRESS fallback", map[string]string{"CORE_PEER_ADDRESS": "env:1"}, []string{"-other", "x"}, "env:1"},
		{"double dash with =", nil, []string{"--peer.address=arg:2"}, "arg:2"},
		{"value that is not a flag name", nil, []string{"peer.address", "arg:3"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"CORE_CHAINCODE_ID_NAME": "cc", "CORE_PEER_TLS_ENABLED": "false"}
			for k, v := range tc.env {
				env[k] = v
			}
			cfg, err := loadClientConfig(lookupIn(env), tc.args, os.ReadFile)
			if tc.wantAddr == "" {
				if err == nil {
					t.Fatalf("accepted address %q", cfg.peerAddress)
				}
				return
			}
			if err != nil || cfg.peerAddress != tc.wantAddr || cfg.ccid != "cc" || cfg.tlsEnabled {
				t.Fatalf("config %+v, %v; want address %q", cfg, err, tc.wantAddr)
			}
		})
	}
}
