package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"

	"github.com/ccserver/ccserver/internal/x509util"
)

// Authorizer is the last check on a peer, after the chain, identity rules,
// pins and revocation have passed: it gets the peer's verified chains
// (leaf first, each ending in a CA of the trust bundle) and returns an
// error to refuse it. Like every check here it runs in VerifyConnection,
// so on resumed sessions too. It must be fast and safe for concurrent use;
// a *HandshakeError keeps its Reason, any other error reads
// ReasonAuthorizer.
type Authorizer func(verifiedChains [][]*x509.Certificate) error

// ServerSpec is everything a chaincode server's TLS is made from, as plain
// data: NewServer validates it (Validate), loads the material, and returns
// a Server that owns the sources it opened. Give the certificate one way
// (CertFile and KeyFile, Cert and Key, or Identity) and decide client
// authentication explicitly (a client CA one way, or InsecureNoClientAuth).
//
// shim.TLSProperties uses the same field names, so a FieldError reads the
// same through either.
type ServerSpec struct {
	// CertFile and KeyFile are PEM files (chain leaf first; key mode 0600),
	// watched and reloaded on change, keeping the last good pair.
	CertFile, KeyFile string
	// Cert and Key are the same as PEM bytes, read once.
	Cert, Key []byte
	// Identity supplies the certificate from elsewhere, e.g. a
	// PushedIdentity fed by a renewer.
	Identity IdentitySource

	// ClientCAFile (watched), ClientCACerts (PEM bytes) or ClientTrust is
	// the bundle of CAs whose clients are admitted; a client certificate
	// chaining to it is then required.
	ClientCAFile  string
	ClientCACerts []byte
	ClientTrust   TrustSource
	// InsecureNoClientAuth admits clients without a certificate instead.
	InsecureNoClientAuth bool
	// InsecureClientCALeaf accepts a client CA bundle holding certificates
	// that are not CAs: each then admits exactly itself. Without it such a
	// bundle is refused at start (ErrNotCA), because a leaf given by
	// mistake for its CA admits one peer and silently refuses the rest.
	InsecureClientCALeaf bool

	// Pins admit only peers whose verified chain holds a certificate with
	// one of these SPKI pins (forms: ParsePin). Give old and new together
	// while rotating.
	Pins []string
	// IdentityRules admit only peers whose leaf matches one rule.
	IdentityRules []IdentityRule
	// Authorizer, if set, decides last (see Authorizer).
	Authorizer Authorizer
	// Orgs and OrgsDir admit peers per organisation, each bound to its own
	// CA or pin (see OrgAdmission): a peer must belong to a listed org.
	// OrgsDir holds one CA bundle per org, named ORG.pem or ORG.crt (a
	// Kubernetes ConfigMap or Secret volume), re-read on change, so an
	// org is admitted or removed without a restart. They are a client
	// trust of their own: ClientCAFile is then needed only for pins.
	Orgs    []OrgAdmission
	OrgsDir string
	// CRLFile (PEM or DER, watched) or CRL refuses revoked peers.
	// CRLFailOpen admits peers whose status is unknown (stale or missing
	// CRL); CRLRequireFullChain demands a CRL for every link. Both apply to
	// CRLFile only (a CRLSource has its own options) and exclude each other.
	CRLFile                          string
	CRL                              CRLSource
	CRLFailOpen, CRLRequireFullChain bool

	// MinVersion is TLS 1.2 (the default) or TLS 1.3.
	MinVersion Version
	// DisableSessionTickets turns off resumption (safe either way: resumed
	// sessions are checked again).
	DisableSessionTickets bool
	// InsecureKeyPermissions accepts a KeyFile that group or others can
	// access (e.g. a Kubernetes secret with fsGroup and mode 0440).
	InsecureKeyPermissions bool

	// Events receives every source's and every refused handshake's events,
	// on a separate goroutine (see WithEvents).
	Events func(Event)
	// TrustChanged, if set, runs after a reload replaced the ClientCAFile
	// bundle or the CRLFile, so a serving layer can re-check its open
	// connections with Server.CheckConnection. It runs on an events
	// goroutine; it must not block for long.
	TrustChanged func()
}

