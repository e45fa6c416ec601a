package tlsconfig

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccserver/ccserver/internal/x509util"
)

// CRLSource decides whether a verified chain is revoked. It is asked at
// every handshake and must be safe for concurrent use.
type CRLSource interface {
	// CheckChain gets a verified chain, leaf first, each certificate
	// followed by its issuer. It returns an error wrapping ErrRevoked or
	// ErrCRLStale to refuse the chain.
	CheckChain(chain []*x509.Certificate) error
}

// maxSignerCache bounds the issuer certificates whose signature check is
// remembered per CRL. Only certificates of verified chains reach it, so a
// handful is normal (one CA, maybe an old and a new key while rotating).
const maxSignerCache = 16

// crlEntry is one parsed CRL. Its signature is checked against the CA
// certificate that issued the link being checked (a bundle anchor or an
// intermediate of the peer's verified chain); results are cached per
// issuer certificate, so a handshake normally costs a map lookup.
type crlEntry struct {
	list          *x509.RevocationList
	revoked       map[string]struct{} // serial number bytes
	bundleSigned  bool                // verified at load by a CA of the trust bundle
	staleReported atomic.Bool

	mu      sync.RWMutex
	signers map[string]signerResult // issuer certificate DER -> result
}

type signerResult struct {
	cert *x509.Certificate
	err  error // nil: the CRL's signature verifies against cert
}

// signedBy reports whether issuer signed the CRL, from the cache when it
// can.
func (e *crlEntry) signedBy(issuer *x509.Certificate) error {
	e.mu.RLock()
	r, ok := e.signers[string(issuer.Raw)]
	e.mu.RUnlock()
	if ok {
		return r.err
	}
	err := e.list.CheckSignatureFrom(issuer)
	e.remember(issuer, err)
	return err
}

func (e *crlEntry) remember(issuer *x509.Certificate, err error) {
	e.mu.Lock()
	if len(e.signers) < maxSignerCache {
		e.signers[string(issuer.Raw)] = signerResult{cert: issuer, err: err}
	}
	e.mu.Unlock()
}

// knownSigners returns the certificates the CRL was verified against.
func (e *crlEntry) knownSigners() []*x509.Certificate {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []*x509.Certificate
	for _, r := range e.signers {
		if r.err == nil {
			out = append(out, r.cert)
		}
	}
	return out
}

func (e *crlEntry) issuer() string { return e.list.Issuer.String() }

type crlState struct {
	entries  []*crlEntry
	byIssuer map[string][]*crlEntry // raw issuer name -> CRLs naming it
	sum      [32]byte
}

// parseCRLs parses the CRLs in data. A CRL whose issuer is a CA of the
// trust bundle must verify against it now; a CRL from any other issuer
// (normally an intermediate, which the bundle need not hold) is checked at
// handshake against the intermediate of the peer's verified chain.
func parseCRLs(data []byte, trust []*x509.Certificate) ([]*crlEntry, error) {
	lists, err := x509util.ParseCRLs(data)
	if err != nil {
		return nil, err
	}
	out := make([]*crlEntry, 0, len(lists))
	for i, rl := range lists {
		e := &crlEntry{list: rl, signers: map[string]signerResult{},
			revoked: make(map[string]struct{}, len(rl.RevokedCertificateEntries))}
		for _, r := range rl.RevokedCertificateEntries {
			e.revoked[string(r.SerialNumber.Bytes())] = struct{}{}
		}
		named := 0
		for _, c := range trust {
			if !bytes.Equal(c.RawSubject, rl.RawIssuer) {
				continue
			}
			named++
			err := rl.CheckSignatureFrom(c)
			e.remember(c, err)
			if err == nil {
				e.bundleSigned = true
			}
		}
		if named > 0 && !e.bundleSigned {
			return nil, fmt.Errorf("CRL %d (issuer %q): %w: the trust bundle holds %d CA certificate(s) with that name and none verifies it (a CRL from another CA with the same name, or a re-keyed CA?)",
				i+1, e.issuer(), ErrCRLSignature, named)
		}
		out = append(out, e)
	}
	return out, nil
}

func newCRLState(entries []*crlEntry, sum [32]byte) *crlState {
	s := &crlState{entries: entries, byIssuer: map[string][]*crlEntry{}, sum: sum}
	for _, e := range entries {
		k := string(e.list.RawIssuer)
		s.byIssuer[k] = append(s.byIssuer[k], e)
	}
	return s
}

