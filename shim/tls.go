package shim

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/ccserver/ccserver/tlsconfig"
)

// TLSProperties configures the chaincode server's TLS. The first four
// fields are the original shim's (PEM bytes, read once); the rest are
// additions: files that are watched and reloaded without a restart, peer
// pinning, identity rules, revocation and policy. Every field but Disabled
// is the tlsconfig.ServerSpec field of the same name, which validates and
// builds them, so an error names the field here too (a
// *tlsconfig.FieldError).
//
// Unlike the original shim, a server without a client CA does not quietly
// accept any client: set ClientCACerts or ClientCAFile (recommended) or
// InsecureNoClientAuth.
type TLSProperties struct {
	// Disabled turns TLS off (plaintext). The zero value means TLS on.
	Disabled bool
	// Key and Cert are the server's PEM private key and certificate chain.
	Key  []byte
	Cert []byte
	// ClientCACerts is the PEM bundle of CAs whose clients (peers) are
	// admitted; their certificate is required and verified.
	ClientCACerts []byte

	// KeyFile, CertFile and ClientCAFile name PEM files used instead of
	// the byte fields; they are watched and reloaded on change, keeping the
	// last good material if a new file is bad.
	KeyFile      string
	CertFile     string
	ClientCAFile string
	// Identity supplies the certificate from elsewhere, for example a
	// tlsconfig.PushedIdentity fed by a renewer. It excludes Key/Cert files.
	Identity tlsconfig.IdentitySource
	// Pins admits only peers whose verified chain holds a certificate with
	// one of these SPKI SHA-256 pins ("sha256/<base64>" or hex).
	Pins []string
	// IdentityRules admits only peers whose certificate matches one rule.
	IdentityRules []tlsconfig.IdentityRule
	// Authorizer, if set, decides last whether a verified peer is admitted
	// (on resumed sessions too).
	Authorizer tlsconfig.Authorizer
	// CRLFile is a CRL (PEM or DER) checked at every handshake; reloaded
	// on change. A stale CRL refuses peers unless CRLFailOpen is set.
	CRLFile     string
	CRLFailOpen bool
	// CRLRequireFullChain also demands a current CRL for every CA above
	// the peer's issuer (by default those are checked when present).
	CRLRequireFullChain bool
	// MinVersion raises the minimum TLS version (TLS 1.2 by default;
	// tls.VersionTLS13 for TLS 1.3 only).
	MinVersion uint16
	// InsecureNoClientAuth accepts peers without a client certificate.
	InsecureNoClientAuth bool
	// InsecureKeyPermissions accepts a key file readable by group or others.
	InsecureKeyPermissions bool
	// Events receives TLS events (loaded, rotated, reload failed,
	// handshake rejected, expiring soon, CRL stale) for logs and metrics.
	Events func(tlsconfig.Event)
}

// spec is p as a tlsconfig.ServerSpec: the same fields under the same
// names. It checks nothing; the spec does.
func (p TLSProperties) spec() tlsconfig.ServerSpec {
	return tlsconfig.ServerSpec{
		CertFile: p.CertFile, KeyFile: p.KeyFile, Cert: p.Cert, Key: p.Key, Identity: p.Identity,
		ClientCAFile: p.ClientCAFile, ClientCACerts: p.ClientCACerts, InsecureNoClientAuth: p.InsecureNoClientAuth,
		Pins: p.Pins, IdentityRules: p.IdentityRules, Authorizer: p.Authorizer,
		CRLFile: p.CRLFile, CRLFailOpen: p.CRLFailOpen, CRLRequireFullChain: p.CRLRequireFullChain,
		MinVersion: tlsconfig.Version(p.MinVersion), InsecureKeyPermissions: p.InsecureKeyPermissions,
		Events: p.Events,
	}
}

// propsField names a spec field as TLSProperties does: by the same name,
// or none for the spec fields it lacks (so a message does not offer them).
func propsField(field string) string {
	if _, ok := reflect.TypeFor[TLSProperties]().FieldByName(field); ok {
		return field
	}
	return ""
}

// serverSpec is the spec the server's TLS is built from; ok is false for
// plaintext.
func (cs *ChaincodeServer) serverSpec() (spec tlsconfig.ServerSpec, ok bool, err error) {
	switch {
	case cs.TLSSpec != nil && !reflect.ValueOf(cs.TLSProps).IsZero():
		return spec, false, errors.New("TLS: set TLSProps or TLSSpec, not both")
	case cs.TLSSpec != nil:
		return *cs.TLSSpec, true, nil
	case cs.TLSProps.Disabled:
		return spec, false, nil
	}
	return cs.TLSProps.spec(), true, nil
}

// prepareTLS builds the TLS config once, before the port is bound.
func (cs *ChaincodeServer) prepareTLS() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.tlsReady {
		return nil
	}
	spec, ok, err := cs.serverSpec()
	if err != nil || !ok {
		cs.tlsReady = err == nil
		return err
	}
	// Open streams are re-checked when the client CA bundle or the CRL
	// changes, so a revoked peer does not keep its stream.
	user := spec.TrustChanged
	spec.TrustChanged = func() {
		if user != nil {
			user()
		}
		go cs.closeRevokedStreams()
	}
	srv, err := tlsconfig.NewServer(spec)
	if err != nil && cs.TLSSpec == nil {
		return fmt.Errorf("TLSProps: %w", tlsconfig.Rename(err, propsField))
	}
	if err != nil {
		return err
	}
	cs.tls, cs.tlsReady = srv, true
	return nil
}

func (cs *ChaincodeServer) closeTLS() {
	cs.mu.Lock()
	t := cs.tls
	cs.mu.Unlock()
	if t != nil {
		t.Close()
	}
}
