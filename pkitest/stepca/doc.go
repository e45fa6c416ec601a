// Package stepca tests package pki/stepca against a real step-ca run in
// process (testca.StartStepCA): issue, renew and rekey over mutual TLS,
// revoke with a token and with the certificate itself, refusals and an
// unreachable CA. It has no code of its own.
package stepca
