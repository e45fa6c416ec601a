package chaostest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

const ccid = "basic_1.0:0000000000000000000000000000000000000000000000000000000000000000"

// binaries builds ccserver and ccpeer once per test binary, unless
// CCSERVER_BIN names a ccserver built elsewhere (to measure another tree
// with the same method).
type binaries struct {
	once             sync.Once
	dir              string
	err              error
	ccserver, ccpeer string
}

var bins binaries // test-only: one build per test binary

func build(t testing.TB) (ccserver, ccpeer string) {
	t.Helper()
	bins.once.Do(func() {
		bins.dir, bins.err = os.MkdirTemp("", "chaostest-bin")
		if bins.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", bins.dir+"/", "./cmd/ccserver", "./cmd/ccpeer")
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		if err != nil {
			bins.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
		bins.ccserver, bins.ccpeer = filepath.Join(bins.dir, "ccserver"), filepath.Join(bins.dir, "ccpeer")
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
	srv := bins.ccserver
	if b := os.Getenv("CCSERVER_BIN"); b != "" {
		srv = b
	}
	return srv, bins.ccpeer
}

// pki is a CA, the server's files and one admitted peer's files.
type pki struct {
	ca                    *testpki.CA
	dir                   string
	serverCert, serverKey string
	clientCA, crl         string
	peerCert, peerKey     string
	peerTLS               tls.Certificate
	serverDir             string
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	dir := t.TempDir()
	ca := testpki.NewCA(t)
	p := &pki{ca: ca, dir: dir, serverDir: filepath.Join(dir, "server")}
	if err := os.MkdirAll(p.serverDir, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := ca.Server(t, testpki.WithDNS("localhost"), testpki.WithIP(net.IPv4(127, 0, 0, 1)))
	p.serverCert, p.serverKey, p.clientCA = srv.WriteFiles(t, p.serverDir)
	peerDir := filepath.Join(dir, "peer")
	if err := os.MkdirAll(peerDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cl := ca.Client(t, testpki.WithCommonName("peer0.org1.example.com"), testpki.WithOrganization("Org1MSP"))
	p.peerCert, p.peerKey, _ = cl.WriteFiles(t, peerDir)
	p.peerTLS = cl.TLSCertificate(t)
	p.crl = filepath.Join(dir, "crl.pem")
	p.writeCRL(t)
	return p
}

// writeCRL replaces the CRL atomically, revoking the given serials.
func (p *pki) writeCRL(t testing.TB, revoked ...*testpki.Leaf) {
	t.Helper()
	var serials = make([]*big.Int, 0, len(revoked))
	for _, l := range revoked {
		serials = append(serials, l.Cert.SerialNumber)
	}
	now := time.Now()
	der := p.ca.CRL(t, now.Add(-time.Minute), now.Add(time.Hour), serials...)
	tmp := p.crl + ".tmp"
	if err := os.WriteFile(tmp, der, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p.crl); err != nil {
		t.Fatal(err)
	}
}

// server is a running ccserver process.
type server struct {
	t       testing.TB
	bin     string
	args    []string
	env     []string
	cmd     *exec.Cmd
	log     *lockedBuffer
	addr    string
	metrics string
	done    chan struct{}
}

// startServer runs ccserver on free loopback ports and waits until its
// /readyz answers.
func startServer(t testing.TB, p *pki, extra ...string) *server {
	t.Helper()
	return startServerEnv(t, p, nil, extra...)
}

func startServerEnv(t testing.TB, p *pki, env []string, extra ...string) *server {
	t.Helper()
	bin, _ := build(t)
	s := &server{t: t, bin: bin, addr: freeAddr(t), metrics: freeAddr(t), env: env}
	s.args = append([]string{"--address", s.addr, "--ccid", ccid, "--metrics-address", s.metrics,
		"--tls-cert", p.serverCert, "--tls-key", p.serverKey, "--client-ca", p.clientCA, "--crl", p.crl,
		"--log-format", "json"}, extra...)
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *server) start() {
	s.t.Helper()
	s.log = &lockedBuffer{}
	s.cmd = exec.Command(s.bin, s.args...)
	s.cmd.Env = append(os.Environ(), s.env...)
	s.cmd.Stderr, s.cmd.Stdout = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	s.waitReady()
}

func (s *server) waitReady() {
	s.t.Helper()
	for range 600 {
		select {
		case <-s.done:
			s.t.Fatalf("ccserver exited: %s\n%s", s.cmd.ProcessState, s.log.String())
		default:
		}
		if r, err := http.Get("http://" + s.metrics + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("ccserver not ready:\n%s", s.log.String())
}

// kill sends SIGKILL and waits for the process to end.
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// stop sends SIGTERM and waits for the drain to end.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// rss reads the server's resident set size and its peak (VmHWM), in bytes.
func (s *server) rss() (cur, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = n * 1024
		case "VmHWM:":
			peak = n * 1024
		}
	}
	return cur, peak
}

// metric returns the sum of every sample of a metric family whose labels
// contain all of match (e.g. `reason="no-cert"`).
func (s *server) metric(name string, match ...string) float64 {
	r, err := http.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		return -1
	}
	defer r.Body.Close()
	var sum float64
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		ok := true
		for _, m := range match {
			ok = ok && strings.Contains(line, m)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines counts the log lines that contain s.
func (l *lockedBuffer) lines(s string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// rawPeer speaks the peer side of the protocol over gRPC with no devpeer
// in between, so a test can open several streams on one connection and
// send messages of any size.
type rawPeer struct {
	conn *grpc.ClientConn
}

func dialRaw(t testing.TB, p *pki, addr string) *rawPeer {
	t.Helper()
	cfg := &tls.Config{RootCAs: p.ca.Pool(), Certificates: []tls.Certificate{p.peerTLS}, ServerName: "127.0.0.1"}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(100<<20), grpc.MaxCallSendMsgSize(100<<20)))
	if err != nil {
		t.Fatal(err)
	}
	return &rawPeer{conn: cc}
}

// transact opens a Connect stream, completes the handshake and sends one
// TRANSACTION whose input carries size bytes, then waits for its answer.
func (r *rawPeer) transact(ctx context.Context, size int) error {
	st, err := peer.NewChaincodeClient(r.conn).Connect(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer st.CloseSend()
	if _, err := st.Recv(); err != nil { // REGISTER
		return fmt.Errorf("register: %w", err)
	}
	for _, typ := range []peer.ChaincodeMessage_Type{peer.ChaincodeMessage_REGISTERED, peer.ChaincodeMessage_READY} {
		if err := st.Send(&peer.ChaincodeMessage{Type: typ}); err != nil {
			return fmt.Errorf("send %s: %w", typ, err)
		}
	}
	input, _ := proto.Marshal(&peer.ChaincodeInput{Args: [][]byte{[]byte("AssetExists"), make([]byte, size)}})
	prop, _ := proto.Marshal(&peer.SignedProposal{})
	if err := st.Send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_TRANSACTION, ChannelId: "ch", Txid: "big", Payload: input,
		Proposal: &peer.SignedProposal{ProposalBytes: prop}}); err != nil {
		return fmt.Errorf("send transaction: %w", err)
	}
	for {
		m, err := st.Recv()
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		switch m.Type {
		case peer.ChaincodeMessage_COMPLETED, peer.ChaincodeMessage_ERROR:
			return nil
		case peer.ChaincodeMessage_GET_STATE:
			_ = st.Send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_RESPONSE, ChannelId: m.ChannelId, Txid: m.Txid})
		}
	}
}

// flood makes rate TLS handshakes per second without a client
// certificate for d, and returns how many it made.
func flood(t testing.TB, addr string, p *pki, rate int, d time.Duration) int {
	t.Helper()
	cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "127.0.0.1", NextProtos: []string{"h2"}}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	n := 0
	for time.Now().Before(end) {
		<-tick.C
		n++
		wg.Go(func() {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			c.Read(make([]byte, 1)) // TLS 1.3: the refusal arrives after the handshake
			c.Close()
		})
	}
	wg.Wait()
	return n
}
