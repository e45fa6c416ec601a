// Package stepcatest holds the tests of package stepca against a real
// step-ca (github.com/smallstep/certificates v0.30.2) run in process on
// loopback. They live in their own package because linking step-ca makes
// the test binary slow to compile; the product never imports it.
//
// Environment: step-ca's ca package panics at init when STEP_TLS_TUNNEL
// names an unusable identity file or STEP_CLIENT_ADDR an unresolvable
// address, so those variables must be unset (or valid) when these tests
// run. Nothing else in the environment matters: the CA is configured with
// absolute paths in a temporary directory and never reads $STEPPATH or
// $HOME.
package stepcatest