// ClientSpec is everything the TLS of a client (a chaincode dialing its
// peer, a test peer) is made from; NewClient validates and builds it. The
// server's CA is required one way; a client certificate is optional.
type ClientSpec struct {
	// CertFile and KeyFile, Cert and Key, or Identity: the certificate the
	// client presents, if any (as in ServerSpec).
	CertFile, KeyFile string
	Cert, Key         []byte
	Identity          IdentitySource

	// ServerCAFile (watched), ServerCACerts (PEM bytes) or ServerTrust is
	// the bundle the server's certificate must chain to.
	ServerCAFile  string
	ServerCACerts []byte
	ServerTrust   TrustSource
	// ServerName is checked against the server's certificate and sent as
	// SNI; empty uses the host dialed.
	ServerName string

	// Pins, IdentityRules, Authorizer and the CRL fields check the server
	// as ServerSpec's check clients.
	Pins                             []string
	IdentityRules                    []IdentityRule
	Authorizer                       Authorizer
	CRLFile                          string
	CRL                              CRLSource
	CRLFailOpen, CRLRequireFullChain bool

	MinVersion             Version
	InsecureKeyPermissions bool
	Events                 func(Event)
}

// Version is a minimum TLS version. Its text form, for flags and
// configuration files, is "1.2" or "1.3"; zero means the default, TLS 1.2.
type Version uint16

// The versions a spec accepts.
const (
	VersionTLS12 Version = tls.VersionTLS12
	VersionTLS13 Version = tls.VersionTLS13
)

func (v Version) String() string {
	switch v {
	case 0:
		return "1.2 (default)"
	case VersionTLS12:
		return "1.2"
	case VersionTLS13:
		return "1.3"
	}
	return tls.VersionName(uint16(v))
}

// MarshalText writes "1.2" or "1.3" (zero as "1.2").
func (v Version) MarshalText() ([]byte, error) {
	if v == 0 {
		v = VersionTLS12
	}
	return []byte(v.String()), nil
}

// UnmarshalText reads "1.2" or "1.3" (a leading "TLS" is allowed).
func (v *Version) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(string(b))), "TLS"))
	switch s {
	case "1.2":
		*v = VersionTLS12
	case "1.3":
		*v = VersionTLS13
	default:
		return classed(fmt.Errorf("TLS version %q: want 1.2 or 1.3", string(b)), ErrBadOption)
	}
	return nil
}

func (v Version) orDefault() uint16 {
	if v == 0 {
		return tls.VersionTLS12
	}
	return uint16(v)
}

// identityFields are a spec's ways to give a certificate; both specs use
// the same field names.
type identityFields struct {
	certFile, keyFile string
	cert, key         []byte
	src               IdentitySource
}

func (f identityFields) given() bool {
	return f.certFile != "" || f.keyFile != "" || len(f.cert) > 0 || len(f.key) > 0 || f.src != nil
}

// field names the field the identity was given by, for errors.
func (f identityFields) field() string {
	switch {
	case f.src != nil:
		return "Identity"
	case len(f.cert) > 0 || len(f.key) > 0:
		return "Cert"
	}
	return "CertFile"
}

func (f identityFields) validate(required bool) *FieldError {
	files, bytes := f.certFile != "" || f.keyFile != "", len(f.cert) > 0 || len(f.key) > 0
	switch {
	case f.src != nil && (files || bytes):
		return specErr("Identity", "give the certificate one way: {CertFile} and {KeyFile}, {Cert} and {Key}, or {Identity}", ErrConflict)
	case files && bytes:
		return specErr("Cert", "give the certificate one way: {CertFile} and {KeyFile}, {Cert} and {Key}, or {Identity}", ErrConflict)
	case !f.given() && required:
		return specErr("CertFile", "no server certificate is given: give {CertFile} and {KeyFile}[, or {Cert} and {Key}][, or {Identity}]", ErrMissing)
	}
	if err := pairGiven("CertFile", f.certFile != "", "KeyFile", f.keyFile != ""); err != nil {
		return err
	}
	return pairGiven("Cert", len(f.cert) > 0, "Key", len(f.key) > 0)
}

