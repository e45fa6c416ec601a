package tlsconfig

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"strings"
	"sync/atomic"
	"time"
)

// CRLSource decides whether a verified chain is revoked. It is asked at
// every handshake and must be safe for concurrent use.
type CRLSource interface {
	// CheckChain gets a verified chain, leaf first, each certificate
	// followed by its issuer. It returns an error wrapping ErrRevoked or
	// ErrCRLStale to refuse the chain.
	CheckChain(chain []*x509.Certificate) error
}

// crlEntry is one parsed, signature-checked CRL.
type crlEntry struct {
	list          *x509.RevocationList
	signer        *x509.Certificate
	revoked       map[string]struct{} // serial number bytes
	staleReported atomic.Bool
}

type crlState struct {
	entries []*crlEntry
	sum     [32]byte
}

// parseCRLs reads one DER CRL or any number of PEM "X509 CRL" blocks and
// checks each signature against the trust bundle.
func parseCRLs(data []byte, trust []*x509.Certificate) ([]*crlEntry, error) {
	var ders [][]byte
	if bytes.Contains(data, []byte("-----BEGIN")) {
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type == "X509 CRL" {
				ders = append(ders, b.Bytes)
			}
		}
		if len(ders) == 0 {
			return nil, errors.New(`no "X509 CRL" PEM block found`)
		}
	} else {
		ders = [][]byte{data}
	}
	var out []*crlEntry
	for i, der := range ders {
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("CRL %d: %w", i+1, err)
		}
		var signer *x509.Certificate
		for _, c := range trust {
			if bytes.Equal(c.RawSubject, rl.RawIssuer) && rl.CheckSignatureFrom(c) == nil {
				signer = c
				break
			}
		}
		if signer == nil {
			return nil, fmt.Errorf("CRL %d (issuer %q): %w", i+1, rl.Issuer.String(), ErrCRLSignature)
		}
		e := &crlEntry{list: rl, signer: signer, revoked: make(map[string]struct{}, len(rl.RevokedCertificateEntries))}
		for _, r := range rl.RevokedCertificateEntries {
			e.revoked[string(r.SerialNumber.Bytes())] = struct{}{}
		}
		out = append(out, e)
	}
	return out, nil
}

// FileCRL is a set of CRLs read from one file (PEM, several CRLs allowed,
// or a single DER CRL), reloaded when it changes. Every CRL must be signed
// by a CA of the trust source. By default it fails closed: a chain whose
// issuer has no CRL, or whose CRL is past nextUpdate, is refused (see
// WithCRLFailOpen).
type FileCRL struct {
	fileBase
	trust    TrustSource
	failOpen bool
	now      func() time.Time
	cur      atomic.Pointer[crlState]
}

// NewFileCRL loads file and watches it. trust is the bundle that signs the
// CRLs (normally the same source as WithClientTrust).
func NewFileCRL(file string, trust TrustSource, opts ...SourceOption) (*FileCRL, error) {
	if trust == nil {
		return nil, fmt.Errorf("tlsconfig: %w: NewFileCRL needs the trust source whose CAs sign the CRLs", ErrBadOption)
	}
	o := buildSourceOptions(opts)
	c := &FileCRL{fileBase: fileBase{name: file, sink: newSink(o.events)}, trust: trust, failOpen: o.crlFailOpen, now: o.now}
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
		return fileErr(c.name, err, "put CRLs (PEM or DER) signed by the CAs of the trust bundle in %s (ccpki crl)", c.name)
	}
	s := &crlState{entries: entries, sum: sum}
	c.cur.Store(s)
	e := Event{Kind: EventLoaded, Source: c.name, NewSerial: crlNumbers(s), NotAfter: earliestNextUpdate(s)}
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
		if e.list.Number != nil {
			parts = append(parts, e.list.Number.Text(16))
		}
	}
	return strings.Join(parts, ",")
}

func earliestNextUpdate(s *crlState) time.Time {
	var t time.Time
	for _, e := range s.entries {
		if nu := e.list.NextUpdate; !nu.IsZero() && (t.IsZero() || nu.Before(t)) {
			t = nu
		}
	}
	return t
}

func (c *FileCRL) stale(e *crlEntry) bool {
	return !e.list.NextUpdate.IsZero() && c.now().After(e.list.NextUpdate)
}

// reportStale emits EventCRLStale once per stale CRL.
func (c *FileCRL) reportStale(s *crlState) {
	for _, e := range s.entries {
		if c.stale(e) && !e.staleReported.Swap(true) {
			c.sink.emit(Event{Kind: EventCRLStale, Source: c.name, NewSerial: numberHex(e), NotAfter: e.list.NextUpdate,
				Err: fmt.Errorf("CRL of %q was due for renewal at %s", e.list.Issuer.String(), e.list.NextUpdate.UTC().Format(time.RFC3339))})
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

// find returns the newest CRL issued by issuer.
func (c *FileCRL) find(s *crlState, issuer *x509.Certificate) *crlEntry {
	var best *crlEntry
	for _, e := range s.entries {
		if !bytes.Equal(e.list.RawIssuer, issuer.RawSubject) ||
			!bytes.Equal(e.signer.RawSubjectPublicKeyInfo, issuer.RawSubjectPublicKeyInfo) {
			continue
		}
		if best == nil || e.list.ThisUpdate.After(best.list.ThisUpdate) {
			best = e
		}
	}
	return best
}

// CheckChain implements CRLSource.
func (c *FileCRL) CheckChain(chain []*x509.Certificate) error {
	s := c.cur.Load()
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		e := c.find(s, issuer)
		if e == nil {
			if c.failOpen {
				continue
			}
			return fmt.Errorf("%w: no CRL from issuer %q in %s", ErrCRLStale, issuer.Subject.String(), c.name)
		}
		if _, ok := e.revoked[string(cert.SerialNumber.Bytes())]; ok {
			return fmt.Errorf("%w: serial %s issued by %q (CRL %s)", ErrRevoked, serialHex(cert), issuer.Subject.String(), c.name)
		}
		if c.stale(e) {
			c.reportStale(s)
			if !c.failOpen {
				return fmt.Errorf("%w: CRL of %q in %s expired at %s", ErrCRLStale, issuer.Subject.String(), c.name, e.list.NextUpdate.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}

// IsRevoked reports whether a CRL signed by cert's issuer lists cert.
func (c *FileCRL) IsRevoked(cert *x509.Certificate) bool {
	for _, e := range c.cur.Load().entries {
		if bytes.Equal(e.list.RawIssuer, cert.RawIssuer) && cert.CheckSignatureFrom(e.signer) == nil {
			if _, ok := e.revoked[string(cert.SerialNumber.Bytes())]; ok {
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
