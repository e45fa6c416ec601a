// Package stepcae2e runs the ccpki command line against a real step-ca in
// process. It is its own package so that only its test binary links
// github.com/smallstep/certificates (slow to compile, test-only); it has
// no code of its own.
package stepcae2e
