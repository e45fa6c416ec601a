package stepcae2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/ca"
	"github.com/smallstep/certificates/db"
	"go.step.sm/crypto/jose"
	"go.uber.org/goleak"

	"github.com/ccserver/ccserver/cmd/ccpki/internal/cli"
	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/pki"
	"github.com/ccserver/ccserver/pki/stepca"
)

func TestMain(m *testing.M) {
	// glog, linked by step-ca's dependencies, starts this at init.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}

const password = "tr0ub4dor&3 ccpki e2e"

// runStepCA serves a real step-ca on loopback: root and intermediate from
// testpki, one JWK provisioner "ccpki" whose key is encrypted with
// password, and a bbolt database so revocation is recorded.
func runStepCA(t *testing.T) (url, fingerprint string) {
	t.Helper()
	dir := t.TempDir()
	root := testpki.NewCA(t, testpki.WithCommonName("ccpki e2e step root"))
	inter := root.Intermediate(t, testpki.WithCommonName("ccpki e2e step intermediate"))
	keyDER, err := x509.MarshalPKCS8PrivateKey(inter.Key)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"root.crt": root.CertPEM, "inter.crt": inter.CertPEM,
		"inter.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pub, jwe, err := jose.GenerateDefaultKeyPair([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := jwe.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	pubKey := pub.Public()
	// step-ca listens itself; take a free port and retry if it was grabbed.
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		srv, err := ca.New(&config.Config{
			Root: []string{filepath.Join(dir, "root.crt")}, IntermediateCert: filepath.Join(dir, "inter.crt"),
			IntermediateKey: filepath.Join(dir, "inter.key"), Address: addr, DNSNames: []string{"127.0.0.1", "localhost"},
			DB: &db.Config{Type: "bbolt", DataSource: filepath.Join(dir, "db"+string(rune('0'+attempt)))},
			AuthorityConfig: &config.AuthConfig{Provisioners: provisioner.List{&provisioner.JWK{
				Type: "JWK", Name: "ccpki", Key: &pubKey, EncryptedKey: encrypted,
			}}},
		}, ca.WithQuiet(true))
		if err != nil {
			t.Fatalf("step-ca: %v", err)
		}
		runErr := make(chan error, 1)
		go func() { runErr <- srv.Run() }()
		if err := healthy("https://"+addr, runErr); err == nil {
			t.Cleanup(func() {
				_ = srv.Stop()
				select {
				case <-runErr:
				case <-time.After(time.Minute):
				}
			})
			return "https://" + addr, stepca.Fingerprint(root.Cert)
		} else if attempt >= 4 || !strings.Contains(err.Error(), "address already in use") {
			_ = srv.Stop()
			t.Fatalf("step-ca did not start: %v", err)
		}
		_ = srv.Stop()
	}
}

func healthy(url string, runErr <-chan error) error {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true, //nolint:gosec // readiness probe
	}}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-runErr:
			return err
		default:
		}
		if resp, err := hc.Get(url + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return context.DeadlineExceeded
}

func ccpki(args ...string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	code := cli.Run(ctx, args, &out, &out)
	return code, out.String()
}

// TestStepCAEndToEnd: issue with the provisioner password from a file,
// renew over mTLS with the current certificate (rekey, then same key),
// revoke with a provisioner token, after which step-ca refuses to renew
// it; a wrong password is refused with exit 4 and never printed.
func TestStepCAEndToEnd(t *testing.T) {
	url, fp := runStepCA(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "provisioner-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	find := []string{"--backend", "stepca", "--ca-url", url, "--ca-fingerprint", fp}
	withProv := append(append([]string{}, find...), "--provisioner", "ccpki", "--provisioner-password-file", pwFile)
	srv := filepath.Join(dir, "srv")
	step := func(code int, want string, args ...string) string {
		t.Helper()
		got, out := ccpki(args...)
		if got != code || !strings.Contains(out, want) {
			t.Fatalf("ccpki %s: exit %d (want %d), output:\n%s(want %q)", strings.Join(args, " "), got, code, out, want)
		}
		if strings.Contains(out, password) {
			t.Fatalf("ccpki %s printed the provisioner password", args[0])
		}
		return out
	}
	serial := func() string {
		kp, err := pki.ReadCertManager(srv, pki.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return kp.Certificate.SerialNumber.String() + "|" + pki.SPKIPin(kp.Certificate)
	}

	step(0, "issued "+srv+": CN=localhost", append([]string{"issue", "--profile", "server", "--dns", "localhost", "--ip", "127.0.0.1",
		"--lifetime", "2h", "--out", srv}, withProv...)...)
	step(0, "OK", "verify", "--roots", filepath.Join(srv, pki.BundleFile), "--role", "server", "--address", "localhost:9999", srv)
	issued := serial()

	// Renew needs only the CA's address and fingerprint: the current
	// certificate authenticates it. A new key by default (rekey)...
	step(0, "renewed "+srv, append([]string{"renew", "--dir", srv, "--force"}, find...)...)
	rekeyed := serial()
	if rekeyed == issued || strings.Split(rekeyed, "|")[1] == strings.Split(issued, "|")[1] {
		t.Fatalf("renew did not rotate serial and key: %s -> %s", issued, rekeyed)
	}
	// ...and the same key with --reuse-key (step-ca's renew).
	step(0, "renewed "+srv, append([]string{"renew", "--dir", srv, "--force", "--reuse-key"}, find...)...)
	renewed := serial()
	if renewed == rekeyed || strings.Split(renewed, "|")[1] != strings.Split(rekeyed, "|")[1] {
		t.Fatalf("renew --reuse-key: %s -> %s, want a new serial for the same key", rekeyed, renewed)
	}
	step(0, "OK", "verify", "--roots", filepath.Join(srv, pki.BundleFile), "--role", "server", "--address", "127.0.0.1:9999", srv)

	wrong := filepath.Join(dir, "wrong-password")
	if err := os.WriteFile(wrong, []byte("not the password"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := step(4, "password", append(append([]string{}, find...), "issue", "--provisioner", "ccpki", "--provisioner-password-file", wrong,
		"--profile", "client", "--cn", "peer0", "--out", filepath.Join(dir, "peer"))...)
	if strings.Contains(out, "not the password") {
		t.Fatal("the refusal printed the wrong password")
	}
	if pki.LayoutCertManager.Exists(filepath.Join(dir, "peer")) {
		t.Fatal("a refused issue wrote files")
	}

	step(0, "revoked serial", append([]string{"revoke", "--cert", srv, "--reason", "key-compromise"}, withProv...)...)
	before := serial()
	step(4, "401", append([]string{"renew", "--dir", srv, "--force"}, find...)...)
	if serial() != before {
		t.Fatal("a refused renewal changed the certificate")
	}
}