// pairGiven refuses one of two fields that only work together.
func pairGiven(a string, hasA bool, b string, hasB bool) *FieldError {
	switch {
	case hasA && !hasB:
		return specErr(b, "{"+a+"} is given but not {"+b+"}: give both", ErrMissing)
	case hasB && !hasA:
		return specErr(a, "{"+b+"} is given but not {"+a+"}: give both", ErrMissing)
	}
	return nil
}

// trustFields are a spec's ways to give a CA bundle: the server's
// ClientCA..., the client's ServerCA....
type trustFields struct {
	prefix string // "Client" or "Server"
	file   string
	pem    []byte
	src    TrustSource
}

func (f trustFields) fileField() string   { return f.prefix + "CAFile" }
func (f trustFields) certsField() string  { return f.prefix + "CACerts" }
func (f trustFields) sourceField() string { return f.prefix + "Trust" }

// all is the template naming every way, for "give one of" messages.
func (f trustFields) all() string {
	return "{" + f.fileField() + "|" + f.certsField() + "|" + f.sourceField() + "}"
}

// set names the field the bundle was given by, or "".
func (f trustFields) set() string {
	switch {
	case f.file != "":
		return f.fileField()
	case len(f.pem) > 0:
		return f.certsField()
	case f.src != nil:
		return f.sourceField()
	}
	return ""
}

func (f trustFields) validate() *FieldError {
	given := []string{}
	if f.file != "" {
		given = append(given, f.fileField())
	}
	if len(f.pem) > 0 {
		given = append(given, f.certsField())
	}
	if f.src != nil {
		given = append(given, f.sourceField())
	}
	if len(given) > 1 {
		return specErr(given[1], "{"+given[0]+"} and {"+given[1]+"} exclude each other: give the CA bundle one way", ErrConflict)
	}
	return nil
}

// checkFields are the peer checks both specs share.
type checkFields struct {
	pins                   []string
	rules                  []IdentityRule
	authorizer             Authorizer
	crlFile                string
	crl                    CRLSource
	crlFailOpen, fullChain bool
	minVersion             Version
}

// given names the first check that is set, for the InsecureNoClientAuth
// conflict, or "".
func (c checkFields) given() string {
	switch {
	case len(c.pins) > 0:
		return "Pins"
	case len(c.rules) > 0:
		return "IdentityRules"
	case c.crlFile != "":
		return "CRLFile"
	case c.crl != nil:
		return "CRL"
	case c.authorizer != nil:
		return "Authorizer"
	}
	return ""
}

func (c checkFields) validate() *FieldError {
	switch {
	case c.crlFile != "" && c.crl != nil:
		return specErr("CRL", "{CRLFile} and {CRL} exclude each other: give the CRL one way", ErrConflict)
	case c.fullChain && c.crlFailOpen:
		return specErr("CRLFailOpen", "{CRLRequireFullChain} and {CRLFailOpen} contradict each other: one refuses peers whose revocation status is unknown, the other admits them; choose one", ErrConflict)
	case c.crlFailOpen && c.crlFile == "":
		return specErr("CRLFailOpen", "{CRLFailOpen} needs {CRLFile}[ (a {CRL} source has its own options)]", ErrConflict)
	case c.fullChain && c.crlFile == "":
		return specErr("CRLRequireFullChain", "{CRLRequireFullChain} needs {CRLFile}[ (a {CRL} source has its own options)]", ErrConflict)
	}
	for _, p := range c.pins {
		if _, err := x509util.ParsePin(p); err != nil {
			return valueErr("Pins", p, classed(err, ErrBadOption))
		}
	}
	for i, r := range c.rules {
		if r.empty() {
			return specErr("IdentityRules", "{IdentityRules}: rule "+strconv.Itoa(i+1)+" is empty and would admit every peer; set at least one of its fields", ErrBadOption)
		}
	}
	if v := c.minVersion; v != 0 && v != VersionTLS12 && v != VersionTLS13 {
		return valueErr("MinVersion", v.String(), fmt.Errorf("%w: the minimum TLS version must be 1.2 or 1.3", ErrBadOption))
	}
	return nil
}

