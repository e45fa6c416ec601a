package shim_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/shim"
	"github.com/ccserver/ccserver/tlsconfig"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/proto"
)

const wait = 20 * time.Second

// checkLeaks verifies, after every cleanup of the test has run (servers
// stopped, connections closed), that no goroutine started by it is left.
func checkLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// kvCC is a small chaincode for the end-to-end tests. "hold" signals on
// held and blocks until release is closed.
type kvCC struct {
	held    chan string
	release chan struct{}
}

func newKV() *kvCC { return &kvCC{held: make(chan string, 16), release: make(chan struct{})} }

func (c *kvCC) Init(shim.ChaincodeStubInterface) *pb.Response { return shim.Success(nil) }

func (c *kvCC) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {
	fn, args := stub.GetFunctionAndParameters()
	switch fn {
	case "put":
		if err := stub.PutState(args[0], []byte(args[1])); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	case "get":
		v, err := stub.GetState(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(v)
	case "hold":
		c.held <- stub.GetTxID()
		<-c.release
		return shim.Success([]byte("held done"))
	case "quick":
		return shim.Success([]byte("quick"))
	}
	return shim.Error("unknown function " + fn)
}

// pkiSet is the material of one test: the chaincode server's CA and leaf,
// and the peers' CA and client leaf.
type pkiSet struct {
	serverCA, peerCA *testpki.CA
	server, peer     *testpki.Leaf
}

func newPKI(t *testing.T) pkiSet {
	serverCA := testpki.NewCA(t, testpki.WithCommonName("chaincode CA"))
	peerCA := testpki.NewCA(t, testpki.WithCommonName("org1 TLS CA"))
	return pkiSet{serverCA: serverCA, peerCA: peerCA, server: serverCA.Server(t), peer: peerCA.Client(t)}
}

// byteProps is the anchor's way: PEM bytes in TLSProperties.
func (p pkiSet) byteProps() shim.TLSProperties {
	return shim.TLSProperties{Key: p.server.KeyPEM, Cert: p.server.ChainPEM, ClientCACerts: p.peerCA.CertPEM}
}

// fileProps is our addition: files, watched for rotation.
func (p pkiSet) fileProps(t *testing.T) shim.TLSProperties {
	dir := t.TempDir()
	certFile, keyFile, _ := p.server.WriteFiles(t, dir)
	caFile := filepath.Join(dir, "peer-ca.crt")
	if err := os.WriteFile(caFile, p.peerCA.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return shim.TLSProperties{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile}
}

// peerCreds is what a Fabric peer presents: its client certificate, and
// the chaincode server's CA as root.
func (p pkiSet) peerCreds(t *testing.T, client *testpki.Leaf) credentials.TransportCredentials {
	cfg := &tls.Config{RootCAs: p.serverCA.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if client != nil {
		cfg.Certificates = []tls.Certificate{client.TLSCertificate(t)}
	}
	return credentials.NewTLS(cfg)
}

// running is a ChaincodeServer serving on a loopback port.
type running struct {
	cs     *shim.ChaincodeServer
	addr   string
	served chan error
}

func serve(t *testing.T, cs *shim.ChaincodeServer) *running {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &running{cs: cs, addr: lis.Addr().String(), served: make(chan error, 1)}
	go func() { r.served <- cs.Serve(lis) }()
	t.Cleanup(func() {
		cs.Stop()
		select {
		case <-r.served:
		case <-time.After(wait):
			t.Error("Serve did not return after Stop")
		}
	})
	return r
}

// serveResult waits for Serve to return.
func (r *running) serveResult(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.served:
		r.served <- err // for Cleanup
		return err
	case <-time.After(wait):
		t.Fatal("Serve did not return")
		return nil
	}
}

// grpcPeer plays a Fabric peer over gRPC: it dials the chaincode server
// and opens /protos.Chaincode/Connect, as the peer's external builder
// launcher does for chaincode as a service.
type grpcPeer struct {
	t       *testing.T
	conn    *grpc.ClientConn
	stream  pb.Chaincode_ConnectClient
	msgs    chan *pb.ChaincodeMessage
	recvErr error // set before msgs is closed
	sendMu  sync.Mutex
}

func dialChaincode(t *testing.T, addr string, creds credentials.TransportCredentials) (*grpcPeer, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := pb.NewChaincodeClient(conn).Connect(ctx)
	if err != nil {
		cancel()
		conn.Close()
		return nil, err
	}
	p := &grpcPeer{t: t, conn: conn, stream: stream, msgs: make(chan *pb.ChaincodeMessage, 64)}
	go func() {
		defer close(p.msgs)
		for {
			m, err := stream.Recv()
			if err != nil {
				p.recvErr = err
				return
			}
			p.msgs <- m
		}
	}()
	t.Cleanup(func() {
		cancel()
		conn.Close()
		for range p.msgs { //nolint:revive // drain until the receiver ends
		}
	})
	return p, nil
}

// next returns the next message from the chaincode, or nil and the
// stream's error once it has ended.
func (p *grpcPeer) next() (*pb.ChaincodeMessage, error) {
	p.t.Helper()
	select {
	case m, ok := <-p.msgs:
		if !ok {
			return nil, p.recvErr
		}
		return m, nil
	case <-time.After(wait):
		p.t.Fatal("no message from the chaincode")
		return nil, nil
	}
}

func (p *grpcPeer) mustNext() *pb.ChaincodeMessage {
	p.t.Helper()
	m, err := p.next()
	if m == nil {
		p.t.Fatalf("stream ended: %v", err)
	}
	return m
}

func (p *grpcPeer) send(m *pb.ChaincodeMessage) {
	p.t.Helper()
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	if err := p.stream.Send(m); err != nil {
		p.t.Fatalf("send %s: %v", m.Type, err)
	}
}

// handshake checks REGISTER carries ccid and answers REGISTERED, READY.
func (p *grpcPeer) handshake(ccid string) {
	p.t.Helper()
	m := p.mustNext()
	if m.Type != pb.ChaincodeMessage_REGISTER {
		p.t.Fatalf("first message %s, want REGISTER", m.Type)
	}
	var id pb.ChaincodeID
	if err := proto.Unmarshal(m.Payload, &id); err != nil || id.Name != ccid {
		p.t.Fatalf("REGISTER for %q (%v), want %q", id.Name, err, ccid)
	}
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_REGISTERED})
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_READY})
}

