package testca

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudflare/cfssl/certdb"
	certsql "github.com/cloudflare/cfssl/certdb/sql"
	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3" // the certificate database's SQLite driver (cgo)

	"github.com/ccserver/ccserver/internal/testcfssl"
)

// CFSSL is a cfssl API server with a certificate database.
type CFSSL struct {
	*testcfssl.Server
	// DB is the server's certificate database: every certificate it
	// signed, and what was revoked.
	DB certdb.Accessor
}

// StartCFSSL runs cfssl's API as `cfssl serve -db-config` does: opts as
// for testcfssl.Start, with a SQLite certificate database in a temporary
// directory, so /api/v1/cfssl/revoke works. Without cgo the driver cannot
// open the database and the test is skipped, saying why.
func StartCFSSL(t testing.TB, opts testcfssl.Options) *CFSSL {
	t.Helper()
	db, err := sqlx.Open("sqlite3", filepath.Join(t.TempDir(), "certdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(certdbSchema); err != nil {
		if strings.Contains(err.Error(), "CGO_ENABLED=0") {
			t.Skip("testca: the SQLite driver was built without cgo: ", err)
		}
		t.Fatalf("testca: creating the certdb schema: %v", err)
	}
	opts.DB = certsql.NewAccessor(db)
	return &CFSSL{Server: testcfssl.Start(t, opts), DB: opts.DB}
}

// certdbSchema is cfssl's certificate database for SQLite (its two goose
// migrations).
const certdbSchema = `
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