func (c checkFields) pinSet() pinSet {
	if len(c.pins) == 0 {
		return nil
	}
	ps := make(pinSet, len(c.pins))
	for _, s := range c.pins {
		p, _ := ParsePin(s) // validated
		ps[p] = struct{}{}
	}
	return ps
}

// parts are a spec's fields grouped the way the shared helpers read them;
// both specs give them the same names.
type parts struct {
	id         identityFields
	idRequired bool // a server must have a certificate, a client may
	trust      trustFields
	checks     checkFields
	noAuth     bool // ServerSpec.InsecureNoClientAuth
	orgs       orgFields
	leafCA     bool // ServerSpec.InsecureClientCALeaf
}

func (s ServerSpec) parts() parts {
	return parts{
		id:         identityFields{certFile: s.CertFile, keyFile: s.KeyFile, cert: s.Cert, key: s.Key, src: s.Identity},
		idRequired: true,
		trust:      trustFields{prefix: "Client", file: s.ClientCAFile, pem: s.ClientCACerts, src: s.ClientTrust},
		checks: checkFields{pins: s.Pins, rules: s.IdentityRules, authorizer: s.Authorizer, crlFile: s.CRLFile, crl: s.CRL,
			crlFailOpen: s.CRLFailOpen, fullChain: s.CRLRequireFullChain, minVersion: s.MinVersion},
		noAuth: s.InsecureNoClientAuth,
		orgs:   orgFields{list: s.Orgs, dir: s.OrgsDir},
		leafCA: s.InsecureClientCALeaf,
	}
}

func (s ClientSpec) parts() parts {
	return parts{
		id:    identityFields{certFile: s.CertFile, keyFile: s.KeyFile, cert: s.Cert, key: s.Key, src: s.Identity},
		trust: trustFields{prefix: "Server", file: s.ServerCAFile, pem: s.ServerCACerts, src: s.ServerTrust},
		checks: checkFields{pins: s.Pins, rules: s.IdentityRules, authorizer: s.Authorizer, crlFile: s.CRLFile, crl: s.CRL,
			crlFailOpen: s.CRLFailOpen, fullChain: s.CRLRequireFullChain, minVersion: s.MinVersion},
	}
}

// Validate checks the spec without touching files: every contradiction,
// missing setting and malformed value, in one place. It returns the first
// problem as a *FieldError. NewServer calls it; a command line calls it
// early to report usage errors before it binds a port.
func (s ServerSpec) Validate() error { return s.parts().validate() }

// Validate checks the spec without touching files, like
// ServerSpec.Validate.
func (s ClientSpec) Validate() error { return s.parts().validate() }

func (p parts) validate() error {
	if err := p.id.validate(p.idRequired); err != nil {
		return err
	}
	t := p.trust
	if err := t.validate(); err != nil {
		return err
	}
	ca := t.set()
	if ca == "" && p.orgs.given() {
		ca = p.orgs.field()
	}
	switch {
	case t.prefix == "Server" && ca == "":
		return specErr(t.fileField(), "no CA to verify the server with: give "+t.all(), ErrMissing)
	case ca != "" && p.noAuth:
		return specErr("InsecureNoClientAuth", "{"+ca+"} requires client certificates but {InsecureNoClientAuth} turns them off: drop one", ErrConflict)
	case ca == "" && !p.noAuth:
		return specErr(t.fileField(), "no client CA, so no peer could be verified: give "+t.all()+" with the CA that issued the peers' certificates, or {InsecureNoClientAuth} to admit any client", ErrMissing, ErrNoClientTrust)
	}
	if f := p.checks.given(); f != "" && p.noAuth {
		return specErr(f, "{"+f+"} checks the peers' certificates, which {InsecureNoClientAuth} does not ask for: give "+t.all()+" instead", ErrConflict)
	}
	if err := p.checks.validate(); err != nil {
		return err
	}
	if p.orgs.given() {
		if err := p.orgs.validate(t.set() != ""); err != nil {
			return err
		}
	}
	return nil
}