func (p *grpcPeer) startTx(txid string, args ...string) {
	p.t.Helper()
	in := &pb.ChaincodeInput{}
	for _, a := range args {
		in.Args = append(in.Args, []byte(a))
	}
	payload, err := proto.Marshal(in)
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: txid, ChannelId: "mychannel", Payload: payload})
}

// completed decodes a COMPLETED message for txid.
func (p *grpcPeer) completed(m *pb.ChaincodeMessage, txid string) *pb.Response {
	p.t.Helper()
	if m.Type != pb.ChaincodeMessage_COMPLETED || m.Txid != txid {
		p.t.Fatalf("got %s for %s (%q), want COMPLETED for %s", m.Type, m.Txid, m.Payload, txid)
	}
	var r pb.Response
	if err := proto.Unmarshal(m.Payload, &r); err != nil {
		p.t.Fatal(err)
	}
	return &r
}

// putThenGet runs a write and a read, answering the chaincode's state
// calls as the peer's ledger would.
func (p *grpcPeer) putThenGet() {
	p.t.Helper()
	p.startTx("tx-put", "put", "color", "blue")
	m := p.mustNext()
	var put pb.PutState
	if m.Type != pb.ChaincodeMessage_PUT_STATE || proto.Unmarshal(m.Payload, &put) != nil || put.Key != "color" || string(put.Value) != "blue" {
		p.t.Fatalf("want PUT_STATE color=blue, got %s %v", m.Type, &put)
	}
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: m.Txid, ChannelId: m.ChannelId})
	if r := p.completed(p.mustNext(), "tx-put"); r.Status != shim.OK {
		p.t.Fatalf("put: %d %s", r.Status, r.Message)
	}
	p.startTx("tx-get", "get", "color")
	m = p.mustNext()
	if m.Type != pb.ChaincodeMessage_GET_STATE || m.Txid != "tx-get" || m.ChannelId != "mychannel" {
		p.t.Fatalf("want GET_STATE for mychannel/tx-get, got %s %s/%s", m.Type, m.ChannelId, m.Txid)
	}
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: m.Txid, ChannelId: m.ChannelId, Payload: []byte("blue")})
	if r := p.completed(p.mustNext(), "tx-get"); r.Status != shim.OK || string(r.Payload) != "blue" {
		p.t.Fatalf("get: %d %q %s", r.Status, r.Payload, r.Message)
	}
}

