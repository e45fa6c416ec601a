package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
)

// Option configures ServerConfig and ClientConfig, the functional form of
// ServerSpec and ClientSpec for material the caller already holds as
// sources. Each option sets one spec field; the spec validates them.
type Option interface{ apply(*configOptions) }

type optionFunc func(*configOptions)

func (f optionFunc) apply(o *configOptions) { f(o) }

// configOptions are the spec fields the options set, plus what only the
// options can get wrong.
type configOptions struct {
	server     ServerSpec // the fields both specs share are read from here
	serverName string
	clientID   IdentitySource
	serverOnly []string // options given that only a server accepts
	clientOnly []string
	errs       []error
}

// WithClientTrust makes a server require a client certificate that chains
// to this bundle, checked at every handshake (resumed ones included)
// against the bundle current at that moment. (ServerSpec.ClientTrust)
func WithClientTrust(t TrustSource) Option {
	return optionFunc(func(o *configOptions) {
		o.server.ClientTrust = t
		o.serverOnly = append(o.serverOnly, "WithClientTrust")
	})
}

// WithInsecureNoClientAuth makes a server accept clients without a
// certificate. Anyone who can reach the port can then talk to it; use only
// where the network itself authenticates peers.
// (ServerSpec.InsecureNoClientAuth)
func WithInsecureNoClientAuth() Option {
	return optionFunc(func(o *configOptions) {
		o.server.InsecureNoClientAuth = true
		o.serverOnly = append(o.serverOnly, "WithInsecureNoClientAuth")
	})
}

// WithPins admits a peer only if a certificate of its verified chain (leaf,
// intermediate or root) has one of these SPKI pins. Give old and new pins
// together while rotating. (Pins)
func WithPins(pins ...Pin) Option {
	return optionFunc(func(o *configOptions) {
		if len(pins) == 0 {
			o.errs = append(o.errs, fmt.Errorf("tlsconfig: %w: WithPins needs at least one pin", ErrBadOption))
		}
		for _, p := range pins {
			o.server.Pins = append(o.server.Pins, p.String())
		}
	})
}

// WithIdentityRules admits a peer only if its leaf matches one of rules.
// (IdentityRules)
func WithIdentityRules(rules ...IdentityRule) Option {
	return optionFunc(func(o *configOptions) {
		if len(rules) == 0 {
			o.errs = append(o.errs, fmt.Errorf("tlsconfig: %w: WithIdentityRules needs at least one rule", ErrBadOption))
		}
		o.server.IdentityRules = append(o.server.IdentityRules, rules...)
	})
}

// WithAuthorizer adds the last check on a peer (see Authorizer).
// (Authorizer)
func WithAuthorizer(a Authorizer) Option {
	return optionFunc(func(o *configOptions) {
		if a == nil {
			o.errs = append(o.errs, fmt.Errorf("tlsconfig: %w: WithAuthorizer(nil)", ErrBadOption))
		}
		o.server.Authorizer = a
	})
}

// WithCRL refuses peers whose chain the CRL source reports revoked. (CRL)
func WithCRL(src CRLSource) Option {
	return optionFunc(func(o *configOptions) {
		if src == nil {
			o.errs = append(o.errs, fmt.Errorf("tlsconfig: %w: WithCRL(nil)", ErrBadOption))
		}
		o.server.CRL = src
	})
}

// WithMinVersion raises the minimum TLS version; below TLS 1.2 is refused.
// (MinVersion)
func WithMinVersion(v uint16) Option {
	return optionFunc(func(o *configOptions) { o.server.MinVersion = Version(v) })
}

// WithTLS13Only refuses TLS 1.2.
func WithTLS13Only() Option { return WithMinVersion(tls.VersionTLS13) }

// WithServerName sets the name a client checks the server certificate
// against (and sends as SNI). Needed when dialing an IP address.
// (ClientSpec.ServerName)
func WithServerName(name string) Option {
	return optionFunc(func(o *configOptions) {
		o.serverName = name
		o.clientOnly = append(o.clientOnly, "WithServerName")
	})
}

// WithClientIdentity gives a client the certificate it presents.
// (ClientSpec.Identity)
func WithClientIdentity(id IdentitySource) Option {
	return optionFunc(func(o *configOptions) {
		o.clientID = id
		o.clientOnly = append(o.clientOnly, "WithClientIdentity")
	})
}

