package tlsconfig

import (
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// IdentitySource supplies the local certificate chain and key. It is asked
// at every handshake, so it must be fast and safe for concurrent use; the
// returned certificate must not be modified.
type IdentitySource interface {
	Identity() (*tls.Certificate, error)
}

// TrustSource supplies a CA bundle. It is asked at every handshake; the
// returned pool and slice must not be modified.
type TrustSource interface {
	Trust() (*x509.CertPool, []*x509.Certificate, error)
}

// SourceOption configures a source.
type SourceOption interface{ applySource(*sourceOptions) }

type sourceOptions struct {
	events        func(Event)
	poll          time.Duration
	debounce      time.Duration
	expiryWarning time.Duration
	insecureKey   bool
	crlFailOpen   bool
	crlFullChain  bool
	now           func() time.Time
}

func buildSourceOptions(opts []SourceOption) sourceOptions {
	o := sourceOptions{
		poll:          30 * time.Second,
		debounce:      50 * time.Millisecond,
		expiryWarning: 7 * 24 * time.Hour,
		now:           time.Now,
	}
	for _, f := range opts {
		f.applySource(&o)
	}
	return o
}

type sourceOptionFunc func(*sourceOptions)

func (f sourceOptionFunc) applySource(o *sourceOptions) { f(o) }

// WithPollInterval sets how often file sources re-read their files even
// without a change notification (default 30s). It is the fallback for file
// systems without inotify and for missed events.
func WithPollInterval(d time.Duration) SourceOption {
	return sourceOptionFunc(func(o *sourceOptions) {
		if d > 0 {
			o.poll = d
		}
	})
}

// WithExpiryWarning sets how long before NotAfter an EventExpiringSoon is
// emitted (default 7 days).
func WithExpiryWarning(d time.Duration) SourceOption {
	return sourceOptionFunc(func(o *sourceOptions) { o.expiryWarning = d })
}

// WithInsecureKeyPermissions accepts a key file that group or others may
// access (for example a Kubernetes secret volume with defaultMode 0440 and
// an fsGroup). Prefer mode 0600/0400 instead.
func WithInsecureKeyPermissions() SourceOption {
	return sourceOptionFunc(func(o *sourceOptions) { o.insecureKey = true })
}

// WithCRLFailOpen makes a CRL source admit peers whose revocation status is
// unknown (CRL past nextUpdate, no CRL for the leaf's issuer, or a CRL
// that does not verify against its issuer). The default is to refuse
// them. Only CRL sources accept this option.
func WithCRLFailOpen() SourceOption {
	return sourceOptionFunc(func(o *sourceOptions) { o.crlFailOpen = true })
}

// WithCRLRequireFullChain makes a CRL source demand a current CRL for
// every link of the chain, not only for the leaf's issuer: a peer whose
// intermediate has no CRL from the CA above it (normally the root's CRL)
// is refused. By default such a link is checked only when that CRL is in
// the file. Only CRL sources accept this option.
func WithCRLRequireFullChain() SourceOption {
	return sourceOptionFunc(func(o *sourceOptions) { o.crlFullChain = true })
}

// crlOnly refuses the CRL options on other sources.
func (o sourceOptions) crlOnly() error {
	switch {
	case o.crlFailOpen:
		return fmt.Errorf("tlsconfig: %w: WithCRLFailOpen applies only to CRL sources", ErrBadOption)
	case o.crlFullChain:
		return fmt.Errorf("tlsconfig: %w: WithCRLRequireFullChain applies only to CRL sources", ErrBadOption)
	}
	return nil
}

// EventsOption is accepted both by sources and by ServerConfig/ClientConfig.
type EventsOption struct{ fn func(Event) }

// WithEvents delivers events to fn. fn runs on a separate goroutine, in
// order; it never delays a handshake. Events queued beyond 1024 are dropped.
func WithEvents(fn func(Event)) EventsOption { return EventsOption{fn} }

func (e EventsOption) applySource(o *sourceOptions) { o.events = e.fn }
func (e EventsOption) apply(o *configOptions)       { o.server.Events = e.fn }

// identityState is one loaded identity and the bytes it came from.
type identityState struct {
	cert *tls.Certificate
	sum  [sha256.Size]byte
}

// identityHolder keeps the current identity and reports changes; file and
// pushed sources share it.
type identityHolder struct {
	name   string
	opts   sourceOptions
	sink   *sink
	mu     sync.Mutex // serialises stores
	cur    *identityState
	warned string // serial already warned about expiry
	ptr    atomic.Pointer[identityState]
}

func (h *identityHolder) load() *identityState { return h.ptr.Load() }

// store installs s unless it has the same content; it emits Loaded or Rotated.
func (h *identityHolder) store(s *identityState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.cur
	if old != nil && old.sum == s.sum {
		h.checkExpiryLocked()
		return
	}
	h.cur = s
	h.ptr.Store(s)
	e := Event{Kind: EventLoaded, Source: h.name, NewSerial: serialHex(s.cert.Leaf), NotAfter: s.cert.Leaf.NotAfter}
	if old != nil {
		e.Kind = EventRotated
		e.OldSerial = serialHex(old.cert.Leaf)
	}
	h.sink.emit(e)
	h.checkExpiryLocked()
}

func (h *identityHolder) checkExpiryLocked() {
	if h.cur == nil {
		return
	}
	leaf := h.cur.cert.Leaf
	serial := serialHex(leaf)
	if h.warned == serial || h.opts.now().Add(h.opts.expiryWarning).Before(leaf.NotAfter) {
		return
	}
	h.warned = serial
	h.sink.emit(Event{Kind: EventExpiringSoon, Source: h.name, NewSerial: serial, NotAfter: leaf.NotAfter})
}

func (h *identityHolder) failed(err error) {
	h.sink.emit(Event{Kind: EventReloadFailed, Source: h.name, Err: err})
}

func sumOf(parts ...[]byte) [sha256.Size]byte {
	d := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(d, "%d:", len(p))
		d.Write(p)
	}
	var s [sha256.Size]byte
	d.Sum(s[:0])
	return s
}