// crlFor returns the newest CRL that issuer signed. named reports whether
// any CRL names issuer at all, so that a signature failure can be told
// apart from a missing CRL.
func (s *crlState) crlFor(issuer *x509.Certificate) (best *crlEntry, named bool) {
	for _, e := range s.byIssuer[string(issuer.RawSubject)] {
		named = true
		if e.signedBy(issuer) != nil {
			continue
		}
		if best == nil || e.list.ThisUpdate.After(best.list.ThisUpdate) {
			best = e
		}
	}
	return best, named
}

// issuers lists the issuers of the CRLs held, for error messages.
func (s *crlState) issuers() string {
	var names []string
	for _, e := range s.entries {
		names = append(names, fmt.Sprintf("%q", e.issuer()))
	}
	return strings.Join(names, ", ")
}

// FileCRL is a set of CRLs read from one file (PEM, several CRLs allowed,
// or a single DER CRL), reloaded when it changes.
//
// A CRL counts only if its signature verifies against the certificate of
// the CA that issued the link being checked: a CA of the trust bundle, or
// an intermediate of the peer's verified chain. So the bundle may hold the
// root alone while the file holds the intermediate's CRL.
//
// Coverage, failing closed by default: the leaf's issuer must have a
// current CRL, else the peer is refused. A higher link (an intermediate
// and the CA above it) is checked when a CRL from that CA is present; when
// there is none it is let through, unless WithCRLRequireFullChain. A CRL
// past its nextUpdate, or one that names the issuer but does not verify,
// refuses the peer unless WithCRLFailOpen.
type FileCRL struct {
	fileBase
	trust     TrustSource
	failOpen  bool
	fullChain bool
	now       func() time.Time
	cur       atomic.Pointer[crlState]
}

// NewFileCRL loads file and watches it. trust is the client CA bundle
// (normally the same source as WithClientTrust): CRLs from its CAs are
// verified at load, others at handshake against the peer's chain.
func NewFileCRL(file string, trust TrustSource, opts ...SourceOption) (*FileCRL, error) {
	if trust == nil {
		return nil, fmt.Errorf("tlsconfig: %w: NewFileCRL needs the trust source whose CAs issue the peers' chains", ErrBadOption)
	}
	o := buildSourceOptions(opts)
	if o.crlFailOpen && o.crlFullChain {
		return nil, fmt.Errorf("tlsconfig: %w: WithCRLFailOpen admits peers whose revocation status is unknown, WithCRLRequireFullChain refuses them; choose one", ErrBadOption)
	}
	c := &FileCRL{fileBase: fileBase{name: file, sink: newSink(o.events)}, trust: trust,
		failOpen: o.crlFailOpen, fullChain: o.crlFullChain, now: o.now}
	if err := c.load(); err != nil {
		return nil, err
	}
	c.start([]string{file}, o, c.Reload)
	return c, nil
}

func (c *FileCRL) load() error {
	data, err := readConsistent(c.name)
	if err != nil {
		return fileErr(c.name, err, "make sure %s exists and is readable", c.name)
	}
	sum := sumOf(data[0])
	old := c.cur.Load()
	if old != nil && old.sum == sum {
		c.reportStale(old)
		return nil
	}
	_, certs, err := c.trust.Trust()
	if err != nil {
		return fileErr(c.name, err, "fix the trust bundle the CRLs are checked against")
	}
	entries, err := parseCRLs(data[0], certs)
	if err != nil {
		return fileErr(c.name, err, "put CRLs (PEM or DER) signed by the CAs that issue your peers' certificates in %s", c.name)
	}
	s := newCRLState(entries, sum)
	c.cur.Store(s)
	this, next := crlTimes(s)
	e := Event{Kind: EventLoaded, Source: c.name, NewSerial: crlNumbers(s), NotAfter: next, ThisUpdate: this, NextUpdate: next}
	if old != nil {
		e.Kind, e.OldSerial = EventRotated, crlNumbers(old)
	}
	c.sink.emit(e)
	c.reportStale(s)
	return nil
}

