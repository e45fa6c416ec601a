// Package testca starts the real certificate authorities the PKI tests
// run against, in process on loopback: step-ca
// (github.com/smallstep/certificates) with a JWK provisioner and a bbolt
// database, and a cfssl API server with a SQLite certificate database, so
// that revocation is recorded. Every test that needs one of them starts it
// here; the core module's tests use the same cfssl server without a
// database (internal/testcfssl).
//
// It lives in the test module pkitest because these servers are heavy:
// step-ca links about a hundred modules, and cfssl's SQLite driver needs
// cgo. A requirement in the core module's go.mod would raise every user's
// version of them; here it raises nobody's.
//
// Environment: step-ca's ca package panics at init when STEP_TLS_TUNNEL
// names an unusable identity file or STEP_CLIENT_ADDR an unresolvable
// address, so those variables must be unset (or valid) when these tests
// run. Nothing else in the environment matters: the CA is configured with
// absolute paths in a temporary directory and never reads $STEPPATH or
// $HOME.
package testca
