package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// IdentityRule admits a peer whose leaf certificate matches every non-empty
// field; within a field one match is enough. A peer passes when it matches
// any of the configured rules. Example: only Org1MSP's peers:
// IdentityRule{Organizations: []string{"Org1MSP"}}.
type IdentityRule struct {
	DNSNames            []string // SAN DNS names, compared exactly (case-insensitive)
	URIs                []string // SAN URIs, compared exactly
	Organizations       []string // subject O
	OrganizationalUnits []string // subject OU
}

func (r IdentityRule) empty() bool {
	return len(r.DNSNames) == 0 && len(r.URIs) == 0 && len(r.Organizations) == 0 && len(r.OrganizationalUnits) == 0
}

func (r IdentityRule) matches(leaf *x509.Certificate) bool {
	anyOf := func(want, have []string, eq func(a, b string) bool) bool {
		if len(want) == 0 {
			return true
		}
		for _, w := range want {
			for _, h := range have {
				if eq(w, h) {
					return true
				}
			}
		}
		return false
	}
	same := func(a, b string) bool { return a == b }
	uris := make([]string, len(leaf.URIs))
	for i, u := range leaf.URIs {
		uris[i] = u.String()
	}
	return anyOf(r.DNSNames, leaf.DNSNames, strings.EqualFold) &&
		anyOf(r.URIs, uris, same) &&
		anyOf(r.Organizations, leaf.Subject.Organization, same) &&
		anyOf(r.OrganizationalUnits, leaf.Subject.OrganizationalUnit, same)
}

// String gives the rule's text form (see ParseIdentityRule).
func (r IdentityRule) String() string {
	var parts []string
	add := func(k string, v []string) {
		if len(v) > 0 {
			parts = append(parts, k+"="+strings.Join(v, "|"))
		}
	}
	add("dns", r.DNSNames)
	add("uri", r.URIs)
	add("o", r.Organizations)
	add("ou", r.OrganizationalUnits)
	return strings.Join(parts, ",")
}

// ParseIdentityRule reads a rule's text form, as a command line gives it:
// comma-separated terms key=value with the keys dns (SAN DNS name), uri
// (SAN URI), o (subject O) and ou (subject OU); within a term "|"
// separates alternatives, and a key given twice adds alternatives. Every
// key must match, one alternative is enough: "o=Org1MSP,ou=peer|admin".
// Values cannot contain "," or "|".
func ParseIdentityRule(s string) (IdentityRule, error) {
	var r IdentityRule
	for term := range strings.SplitSeq(s, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(term), "=")
		var dst *[]string
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "dns":
			dst = &r.DNSNames
		case "uri":
			dst = &r.URIs
		case "o":
			dst = &r.Organizations
		case "ou":
			dst = &r.OrganizationalUnits
		}
		if !ok || dst == nil {
			return IdentityRule{}, classed(fmt.Errorf("identity rule %q: term %q: want dns=, uri=, o= or ou= followed by a value", s, strings.TrimSpace(term)), ErrBadOption)
		}
		for alt := range strings.SplitSeq(val, "|") {
			if alt = strings.TrimSpace(alt); alt == "" {
				return IdentityRule{}, classed(fmt.Errorf("identity rule %q: term %q has an empty value", s, strings.TrimSpace(term)), ErrBadOption)
			}
			*dst = append(*dst, alt)
		}
	}
	return r, nil
}

// MarshalText writes the text form.
func (r IdentityRule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads the text form (ParseIdentityRule).
func (r *IdentityRule) UnmarshalText(b []byte) error {
	p, err := ParseIdentityRule(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// verifyChain builds chains from certs (leaf first, then the intermediates
// the peer sent) to roots.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool, dnsName string, usage x509.ExtKeyUsage, now time.Time) ([][]*x509.Certificate, error) {
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	return certs[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, DNSName: dnsName,
		CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage},
	})
}

