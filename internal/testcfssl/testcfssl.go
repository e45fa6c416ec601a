// Package testcfssl serves a real cfssl API for tests, in process on
// loopback TLS: cfssl's own authsign and info handlers over its local
// signer and, given a certificate database, its revoke handler. It is the
// one cfssl test server of the repository: the core module's tests use it
// as it is, and the test module pkitest adds a SQLite certificate
// database to it (its driver needs cgo, so it stays out of the core).
//
// cfssl's handlers and signer log every request through cfssl's
// process-wide logger; a test binary that minds the noise calls
// QuietLogs from TestMain, before any server starts.
package testcfssl

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/cloudflare/cfssl/api/info"
	"github.com/cloudflare/cfssl/api/revoke"
	"github.com/cloudflare/cfssl/api/signhandler"
	"github.com/cloudflare/cfssl/certdb"
	"github.com/cloudflare/cfssl/config"
	cflog "github.com/cloudflare/cfssl/log"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"

	"github.com/ccserver/ccserver/internal/testpki"
)

// AuthKey is the hex HMAC key that Config's profiles require.
const AuthKey = "3a1f0c9d8e7b6a5948372615f4e3d2c1b0a99887766554433221100ffeeddccb"

// Config is a ca-config.json as a cfssl user writes it: a default and
// "server" and "client" profiles guarded by AuthKey, and "open", which has
// no auth key (authsign must refuse it).
const Config = `{
  "signing": {
    "default": {"expiry": "2h", "usages": ["signing", "key encipherment", "server auth"], "auth_key": "ccpki"},
    "profiles": {
      "server": {"expiry": "1h", "usages": ["signing", "key encipherment", "server auth"], "auth_key": "ccpki"},
      "client": {"expiry": "1h", "usages": ["signing", "key encipherment", "client auth"], "auth_key": "ccpki"},
      "open":   {"expiry": "1h", "usages": ["signing", "client auth"]}
    }
  },
  "auth_keys": {"ccpki": {"type": "standard", "key": "` + AuthKey + `"}}
}`

// Options shape a server; the zero value serves Config for a new root.
type Options struct {
	// CA signs; nil makes a root named "cfssl test root".
	CA *testpki.CA
	// Config is the server's ca-config.json; "" means Config.
	Config string
	// DB, when set, records every certificate signed and serves
	// /api/v1/cfssl/revoke over it, as `cfssl serve -db-config` does.
	DB certdb.Accessor
}

// Server is a running cfssl API server. Close or the end of the test
// stops it.
type Server struct {
	URL string
	CA  *testpki.CA
	// TLSCert is the server's own TLS certificate, which TLSRoots holds:
	// what a client trusts to reach it.
	TLSCert  *x509.Certificate
	TLSRoots *x509.CertPool

	srv  *httptest.Server
	down atomic.Bool
}

// Start serves cfssl's API for opts.CA until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.CA == nil {
		opts.CA = testpki.NewCA(t, testpki.WithCommonName("cfssl test root"))
	}
	if opts.Config == "" {
		opts.Config = Config
	}
	cfg, err := config.LoadConfig([]byte(opts.Config))
	if err != nil {
		t.Fatalf("testcfssl: ca-config: %v", err)
	}
	s, err := local.NewSigner(opts.CA.Key, opts.CA.Cert, signer.DefaultSigAlgo(opts.CA.Key), cfg.Signing)
	if err != nil {
		t.Fatalf("testcfssl: signer: %v", err)
	}
	if opts.DB != nil {
		s.SetDBAccessor(opts.DB)
	}
	authsign, err := signhandler.NewAuthHandlerFromSigner(s)
	if err != nil {
		t.Fatalf("testcfssl: authsign handler: %v", err)
	}
	infoHandler, err := info.NewHandler(s)
	if err != nil {
		t.Fatalf("testcfssl: info handler: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/cfssl/authsign", authsign)
	mux.Handle("/api/v1/cfssl/info", infoHandler)
	if opts.DB != nil {
		mux.Handle("/api/v1/cfssl/revoke", revoke.NewHandler(opts.DB))
	}
	srv := &Server{CA: opts.CA}
	srv.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if srv.down.Load() { // as a load balancer answers while the CA is away
			http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	// Handshakes that tests make fail on purpose are not news.
	srv.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.srv.StartTLS()
	t.Cleanup(srv.srv.Close)
	srv.URL = srv.srv.URL
	srv.TLSCert = srv.srv.Certificate()
	srv.TLSRoots = x509.NewCertPool()
	srv.TLSRoots.AddCert(srv.TLSCert)
	return srv
}

// TLSConfig trusts the server's TLS certificate.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.TLSRoots, MinVersion: tls.VersionTLS12}
}

// SetDown makes the server answer 503 to everything (true), as a gateway
// does while the CA behind it is away, or serve again (false).
func (s *Server) SetDown(down bool) { s.down.Store(down) }

// Close stops the server now, so it refuses connections.
func (s *Server) Close() { s.srv.Close() }

// QuietLogs sets cfssl's process-wide log level to errors only. Call it
// from TestMain before any server starts: the level is a plain variable
// that cfssl's goroutines read.
func QuietLogs() { cflog.Level = cflog.LevelError }
