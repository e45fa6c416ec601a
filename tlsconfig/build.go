package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// owned is what a Server or Client opened itself and must reload and close.
type owned struct {
	reloaders []interface{ Reload() error }
	closers   []io.Closer
	sinks     []*sink
	once      sync.Once
}

func (o *owned) add(src interface {
	Reload() error
	io.Closer
}) {
	o.reloaders = append(o.reloaders, src)
	o.closers = append(o.closers, src)
}

// Reload re-reads every file now (for SIGHUP). A file that fails keeps
// its last good material; the errors are joined.
func (o *owned) Reload() error {
	var errs []error
	for _, r := range o.reloaders {
		errs = append(errs, r.Reload())
	}
	return errors.Join(errs...)
}

// Close stops the file watchers and waits for pending events. The config
// keeps serving the last material; Close is idempotent.
func (o *owned) Close() error {
	var errs []error
	o.once.Do(func() {
		for _, c := range o.closers {
			errs = append(errs, c.Close())
		}
		for _, s := range o.sinks {
			s.flush()
		}
	})
	return errors.Join(errs...)
}

// material is a spec's sources, opened.
type material struct {
	identity IdentitySource // nil for a client without a certificate
	trust    TrustSource    // nil for a server without client auth
	crl      CRLSource
	orgs     *orgTrust // the allow list, also in trust; nil without one
}

// open validates a spec's parts and loads what they name into own.
// Watched bundles and CRLs report to watchedEvents (which may also note
// that they changed), everything else to events. On error the caller
// closes own.
func open(own *owned, p parts, insecureKey bool, events, watchedEvents func(Event)) (_ material, err error) {
	if err := p.validate(); err != nil {
		return material{}, err
	}
	id, tf, c := p.id, p.trust, p.checks
	srcOpts := []SourceOption{WithEvents(events)}
	if insecureKey {
		srcOpts = append(srcOpts, WithInsecureKeyPermissions())
	}
	var m material
	switch {
	case id.src != nil:
		m.identity = id.src
	case id.certFile != "":
		fi, err := NewFileIdentity(id.certFile, id.keyFile, srcOpts...)
		if err != nil {
			return m, identityErr(id, err)
		}
		own.add(fi)
		m.identity = fi
	case len(id.cert) > 0:
		if m.identity, err = StaticIdentity(id.cert, id.key); err != nil {
			return m, identityErr(id, err)
		}
	}
	watched := []SourceOption{WithEvents(watchedEvents)}
	switch {
	case tf.src != nil:
		m.trust = tf.src
	case tf.file != "":
		ft, err := NewFileTrust(tf.file, watched...)
		if err != nil {
			return m, fieldErr(tf.fileField(), err)
		}
		own.add(ft)
		m.trust = ft
	case len(tf.pem) > 0:
		if m.trust, err = StaticTrust(tf.pem); err != nil {
			return m, fieldErr(tf.certsField(), err)
		}
	}
	if tf.prefix == "Client" && m.trust != nil && !p.leafCA {
		if err := requireCAs(m.trust); err != nil {
			return m, &FieldError{Field: tf.set(), Err: err, text: "{" + tf.set() + "}: {err}[; {InsecureClientCALeaf} admits exactly such a certificate]"}
		}
	}
	if p.orgs.given() {
		ot, err := newOrgTrust(m.trust, p.orgs, watched...)
		if err != nil {
			return m, fieldErr(p.orgs.field(), err)
		}
		own.add(ot)
		m.trust, m.orgs = ot, ot
	}
	switch {
	case c.crl != nil:
		m.crl = c.crl
	case c.crlFile != "":
		opts := watched
		if c.crlFailOpen {
			opts = append(opts, WithCRLFailOpen())
		}
		if c.fullChain {
			opts = append(opts, WithCRLRequireFullChain())
		}
		fc, err := NewFileCRL(c.crlFile, m.trust, opts...)
		if err != nil {
			return m, fieldErr("CRLFile", err)
		}
		own.add(fc)
		m.crl = fc
	}
	return m, nil
}

// requireCAs refuses a bundle with a certificate that is not a CA.
func requireCAs(t TrustSource) error {
	_, certs, err := t.Trust()
	if err != nil {
		return err
	}
	for _, c := range certs {
		if !c.IsCA {
			return fmt.Errorf("%w: %q (serial %s) is a leaf; give the CA that issued the peers' certificates", ErrNotCA, c.Subject.String(), serialHex(c))
		}
	}
	return nil
}

// identityErr names the identity field a load failure is about: the key
// (and, for permissions, the switch that accepts it) or the certificate.
func identityErr(id identityFields, err error) *FieldError {
	var fe *FileError
	keyFault := errors.As(err, &fe) && (fe.File == id.keyFile && id.keyFile != "" || fe.File == staticKeyLabel)
	switch {
	case errors.Is(err, ErrKeyPermissions):
		return &FieldError{Field: "KeyFile", Err: err, text: "{KeyFile}: {err}[; {InsecureKeyPermissions} accepts such a file]"}
	case keyFault && id.keyFile != "":
		return fieldErr("KeyFile", err)
	case keyFault:
		return fieldErr("Key", err)
	}
	return fieldErr(id.field(), err)
}

// withChanged returns an event handler that passes events on and calls
// changed after a watched bundle or CRL was replaced.
func withChanged(events func(Event), changed func()) func(Event) {
	if changed == nil {
		return events
	}
	return func(e Event) {
		if events != nil {
			events(e)
		}
		if e.Kind == EventRotated {
			changed()
		}
	}
}

