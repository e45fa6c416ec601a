package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Option configures ServerConfig and ClientConfig.
type Option interface{ apply(*configOptions) }

type optionFunc func(*configOptions)

func (f optionFunc) apply(o *configOptions) { f(o) }

type configOptions struct {
	events         func(Event)
	clientTrust    TrustSource
	noClientAuth   bool
	pins           []Pin
	rules          []IdentityRule
	crl            CRLSource
	minVersion     uint16
	serverName     string
	clientIdentity IdentitySource
	noTickets      bool
	serverOnly     []string // options given that only a server accepts
	clientOnly     []string
	errs           []error
}

// WithClientTrust makes a server require a client certificate that chains
// to this bundle, checked at every handshake (resumed ones included)
// against the bundle current at that moment.
func WithClientTrust(t TrustSource) Option {
	return optionFunc(func(o *configOptions) {
		o.clientTrust = t
		o.serverOnly = append(o.serverOnly, "WithClientTrust")
	})
}

// WithInsecureNoClientAuth makes a server accept clients without a
// certificate. Anyone who can reach the port can then talk to it; use only
// where the network itself authenticates peers.
func WithInsecureNoClientAuth() Option {
	return optionFunc(func(o *configOptions) {
		o.noClientAuth = true
		o.serverOnly = append(o.serverOnly, "WithInsecureNoClientAuth")
	})
}

// WithPins admits a peer only if a certificate of its verified chain (leaf,
// intermediate or root) has one of these SPKI pins. Give old and new pins
// together while rotating.
func WithPins(pins ...Pin) Option {
	return optionFunc(func(o *configOptions) {
		if len(pins) == 0 {
			o.errs = append(o.errs, fmt.Errorf("%w: WithPins needs at least one pin", ErrBadOption))
		}
		o.pins = append(o.pins, pins...)
	})
}

// WithIdentityRules admits a peer only if its leaf matches one of rules.
func WithIdentityRules(rules ...IdentityRule) Option {
	return optionFunc(func(o *configOptions) {
		if len(rules) == 0 {
			o.errs = append(o.errs, fmt.Errorf("%w: WithIdentityRules needs at least one rule", ErrBadOption))
		}
		for _, r := range rules {
			if r.empty() {
				o.errs = append(o.errs, fmt.Errorf("%w: an empty IdentityRule would admit every peer; set at least one field", ErrBadOption))
			}
		}
		o.rules = append(o.rules, rules...)
	})
}

// WithCRL refuses peers whose chain the CRL source reports revoked.
func WithCRL(src CRLSource) Option {
	return optionFunc(func(o *configOptions) {
		if src == nil {
			o.errs = append(o.errs, fmt.Errorf("%w: WithCRL(nil)", ErrBadOption))
		}
		o.crl = src
	})
}

// WithMinVersion raises the minimum TLS version; below TLS 1.2 is refused.
func WithMinVersion(v uint16) Option {
	return optionFunc(func(o *configOptions) {
		if v < tls.VersionTLS12 || v > tls.VersionTLS13 {
			o.errs = append(o.errs, fmt.Errorf("%w: minimum TLS version %s: use tls.VersionTLS12 or tls.VersionTLS13", ErrBadOption, tls.VersionName(v)))
			return
		}
		o.minVersion = v
	})
}

// WithTLS13Only refuses TLS 1.2.
func WithTLS13Only() Option { return WithMinVersion(tls.VersionTLS13) }

// WithServerName sets the name a client checks the server certificate
// against (and sends as SNI). Needed when dialing an IP address.
func WithServerName(name string) Option {
	return optionFunc(func(o *configOptions) {
		o.serverName = name
		o.clientOnly = append(o.clientOnly, "WithServerName")
	})
}

// WithClientIdentity gives a client the certificate it presents.
func WithClientIdentity(id IdentitySource) Option {
	return optionFunc(func(o *configOptions) {
		o.clientIdentity = id
		o.clientOnly = append(o.clientOnly, "WithClientIdentity")
	})
}