func crlNumbers(s *crlState) string {
	var parts []string
	for _, e := range s.entries {
		if n := numberHex(e); n != "" {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, ",")
}

// crlTimes returns the oldest thisUpdate (the age of the CRLs) and the
// earliest nextUpdate (when the first one goes stale).
func crlTimes(s *crlState) (oldestThis, earliestNext time.Time) {
	for _, e := range s.entries {
		if tu := e.list.ThisUpdate; oldestThis.IsZero() || tu.Before(oldestThis) {
			oldestThis = tu
		}
		if nu := e.list.NextUpdate; !nu.IsZero() && (earliestNext.IsZero() || nu.Before(earliestNext)) {
			earliestNext = nu
		}
	}
	return oldestThis, earliestNext
}

func (c *FileCRL) stale(e *crlEntry) bool {
	return !e.list.NextUpdate.IsZero() && c.now().After(e.list.NextUpdate)
}

// reportStale emits EventCRLStale once per stale CRL.
func (c *FileCRL) reportStale(s *crlState) {
	for _, e := range s.entries {
		if c.stale(e) && !e.staleReported.Swap(true) {
			c.sink.emit(Event{Kind: EventCRLStale, Source: c.name, NewSerial: numberHex(e), NotAfter: e.list.NextUpdate,
				ThisUpdate: e.list.ThisUpdate, NextUpdate: e.list.NextUpdate,
				Err: fmt.Errorf("CRL of %q was due for renewal at %s", e.issuer(), e.list.NextUpdate.UTC().Format(time.RFC3339))})
		}
	}
}

func numberHex(e *crlEntry) string {
	if e.list.Number == nil {
		return ""
	}
	return e.list.Number.Text(16)
}

// Reload re-reads the file now; on error the last good CRLs stay and
// EventReloadFailed is emitted.
func (c *FileCRL) Reload() error { return c.reload(c.load) }

// CheckChain implements CRLSource. chain must be verified: its
// certificates are the ones the CRL signatures are checked against.
func (c *FileCRL) CheckChain(chain []*x509.Certificate) error {
	s := c.cur.Load()
	for i := 0; i+1 < len(chain); i++ {
		if err := c.checkLink(s, chain[i], chain[i+1], i == 0 || c.fullChain); err != nil {
			if i > 0 && c.fullChain && errors.Is(err, ErrCRLStale) {
				err = fmt.Errorf("%w (WithCRLRequireFullChain wants a CRL for every link, the intermediates' too)", err)
			}
			return err
		}
	}
	return nil
}

// checkLink checks cert against the CRLs of its issuer. required says
// whether a missing CRL refuses the chain.
func (c *FileCRL) checkLink(s *crlState, cert, issuer *x509.Certificate, required bool) error {
	e, named := s.crlFor(issuer)
	if e == nil {
		switch {
		case c.failOpen:
			return nil
		case named:
			return fmt.Errorf("%w: %w: the CRL naming %q in %s does not verify against that CA's certificate in the peer's chain (serial %s); publish a CRL signed by it",
				ErrCRLStale, ErrCRLSignature, issuer.Subject.String(), c.name, serialHex(issuer))
		case required && len(s.entries) > 0:
			return fmt.Errorf("%w: no CRL from issuer %q in %s (it holds CRLs from %s); add that CA's CRL",
				ErrCRLStale, issuer.Subject.String(), c.name, s.issuers())
		case required:
			return fmt.Errorf("%w: no CRL from issuer %q in %s", ErrCRLStale, issuer.Subject.String(), c.name)
		}
		return nil
	}
	if _, ok := e.revoked[string(cert.SerialNumber.Bytes())]; ok {
		return fmt.Errorf("%w: serial %s (%q) issued by %q (CRL %s)", ErrRevoked, serialHex(cert), cert.Subject.String(), issuer.Subject.String(), c.name)
	}
	if c.stale(e) {
		c.reportStale(s)
		if !c.failOpen {
			return fmt.Errorf("%w: CRL of %q in %s expired at %s", ErrCRLStale, issuer.Subject.String(), c.name, e.list.NextUpdate.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// IsRevoked reports whether a CRL of cert's issuer lists cert. Only CRLs
// whose signer is known count: CRLs from a CA of the trust bundle, and
// CRLs already verified against an intermediate of a peer's chain.
func (c *FileCRL) IsRevoked(cert *x509.Certificate) bool {
	for _, e := range c.cur.Load().byIssuer[string(cert.RawIssuer)] {
		if _, ok := e.revoked[string(cert.SerialNumber.Bytes())]; !ok {
			continue
		}
		for _, signer := range e.knownSigners() {
			if cert.CheckSignatureFrom(signer) == nil {
				return true
			}
		}
	}
	return false
}

// Check re-examines an open connection's peer against the current CRLs
// and trust bundle. A serving layer calls it after a CRL reload (or
// periodically) and closes, once idle, the connections it refuses. Hooks
// run only at handshake, so without this an open connection of a revoked
// peer stays open.
func (c *FileCRL) Check(state tls.ConnectionState) error {
	if len(state.PeerCertificates) == 0 {
		return &HandshakeError{Reason: ReasonNoCertificate, Err: errors.New("connection has no peer certificate")}
	}
	pool, _, err := c.trust.Trust()
	if err != nil {
		return err
	}
	chains, err := verifyChain(state.PeerCertificates, pool, "", x509.ExtKeyUsageAny, c.now())
	if err != nil {
		return &HandshakeError{Reason: classify(err), Err: err}
	}
	if err := checkAllChains(chains, c); err != nil {
		return &HandshakeError{Reason: classify(err), Err: err}
	}
	return nil
}
