// Package pki makes and keeps the certificates a chaincode-as-a-service
// deployment needs: the chaincode server's certificate (serverAuth, for
// the address the peer dials) and the peer's client certificate
// (clientAuth), with the CA bundle that verifies each. It creates a local
// CA, issues, renews for ever, revokes and signs CRLs, writes the result
// in the layouts servers and Fabric read, and inspects and verifies
// certificates. It is the library behind the ccpki command; the package
// the peer installs (connection.json) is package ccaas's.
//
// Keys are made where they are used: a Backend signs a certificate
// request (NewCSR), so a private key never travels.
//
// # Backends
//
//   - Local (InitCA, then OpenLocal): a CA in a directory: root.crt and
//     root.key, intermediate.crt and intermediate.key (path length 0; it
//     signs), ca.crt (the bundle to hand out, BundleFile), revoked.json and
//     crl.pem (CRLFile). Certificates follow cfssl signing profiles: the
//     built-in "server" and "client" (30 days), or a user's ca-config.json
//     (LoadSigningConfig, LocalOptions.SigningPolicy).
//   - package pki/cfsslremote: a remote cfssl server (authenticated sign,
//     revoke with a certificate database).
//   - package pki/stepca: a remote step-ca (JWK provisioner tokens, renew
//     and rekey over mutual TLS, passive revocation).
//
// Errors that callers branch on are sentinels (ErrExists, ErrNoCA,
// ErrUnknownProfile, ErrOutlivesCA, ErrUnauthorized, ErrUnavailable,
// ErrVerify, ErrStaleCRL, ErrInsecureKeyFile), wrapped with the file,
// field or argument at fault; errors never quote key material.
//
// # Layouts
//
// Layout.Write puts an issued certificate and its key into a directory:
//
//   - LayoutCertManager (the default): tls.crt (leaf and intermediates),
//     tls.key (0600) and ca.crt, the files of a Kubernetes TLS secret
//     volume, written as a new hidden generation directory and swapped in
//     by renaming the ..data symlink, so a server watching the directory
//     never reads a half-written pair. ReadCertManager reads one
//     generation back.
//   - LayoutFlat: the same three files, each replaced atomically on its own.
//   - LayoutMSP: Fabric's MSP directories (signcerts, keystore, cacerts,
//     intermediatecerts, tlscacerts).
//
// A Renewer keeps a cert-manager or flat directory fresh: it renews when a
// third of the lifetime is left (moved earlier by a random jitter), with a
// new key unless told otherwise, and retries an unreachable CA with capped
// backoff while the current certificate stays in place.
//
// # Options and time
//
// Required inputs are arguments; everything else is a field of one options
// struct per entry point (InitOptions, LocalOptions, ReadOptions,
// RenewerConfig, VerifyOptions, DescribeOptions), whose zero value is the
// secure default. Whatever reads the clock takes it as a Now func()
// time.Time field of those structs; nil means time.Now.
//
// # cfssl's logger
//
// cfssl logs through a process-wide logger (package
// github.com/cloudflare/cfssl/log, the standard library's log by
// default), and its local signer reports every signature there. pki never
// calls into cfssl code that logs at info level or above: Local applies a
// profile with cfssl's own template helpers and signs itself, and a
// ca-config.json that would make cfssl warn while parsing it (remote
// profiles) is refused before cfssl sees it. pki does not set
// cfssl's log level or output either; a program that uses cfssl itself
// owns those.
package pki