func TestServerMTLSEndToEnd(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	for _, tc := range []struct {
		name  string
		props func(t *testing.T) shim.TLSProperties
	}{
		{"PEM bytes (the anchor's fields)", func(*testing.T) shim.TLSProperties { return pki.byteProps() }},
		{"files", pki.fileProps},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := &shim.ChaincodeServer{CCID: "kvstore:0123abcd", CC: newKV(), TLSProps: tc.props(t)}
			r := serve(t, cs)
			p, err := dialChaincode(t, r.addr, pki.peerCreds(t, pki.peer))
			if err != nil {
				t.Fatal(err)
			}
			p.handshake("kvstore:0123abcd")
			p.putThenGet()
			// KEEPALIVE is echoed over the real stream too.
			p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_KEEPALIVE, Txid: "ka-1"})
			if m := p.mustNext(); m.Type != pb.ChaincodeMessage_KEEPALIVE || m.Txid != "ka-1" {
				t.Fatalf("KEEPALIVE echo: %s %s", m.Type, m.Txid)
			}
			// A second peer on its own connection gets its own stream.
			p2, err := dialChaincode(t, r.addr, pki.peerCreds(t, pki.peerCA.Client(t, testpki.WithCommonName("peer1.org1"))))
			if err != nil {
				t.Fatal(err)
			}
			p2.handshake("kvstore:0123abcd")
			p2.putThenGet()
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			if err := cs.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown with nothing in flight: %v", err)
			}
			if err := r.serveResult(t); err != nil {
				t.Fatalf("Serve returned %v after Shutdown, want nil", err)
			}
		})
	}
}

// TestServerTLSSpecAndAuthorizer: a server configured by a
// tlsconfig.ServerSpec (as ccserver does) or by TLSProperties with an
// Authorizer admits exactly the peers the checks admit.
func TestServerTLSSpecAndAuthorizer(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	org2 := pki.peerCA.Client(t, testpki.WithCommonName("peer0.org2"), testpki.WithOrganization("Org2MSP"))
	org1 := pki.peerCA.Client(t, testpki.WithOrganization("Org1MSP"))
	onlyOrg1 := func(chains [][]*x509.Certificate) error {
		if o := chains[0][0].Subject.Organization; len(o) != 1 || o[0] != "Org1MSP" {
			return fmt.Errorf("organization %v not admitted", o)
		}
		return nil
	}
	props := pki.byteProps()
	props.Authorizer = onlyOrg1
	files := pki.fileProps(t)
	rule, err := tlsconfig.ParseIdentityRule("o=Org1MSP")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cs   *shim.ChaincodeServer
	}{
		{"TLSProperties.Authorizer", &shim.ChaincodeServer{CCID: "kv:1", CC: newKV(), TLSProps: props}},
		{"TLSSpec with an identity rule", &shim.ChaincodeServer{CCID: "kv:1", CC: newKV(), TLSSpec: &tlsconfig.ServerSpec{
			CertFile: files.CertFile, KeyFile: files.KeyFile, ClientCAFile: files.ClientCAFile,
			IdentityRules: []tlsconfig.IdentityRule{rule}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := serve(t, tc.cs)
			expectRefused(t, r.addr, pki.peerCreds(t, org2))
			p, err := dialChaincode(t, r.addr, pki.peerCreds(t, org1))
			if err != nil {
				t.Fatal(err)
			}
			p.handshake("kv:1")
			p.putThenGet()
		})
	}
	both := &shim.ChaincodeServer{CCID: "kv:1", Address: "127.0.0.1:0", CC: newKV(), TLSProps: pki.byteProps(), TLSSpec: &tlsconfig.ServerSpec{}}
	if err := both.Start(); err == nil || !strings.Contains(err.Error(), "TLSProps or TLSSpec, not both") {
		t.Fatalf("TLSProps and TLSSpec: %v", err)
	}
	// A TLSSpec's errors name the spec's fields, unchanged.
	bad := &shim.ChaincodeServer{CCID: "kv:1", Address: "127.0.0.1:0", CC: newKV(), TLSSpec: &tlsconfig.ServerSpec{CertFile: files.CertFile}}
	var fe *tlsconfig.FieldError
	if err := bad.Start(); !errors.As(err, &fe) || fe.Field != "KeyFile" {
		t.Fatalf("a spec without KeyFile: %v", err)
	}
}

