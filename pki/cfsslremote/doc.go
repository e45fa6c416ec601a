// Package cfsslremote is a pki.Backend that gets certificates from a
// remote cfssl API server (`cfssl serve`, or `multirootca`).
//
// # What a user configures
//
// Config holds it (ccpki's --cfssl-* flags map onto the fields):
//
//	URL      https://cfssl.example.com:8888
//	AuthKey  the hex HMAC key of the signing profile (the "key" of the
//	         profile's auth_key in the server's ca-config.json)
//	Profile  signing profile used when a request names none
//	Label    (multirootca only) which CA signs
//	Roots    root certificate(s), needed when the cfssl signer is an
//	         intermediate (its /info answer is then not a self-signed root)
//
// plus the usual TLS trust for the server itself (TLSConfig: a CA bundle,
// or a client certificate when cfssl sits behind an mTLS proxy). Plain
// http:// is refused unless InsecurePlaintextHTTP is set, because the
// answers (above all the CA certificate written to ca.crt) would then be
// forgeable.
//
// # How each operation works
//
//   - Issue: POST /api/v1/cfssl/authsign, the sign request wrapped in cfssl's
//     authenticated request (an HMAC-SHA256 of the request bytes under the
//     profile's auth key). The profile is Request.Profile, or
//     Config.Profile when that is empty; the CSR's names become the SANs.
//     cfssl's API cannot ask for a lifetime: the profile's expiry decides,
//     and Request.Lifetime is ignored.
//   - Renew: a fresh authsign of the new CSR (cfssl has no renewal).
//   - Revoke: POST /api/v1/cfssl/revoke with the serial and authority key id.
//     This works only when the server runs with a certificate database
//     (-db-config); otherwise the server answers with an error and Revoke
//     returns it, saying so. cfssl does not authenticate this endpoint:
//     put it behind mTLS or disable it (see SECURITY.md).
//   - Roots come from POST /api/v1/cfssl/info (the signer's certificate) when
//     that is a self-signed root, otherwise from Config.Roots.
//
// Errors wrap pki.ErrUnauthorized when the server refuses the auth key
// ("invalid token"), or a proxy in front answers 401/403 or refuses the
// client certificate, and pki.ErrUnavailable when the server cannot be
// reached or answers 429/502/503/504 (pki/internal/remote, shared with
// package stepca, classifies these). The auth key never appears in errors.
package cfsslremote
