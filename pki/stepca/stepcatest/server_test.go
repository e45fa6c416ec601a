package stepcatest

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

// stepCA is a real step-ca serving on loopback for one test.
type stepCA struct {
	URL         string
	Fingerprint string
	Root        *x509.Certificate
	Provisioner string
	Password    []byte
	// KeyID is the provisioner key's id (the "kid" step-ca looks tokens up by).
	KeyID string
	ca    *ca.CA
	done  chan error
}

const provisionerName = "ccpki"

// startStepCA runs step-ca with a JWK provisioner whose key is encrypted
// with a password, and a bbolt database (revocation needs one) in a
// temporary directory. It stops the CA when the test ends.
func startStepCA(t *testing.T) *stepCA {
	t.Helper()
	dir := t.TempDir()
	root := testpki.NewCA(t, testpki.WithCommonName("ccserver test step root"))
	inter := root.Intermediate(t, testpki.WithCommonName("ccserver test step intermediate"))
	rootFile := filepath.Join(dir, "root_ca.crt")
	interFile := filepath.Join(dir, "intermediate_ca.crt")
	keyFile := filepath.Join(dir, "intermediate_ca_key")
	writeFile(t, rootFile, root.CertPEM, 0o644)
	writeFile(t, interFile, inter.CertPEM, 0o644)
	der, err := x509.MarshalPKCS8PrivateKey(inter.Key)
	if err != nil {
		t.Fatal(err)
	}
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
					Name:         provisionerName,
					Key:          &pubKey,
					EncryptedKey: encrypted,
				}},
			},
		}
		srv, err := ca.New(cfg, ca.WithQuiet(true))
		if err != nil {
			t.Fatalf("starting step-ca: %v", err)
		}
		s := &stepCA{
			URL:         "https://" + addr,
			Fingerprint: stepca.Fingerprint(root.Cert),
			Root:        root.Cert,
			Provisioner: provisionerName,
			Password:    password,
			KeyID:       pub.KeyID,
			ca:          srv,
			done:        make(chan error, 1),
		}
		go func() { s.done <- srv.Run() }()
		err = s.waitReady(t)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		_ = srv.Stop()
		if attempt >= 4 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("step-ca did not start: %v", err)
		}
	}
}

// waitReady polls /health until the CA answers or Run fails.
func (s *stepCA) waitReady(t *testing.T) error {
	t.Helper()
	hc := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // readiness probe only
			DisableKeepAlives: true,
		},
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			return err
		default:
		}
		resp, err := hc.Get(s.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("step-ca did not answer /health within 60s")
}

// Stop shuts the CA down and waits for Run to return; safe to call twice.
func (s *stepCA) Stop() {
	if s.ca == nil {
		return
	}
	_ = s.ca.Stop()
	s.ca = nil
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func writeFile(t *testing.T, name string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, b, mode); err != nil {
		t.Fatal(err)
	}
}