func TestServerStartListensOnAddress(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	cs := &shim.ChaincodeServer{CCID: "kv:1", Address: "127.0.0.1:0", CC: newKV(), TLSProps: pki.byteProps()}
	started := make(chan error, 1)
	go func() { started <- cs.Start() }()
	deadline := time.Now().Add(wait)
	for cs.Addr() == nil {
		if time.Now().After(deadline) {
			t.Fatal("Start did not begin listening")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p, err := dialChaincode(t, cs.Addr().String(), pki.peerCreds(t, pki.peer))
	if err != nil {
		t.Fatal(err)
	}
	p.handshake("kv:1")
	p.putThenGet()
	cs.Stop()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("Start returned %v after Stop, want nil", err)
		}
	case <-time.After(wait):
		t.Fatal("Start did not return after Stop")
	}
}

// expectRefused dials with creds and checks the server never registers:
// the handshake or the first read fails.
func expectRefused(t *testing.T, addr string, creds credentials.TransportCredentials) error {
	t.Helper()
	p, err := dialChaincode(t, addr, creds)
	if err != nil {
		return err
	}
	m, err := p.next()
	if m != nil {
		t.Fatalf("the server sent %s to a client it should have refused", m.Type)
	}
	if err == nil {
		t.Fatal("the stream ended without an error")
	}
	return err
}

func TestServerRefusesPeersWithoutTrustedClientCert(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	otherCA := testpki.NewCA(t, testpki.WithCommonName("someone else's CA"))
	cs := &shim.ChaincodeServer{CCID: "kv:1", CC: newKV(), TLSProps: pki.byteProps()}
	r := serve(t, cs)
	for _, tc := range []struct {
		name   string
		client *testpki.Leaf
	}{
		{"no client certificate", nil},
		{"client certificate from another CA", otherCA.Client(t)},
		{"server-only certificate from the right CA", pki.peerCA.Server(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := expectRefused(t, r.addr, pki.peerCreds(t, tc.client))
			t.Logf("refused: %v", err)
		})
	}
	// A client that does not trust the server's CA refuses it as well.
	wrongRoot := credentials.NewTLS(&tls.Config{RootCAs: otherCA.Pool(), ServerName: "localhost",
		Certificates: []tls.Certificate{pki.peer.TLSCertificate(t)}})
	if err := expectRefused(t, r.addr, wrongRoot); !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("wrong root: %v", err)
	}
	// The server is unharmed: a proper peer still works.
	p, err := dialChaincode(t, r.addr, pki.peerCreds(t, pki.peer))
	if err != nil {
		t.Fatal(err)
	}
	p.handshake("kv:1")
	p.putThenGet()
}