// WithoutSessionTickets turns off server session resumption. It is on by
// default and safe: every resumed handshake is re-checked in
// VerifyConnection.
func WithoutSessionTickets() Option {
	return optionFunc(func(o *configOptions) {
		o.noTickets = true
		o.serverOnly = append(o.serverOnly, "WithoutSessionTickets")
	})
}

// cipherSuites are the TLS 1.2 suites allowed: ECDHE key exchange (forward
// secrecy) with an AEAD. TLS 1.3 suites are not configurable and all good.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// curves puts the hybrid post-quantum key exchanges first.
var curves = []tls.CurveID{
	tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024,
	tls.X25519, tls.CurveP256, tls.CurveP384,
}

func buildConfigOptions(opts []Option) configOptions {
	o := configOptions{minVersion: tls.VersionTLS12}
	for _, f := range opts {
		if f != nil {
			f.apply(&o)
		}
	}
	return o
}

// baseConfig is the policy shared by servers and clients.
func baseConfig(o configOptions) *tls.Config {
	return &tls.Config{
		MinVersion:       o.minVersion,
		CipherSuites:     append([]uint16(nil), cipherSuites...),
		CurvePreferences: append([]tls.CurveID(nil), curves...),
		NextProtos:       []string{"h2"},
	}
}

func describe(src any, fallback string) string {
	if s, ok := src.(fmt.Stringer); ok {
		return s.String()
	}
	return fallback
}

func leafOf(c *tls.Certificate) (*x509.Certificate, error) {
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	if len(c.Certificate) == 0 {
		return nil, ErrNoCertificate
	}
	return x509.ParseCertificate(c.Certificate[0])
}

// ServerConfig returns a server *tls.Config whose certificate and client
// CA bundle are taken from the sources at each handshake, so rotation needs
// no restart. The returned config is never modified; pass it to
// grpc credentials.NewTLS or tls.Listen as is.
//
// Client authentication must be decided explicitly: WithClientTrust
// (clients must present a certificate from that bundle) or
// WithInsecureNoClientAuth; with neither, ServerConfig returns
// ErrNoClientTrust. ServerConfig refuses an identity whose leaf is outside
// its validity or lists extended key usages without serverAuth.
//
// The client chain is verified by this package in VerifyConnection, not by
// crypto/tls, so tls.Config.ClientAuth reads RequestClientCert: a missing
// or unverifiable certificate is still refused, with a Reason and an event.
func ServerConfig(identity IdentitySource, opts ...Option) (*tls.Config, error) {
	o := buildConfigOptions(opts)
	if err := errors.Join(o.errs...); err != nil {
		return nil, err
	}
	if identity == nil {
		return nil, fmt.Errorf("tlsconfig: %w: ServerConfig needs an identity source", ErrBadOption)
	}
	if len(o.clientOnly) > 0 {
		return nil, fmt.Errorf("tlsconfig: %w: %v apply only to ClientConfig", ErrBadOption, o.clientOnly)
	}
	switch {
	case o.clientTrust == nil && !o.noClientAuth:
		return nil, fmt.Errorf("tlsconfig: %w: pass WithClientTrust(bundle) to require client certificates, or WithInsecureNoClientAuth() to accept any client", ErrNoClientTrust)
	case o.clientTrust != nil && o.noClientAuth:
		return nil, fmt.Errorf("tlsconfig: %w: WithClientTrust and WithInsecureNoClientAuth exclude each other", ErrBadOption)
	case o.noClientAuth && (len(o.pins) > 0 || len(o.rules) > 0 || o.crl != nil):
		return nil, fmt.Errorf("tlsconfig: %w: pins, identity rules and CRLs check client certificates; they need WithClientTrust", ErrBadOption)
	}
	name := describe(identity, "server identity")
	id, err := identity.Identity()
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %s: %w", name, err)
	}
	leaf, err := leafOf(id)
	if err != nil {
		return nil, fileErr(name, err, "provide a PEM certificate chain, leaf first")
	}
	if err := checkValidity(leaf, time.Now()); err != nil {
		return nil, fileErr(name, err, "renew the server certificate and replace %s", name)
	}
	if !hasEKU(leaf, x509.ExtKeyUsageServerAuth) {
		return nil, fileErr(name, fmt.Errorf("%w (it has %v)", ErrNoServerAuth, leaf.ExtKeyUsage),
			"re-issue %s as a server certificate (ccpki issue --server) so it carries serverAuth", name)
	}

	base := baseConfig(o)
	base.SessionTicketsDisabled = o.noTickets
	s := &server{identity: identity}
	if o.clientTrust != nil {
		base.ClientAuth = tls.RequestClientCert
		v := &peerVerifier{side: "server", trust: o.clientTrust, usage: x509.ExtKeyUsageClientAuth,
			pins: toPinSet(o.pins), rules: o.rules, crl: o.crl, sink: newSink(o.events), now: time.Now}
		base.VerifyConnection = v.verifyConnection
	}
	s.base = base
	parent := base.Clone()
	parent.GetConfigForClient = s.configForClient
	parent.GetCertificate = s.certificate
	return parent, nil
}

