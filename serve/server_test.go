package serve

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccserver/ccserver/examples/assettransfer"
	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/shim"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func serverArgs(extra ...string) []string {
	return append([]string{"--address", "127.0.0.1:0", "--ccid", "test:1"}, extra...)
}

// scrape returns the /metrics text.
func scrape(t *testing.T, addr net.Addr) string {
	t.Helper()
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metric returns the value of one series, e.g. `x_total{a="b"}`.
func metric(body, series string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// waitMetric polls /metrics until series satisfies cond.
func waitMetric(t *testing.T, addr net.Addr, series string, cond func(float64) bool) float64 {
	t.Helper()
	var last float64
	waitFor(t, series, func() bool {
		v, ok := metric(scrape(t, addr), series)
		last = v
		return ok && cond(v)
	})
	return last
}

func eq(want float64) func(float64) bool   { return func(v float64) bool { return v == want } }
func atLeast(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// handshake dials addr with cfg and returns the handshake error.
func handshake(addr net.Addr, cfg *tls.Config) error {
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", addr.String(), cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	// TLS 1.3 reports a refused client certificate on the first read.
	conn.SetReadDeadline(time.Now().Add(wait))
	if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
		return err
	}
	return nil
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestMetricsAndHealth(t *testing.T) {
	p := newPKI(t)
	srv := startServer(t, newTestCC(), serverArgs(append(p.tlsArgs(), "--metrics-address", "127.0.0.1:0")...), nil)
	m := srv.addrs.Metrics
	peer := dialPeer(t, srv.addrs.Chaincode, p.clientTLS(t, p.client))
	if r := peer.invoke(t, "mychannel", "tx-ok", "echo", "hi"); r.Status != 200 {
		t.Fatalf("echo: %+v", r)
	}
	if r := peer.invoke(t, "mychannel", "tx-fail", "fail", "no such asset"); r.Status != 500 {
		t.Fatalf("fail: %+v", r)
	}
	// A stranger's certificate and no certificate at all are refused.
	stranger := testpki.NewCA(t).Client(t)
	if err := handshake(srv.addrs.Chaincode, p.clientTLS(t, stranger)); err == nil {
		t.Error("a client certificate from another CA was accepted")
	}
	if err := handshake(srv.addrs.Chaincode, p.clientTLS(t, nil)); err == nil {
		t.Error("a client without a certificate was accepted")
	}

	waitMetric(t, m, `ccserver_transactions_total{function="echo",status="ok"}`, eq(1))
	waitMetric(t, m, `ccserver_transactions_total{function="fail",status="error"}`, eq(1))
	waitMetric(t, m, `ccserver_transaction_duration_seconds_count{function="echo"}`, eq(1))
	waitMetric(t, m, `ccserver_transactions_in_flight`, eq(0))
	waitMetric(t, m, `ccserver_connected_peers`, eq(1))
	waitMetric(t, m, `ccserver_serving`, eq(1))
	waitMetric(t, m, `ccserver_tls_handshake_failures_total{reason="unknown-ca"}`, atLeast(1))
	waitMetric(t, m, `ccserver_tls_handshake_failures_total{reason="no-cert"}`, atLeast(1))
	waitMetric(t, m, `ccserver_tls_certificate_not_after_timestamp_seconds{source="server-certificate"}`, eq(float64(p.server.Cert.NotAfter.Unix())))
	if !strings.Contains(scrape(t, m), "go_goroutines") {
		t.Error("no Go runtime metrics")
	}
	// The failed transaction is logged with its channel and txid.
	waitFor(t, "the failed-transaction log", func() bool {
		s := srv.stderr.String()
		return strings.Contains(s, `msg="transaction failed" channel=mychannel txid=tx-fail function=fail status=500`)
	})
	waitFor(t, "the handshake log", func() bool { return strings.Contains(srv.stderr.String(), "TLS handshake rejected") })

	// gRPC health on the chaincode port, and the HTTP probes.
	hc, err := grpc.NewClient(srv.addrs.Chaincode.String(), grpc.WithTransportCredentials(credentials.NewTLS(p.clientTLS(t, p.client))))
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	for _, svc := range []string{"", "protos.Chaincode"} {
		resp, err := healthpb.NewHealthClient(hc).Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q: %v %v", svc, resp, err)
		}
	}
	if c := httpStatus(t, "http://"+m.String()+"/readyz"); c != 200 {
		t.Errorf("/readyz %d", c)
	}
	if c := httpStatus(t, "http://"+m.String()+"/healthz"); c != 200 {
		t.Errorf("/healthz %d", c)
	}
	peer.close()
	waitMetric(t, m, `ccserver_connected_peers`, eq(0))
	if code := srv.stop(t, syscall.SIGINT); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, secret := range []string{"PRIVATE KEY", string(p.server.KeyPEM[40:80])} {
		if strings.Contains(srv.stderr.String(), secret) {
			t.Errorf("logs contain key material %q", secret)
		}
	}
}

func TestFunctionLabelsAreBounded(t *testing.T) {
	fl := newFunctionLabels(newTestCC())
	seen := map[string]bool{}
	for i := range 100 {
		seen[fl.label(fmt.Sprintf("fn%d", i))] = true
	}
	if len(seen) != maxFunctionLabels+1 || !seen[otherFunction] {
		t.Errorf("%d distinct labels, want %d plus %q", len(seen), maxFunctionLabels, otherFunction)
	}
	if fl.label("") != otherFunction {
		t.Error("empty function name not labelled other")
	}
	at := newFunctionLabels(assettransfer.New())
	if at.label("ReadAsset") != "ReadAsset" || at.label("DropTables") != otherFunction {
		t.Error("a chaincode's own function list is not used")
	}
}

func TestRotationAndReloadFailure(t *testing.T) {
	p := newPKI(t)
	srv := startServer(t, newTestCC(), serverArgs(append(p.tlsArgs(), "--metrics-address", "127.0.0.1:0")...), nil)
	m := srv.addrs.Metrics
	serialSeen := func() string {
		conn, err := tls.Dial("tcp", srv.addrs.Chaincode.String(), withH2(p.clientTLS(t, p.client)))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	if got := serialSeen(); got != p.server.Cert.SerialNumber.String() {
		t.Fatalf("serves serial %s", got)
	}
	renewed := p.ca.Server(t)
	renewed.WriteFiles(t, p.dir)
	srv.signals <- syscall.SIGHUP
	waitMetric(t, m, `ccserver_tls_rotations_total{source="server-certificate"}`, atLeast(1))
	waitFor(t, "the new certificate", func() bool { return serialSeen() == renewed.Cert.SerialNumber.String() })
	waitMetric(t, m, `ccserver_tls_certificate_not_after_timestamp_seconds{source="server-certificate"}`, eq(float64(renewed.Cert.NotAfter.Unix())))

	// A broken file: reload fails, the last good certificate stays.
	writeFile(t, p.dir, "tls.crt", []byte("not a certificate"), 0o644)
	srv.signals <- syscall.SIGHUP
	waitMetric(t, m, `ccserver_tls_reload_failures_total{source="server-certificate"}`, atLeast(1))
	waitFor(t, "the reload failure log", func() bool { return strings.Contains(srv.stderr.String(), "TLS reload failed") })
	if got := serialSeen(); got != renewed.Cert.SerialNumber.String() {
		t.Errorf("after a failed reload the server presents serial %s, want the last good %s", got, renewed.Cert.SerialNumber)
	}
}

func withH2(cfg *tls.Config) *tls.Config {
	cfg.NextProtos = []string{"h2"}
	return cfg
}

func TestPinsAndCRL(t *testing.T) {
	p := newPKI(t)
	revoked := p.ca.Client(t)
	crl := p.ca.CRL(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), revoked.Cert.SerialNumber)
	crlFile := writeFile(t, t.TempDir(), "ca.crl", crl, 0o644)
	// The pin names the CA's key: every peer from this CA passes the pin.
	pin := testpki.SPKIPin(p.ca.Cert)
	srv := startServer(t, newTestCC(), serverArgs(append(p.tlsArgs(), "--pin", pin, "--crl", crlFile, "--metrics-address", "127.0.0.1:0")...), nil)
	m := srv.addrs.Metrics
	peer := dialPeer(t, srv.addrs.Chaincode, p.clientTLS(t, p.client))
	if r := peer.invoke(t, "ch", "tx", "echo", "pinned"); string(r.Payload) != "pinned" {
		t.Fatalf("%+v", r)
	}
	if err := handshake(srv.addrs.Chaincode, p.clientTLS(t, revoked)); err == nil {
		t.Error("a revoked client was accepted")
	}
	waitMetric(t, m, `ccserver_tls_handshake_failures_total{reason="revoked"}`, atLeast(1))
	age := waitMetric(t, m, `ccserver_tls_crl_age_seconds`, atLeast(3000))
	if age > 4*3600 {
		t.Errorf("CRL age %v s, want about an hour", age)
	}
	waitMetric(t, m, `ccserver_tls_crl_next_update_timestamp_seconds`, atLeast(float64(time.Now().Unix())))

	// A pin that no certificate in the chain matches refuses the peer.
	other := startServer(t, newTestCC(), serverArgs(append(p.tlsArgs(), "--pin", testpki.SPKIPin(testpki.NewCA(t).Cert))...), nil)
	if _, err := connectPeer(other.addrs.Chaincode, p.clientTLS(t, p.client)); err == nil {
		t.Error("a peer outside the pins was accepted")
	}
	waitFor(t, "the pin rejection log", func() bool { return strings.Contains(other.stderr.String(), "reason=pin") })
}

// TestClientIdentityFlag: --client-identity admits only peers whose
// certificate matches one of the rules; a refusal is logged and counted.
func TestClientIdentityFlag(t *testing.T) {
	p := newPKI(t)
	org1 := p.ca.Client(t, testpki.WithOrganization("Org1MSP"), testpki.WithOrgUnit("peer"))
	org2 := p.ca.Client(t, testpki.WithOrganization("Org2MSP"), testpki.WithOrgUnit("peer"))
	srv := startServer(t, newTestCC(), serverArgs(append(p.tlsArgs(), "--client-identity", "o=Org1MSP,ou=peer|admin",
		"--client-identity", "o=Org3MSP", "--metrics-address", "127.0.0.1:0")...), nil)
	peer := dialPeer(t, srv.addrs.Chaincode, p.clientTLS(t, org1))
	if r := peer.invoke(t, "ch", "tx", "echo", "org1"); string(r.Payload) != "org1" {
		t.Fatalf("%+v", r)
	}
	if _, err := connectPeer(srv.addrs.Chaincode, p.clientTLS(t, org2)); err == nil {
		t.Error("a peer of Org2MSP was admitted")
	}
	waitMetric(t, srv.addrs.Metrics, `ccserver_tls_handshake_failures_total{reason="identity-rule"}`, atLeast(1))
	waitFor(t, "the refusal log", func() bool { return strings.Contains(srv.stderr.String(), "reason=identity-rule") })
}

func TestModes(t *testing.T) {
	t.Run("plaintext", func(t *testing.T) {
		srv := startServer(t, newTestCC(), serverArgs("--insecure-plaintext"), nil)
		peer := dialPeer(t, srv.addrs.Chaincode, nil)
		if r := peer.invoke(t, "ch", "tx", "echo", "plain"); string(r.Payload) != "plain" {
			t.Fatalf("%+v", r)
		}
		if !strings.Contains(srv.stderr.String(), "TLS is OFF") {
			t.Error("no warning about plaintext")
		}
	})
	t.Run("TLS without client auth", func(t *testing.T) {
		p := newPKI(t)
		srv := startServer(t, newTestCC(), serverArgs("--tls-cert", p.certFile, "--tls-key", p.keyFile, "--insecure-no-client-auth"), nil)
		peer := dialPeer(t, srv.addrs.Chaincode, p.clientTLS(t, nil))
		if r := peer.invoke(t, "ch", "tx", "echo", "anon"); string(r.Payload) != "anon" {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("environment only, as fabric-samples sets it", func(t *testing.T) {
		p := newPKI(t)
		srv := startServer(t, assettransfer.New(), []string{"--log-format", "json"}, map[string]string{
			EnvAddress: "127.0.0.1:0", EnvCCID: "basic_1.0:abc", EnvTLSDisabled: "false",
			EnvTLSCert: p.certFile, EnvTLSKey: p.keyFile, EnvClientCA: p.caFile, EnvMSPID: "Org1MSP",
		})
		peer := dialPeer(t, srv.addrs.Chaincode, p.clientTLS(t, p.client))
		if peer.ccid != "basic_1.0:abc" {
			t.Errorf("registered as %q", peer.ccid)
		}
		// The test peer serves no state; a call that needs none shows the
		// sample chaincode answering.
		if r := peer.invoke(t, "ch", "tx", "Nope"); r.Status != 500 || r.Message != "Function Nope not found in contract SmartContract" {
			t.Errorf("Nope: %+v", r)
		}
		var start map[string]any
		for line := range strings.Lines(srv.stderr.String()) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("--log-format json wrote a non-JSON line %q", line)
			}
			if m["msg"] == "starting chaincode server" {
				start = m
			}
		}
		if start["mspid"] != "Org1MSP" || start["ccid"] != "basic_1.0:abc" || start["client_auth"] != "required" {
			t.Errorf("start log %v", start)
		}
	})
	t.Run("TLS 1.3 minimum", func(t *testing.T) {
		p := newPKI(t)
		srv := startServer(t, newTestCC(), serverArgs(append(p.tlsArgs(), "--tls-min-version", "1.3")...), nil)
		old := p.clientTLS(t, p.client)
		old.MaxVersion = tls.VersionTLS12
		if err := handshake(srv.addrs.Chaincode, old); err == nil {
			t.Error("a TLS 1.2 client was accepted")
		}
		if err := handshake(srv.addrs.Chaincode, p.clientTLS(t, p.client)); err != nil {
			t.Errorf("TLS 1.3 client: %v", err)
		}
	})
	t.Run("log level error hides info", func(t *testing.T) {
		srv := startServer(t, newTestCC(), serverArgs("--insecure-plaintext", "--log-level", "error"), nil)
		srv.stop(t, syscall.SIGTERM)
		if s := srv.stderr.String(); strings.Contains(s, "level=INFO") || strings.Contains(s, "level=WARN") {
			t.Errorf("--log-level error logged:\n%s", s)
		}
	})
	t.Run("log level debug", func(t *testing.T) {
		srv := startServer(t, newTestCC(), serverArgs("--insecure-plaintext", "--log-level", "debug"), nil)
		dialPeer(t, srv.addrs.Chaincode, nil).invoke(t, "ch", "tx", "echo", "x")
		waitFor(t, "a debug line", func() bool { return strings.Contains(srv.stderr.String(), "level=DEBUG") })
	})
}

// concurrencyCC counts how many "block" calls run at once.
type concurrencyCC struct {
	*testCC
	mu       sync.Mutex
	now, max int
}

func (c *concurrencyCC) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {
	c.mu.Lock()
	c.now++
	c.max = max(c.max, c.now)
	c.mu.Unlock()
	defer func() { c.mu.Lock(); c.now--; c.mu.Unlock() }()
	return c.testCC.Invoke(stub)
}

func TestMaxConcurrentTx(t *testing.T) {
	for _, tt := range []struct {
		limit string
		want  int
	}{{"1", 1}, {"0", 3}} {
		t.Run("limit "+tt.limit, func(t *testing.T) {
			cc := &concurrencyCC{testCC: newTestCC()}
			srv := startServer(t, cc, serverArgs("--insecure-plaintext", "--max-concurrent-tx", tt.limit), nil)
			peer := dialPeer(t, srv.addrs.Chaincode, nil)
			var results []<-chan *pb.ChaincodeMessage
			for i := range 3 {
				ch, err := peer.send("ch", fmt.Sprint("tx", i), "block")
				if err != nil {
					t.Fatal(err)
				}
				results = append(results, ch)
			}
			for range tt.want {
				<-cc.started
			}
			close(cc.release)
			for _, ch := range results {
				completed(t, peer.result(t, ch))
			}
			if cc.max != tt.want {
				t.Errorf("at most %d transactions ran at once, want %d", cc.max, tt.want)
			}
		})
	}
}

func TestStartupFailures(t *testing.T) {
	p := newPKI(t)
	loose := writeFile(t, t.TempDir(), "loose.key", p.server.KeyPEM, 0o644)
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	expired := p.ca.Server(t, testpki.WithValidity(time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)))
	expDir := t.TempDir()
	expCert, expKey, _ := expired.WriteFiles(t, expDir)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing certificate file", serverArgs("--tls-cert", "/nonexistent/tls.crt", "--tls-key", p.keyFile, "--client-ca", p.caFile), ExitUsage, "--tls-cert: /nonexistent/tls.crt"},
		{"world-readable key", serverArgs("--tls-cert", p.certFile, "--tls-key", loose, "--client-ca", p.caFile), ExitUsage,
			"--tls-key: " + loose + ": private key file is accessible by group or others (mode 0644)"},
		{"hint for a world-readable key", serverArgs("--tls-cert", p.certFile, "--tls-key", loose, "--client-ca", p.caFile), ExitUsage,
			"; --insecure-key-permissions accepts such a file"},
		{"expired certificate", serverArgs("--tls-cert", expCert, "--tls-key", expKey, "--client-ca", p.caFile), ExitUsage, "expired"},
		{"hint for an expired certificate", serverArgs("--tls-cert", expCert, "--tls-key", expKey, "--client-ca", p.caFile), ExitUsage, "--tls-cert: " + expCert + ": certificate has expired"},
		{"ccpki hint for an expired certificate", serverArgs("--tls-cert", expCert, "--tls-key", expKey, "--client-ca", p.caFile), ExitUsage, "  fix: 'ccpki renew' renews it"},
		{"address in use", nil, ExitFailure, "cannot listen on --address"},
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests[len(tests)-1].args = []string{"--address", busy.Addr().String(), "--ccid", "x:1", "--insecure-plaintext"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr syncBuffer
			code := Run(t.Context(), newTestCC(), Env{Args: tt.args, Stderr: &stderr, Ready: func(Listening) { t.Error("started") }})
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tt.code, tt.want, stderr.String())
			}
		})
	}
	t.Run("--insecure-key-permissions accepts the loose key", func(t *testing.T) {
		srv := startServer(t, newTestCC(), serverArgs("--tls-cert", p.certFile, "--tls-key", loose, "--client-ca", p.caFile, "--insecure-key-permissions"), nil)
		srv.stop(t, syscall.SIGTERM)
	})
}