func TestServerPlaintextWhenDisabled(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	// Disabled wins over any material given.
	cs := &shim.ChaincodeServer{CCID: "kv:plain", CC: newKV(), TLSProps: shim.TLSProperties{Disabled: true, Key: []byte("junk")}}
	r := serve(t, cs)
	p, err := dialChaincode(t, r.addr, insecure.NewCredentials())
	if err != nil {
		t.Fatal(err)
	}
	p.handshake("kv:plain")
	p.putThenGet()
	// A TLS client cannot talk to a plaintext server.
	expectRefused(t, r.addr, pki.peerCreds(t, pki.peer))
}

func TestServerInsecureNoClientAuth(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	props := shim.TLSProperties{Key: pki.server.KeyPEM, Cert: pki.server.ChainPEM, InsecureNoClientAuth: true}
	r := serve(t, &shim.ChaincodeServer{CCID: "kv:open", CC: newKV(), TLSProps: props})
	p, err := dialChaincode(t, r.addr, pki.peerCreds(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	p.handshake("kv:open")
	p.putThenGet()
}

func TestServerConfigErrors(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	files := pki.fileProps(t)
	good := pki.byteProps()
	with := func(f func(*shim.TLSProperties)) shim.TLSProperties { p := good; f(&p); return p }
	tests := []struct {
		name    string
		props   shim.TLSProperties
		ccid    string // "" means a valid one
		noCC    bool
		wantErr string
	}{
		{name: "missing key", props: with(func(p *shim.TLSProperties) { p.Key = nil }), wantErr: "Cert is given but not Key"},
		{name: "missing cert", props: with(func(p *shim.TLSProperties) { p.Cert = nil }), wantErr: "Key is given but not Cert"},
		{name: "no certificate at all", props: shim.TLSProperties{ClientCACerts: pki.peerCA.CertPEM}, wantErr: "no server certificate"},
		{name: "no client CA and no InsecureNoClientAuth", props: with(func(p *shim.TLSProperties) { p.ClientCACerts = nil }), wantErr: "give ClientCAFile or ClientCACerts with the CA that issued the peers' certificates, or InsecureNoClientAuth"},
		{name: "client CA and InsecureNoClientAuth", props: with(func(p *shim.TLSProperties) { p.InsecureNoClientAuth = true }), wantErr: "ClientCACerts requires client certificates but InsecureNoClientAuth turns them off"},
		{name: "files and bytes", props: with(func(p *shim.TLSProperties) { p.CertFile, p.KeyFile = files.CertFile, files.KeyFile }), wantErr: "one way"},
		{name: "CA file and CA bytes", props: with(func(p *shim.TLSProperties) { p.ClientCAFile = files.ClientCAFile }), wantErr: "ClientCAFile and ClientCACerts exclude each other"},
		{name: "cert file without key file", props: shim.TLSProperties{CertFile: files.CertFile, ClientCAFile: files.ClientCAFile}, wantErr: "KeyFile"},
		{name: "key file without cert file", props: shim.TLSProperties{KeyFile: files.KeyFile, ClientCAFile: files.ClientCAFile}, wantErr: "CertFile"},
		{name: "missing key file", props: func() shim.TLSProperties {
			p := files
			p.KeyFile = filepath.Join(t.TempDir(), "absent.key")
			return p
		}(), wantErr: "absent.key"},
		{name: "key does not match cert", props: with(func(p *shim.TLSProperties) { p.Key = pki.peer.KeyPEM }), wantErr: "Key: static private key: private key does not match"},
		{name: "bad client CA PEM", props: with(func(p *shim.TLSProperties) { p.ClientCACerts = []byte("not pem") }), wantErr: "ClientCACerts"},
		{name: "client certificate as server certificate", props: with(func(p *shim.TLSProperties) {
			p.Cert, p.Key = pki.peer.ChainPEM, pki.peer.KeyPEM
		}), wantErr: "serverAuth"},
		{name: "no CCID", props: good, ccid: "-", wantErr: "ccid"},
		{name: "no chaincode", props: good, noCC: true, wantErr: "chaincode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			newServer := func(addr string) *shim.ChaincodeServer {
				cs := &shim.ChaincodeServer{CCID: "kv:1", Address: addr, CC: newKV(), TLSProps: tc.props}
				if tc.ccid == "-" {
					cs.CCID = ""
				}
				if tc.noCC {
					cs.CC = nil
				}
				return cs
			}
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			err = newServer("").Serve(lis)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Serve: %v, want an error containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("the error quotes key material: %v", err)
			}
			// Serve closed the listener it was given.
			if c, err := lis.Accept(); err == nil {
				c.Close()
				t.Fatal("listener still open after a failed Serve")
			}
			// Start reports the same error without binding the port.
			cs := newServer("127.0.0.1:0")
			if err := cs.Start(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Start: %v, want an error containing %q", err, tc.wantErr)
			}
			if cs.Addr() != nil {
				t.Fatalf("Start bound %v despite a bad configuration", cs.Addr())
			}
		})
	}
}