// staticIdentity serves fixed bytes.
type staticIdentity struct{ cert *tls.Certificate }

func (s staticIdentity) Identity() (*tls.Certificate, error) { return s.cert, nil }
func (s staticIdentity) String() string                      { return staticCertLabel }

// The labels errors give to in-memory material, in place of a file name.
const (
	staticCertLabel = "static certificate"
	staticKeyLabel  = "static private key"
)

// StaticIdentity parses a PEM certificate chain (leaf first) and its PEM
// private key. It refuses a mismatched key or a leaf outside its validity.
func StaticIdentity(certPEM, keyPEM []byte) (IdentitySource, error) {
	c, err := buildIdentity(certPEM, keyPEM, staticCertLabel, staticKeyLabel, time.Now())
	if err != nil {
		return nil, err
	}
	return staticIdentity{c}, nil
}

// trustState is one loaded bundle.
type trustState struct {
	pool  *x509.CertPool
	certs []*x509.Certificate
	sum   [sha256.Size]byte
}

func buildTrust(data []byte, name string) (*trustState, error) {
	certs, err := parseCertsPEM(data)
	if err != nil {
		return nil, fileErr(name, err, "put the PEM CA certificates to trust in %s", name)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return &trustState{pool: pool, certs: certs, sum: sumOf(data)}, nil
}

type staticTrust struct{ s *trustState }

func (t staticTrust) Trust() (*x509.CertPool, []*x509.Certificate, error) {
	return t.s.pool, t.s.certs, nil
}

// StaticTrust parses a PEM bundle of CA certificates.
func StaticTrust(pemBundle []byte) (TrustSource, error) {
	s, err := buildTrust(pemBundle, "static CA bundle")
	if err != nil {
		return nil, err
	}
	return staticTrust{s}, nil
}

// PushedIdentity holds an identity that a renewer sets in memory, e.g.
// after obtaining a new certificate from a CA. Handshakes use the latest
// successful Set.
type PushedIdentity struct{ h identityHolder }

// NewPushedIdentity returns an empty PushedIdentity; handshakes fail with
// ErrNoIdentity until the first Set. Only WithEvents and WithExpiryWarning
// apply.
func NewPushedIdentity(opts ...SourceOption) *PushedIdentity {
	o := buildSourceOptions(opts)
	return &PushedIdentity{h: identityHolder{name: "pushed", opts: o, sink: newSink(o.events)}}
}

// Set replaces the identity. It refuses (and keeps the previous one) a
// certificate without a chain, with a key that does not match the leaf, or
// with a leaf outside its validity.
func (p *PushedIdentity) Set(c tls.Certificate) error {
	if len(c.Certificate) == 0 {
		err := fileErr("pushed certificate", ErrNoCertificate, "pass a tls.Certificate with its DER chain, leaf first")
		p.h.failed(err)
		return err
	}
	leaf := c.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			err = fileErr("pushed certificate", err, "pass a well-formed DER leaf certificate")
			p.h.failed(err)
			return err
		}
	}
	pk, ok := leaf.PublicKey.(publicKeyEqualer)
	signer, isSigner := c.PrivateKey.(crypto.Signer)
	if !ok || !isSigner || !pk.Equal(signer.Public()) {
		err := fileErr("pushed certificate", ErrKeyMismatch, "pass the private key the certificate was issued for")
		p.h.failed(err)
		return err
	}
	if err := checkValidity(leaf, p.h.opts.now()); err != nil {
		err = fileErr("pushed certificate", err, "push a currently valid certificate")
		p.h.failed(err)
		return err
	}
	c.Leaf = leaf
	p.h.store(&identityState{cert: &c, sum: sumOf(c.Certificate...)})
	return nil
}

// Identity returns the latest identity set.
func (p *PushedIdentity) Identity() (*tls.Certificate, error) {
	s := p.h.load()
	if s == nil {
		return nil, ErrNoIdentity
	}
	return s.cert, nil
}

func (p *PushedIdentity) String() string { return "pushed certificate" }
