package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/e2e/internal/network"
)

// ccaasPKI is the TLS material of one ccaas deployment, made with ccpki as
// an operator would: a CA, the server's certificate, the peer's client
// certificate.
type ccaasPKI struct {
	Dir, CA, Server, Peer string
}

func newPKI(t *testing.T, dir string) ccaasPKI {
	t.Helper()
	p := ccaasPKI{Dir: dir, CA: filepath.Join(dir, "ca"), Server: filepath.Join(dir, "server"), Peer: filepath.Join(dir, "peer")}
	run(t, "ccpki", "init", "--dir", p.CA)
	run(t, "ccpki", "issue", "--profile", "server", "--ca", p.CA, "--dns", "localhost", "--ip", "127.0.0.1", "--out", p.Server)
	run(t, "ccpki", "issue", "--profile", "client", "--ca", p.CA, "--cn", "peer0.org1.example.com", "--org", "Org1MSP", "--out", p.Peer)
	return p
}

var packageIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.+-]+:[0-9a-f]{64}$`)

// pack writes a ccaas package with ccpki for a server at addr and returns
// the package file and id.
func (p ccaasPKI) pack(t *testing.T, label, addr string, extra ...string) (string, string) {
	t.Helper()
	file := filepath.Join(p.Dir, label+".tar.gz")
	args := append([]string{"package", "--label", label, "--address", addr, "--root-cert", filepath.Join(p.CA, "ca.crt"),
		"--client-cert", filepath.Join(p.Peer, "tls.crt"), "--client-key", filepath.Join(p.Peer, "tls.key"), "--out", file}, extra...)
	id := strings.TrimSpace(run(t, "ccpki", args...))
	if !packageIDPattern.MatchString(id) {
		t.Fatalf("ccpki package printed %q, want LABEL:sha256", id)
	}
	return file, id
}

// ccServer is a chaincode server process of ours (ccserver or another
// serve.Main program) that the peer dials.
type ccServer struct {
	t       *testing.T
	program string
	args    []string
	Addr    string
	Metrics string
	CCID    string
	Proc    *network.Process
	logPath string
}

// startServer starts program with the ccserver flags for pki and the
// extra flags given, and waits until it is ready.
func startServer(t *testing.T, program string, p ccaasPKI, addr, ccid string, extra ...string) *ccServer {
	t.Helper()
	mport, err := network.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &ccServer{t: t, program: program, Addr: addr, CCID: ccid, Metrics: fmt.Sprintf("127.0.0.1:%d", mport),
		logPath: filepath.Join(p.Dir, program+"-"+strings.ReplaceAll(ccid, ":", "_")[:20]+".log")}
	s.args = append([]string{"--address", addr, "--ccid", ccid,
		"--tls-cert", filepath.Join(p.Server, "tls.crt"), "--tls-key", filepath.Join(p.Server, "tls.key"),
		"--client-ca", filepath.Join(p.CA, "ca.crt"), "--metrics-address", s.Metrics, "--log-level", "debug"}, extra...)
	s.start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s (%s):\n%s", program, s.logPath, s.Proc.Tail(40))
		}
		s.Proc.Stop(10 * time.Second)
	})
	return s
}

func (s *ccServer) start() {
	s.t.Helper()
	proc, err := network.StartProcess(s.program, s.logPath, nil, bin(s.program), s.args...)
	if err != nil {
		s.t.Fatal(err)
	}
	s.Proc = proc
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if code, _ := s.get(ctx, "/readyz"); code == http.StatusOK {
			return
		}
		if done, err := proc.Exited(); done {
			s.t.Fatalf("%s exited at start (%v):\n%s", s.program, err, proc.Tail(30))
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("%s not ready: %v\n%s", s.program, ctx.Err(), proc.Tail(30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// restart starts the server again with the same flags, after it stopped.
func (s *ccServer) restart() { s.start() }

func (s *ccServer) get(ctx context.Context, path string) (int, string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Metrics+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metrics returns the server's Prometheus exposition.
func (s *ccServer) metrics() string {
	_, body := s.get(context.Background(), "/metrics")
	return body
}

// deployCCaaS packages a server of program for name with ccpki, starts the
// server and commits the chaincode definition.
func deployCCaaS(t *testing.T, ctx context.Context, name, program string, def network.Chaincode, serverFlags ...string) (*ccServer, ccaasPKI) {
	t.Helper()
	p := newPKI(t, filepath.Join(workDir, name))
	port, err := network.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	file, id := p.pack(t, name+"_1.0", addr, "--dial-timeout", "3s")
	srv := startServer(t, program, p, addr, id, serverFlags...)
	def.Name, def.Package, def.PackageID = name, file, id
	if err := fabnet.Deploy(ctx, def); err != nil {
		t.Fatal(err)
	}
	return srv, p
}