func TestServerShutdownDrainsInFlight(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	cc := newKV()
	cs := &shim.ChaincodeServer{CCID: "kv:drain", CC: cc, TLSProps: pki.byteProps()}
	r := serve(t, cs)
	p, err := dialChaincode(t, r.addr, pki.peerCreds(t, pki.peer))
	if err != nil {
		t.Fatal(err)
	}
	p.handshake("kv:drain")
	p.startTx("tx-hold", "hold")
	<-cc.held

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shutdown <- cs.Shutdown(ctx)
	}()
	// Until Shutdown has begun, new transactions still run; from then on
	// they are refused with ERROR while the held one keeps running.
	refused := false
	for i := 0; !refused; i++ {
		if i > 10000 {
			t.Fatal("no transaction was refused while draining")
		}
		txid := fmt.Sprint("tx-new-", i)
		p.startTx(txid, "quick")
		m := p.mustNext()
		if m.Txid != txid {
			t.Fatalf("got %s for %s, want the result of %s", m.Type, m.Txid, txid)
		}
		switch m.Type {
		case pb.ChaincodeMessage_COMPLETED:
		case pb.ChaincodeMessage_ERROR:
			if !strings.Contains(string(m.Payload), "shutting down") {
				t.Fatalf("refusal while draining: %q", m.Payload)
			}
			refused = true
		default:
			t.Fatalf("unexpected %s", m.Type)
		}
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with a transaction in flight", err)
	default:
	}
	close(cc.release)
	if r := p.completed(p.mustNext(), "tx-hold"); string(r.Payload) != "held done" {
		t.Fatalf("in-flight transaction: %q", r.Payload)
	}
	if m, err := p.next(); m != nil || err == nil {
		t.Fatalf("after the drain the stream should close, got %v %v", m, err)
	}
	select {
	case err := <-shutdown:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Shutdown did not return")
	}
	if err := r.serveResult(t); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// The listener is closed: new connections are refused.
	if c, err := net.DialTimeout("tcp", r.addr, 5*time.Second); err == nil {
		c.Close()
		t.Fatal("the port still accepts connections after Shutdown")
	}
}

func TestServerShutdownDeadline(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	cc := newKV()
	cs := &shim.ChaincodeServer{CCID: "kv:stuck", CC: cc, TLSProps: pki.byteProps()}
	r := serve(t, cs)
	p, err := dialChaincode(t, r.addr, pki.peerCreds(t, pki.peer))
	if err != nil {
		t.Fatal(err)
	}
	p.handshake("kv:stuck")
	p.startTx("tx-stuck", "hold")
	<-cc.held
	// Release the stuck chaincode only when the test ends, so its goroutine
	// ends before the leak check.
	defer close(cc.release)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := cs.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown past its deadline returned %v, want context.DeadlineExceeded", err)
	}
	// It closed everything anyway.
	if m, err := p.next(); m != nil || err == nil {
		t.Fatalf("stream still open after Shutdown: %v %v", m, err)
	}
	if err := r.serveResult(t); err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestServerStopClosesStreams(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	cc := newKV()
	cs := &shim.ChaincodeServer{CCID: "kv:stop", CC: cc, TLSProps: pki.byteProps()}
	r := serve(t, cs)
	p, err := dialChaincode(t, r.addr, pki.peerCreds(t, pki.peer))
	if err != nil {
		t.Fatal(err)
	}
	p.handshake("kv:stop")
	p.startTx("tx-held", "hold")
	<-cc.held
	defer close(cc.release)
	cs.Stop()
	if m, err := p.next(); m != nil || err == nil {
		t.Fatalf("stream still open after Stop: %v %v", m, err)
	}
	if err := r.serveResult(t); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// Stop and Shutdown after Stop are harmless.
	cs.Stop()
	if err := cs.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after Stop: %v", err)
	}
}