// verifier checks peers against the opened material m (its trust and CRL,
// not the spec's source fields, which m already includes).
func (c checkFields) verifier(side string, m material, usage x509.ExtKeyUsage, serverName string, sk *sink) *peerVerifier {
	return &peerVerifier{side: side, trust: m.trust, usage: usage, serverName: serverName, pins: c.pinSet(),
		rules: c.rules, crl: m.crl, authorize: c.authorizer, orgs: m.orgs, sink: sk, now: time.Now}
}

// Server is a built ServerSpec: the *tls.Config to serve with, and the
// sources it opened, which Reload re-reads and Close stops.
type Server struct {
	owned
	cfg      *tls.Config
	verifier *peerVerifier // nil without client authentication
}

// NewServer validates spec, loads its files and returns the server. It
// refuses (with a *FieldError naming the field) what Validate refuses, and
// material that does not load: a missing or malformed file, a key that does
// not match, a key file others can read, a leaf outside its validity or
// without the serverAuth usage.
func NewServer(spec ServerSpec) (_ *Server, err error) {
	s := &Server{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	p := spec.parts()
	m, err := open(&s.owned, p, spec.InsecureKeyPermissions, spec.Events, withChanged(spec.Events, spec.TrustChanged))
	if err != nil {
		return nil, err
	}
	if err := checkServerLeaf(m.identity); err != nil {
		return nil, fieldErr(p.id.field(), err)
	}
	base := baseConfig(spec.MinVersion.orDefault())
	base.SessionTicketsDisabled = spec.DisableSessionTickets
	if m.trust != nil {
		sk := newSink(spec.Events)
		s.sinks = append(s.sinks, sk)
		base.ClientAuth = tls.RequestClientCert
		s.verifier = p.checks.verifier("server", m, x509.ExtKeyUsageClientAuth, "", sk)
		base.VerifyConnection = s.verifier.verifyConnection
	}
	sel := &certSelector{identity: m.identity, base: base}
	s.cfg = base.Clone()
	s.cfg.GetConfigForClient = sel.configForClient
	s.cfg.GetCertificate = sel.certificate
	return s, nil
}

// checkServerLeaf refuses an identity whose leaf cannot serve now.
func checkServerLeaf(identity IdentitySource) error {
	name := describe(identity, "server identity")
	cert, err := identity.Identity()
	if err != nil {
		return err
	}
	leaf, err := leafOf(cert)
	if err != nil {
		return fileErr(name, err, "provide a PEM certificate chain, leaf first")
	}
	if err := checkValidity(leaf, time.Now()); err != nil {
		return fileErr(name, err, "renew the server certificate and replace %s", name)
	}
	if !hasEKU(leaf, x509.ExtKeyUsageServerAuth) {
		return fileErr(name, fmt.Errorf("%w (it has %v)", ErrNoServerAuth, leaf.ExtKeyUsage),
			"re-issue %s as a server certificate (with the serverAuth extended key usage)", name)
	}
	return nil
}

// Config returns the server config. It is never modified: certificate and
// client bundle are chosen at each handshake, so rotation needs no
// restart. Pass it to grpc credentials.NewTLS or tls.Listen as is.
//
// The client chain is verified by this package in VerifyConnection, not by
// crypto/tls, so ClientAuth reads RequestClientCert: a missing or
// unverifiable certificate is still refused, with a Reason and an event.
func (s *Server) Config() *tls.Config { return s.cfg }

// CheckConnection runs every check of the handshake again on an open
// connection's state, against the bundle and CRL current now: a serving
// layer calls it from TrustChanged and closes, once idle, the connections
// it refuses. Hooks run only at handshake, so without this an open
// connection of a revoked peer stays open. It emits no event. Without
// client authentication there is nothing to check and it returns nil.
func (s *Server) CheckConnection(state tls.ConnectionState) error {
	if s.verifier == nil {
		return nil
	}
	if he := s.verifier.recheck(state); he != nil {
		return he
	}
	return nil
}

// Client is a built ClientSpec.
type Client struct {
	owned
	cfg *tls.Config
}

// NewClient validates spec, loads its files and returns the client.
func NewClient(spec ClientSpec) (_ *Client, err error) {
	cl := &Client{}
	defer func() {
		if err != nil {
			cl.Close()
		}
	}()
	p := spec.parts()
	m, err := open(&cl.owned, p, spec.InsecureKeyPermissions, spec.Events, spec.Events)
	if err != nil {
		return nil, err
	}
	if _, _, err := m.trust.Trust(); err != nil {
		return nil, fieldErr(p.trust.set(), err)
	}
	if id := m.identity; id != nil {
		if _, err := id.Identity(); err != nil && !errors.Is(err, ErrNoIdentity) {
			return nil, fieldErr(p.id.field(), err)
		}
	}
	sk := newSink(spec.Events)
	cl.sinks = append(cl.sinks, sk)
	cfg := baseConfig(spec.MinVersion.orDefault())
	cfg.ServerName = spec.ServerName
	cfg.InsecureSkipVerify = true // verification happens in VerifyConnection, below
	cfg.VerifyConnection = p.checks.verifier("client", m, x509.ExtKeyUsageServerAuth, spec.ServerName, sk).verifyConnection
	if id := m.identity; id != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return id.Identity()
		}
	}
	cl.cfg = cfg
	return cl, nil
}

// Config returns the client config, never modified after NewClient.
//
// Because crypto/tls cannot swap RootCAs on a live config, the chain is
// verified in VerifyConnection and InsecureSkipVerify is set to turn off
// only the built-in check; the server name is still checked (ServerName,
// else the name dialed).
func (c *Client) Config() *tls.Config { return c.cfg }

// named makes a FieldError name its fields with names in Error (the
// options API names its options).
func named(err error, names func(string) string) error {
	var fe *FieldError
	if names == nil || !errors.As(err, &fe) {
		return err
	}
	cp := *fe
	cp.names = names
	return &cp
}