func TestShutdownTimeoutAndSecondSignal(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		cc := newTestCC()
		defer close(cc.release)
		srv := startServer(t, cc, serverArgs("--insecure-plaintext", "--shutdown-timeout", "100ms"), nil)
		peer := dialPeer(t, srv.addrs.Chaincode, nil)
		if _, err := peer.send("ch", "stuck", "block"); err != nil {
			t.Fatal(err)
		}
		<-cc.started
		if code := srv.stop(t, syscall.SIGTERM); code != ExitOK {
			t.Fatalf("exit %d", code)
		}
		if !strings.Contains(srv.stderr.String(), "drain cut short") {
			t.Errorf("no log about the abandoned transaction:\n%s", srv.stderr)
		}
	})
	t.Run("second signal", func(t *testing.T) {
		cc := newTestCC()
		defer close(cc.release)
		srv := startServer(t, cc, serverArgs("--insecure-plaintext", "--shutdown-timeout", "1h"), nil)
		peer := dialPeer(t, srv.addrs.Chaincode, nil)
		if _, err := peer.send("ch", "stuck", "block"); err != nil {
			t.Fatal(err)
		}
		<-cc.started
		srv.signals <- syscall.SIGTERM
		waitFor(t, "draining", func() bool { return strings.Contains(srv.stderr.String(), "draining") })
		srv.signals <- syscall.SIGHUP // ignored while draining
		if code := srv.stop(t, syscall.SIGINT); code != ExitOK {
			t.Fatalf("exit %d", code)
		}
		if !strings.Contains(srv.stderr.String(), "second stop signal") {
			t.Errorf("no log about the second signal:\n%s", srv.stderr)
		}
	})
	t.Run("context end", func(t *testing.T) {
		srv := startServer(t, newTestCC(), serverArgs("--insecure-plaintext"), nil)
		srv.cancel()
		if code := srv.exitCode(t); code != ExitOK {
			t.Fatalf("exit %d", code)
		}
	})
}
