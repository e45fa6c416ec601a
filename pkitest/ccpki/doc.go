// Package ccpki runs the ccpki command line, built from the core module,
// against a real step-ca in process (testca.StartStepCA): issue with the
// provisioner password from a file, renew over mutual TLS, revoke, and the
// refusals with their exit codes. It has no code of its own.
package ccpki
