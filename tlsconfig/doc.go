// Package tlsconfig is the one place where ccserver makes TLS: the chaincode
// server's mutual TLS and the client-mode dialer's TLS.
//
// # Specs
//
// ServerSpec and ClientSpec say declaratively what TLS is made from:
// certificate and key (files, PEM or a source), the CA bundle to check
// peers against, pins, identity rules, an Authorizer hook, CRL with its
// fail-open and full-chain switches, minimum version, the insecure
// switches, and an Events hook. They are the one place these settings are
// checked: Validate refuses every contradiction, missing setting and
// malformed value, without touching files, as a *FieldError naming the
// field (errors.As; Message and Rename word it with a caller's own names,
// such as command-line flags). NewServer and NewClient validate, load the
// files and return a Server or Client that holds the *tls.Config, reloads
// the files (Reload, for SIGHUP) and stops watching them (Close). A
// server's TrustChanged hook runs when the client CA bundle or the CRL is
// replaced, and Server.CheckConnection re-checks an open connection then.
// shim.TLSProperties and ccserver's flags are mappings onto ServerSpec;
// ServerConfig, ClientConfig and their With... options are too.
//
//	srv, err := tlsconfig.NewServer(tlsconfig.ServerSpec{
//		CertFile: "tls.crt", KeyFile: "tls.key", ClientCAFile: "ca.crt",
//		Pins: []string{"sha256/..."},
//	})
//	if err != nil { ... } // a *FieldError, e.g. Field "Pins"
//	defer srv.Close()
//	grpc.NewServer(grpc.Creds(credentials.NewTLS(srv.Config())))
//
// # Sources
//
// Material comes from small interfaces so that it can change under a
// running server:
//
//   - IdentitySource (certificate chain and key): StaticIdentity,
//     NewFileIdentity (files reloaded hot), NewPushedIdentity (set in memory
//     by a renewer).
//   - TrustSource (CA bundle): StaticTrust, NewFileTrust.
//   - CRLSource (revocation): NewFileCRL.
//
// File sources watch the directory holding each file, because Kubernetes
// secret volumes replace a "..data" symlink and a watch on the file itself
// stops after the first swap; they also poll (WithPollInterval) in case
// events are missed. They read certificate and key until two passes agree,
// so the pair comes from one generation; check that the key matches; skip
// unchanged content; and on any bad read keep the last good material and
// emit EventReloadFailed. Reload forces a re-read (for SIGHUP); Close stops
// the watcher goroutine.
//
// # Configs
//
// Server.Config, Client.Config, ServerConfig and ClientConfig return a
// *tls.Config that is never modified after it is returned. The certificate and the client CA bundle
// are chosen at each handshake (GetConfigForClient, GetCertificate,
// GetClientCertificate), so a rotated file is served to the next new
// connection without a restart.
//
// A server must choose client authentication explicitly: a client CA
// (ClientCAFile, ClientCACerts, ClientTrust; WithClientTrust) requires a
// client certificate that chains to the bundle, or InsecureNoClientAuth
// (WithInsecureNoClientAuth) accepts anyone. Plaintext is not offered here at
// all; the serving layer has its own loudly named switch for it.
//
// # Checks on the peer
//
// All peer checks run in VerifyConnection, which crypto/tls calls on every
// handshake including resumed sessions, so a session ticket issued before a
// CA rotation, a pin change or a revocation cannot slip past them. In
// order: the chain is verified against the bundle current at that moment
// (with the clientAuth or serverAuth usage; a client also checks the
// server name), then identity rules (IdentityRules: SAN DNS/URI, subject
// O/OU; ParseIdentityRule reads the text form "o=Org1MSP,ou=peer"), then
// SPKI pins (Pins: any certificate of the verified chain; give several to
// overlap old and new during a rotation), then revocation (CRLFile or
// CRL), then the Authorizer hook with the verified chains. A refusal is a
// *HandshakeError with a Reason and an EventHandshakeRejected.
//
// # Revocation
//
// NewFileCRL reads CRLs (several may be concatenated in one PEM file). A
// CRL counts only if its signature verifies against the certificate of the
// CA it names: a CA of the trust bundle (checked at load; a CRL that
// names a bundle CA but does not verify is refused there) or an
// intermediate of the peer's verified chain (checked at the handshake,
// the result cached per CRL and issuer certificate). So the bundle can
// hold the root alone while the CRL file holds the intermediate's CRL,
// which is how ccpki's default CA (root plus intermediate) is deployed.
//
// Coverage fails closed where it matters: the CA that issued the peer's
// leaf must have a current CRL in the file, else the peer is refused. A
// higher link (an intermediate and the CA above it) is checked whenever a
// CRL from that CA is present: a listed intermediate, a stale CRL or one
// that does not verify refuses the peer. When that CRL is absent the link
// is let through by default, because root keys usually live offline and
// their CRLs are published rarely, and requiring one would make a
// missing root CRL lock out every peer; WithCRLRequireFullChain refuses
// instead. WithCRLFailOpen admits peers whose status is unknown (stale,
// missing or unverifiable CRL) and excludes WithCRLRequireFullChain.
//
// # Revocation and open connections
//
// A CRL change applies at the next handshake. Connections already open are
// not touched: the Fabric peer keeps one long-lived stream to the chaincode
// and breaking it fails the transactions in flight. A serving layer that
// wants revoked peers out sets ServerSpec.TrustChanged, calls
// Server.CheckConnection with each open connection's tls.ConnectionState
// when it runs (after the CRL or the client CA bundle was replaced), and
// closes the refused connections once they are idle. (FileCRL.Check does
// the CRL part alone for a CRL source used without a spec.)
//
// # Policy
//
// TLS 1.2 minimum (MinVersion, WithTLS13Only or WithMinVersion for 1.3), for TLS 1.2
// only ECDHE suites with AES-GCM or ChaCha20-Poly1305 (no TLS_RSA_*), ALPN
// "h2", and key exchanges with the hybrid post-quantum X25519MLKEM768
// first. ServerConfig and the file sources refuse to start on an expired or
// not-yet-valid leaf, a key that does not match, a server leaf whose
// extended key usages lack serverAuth, or a key file that group or others
// can access (InsecureKeyPermissions accepts it); each error is a
// *FileError naming the file and the fix (inside a *FieldError when a
// spec was built).
//
// # Events
//
// WithEvents delivers Event values (loaded, rotated, reload failed,
// handshake rejected, expiring soon, CRL stale) to a function, on a
// separate goroutine, so a slow handler never holds up a handshake. Events
// never contain key material.
package tlsconfig
