package testca

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/ca"
	"github.com/smallstep/certificates/db"
	"go.step.sm/crypto/jose"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/pki/stepca"
)

// ProvisionerName is the name of the step-ca's JWK provisioner.
const ProvisionerName = "ccpki"

// StepCA is a real step-ca serving on loopback for one test.
type StepCA struct {
	URL string
	// Fingerprint is the root's, as `step certificate fingerprint` prints it.
	Fingerprint string
	Root        *x509.Certificate
	// Intermediate signs the certificates the CA issues.
	Intermediate *x509.Certificate
	Provisioner  string
	// Password decrypts the provisioner's key, which the CA publishes.
	Password []byte
	// KeyID is the provisioner key's id (the "kid" step-ca looks tokens up by).
	KeyID string

	ca   *ca.CA
	done chan error
}

// StartStepCA runs step-ca with a root and an intermediate from testpki, a
// JWK provisioner whose key is encrypted with a password, and a bbolt
// database (revocation needs one) in a temporary directory. It stops the
// CA when the test ends.
func StartStepCA(t testing.TB) *StepCA {
	t.Helper()
	dir := t.TempDir()
	root := testpki.NewCA(t, testpki.WithCommonName("ccserver test step root"))
	inter := root.Intermediate(t, testpki.WithCommonName("ccserver test step intermediate"))
	rootFile := filepath.Join(dir, "root_ca.crt")
	interFile := filepath.Join(dir, "intermediate_ca.crt")
	keyFile := filepath.Join(dir, "intermediate_ca_key")
	der, err := x509.MarshalPKCS8PrivateKey(inter.Key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, rootFile, root.CertPEM, 0o644)
	writeFile(t, interFile, inter.CertPEM, 0o644)
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)

	password := []byte("correct horse battery staple")
	pub, jwe, err := jose.GenerateDefaultKeyPair(password)
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := jwe.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	pubKey := pub.Public()

	// step-ca listens itself: take a free port, and retry if another
	// process grabbed it in between.
	for attempt := 0; ; attempt++ {
		addr := freeAddr(t)
		cfg := &config.Config{
			Root:             []string{rootFile},
			IntermediateCert: interFile,
			IntermediateKey:  keyFile,
			Address:          addr,
			DNSNames:         []string{"127.0.0.1", "localhost"},
			DB:               &db.Config{Type: "bbolt", DataSource: filepath.Join(dir, "db-"+strconv.Itoa(attempt))},
			AuthorityConfig: &config.AuthConfig{
				Provisioners: provisioner.List{&provisioner.JWK{
					Type:         "JWK",
					Name:         ProvisionerName,
					Key:          &pubKey,
					EncryptedKey: encrypted,
				}},
			},
		}
		srv, err := ca.New(cfg, ca.WithQuiet(true))
		if err != nil {
			t.Fatalf("testca: starting step-ca: %v", err)
		}
		s := &StepCA{
			URL:          "https://" + addr,
			Fingerprint:  stepca.Fingerprint(root.Cert),
			Root:         root.Cert,
			Intermediate: inter.Cert,
			Provisioner:  ProvisionerName,
			Password:     password,
			KeyID:        pub.KeyID,
			ca:           srv,
			done:         make(chan error, 1),
		}
		go func() { s.done <- srv.Run() }()
		err = s.waitReady()
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		_ = srv.Stop()
		<-s.done
		if attempt >= 4 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("testca: step-ca did not start: %v", err)
		}
	}
}

// waitReady polls /health until the CA answers or Run fails.
func (s *StepCA) waitReady() error {
	hc := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // readiness probe only
			DisableKeepAlives: true,
		},
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-s.done:
			return err
		default:
		}
		if resp, err := hc.Get(s.URL + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("step-ca did not answer /health within a minute")
}

// Stop shuts the CA down and waits for it to finish, so a test can see
// how clients fare with the CA gone; safe to call twice.
func (s *StepCA) Stop() {
	if s.ca == nil {
		return
	}
	_ = s.ca.Stop()
	s.ca = nil
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
	}
}

// Client is a stepca.Client for the CA with the provisioner's password;
// mutate, if set, changes the config first.
func (s *StepCA) Client(t testing.TB, mutate func(*stepca.Config)) *stepca.Client {
	t.Helper()
	cfg := stepca.Config{URL: s.URL, RootFingerprint: s.Fingerprint, Provisioner: s.Provisioner, ProvisionerPassword: s.Password}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := stepca.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func writeFile(t testing.TB, name string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, b, mode); err != nil {
		t.Fatal(err)
	}
}
