package tlsconfig

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ccserver/ccserver/internal/x509util"
)

// ErrOrgNotAllowed: the peer's organisation is not in the allow list, or
// its certificate was not issued by that organisation's CA (or pin).
var ErrOrgNotAllowed = errors.New("organisation not admitted")

// ReasonOrg is a refusal by the per-organisation allow list.
const ReasonOrg Reason = "org"

// OrgsSource is the Source of the allow list's events (ServerSpec.Orgs
// and OrgsDir): loaded, rotated when an org or its CA changed, reload
// failed.
const OrgsSource = "allow-list"

// OrgAdmission admits the peers of one organisation, bound to its own
// trust. A peer's organisation is the subject O of its client certificate
// (what "ccpki issue --org Org1MSP" writes; use the MSP id), which its CA
// vouches for: so a peer is admitted as Org only if its verified chain
// ends in a CA of CAFile, or holds one of Pins. An Org2MSP certificate
// issued by Org1's CA is refused.
type OrgAdmission struct {
	Org string
	// CAFile is the PEM bundle of the CAs that issue Org's peer
	// certificates; re-read on change, like every file here.
	CAFile string
	// Pins, instead of CAFile: SPKI pins (ParsePin forms) one of which
	// the peer's chain must hold; the chain itself is verified against the
	// client CA bundle (ClientCAFile) or the other orgs' CAs.
	Pins []string
}

// ParseOrgAdmission reads the text form ORG=SOURCE, where SOURCE is a pin
// (sha256/<base64> or hex) or else a CA bundle file:
// "Org1MSP=/etc/ccserver/orgs/org1-ca.pem", "Org2MSP=sha256/AbC…=".
func ParseOrgAdmission(s string) (OrgAdmission, error) {
	org, src, ok := strings.Cut(strings.TrimSpace(s), "=")
	org, src = strings.TrimSpace(org), strings.TrimSpace(src)
	if !ok || org == "" || src == "" {
		return OrgAdmission{}, classed(fmt.Errorf("allow %q: want ORG=CAFILE or ORG=PIN, e.g. Org1MSP=/etc/ccserver/org1-ca.pem", s), ErrBadOption)
	}
	if _, err := x509util.ParsePin(src); err == nil {
		return OrgAdmission{Org: org, Pins: []string{src}}, nil
	}
	return OrgAdmission{Org: org, CAFile: src}, nil
}

// String gives the text form (ParseOrgAdmission); several pins are
// joined with ",".
func (a OrgAdmission) String() string {
	if a.CAFile != "" {
		return a.Org + "=" + a.CAFile
	}
	return a.Org + "=" + strings.Join(a.Pins, ",")
}