// WithoutSessionTickets turns off server session resumption. It is on by
// default and safe: every resumed handshake is re-checked in
// VerifyConnection. (ServerSpec.DisableSessionTickets)
func WithoutSessionTickets() Option {
	return optionFunc(func(o *configOptions) {
		o.server.DisableSessionTickets = true
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

// parseOptions applies opts for ServerConfig (server true) or
// ClientConfig and refuses the options of the other side.
func parseOptions(opts []Option, server bool) (configOptions, error) {
	var o configOptions
	for _, f := range opts {
		if f != nil {
			f.apply(&o)
		}
	}
	if err := errors.Join(o.errs...); err != nil {
		return o, err
	}
	wrong, other := o.clientOnly, "ClientConfig"
	if !server {
		wrong, other = o.serverOnly, "ServerConfig"
	}
	if len(wrong) > 0 {
		return o, fmt.Errorf("tlsconfig: %w: %v apply only to %s", ErrBadOption, wrong, other)
	}
	return o, nil
}

// optionNames names spec fields by the option or argument that sets them,
// so errors from ServerConfig and ClientConfig speak of what the caller
// wrote. Fields no option sets have no name.
func optionNames(field string) string {
	switch field {
	case "Identity":
		return "the identity argument"
	case "ServerTrust":
		return "the trust argument"
	case "ClientTrust", "InsecureNoClientAuth", "Pins", "IdentityRules", "Authorizer", "CRL", "MinVersion", "ServerName":
		return "With" + field
	}
	return ""
}

// baseConfig is the policy shared by servers and clients.
func baseConfig(minVersion uint16) *tls.Config {
	return &tls.Config{
		MinVersion:       minVersion,
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
// no restart: NewServer with a ServerSpec of Identity and the options'
// fields. The caller owns the sources (nothing here needs closing). The
// returned config is never modified; pass it to grpc credentials.NewTLS or
// tls.Listen as is.
//
// Client authentication must be decided explicitly: WithClientTrust
// (clients must present a certificate from that bundle) or
// WithInsecureNoClientAuth; with neither, ServerConfig returns an error
// matching ErrNoClientTrust. ServerConfig refuses an identity whose leaf is
// outside its validity or lists extended key usages without serverAuth.
func ServerConfig(identity IdentitySource, opts ...Option) (*tls.Config, error) {
	o, err := parseOptions(opts, true)
	if err != nil {
		return nil, err
	}
	if identity == nil {
		return nil, fmt.Errorf("tlsconfig: %w: ServerConfig needs an identity source", ErrBadOption)
	}
	spec := o.server
	spec.Identity = identity
	srv, err := NewServer(spec)
	if err != nil {
		return nil, named(err, optionNames)
	}
	return srv.Config(), nil
}

// ClientConfig returns a client *tls.Config (e.g. for a chaincode that
// dials its peer) that verifies the server against the trust bundle
// current at each handshake, plus pins, identity rules and CRL; it
// presents the certificate from WithClientIdentity, if given. It is
// NewClient with a ClientSpec of ServerTrust and the options' fields.
func ClientConfig(trust TrustSource, opts ...Option) (*tls.Config, error) {
	o, err := parseOptions(opts, false)
	if err != nil {
		return nil, err
	}
	if trust == nil {
		return nil, fmt.Errorf("tlsconfig: %w: ClientConfig needs the trust source for the server's CA", ErrBadOption)
	}
	s := o.server
	cl, err := NewClient(ClientSpec{Identity: o.clientID, ServerTrust: trust, ServerName: o.serverName,
		Pins: s.Pins, IdentityRules: s.IdentityRules, Authorizer: s.Authorizer, CRL: s.CRL,
		MinVersion: s.MinVersion, Events: s.Events})
	if err != nil {
		return nil, named(err, optionNames)
	}
	return cl.Config(), nil
}

// certSelector builds the per-handshake config. It caches the config of
// the current identity, so a handshake allocates nothing new unless the
// certificate changed. The client bundle is read in VerifyConnection.
type certSelector struct {
	identity IdentitySource
	base     *tls.Config
	cache    atomic.Pointer[serverSnapshot]
}

type serverSnapshot struct {
	cert *tls.Certificate
	cfg  *tls.Config
}

func (s *certSelector) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.identity.Identity()
}

func (s *certSelector) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
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