func TestServerShutdownBeforeServe(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	cs := &shim.ChaincodeServer{CCID: "kv:1", CC: newKV(), TLSProps: pki.byteProps()}
	if err := cs.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown of an idle server: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Serve(lis); err != nil {
		t.Fatalf("Serve after Shutdown: %v, want nil at once", err)
	}
}

// keepCC keeps what each transaction handed it: its id, arguments and the
// value GetState returned, as chaincode may.
type keepCC struct {
	mu   sync.Mutex
	kept []keptTx
}

type keptTx struct {
	txid  string
	args  [][]byte
	value []byte
}

func (*keepCC) Init(shim.ChaincodeStubInterface) *pb.Response { return shim.Success(nil) }

func (c *keepCC) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {
	v, err := stub.GetState("k")
	if err != nil {
		return shim.Error(err.Error())
	}
	c.mu.Lock()
	c.kept = append(c.kept, keptTx{stub.GetTxID(), stub.GetArgs(), v})
	c.mu.Unlock()
	return shim.Success(nil)
}

// TestServerKeptBytesStayIntact: the engine keeps received frames without
// copying them when gRPC allocated them for the frame alone (up to 1 KiB),
// and copies larger ones out of gRPC's pool; either way what chaincode
// kept from a transaction must never change afterwards, over the real
// gRPC transport, whatever arrives next. A gRPC release that reused such
// frames would fail here.
func TestServerKeptBytesStayIntact(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	cc := &keepCC{}
	cs := &shim.ChaincodeServer{CCID: "keep:1", CC: cc, TLSProps: pki.byteProps()}
	r := serve(t, cs)
	p, err := dialChaincode(t, r.addr, pki.peerCreds(t, pki.peer))
	if err != nil {
		t.Fatal(err)
	}
	p.handshake("keep:1")
	// Sizes on both sides of gRPC's 1 KiB pooling threshold.
	sizes := []int{0, 1, 100, 900, 1000, 1100, 5000, 20000}
	arg := func(i int) string { return strings.Repeat(string(rune('a'+i%26)), sizes[i%len(sizes)]) }
	value := func(i int) []byte { return []byte(strings.Repeat(string(rune('A'+i%26)), sizes[(i+3)%len(sizes)])) }
	const n = 200
	for i := range n {
		txid := fmt.Sprintf("tx-%03d", i)
		p.startTx(txid, "keep", arg(i))
		if m := p.mustNext(); m.Type != pb.ChaincodeMessage_GET_STATE || m.Txid != txid {
			t.Fatalf("%s: got %s for %s, want GET_STATE", txid, m.Type, m.Txid)
		}
		p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: txid, ChannelId: "mychannel", Payload: value(i)})
		if resp := p.completed(p.mustNext(), txid); resp.Status != shim.OK {
			t.Fatalf("%s: %d %s", txid, resp.Status, resp.Message)
		}
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(cc.kept) != n {
		t.Fatalf("kept %d transactions, want %d", len(cc.kept), n)
	}
	for i, k := range cc.kept {
		if want := fmt.Sprintf("tx-%03d", i); k.txid != want {
			t.Errorf("#%d: kept txid %q, want %q", i, k.txid, want)
		}
		if len(k.args) != 2 || string(k.args[0]) != "keep" || string(k.args[1]) != arg(i) {
			t.Errorf("#%d: kept args changed (%d args)", i, len(k.args))
		}
		if string(k.value) != string(value(i)) {
			t.Errorf("#%d: kept value changed: %d bytes, want %d", i, len(k.value), len(value(i)))
		}
	}
}