func toPinSet(pins []Pin) pinSet {
	if len(pins) == 0 {
		return nil
	}
	ps := make(pinSet, len(pins))
	for _, p := range pins {
		ps[p] = struct{}{}
	}
	return ps
}

// server builds the per-handshake config. It caches the config of the
// current identity, so a handshake allocates nothing new unless the
// certificate changed. The client bundle is read in VerifyConnection.
type server struct {
	identity IdentitySource
	base     *tls.Config
	cache    atomic.Pointer[serverSnapshot]
}

type serverSnapshot struct {
	cert *tls.Certificate
	cfg  *tls.Config
}

func (s *server) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.identity.Identity()
}

func (s *server) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	cert, err := s.identity.Identity()
	if err != nil {
		return nil, err
	}
	if snap := s.cache.Load(); snap != nil && snap.cert == cert {
		return snap.cfg, nil
	}
	// ClientCAs stays empty on purpose: with a list of acceptable CAs, a Go
	// client holding a certificate from another CA sends none, and the
	// refusal would read "no certificate" instead of "unknown CA".
	cfg := s.base.Clone()
	cfg.Certificates = []tls.Certificate{*cert}
	s.cache.Store(&serverSnapshot{cert: cert, cfg: cfg})
	return cfg, nil
}

// ClientConfig returns a client *tls.Config (e.g. for a chaincode that
// dials its peer) that verifies the server against the trust bundle
// current at each handshake, plus pins, identity rules and CRL; it
// presents the certificate from WithClientIdentity, if given.
//
// Because crypto/tls cannot swap RootCAs on a live config, the chain is
// verified in VerifyConnection and InsecureSkipVerify is set to turn off
// only the built-in check; the server name is still checked (WithServerName,
// else the name dialed).
func ClientConfig(trust TrustSource, opts ...Option) (*tls.Config, error) {
	o := buildConfigOptions(opts)
	if err := errors.Join(o.errs...); err != nil {
		return nil, err
	}
	if trust == nil {
		return nil, fmt.Errorf("tlsconfig: %w: ClientConfig needs the trust source for the server's CA", ErrBadOption)
	}
	if len(o.serverOnly) > 0 {
		return nil, fmt.Errorf("tlsconfig: %w: %v apply only to ServerConfig", ErrBadOption, o.serverOnly)
	}
	if _, _, err := trust.Trust(); err != nil {
		return nil, fmt.Errorf("tlsconfig: %s: %w", describe(trust, "trust"), err)
	}
	cfg := baseConfig(o)
	cfg.ServerName = o.serverName
	cfg.InsecureSkipVerify = true // verification happens in VerifyConnection, below
	v := &peerVerifier{side: "client", trust: trust, usage: x509.ExtKeyUsageServerAuth, serverName: o.serverName,
		pins: toPinSet(o.pins), rules: o.rules, crl: o.crl, sink: newSink(o.events), now: time.Now}
	cfg.VerifyConnection = v.verifyConnection
	if id := o.clientIdentity; id != nil {
		if _, err := id.Identity(); err != nil && !errors.Is(err, ErrNoIdentity) {
			return nil, fmt.Errorf("tlsconfig: %s: %w", describe(id, "client identity"), err)
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return id.Identity()
		}
	}
	return cfg, nil
}