// firstPassing returns nil if check accepts any chain, else the error for
// the first chain.
func firstPassing(chains [][]*x509.Certificate, check func([]*x509.Certificate) error) error {
	var first error
	for _, ch := range chains {
		err := check(ch)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// peerVerifier runs in VerifyConnection, so it also runs on resumed
// sessions. It verifies the peer's chain against the trust bundle current
// at this handshake, then pins, identity rules and revocation.
type peerVerifier struct {
	side       string // "server" or "client": which side we are
	trust      TrustSource
	usage      x509.ExtKeyUsage
	serverName string
	pins       pinSet
	rules      []IdentityRule
	crl        CRLSource
	authorize  Authorizer
	orgs       *orgTrust
	sink       *sink
	now        func() time.Time
}

func (v *peerVerifier) verifyConnection(state tls.ConnectionState) error {
	he := v.recheck(state)
	if he == nil {
		return nil
	}
	e := Event{Kind: EventHandshakeRejected, Source: v.side, Reason: he.Reason, Err: he}
	if len(state.PeerCertificates) > 0 {
		e.Peer = state.PeerCertificates[0].Subject.String()
		e.NewSerial = serialHex(state.PeerCertificates[0])
	}
	v.sink.emit(e)
	return he
}

func (v *peerVerifier) check(state tls.ConnectionState) error {
	if len(state.PeerCertificates) == 0 {
		return &HandshakeError{Reason: ReasonNoCertificate, Err: errors.New("peer sent no certificate; a certificate issued by a trusted CA is required")}
	}
	pool, _, err := v.trust.Trust()
	if err != nil {
		return &HandshakeError{Reason: ReasonOther, Err: fmt.Errorf("trust bundle: %w", err)}
	}
	name := ""
	if v.side == "client" {
		name = v.serverName
		if name == "" {
			name = state.ServerName
		}
		if name == "" {
			return &HandshakeError{Reason: ReasonIdentityRule, Err: fmt.Errorf("%w: no server name to check the certificate against; set ServerName (WithServerName)", ErrBadOption)}
		}
	}
	chains, err := verifyChain(state.PeerCertificates, pool, name, v.usage, v.now())
	if err != nil {
		return &HandshakeError{Reason: classify(err), Err: err}
	}
	leaf := state.PeerCertificates[0]
	if len(v.rules) > 0 && !slices.ContainsFunc(v.rules, func(r IdentityRule) bool { return r.matches(leaf) }) {
		return &HandshakeError{Reason: ReasonIdentityRule, Err: fmt.Errorf("%w: subject %q, DNS %v, URIs %v; rules %v",
			ErrIdentityRule, leaf.Subject.String(), leaf.DNSNames, leaf.URIs, v.rules)}
	}
	if len(v.pins) > 0 {
		err := firstPassing(chains, func(chain []*x509.Certificate) error {
			if v.pins.matchAny(chain) {
				return nil
			}
			seen := make([]string, len(chain))
			for i, c := range chain {
				seen[i] = PinOf(c).String()
			}
			return fmt.Errorf("%w: chain pins %v", ErrPinMismatch, seen)
		})
		if err != nil {
			return &HandshakeError{Reason: ReasonPin, Err: err}
		}
	}
	if v.orgs != nil {
		if _, err := v.orgs.admit(leaf, chains); err != nil {
			return &HandshakeError{Reason: ReasonOrg, Err: err}
		}
	}
	if v.crl != nil {
		// Every chain, not just one: a bundle holding an intermediate
		// makes it an anchor, and the chain through the root is the one
		// that can show the intermediate revoked.
		if err := checkAllChains(chains, v.crl); err != nil {
			return &HandshakeError{Reason: ReasonRevoked, Err: err}
		}
	}
	if v.authorize != nil {
		if err := v.authorize(chains); err != nil {
			var he *HandshakeError
			if errors.As(err, &he) {
				return he
			}
			return &HandshakeError{Reason: ReasonAuthorizer, Err: fmt.Errorf("%w: %w", ErrNotAuthorized, err)}
		}
	}
	return nil
}

// recheck runs check and classifies a refusal, without reporting it: an
// open connection's re-check is not a handshake.
func (v *peerVerifier) recheck(state tls.ConnectionState) *HandshakeError {
	err := v.check(state)
	if err == nil {
		return nil
	}
	var he *HandshakeError
	if errors.As(err, &he) {
		return he
	}
	return &HandshakeError{Reason: classify(err), Err: err}
}

func checkAllChains(chains [][]*x509.Certificate, crl CRLSource) error {
	for _, ch := range chains {
		if err := crl.CheckChain(ch); err != nil {
			return err
		}
	}
	return nil
}