// TestServerWithAnotherCodec: a server whose ServerOptions force another
// codec (here gRPC's own proto codec) still serves: the engine's encoded
// frames are refused once and it sends messages from then on, and its
// receive target decodes as an ordinary message.
func TestServerWithAnotherCodec(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	cs := &shim.ChaincodeServer{CCID: "kvstore:1", CC: newKV(), TLSProps: pki.byteProps(),
		ServerOptions: []grpc.ServerOption{grpc.ForceServerCodecV2(encoding.GetCodecV2("proto"))}}
	r := serve(t, cs)
	p, err := dialChaincode(t, r.addr, pki.peerCreds(t, pki.peer))
	if err != nil {
		t.Fatal(err)
	}
	p.handshake("kvstore:1")
	p.putThenGet()
	p.putThenGet()
}

// TestServePackageAndStopPackage: a further package id on its own
// listener gets streams registered as it, beside the main one; stopping it
// refuses its new transactions, lets the one in flight finish, ends its
// streams and leaves the main package untouched.
func TestServePackageAndStopPackage(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	cc := newKV()
	cs := &shim.ChaincodeServer{CCID: "kv:1", CC: cc, TLSProps: pki.byteProps()}
	r := serve(t, cs)
	// A stream on the main package id first: ServePackage needs Serve to
	// have built the gRPC server.
	main, err := dialChaincode(t, r.addr, pki.peerCreds(t, pki.peer))
	if err != nil {
		t.Fatal(err)
	}
	main.handshake("kv:1")
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.ServePackage("kv:2", lis); err != nil {
		t.Fatalf("ServePackage: %v", err)
	}
	// Refusals, each naming what was wrong.
	for _, tc := range []struct{ ccid, want string }{
		{"kv:2", "served already"},
		{"kv:1", "served already"},
		{"", "ccid must be specified"},
	} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.ServePackage(tc.ccid, l); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ServePackage(%q): %v, want %q", tc.ccid, err, tc.want)
		}
	}
	if err := cs.StopPackage(context.Background(), "kv:nope"); err == nil || !strings.Contains(err.Error(), "not served") {
		t.Errorf("StopPackage of an unknown id: %v", err)
	}

	next, err := dialChaincode(t, lis.Addr().String(), pki.peerCreds(t, pki.peer))
	if err != nil {
		t.Fatal(err)
	}
	next.handshake("kv:2")
	next.putThenGet()

	next.startTx("tx-hold", "hold")
	<-cc.held
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		stopped <- cs.StopPackage(ctx, "kv:2")
	}()
	// New transactions of the stopped package are refused, naming why.
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("no transaction of the stopped package was refused")
		}
		txid := fmt.Sprint("tx-new-", i)
		next.startTx(txid, "quick")
		if m := next.mustNext(); m.Type == pb.ChaincodeMessage_ERROR {
			if !strings.Contains(string(m.Payload), "kv:2 is no longer served") {
				t.Fatalf("refusal: %q", m.Payload)
			}
			break
		}
	}
	close(cc.release)
	if r := next.completed(next.mustNext(), "tx-hold"); string(r.Payload) != "held done" {
		t.Fatalf("in-flight transaction: %q", r.Payload)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("StopPackage: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("StopPackage did not return after the in-flight transaction finished")
	}
	if m, err := next.next(); m != nil || err == nil {
		t.Fatalf("the stopped package's stream should end, got %v %v", m, err)
	}
	if c, err := net.DialTimeout("tcp", lis.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatal("the stopped package's listener still accepts connections")
	}
	// The main package id carries on.
	main.putThenGet()
}
