// Package stepca is a pki.Backend that gets certificates from a remote
// step-ca (smallstep) server.
//
// It speaks step-ca's HTTP API directly, on top of go.step.sm/crypto for
// keys and tokens, so ccpki does not link github.com/smallstep/certificates
// (about a hundred modules, and init code that panics on some environment
// values).
//
// # What a user configures
//
// The same four facts `step ca bootstrap` asks for, in Config (ccpki's
// --ca-url, --ca-fingerprint and --provisioner* flags map onto them):
//
//	URL                  https://ca.example.com:9000
//	RootFingerprint      SHA-256 of the root certificate, as printed by
//	                     `step certificate fingerprint root_ca.crt`
//	Provisioner          name of a JWK provisioner, e.g. "ccpki"
//	ProvisionerPassword  that provisioner's password
//
// and optionally ProvisionerKey, a JWK (plain or encrypted with the
// password) or PEM private key to use instead of the encrypted key the CA
// publishes for the provisioner.
//
// # How each operation authenticates
//
//   - Issue: POST /1.0/sign with a one-time token (JWT) signed by the
//     provisioner's private key. The key comes from the provisioner list the
//     CA publishes (/provisioners, encrypted with the provisioner password)
//     or from ProvisionerKey. Its subject and "sans" claim are the CSR's names,
//     as step-ca requires.
//   - Renew: POST /1.0/renew over mutual TLS with the current certificate
//     and key; when the caller brings a CSR for a new key, POST /1.0/rekey
//     instead, so renewal rotates the key by default.
//   - Revoke: POST /1.0/revoke with a one-time token whose subject is the
//     serial number (passive revocation, the only kind step-ca implements);
//     RevokeWithKey uses mutual TLS with the certificate itself instead.
//
// The CA root is never taken on trust: the client fetches /root/<fingerprint>
// once, checks that the certificate it got hashes to the configured
// fingerprint and that the server's own chain verifies to it, and from then
// on trusts only that root.
//
// Errors wrap pki.ErrUnauthorized when the CA refuses the token, the
// password, or the certificate (e.g. a revoked one), and pki.ErrUnavailable
// when the CA cannot be reached or answers 429/502/503/504, so a renewer keeps
// the current certificate and retries. Passwords, private keys and tokens
// never appear in errors.
package stepca
