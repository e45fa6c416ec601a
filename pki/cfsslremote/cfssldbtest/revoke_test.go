package cfssldbtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cfssl/api/info"
	"github.com/cloudflare/cfssl/api/revoke"
	"github.com/cloudflare/cfssl/api/signhandler"
	"github.com/cloudflare/cfssl/certdb"
	certsql "github.com/cloudflare/cfssl/certdb/sql"
	"github.com/cloudflare/cfssl/config"
	cflog "github.com/cloudflare/cfssl/log"
	"github.com/cloudflare/cfssl/signer/local"
	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3" // the certdb's SQLite driver (cgo)
	"go.uber.org/goleak"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/pki"
	"github.com/ccserver/ccserver/pki/cfsslremote"
)

func TestMain(m *testing.M) {
	cflog.Level = cflog.LevelError
	goleak.VerifyTestMain(m)
}

const authKey = "00112233445566778899aabbccddeeff"

const caConfig = `{
  "signing": {
    "default":  {"expiry": "1h", "usages": ["signing", "key encipherment", "server auth"], "auth_key": "ccpki"},
    "profiles": {"client": {"expiry": "1h", "usages": ["signing", "key encipherment", "client auth"], "auth_key": "ccpki"}}
  },
  "auth_keys": {"ccpki": {"type": "standard", "key": "` + authKey + `"}}
}`

// schema is cfssl's certdb layout for SQLite (its two goose migrations).
const schema = `
CREATE TABLE certificates (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  ca_label                 blob,
  status                   blob NOT NULL,
  reason                   int,
  expiry                   timestamp,
  revoked_at               timestamp,
  pem                      blob NOT NULL,
  issued_at                timestamp,
  not_before               timestamp,
  metadata                 text,
  sans                     text,
  common_name              text,
  PRIMARY KEY(serial_number, authority_key_identifier)
);
CREATE TABLE ocsp_responses (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  body                     blob NOT NULL,
  expiry                   timestamp,
  PRIMARY KEY(serial_number, authority_key_identifier),
  FOREIGN KEY(serial_number, authority_key_identifier) REFERENCES certificates(serial_number, authority_key_identifier)
);`

func openDB(t *testing.T) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("sqlite3", filepath.Join(t.TempDir(), "certdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(schema); err != nil {
		if strings.Contains(err.Error(), "CGO_ENABLED=0") {
			t.Skip("SQLite driver built without cgo: ", err)
		}
		t.Fatalf("creating the certdb schema: %v", err)
	}
	return db
}

func TestRevokeWithCertDB(t *testing.T) {
	db := openDB(t)
	accessor := certsql.NewAccessor(db)

	ca := testpki.NewCA(t, testpki.WithCommonName("cfssl certdb root"))
	cfg, err := config.LoadConfig([]byte(caConfig))
	if err != nil {
		t.Fatal(err)
	}
	s, err := local.NewSigner(ca.Key, ca.Cert, x509.ECDSAWithSHA256, cfg.Signing)
	if err != nil {
		t.Fatal(err)
	}
	s.SetDBAccessor(accessor)
	authsign, err := signhandler.NewAuthHandlerFromSigner(s)
	if err != nil {
		t.Fatal(err)
	}
	infoHandler, err := info.NewHandler(s)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/cfssl/authsign", authsign)
	mux.Handle("/api/v1/cfssl/info", infoHandler)
	mux.Handle("/api/v1/cfssl/revoke", revoke.NewHandler(accessor))
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	c, err := cfsslremote.New(cfsslremote.Config{URL: srv.URL, AuthKey: []byte(authKey), TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "peer0.org1.example.com"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := c.Issue(ctx, &pki.Request{CSR: csr, Profile: "client"})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}

	if err := c.Revoke(ctx, iss.Certificate, pki.ReasonKeyCompromise); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	revoked, err := accessor.GetRevokedAndUnexpiredCertificates()
	if err != nil {
		t.Fatal(err)
	}
	if !containsSerial(revoked, iss.Certificate.SerialNumber.String(), 1) {
		t.Fatalf("certdb revoked list %v does not hold serial %s with reason keyCompromise", revoked, iss.Certificate.SerialNumber)
	}

	// A certificate the server never issued (not in its database).
	stranger := testpki.NewCA(t).Client(t)
	err = c.Revoke(ctx, stranger.Cert, pki.ReasonUnspecified)
	if err == nil || !strings.Contains(err.Error(), "database") {
		t.Fatalf("Revoke of an unknown certificate: err = %v, want it to explain the certdb requirement", err)
	}
}

func containsSerial(recs []certdb.CertificateRecord, serial string, reason int) bool {
	for _, r := range recs {
		if r.Serial == serial && r.Status == "revoked" && r.Reason == reason {
			return true
		}
	}
	return false
}