// MarshalText writes the text form.
func (a OrgAdmission) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads the text form.
func (a *OrgAdmission) UnmarshalText(b []byte) error {
	p, err := ParseOrgAdmission(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// orgFields are ServerSpec's allow-list fields.
type orgFields struct {
	list []OrgAdmission
	dir  string
}

func (f orgFields) given() bool { return len(f.list) > 0 || f.dir != "" }

// field names the field that set the allow list.
func (f orgFields) field() string {
	if len(f.list) > 0 {
		return "Orgs"
	}
	return "OrgsDir"
}

func (f orgFields) validate(clientCA bool) *FieldError {
	cas := f.dir != ""
	for _, a := range f.list {
		switch {
		case a.Org == "":
			return valueErr("Orgs", a.String(), fmt.Errorf("%w: no organisation name; give the MSP id the peers' certificates carry as subject O", ErrBadOption))
		case a.CAFile != "" && len(a.Pins) > 0:
			return valueErr("Orgs", a.String(), fmt.Errorf("%w: give the org's trust one way, a CA file or pins", ErrConflict))
		case a.CAFile == "" && len(a.Pins) == 0:
			return valueErr("Orgs", a.String(), fmt.Errorf("%w: no CA file or pin for %s", ErrMissing, a.Org))
		}
		for _, p := range a.Pins {
			if _, err := x509util.ParsePin(p); err != nil {
				return valueErr("Orgs", a.String(), classed(err, ErrBadOption))
			}
		}
		cas = cas || a.CAFile != ""
	}
	if !cas && !clientCA {
		return specErr("Orgs", "{Orgs} gives pins only, so no CA verifies the peers' chains: give {ClientCAFile} too, or a CA file per org", ErrMissing)
	}
	return nil
}

// orgEntry is one organisation's loaded trust.
type orgEntry struct {
	anchors map[string]bool // raw DER of its CAs
	pins    pinSet
}

// orgState is one loaded allow list.
type orgState struct {
	orgs  map[string]*orgEntry
	certs []*x509.Certificate // every org CA, for the union bundle
	sum   [sha256.Size]byte
}

func (s *orgState) names() string {
	n := make([]string, 0, len(s.orgs))
	for o := range s.orgs {
		n = append(n, o)
	}
	sort.Strings(n)
	return strings.Join(n, ",")
}

// orgTrust is the allow list as a TrustSource: the client CA bundle (if
// any) joined with every org's CAs, so chains verify as before; admit
// then checks that the chain belongs to the org the certificate names.
// It re-reads its files and directory on change, on the poll and on
// Reload, keeping the last good list when a read fails.
type orgTrust struct {
	fileBase
	base  TrustSource // ClientCA...; nil without one
	list  []OrgAdmission
	dir   string
	cur   atomic.Pointer[orgState]
	mu    sync.Mutex
	union struct {
		st    *orgState
		base  *x509.CertPool
		pool  *x509.CertPool
		certs []*x509.Certificate
	}
}

func newOrgTrust(base TrustSource, f orgFields, opts ...SourceOption) (*orgTrust, error) {
	o := buildSourceOptions(opts)
	t := &orgTrust{fileBase: fileBase{name: OrgsSource, sink: newSink(o.events)}, base: base, list: f.list, dir: f.dir}
	if err := t.load(); err != nil {
		return nil, err
	}
	var watched []string
	for _, a := range f.list {
		if a.CAFile != "" {
			watched = append(watched, a.CAFile)
		}
	}
	if f.dir != "" {
		watched = append(watched, filepath.Join(f.dir, "."+OrgsSource)) // watches the directory itself
	}
	t.start(watched, o, t.Reload)
	return t, nil
}

// orgFileExts are the files of OrgsDir read as CA bundles: ORG.pem, ORG.crt.
var orgFileExts = []string{".pem", ".crt"}

func (t *orgTrust) load() error {
	st := &orgState{orgs: map[string]*orgEntry{}}
	h := sha256.New()
	entry := func(org string) *orgEntry {
		e := st.orgs[org]
		if e == nil {
			e = &orgEntry{anchors: map[string]bool{}, pins: pinSet{}}
			st.orgs[org] = e
		}
		return e
	}
	addCAs := func(org, file string) error {
		data, err := readConsistent(file)
		if err != nil {
			return fileErr(file, err, "make sure the CA bundle of %s exists and is readable", org)
		}
		certs, err := parseCertsPEM(data[0])
		if err != nil {
			return fileErr(file, err, "put the PEM CA certificates of %s in %s", org, file)
		}
		fmt.Fprintf(h, "%s\x00%s\x00", org, file)
		h.Write(data[0])
		e := entry(org)
		for _, c := range certs {
			if !e.anchors[string(c.Raw)] {
				e.anchors[string(c.Raw)] = true
				st.certs = append(st.certs, c)
			}
		}
		return nil
	}
	for _, a := range t.list {
		if a.CAFile != "" {
			if err := addCAs(a.Org, a.CAFile); err != nil {
				return err
			}
			continue
		}
		e := entry(a.Org)
		for _, s := range a.Pins {
			p, _ := ParsePin(s) // validated
			e.pins[p] = struct{}{}
			fmt.Fprintf(h, "%s\x00pin %s\x00", a.Org, s)
		}
	}
	if t.dir != "" {
		des, err := os.ReadDir(t.dir)
		if err != nil {
			return fileErr(t.dir, err, "make sure the allow-list directory %s exists (one ORG.pem CA bundle per organisation)", t.dir)
		}
		for _, de := range des {
			name := de.Name()
			ext := filepath.Ext(name)
			if strings.HasPrefix(name, ".") || !slices.Contains(orgFileExts, ext) {
				continue // Kubernetes' ..data and ..2024_… entries, editors' files
			}
			p := filepath.Join(t.dir, name)
			if fi, err := os.Stat(p); err != nil || fi.IsDir() {
				continue
			}
			if err := addCAs(strings.TrimSuffix(name, ext), p); err != nil {
				return err
			}
		}
	}
	copy(st.sum[:], h.Sum(nil))
	old := t.cur.Load()
	if old != nil && old.sum == st.sum {
		return nil
	}
	t.cur.Store(st)
	e := Event{Kind: EventLoaded, Source: OrgsSource, NewSerial: st.names()}
	if old != nil {
		e.Kind, e.OldSerial = EventRotated, old.names()
	}
	t.sink.emit(e)
	return nil
}

// Reload re-reads the allow list now.
func (t *orgTrust) Reload() error { return t.reload(t.load) }

// Trust returns the client CA bundle joined with every org's CAs.
func (t *orgTrust) Trust() (*x509.CertPool, []*x509.Certificate, error) {
	st := t.cur.Load()
	var basePool *x509.CertPool
	var baseCerts []*x509.Certificate
	if t.base != nil {
		var err error
		if basePool, baseCerts, err = t.base.Trust(); err != nil {
			return nil, nil, err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	u := &t.union
	if u.st != st || u.base != basePool || u.pool == nil {
		pool := x509.NewCertPool()
		certs := append(append([]*x509.Certificate(nil), baseCerts...), st.certs...)
		for _, c := range certs {
			pool.AddCert(c)
		}
		u.st, u.base, u.pool, u.certs = st, basePool, pool, certs
	}
	return u.pool, u.certs, nil
}

// admit returns the org the peer is admitted as: the first subject O of
// its leaf that the allow list names, whose CA ends one of the verified
// chains or whose pin one of them holds.
func (t *orgTrust) admit(leaf *x509.Certificate, chains [][]*x509.Certificate) (string, error) {
	st := t.cur.Load()
	named := false
	for _, org := range leaf.Subject.Organization {
		e := st.orgs[org]
		if e == nil {
			continue
		}
		named = true
		for _, ch := range chains {
			if e.anchors[string(ch[len(ch)-1].Raw)] || len(e.pins) > 0 && e.pins.matchAny(ch) {
				return org, nil
			}
		}
	}
	if named {
		return "", fmt.Errorf("%w: the certificate names organisation %v but was not issued by that organisation's CA (or pin)", ErrOrgNotAllowed, leaf.Subject.Organization)
	}
	return "", fmt.Errorf("%w: organisation %v is not in the allow list [%s]", ErrOrgNotAllowed, leaf.Subject.Organization, st.names())
}

// org names the allow-listed org of a leaf without verifying anything.
func (t *orgTrust) org(leaf *x509.Certificate) (string, bool) {
	st := t.cur.Load()
	for _, org := range leaf.Subject.Organization {
		if st.orgs[org] != nil {
			return org, true
		}
	}
	return "", false
}

// PeerOrg returns the organisation an admitted connection's peer belongs
// to, by the allow list (ServerSpec.Orgs, OrgsDir) as it is now: the
// first subject O of its certificate that the list names. It is false
// without an allow list, so the names it returns are bounded by the
// operator's list (safe as metric labels).
func (s *Server) PeerOrg(state tls.ConnectionState) (string, bool) {
	if s.verifier == nil || s.verifier.orgs == nil || len(state.PeerCertificates) == 0 {
		return "", false
	}
	return s.verifier.orgs.org(state.PeerCertificates[0])
}
