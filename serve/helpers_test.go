package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/shim"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// wait is the generous bound for anything a test waits on.
const wait = 30 * time.Second

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testCC is a chaincode for the server tests: echo answers its argument,
// fail answers status 500, panic panics, block waits for release,
// sleep sleeps (for a process the test cannot reach into).
type testCC struct {
	started chan string   // receives the txid of each "block" call
	release chan struct{} // closed to let "block" calls finish
}

func newTestCC() *testCC {
	return &testCC{started: make(chan string, 16), release: make(chan struct{})}
}

func (c *testCC) Init(shim.ChaincodeStubInterface) *pb.Response { return shim.Success(nil) }

func (c *testCC) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {
	fn, args := stub.GetFunctionAndParameters()
	arg := strings.Join(args, " ")
	switch fn {
	case "echo":
		return shim.Success([]byte(arg))
	case "fail":
		return shim.Error(arg)
	case "panic":
		panic("test panic: " + arg)
	case "sleep": // sleep DURATION [MARKER]: create MARKER, then sleep
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		if len(args) > 1 {
			if err := os.WriteFile(args[1], nil, 0o600); err != nil {
				return shim.Error(err.Error())
			}
		}
		time.Sleep(d)
		return shim.Success([]byte("slept"))
	case "block":
		c.started <- stub.GetTxID()
		<-c.release
		return shim.Success([]byte("released"))
	}
	return shim.Error("unknown function " + fn)
}

// pkiSet is a CA with a server certificate and a peer client
// certificate, written to files the way cert-manager mounts them.
type pkiSet struct {
	ca                        *testpki.CA
	server, client            *testpki.Leaf
	certFile, keyFile, caFile string
	dir                       string
}

func newPKI(t *testing.T) *pkiSet {
	t.Helper()
	ca := testpki.NewCA(t)
	p := &pkiSet{ca: ca, server: ca.Server(t), client: ca.Client(t), dir: t.TempDir()}
	p.certFile, p.keyFile, p.caFile = p.server.WriteFiles(t, p.dir)
	return p
}

// tlsArgs are the flags for mutual TLS with p's files.
func (p *pkiSet) tlsArgs() []string {
	return []string{"--tls-cert", p.certFile, "--tls-key", p.keyFile, "--client-ca", p.caFile}
}

// clientTLS is what a peer with leaf presents and trusts.
func (p *pkiSet) clientTLS(t *testing.T, leaf *testpki.Leaf) *tls.Config {
	cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if leaf != nil {
		cfg.Certificates = []tls.Certificate{leaf.TLSCertificate(t)}
	}
	return cfg
}

// running is a ccserver started in process by startServer.
type running struct {
	addrs   Listening
	signals chan os.Signal
	done    chan int
	stderr  *syncBuffer
	cancel  context.CancelFunc
}

// startServer runs Run in process with args and env and waits until it
// is ready. Cleanup stops it with SIGTERM if the test has not.
func startServer(t *testing.T, cc shim.Chaincode, args []string, env map[string]string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{signals: make(chan os.Signal, 4), done: make(chan int, 1), stderr: &syncBuffer{}, cancel: cancel}
	ready := make(chan Listening, 1)
	go func() {
		r.done <- Run(ctx, cc, Env{
			Args:      args,
			LookupEnv: mapEnv(env),
			Stdout:    io.Discard,
			Stderr:    r.stderr,
			Signals:   r.signals,
			Ready:     func(l Listening) { ready <- l },
		})
	}()
	select {
	case r.addrs = <-ready:
	case code := <-r.done:
		cancel()
		t.Fatalf("ccserver exited with %d before it was ready:\n%s", code, r.stderr)
	case <-time.After(wait):
		cancel()
		t.Fatalf("ccserver not ready after %s:\n%s", wait, r.stderr)
	}
	t.Cleanup(func() {
		r.cancel()
		select {
		case <-r.done:
		case <-time.After(wait):
			t.Errorf("ccserver did not stop after its context ended:\n%s", r.stderr)
		}
	})
	return r
}

// stop sends sig and returns the exit status.
func (r *running) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	r.signals <- sig
	return r.exitCode(t)
}

func (r *running) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.done:
		r.done <- code // keep it for Cleanup
		return code
	case <-time.After(wait):
		t.Fatalf("ccserver did not exit:\n%s", r.stderr)
		return -1
	}
}

func mapEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// testPeer is the peer's side of one chaincode stream: it dials, answers
// REGISTER with REGISTERED and READY, and sends transactions. It serves
// no state requests; the test chaincode makes none.
type testPeer struct {
	conn   *grpc.ClientConn
	stream pb.Chaincode_ConnectClient
	cancel context.CancelFunc
	ccid   string

	mu      sync.Mutex
	waiting map[string]chan *pb.ChaincodeMessage
	recvErr error
	done    chan struct{}
}

func dialPeer(t *testing.T, addr net.Addr, tlsCfg *tls.Config) *testPeer {
	t.Helper()
	p, err := connectPeer(addr, tlsCfg)
	if err != nil {
		t.Fatalf("peer: %v", err)
	}
	t.Cleanup(p.close)
	return p
}

func connectPeer(addr net.Addr, tlsCfg *tls.Config, opts ...grpc.DialOption) (*testPeer, error) {
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	conn, err := grpc.NewClient(addr.String(), append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, opts...)...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := pb.NewChaincodeClient(conn).Connect(ctx)
	if err != nil {
		cancel()
		conn.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	p := &testPeer{conn: conn, stream: stream, cancel: cancel, waiting: map[string]chan *pb.ChaincodeMessage{}, done: make(chan struct{})}
	if err := p.handshake(); err != nil {
		close(p.done)
		p.close()
		return nil, err
	}
	go p.recvLoop()
	return p, nil
}

func (p *testPeer) handshake() error {
	m, err := p.stream.Recv()
	if err != nil {
		return fmt.Errorf("waiting for REGISTER: %w", err)
	}
	if m.Type != pb.ChaincodeMessage_REGISTER {
		return fmt.Errorf("first message is %s, want REGISTER", m.Type)
	}
	var id pb.ChaincodeID
	if err := proto.Unmarshal(m.Payload, &id); err != nil {
		return err
	}
	p.ccid = id.Name
	if err := p.stream.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_REGISTERED}); err != nil {
		return err
	}
	return p.stream.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_READY})
}

func (p *testPeer) recvLoop() {
	defer close(p.done)
	for {
		m, err := p.stream.Recv()
		if err != nil {
			p.mu.Lock()
			p.recvErr = err
			p.mu.Unlock()
			return
		}
		if m.Type == pb.ChaincodeMessage_KEEPALIVE {
			continue
		}
		p.mu.Lock()
		ch := p.waiting[m.ChannelId+"/"+m.Txid]
		p.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// send starts a transaction and returns the channel its result arrives on.
func (p *testPeer) send(channel, txid string, args ...string) (<-chan *pb.ChaincodeMessage, error) {
	in := &pb.ChaincodeInput{}
	for _, a := range args {
		in.Args = append(in.Args, []byte(a))
	}
	payload, err := proto.Marshal(in)
	if err != nil {
		return nil, err
	}
	ch := make(chan *pb.ChaincodeMessage, 1)
	p.mu.Lock()
	p.waiting[channel+"/"+txid] = ch
	p.mu.Unlock()
	return ch, p.stream.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: txid, ChannelId: channel, Payload: payload})
}

// result waits for a transaction's COMPLETED or ERROR.
func (p *testPeer) result(t *testing.T, ch <-chan *pb.ChaincodeMessage) *pb.ChaincodeMessage {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-p.done:
		// The result may have arrived just before the stream ended.
		select {
		case m := <-ch:
			return m
		default:
		}
		t.Fatalf("stream ended while waiting for a result: %v", p.err())
	case <-time.After(wait):
		t.Fatalf("no result after %s", wait)
	}
	return nil
}

// invoke runs one transaction and returns the chaincode's response; an
// ERROR message fails the test.
func (p *testPeer) invoke(t *testing.T, channel, txid string, args ...string) *pb.Response {
	t.Helper()
	ch, err := p.send(channel, txid, args...)
	if err != nil {
		t.Fatalf("send %s: %v", txid, err)
	}
	return completed(t, p.result(t, ch))
}

func completed(t *testing.T, m *pb.ChaincodeMessage) *pb.Response {
	t.Helper()
	if m.Type != pb.ChaincodeMessage_COMPLETED {
		t.Fatalf("transaction %s: got %s %q, want COMPLETED", m.Txid, m.Type, m.Payload)
	}
	var r pb.Response
	if err := proto.Unmarshal(m.Payload, &r); err != nil {
		t.Fatalf("COMPLETED payload: %v", err)
	}
	return &r
}

func (p *testPeer) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.recvErr
}

func (p *testPeer) close() {
	p.cancel()
	p.conn.Close()
	select {
	case <-p.done:
	case <-time.After(wait):
	}
}

// writeFile writes data to dir/name with perm and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	return path
}
