package pki

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// ErrUnknownProfile is returned (wrapped) for a profile the signing policy
// does not define.
var ErrUnknownProfile = errors.New("unknown signing profile")

// Local is the file-based CA made by InitCA. It signs through cfssl's
// local signer, so a user's cfssl signing profiles apply unchanged.
type Local struct {
	dir           string
	cert          *x509.Certificate // the signing CA: intermediate, or root
	key           crypto.Signer
	intermediates []*x509.Certificate
	root          *x509.Certificate
	policy        *config.Signing
	signer        *local.Signer
	now           func() time.Time
	insecureKey   bool // key files readable by group or others accepted
}

var _ Backend = (*Local)(nil)

// LocalOption configures OpenLocal.
type LocalOption func(*localOptions)

type localOptions struct {
	policy   *config.Signing
	insecure bool
	now      func() time.Time
}

// WithSigningPolicy replaces the built-in "server"/"client" profiles with
// a cfssl signing policy, e.g. from LoadSigningConfig.
func WithSigningPolicy(p *config.Signing) LocalOption {
	return func(o *localOptions) { o.policy = p }
}

// WithInsecureKeyPermissions accepts a CA key file that group or others
// can read. Only for throw-away setups.
func WithInsecureKeyPermissions() LocalOption { return func(o *localOptions) { o.insecure = true } }

// WithClock sets the clock used for validity periods and CRLs.
func WithClock(now func() time.Time) LocalOption { return func(o *localOptions) { o.now = now } }

// OpenLocal loads the CA in dir (made by InitCA). It signs with the
// intermediate when there is one, else with the root. The signing key must
// be readable by its owner only and must match its certificate.
func OpenLocal(dir string, opts ...LocalOption) (*Local, error) {
	o := localOptions{now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	if o.policy == nil {
		o.policy = BuiltinSigningConfig()
	}
	rootPath := filepath.Join(dir, RootCertFile)
	roots, err := ReadCertificates(rootPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a ccpki CA directory (no %s); create one with: ccpki init --dir %s", dir, RootCertFile, dir)
		}
		return nil, err
	}
	l := &Local{dir: dir, root: roots[0], policy: o.policy, now: o.now, insecureKey: o.insecure}
	certPath, keyPath := filepath.Join(dir, IntermediateCertFile), filepath.Join(dir, IntermediateKeyFile)
	if _, err := os.Stat(certPath); errors.Is(err, os.ErrNotExist) {
		certPath, keyPath = rootPath, filepath.Join(dir, RootKeyFile)
	}
	certs, err := ReadCertificates(certPath)
	if err != nil {
		return nil, err
	}
	l.cert = certs[0]
	if certPath != rootPath {
		l.intermediates = []*x509.Certificate{l.cert}
		if err := l.cert.CheckSignatureFrom(l.root); err != nil {
			return nil, fmt.Errorf("%s is not signed by %s: %w", certPath, rootPath, err)
		}
	}
	if l.key, err = ReadKey(keyPath, o.insecure); err != nil {
		return nil, err
	}
	if !KeyMatches(l.cert, l.key) {
		return nil, fmt.Errorf("%s does not match the certificate in %s", keyPath, certPath)
	}
	l.signer, err = local.NewSigner(l.key, l.cert, signer.DefaultSigAlgo(l.key), o.policy)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", dir, err)
	}
	return l, nil
}

// Certificate is the CA certificate that signs leaves.
func (l *Local) Certificate() *x509.Certificate { return l.cert }

// Root is the trust anchor.
func (l *Local) Root() *x509.Certificate { return l.root }

// Dir is the CA directory.
func (l *Local) Dir() string { return l.dir }

// Issue signs req.CSR with the named cfssl profile.
func (l *Local) Issue(_ context.Context, req *Request) (*Issued, error) {
	if req == nil || req.CSR == nil {
		return nil, errors.New("issue: no certificate request")
	}
	profile, err := l.profile(req.Profile)
	if err != nil {
		return nil, err
	}
	lifetime := req.Lifetime
	if lifetime == 0 {
		lifetime = profile.Expiry
	}
	if lifetime <= 0 {
		return nil, fmt.Errorf("issue: lifetime %v must be positive", lifetime)
	}
	now := l.now()
	notAfter := now.Add(lifetime)
	if notAfter.After(l.cert.NotAfter) {
		return nil, fmt.Errorf("issue: a %v certificate would outlive the CA certificate %q (expires %s); shorten --lifetime or renew the CA",
			lifetime, l.cert.Subject.CommonName, l.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if !profile.NotAfter.IsZero() {
		notAfter = profile.NotAfter
	}
	signed, err := l.signer.Sign(signer.SignRequest{
		Request:   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: req.CSR.Raw})),
		Profile:   req.Profile,
		NotBefore: now.Add(-Backdate),
		NotAfter:  notAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("issue with profile %q: %w", req.Profile, err)
	}
	certs, err := ParseCertificatesPEM(signed)
	if err != nil {
		return nil, fmt.Errorf("issue: signer output: %w", err)
	}
	return &Issued{Certificate: certs[0], Intermediates: l.intermediates, Roots: []*x509.Certificate{l.root}}, nil
}

func (l *Local) profile(name string) (*config.SigningProfile, error) {
	if p, ok := l.policy.Profiles[name]; ok && p != nil {
		return p, nil
	}
	if (name == "" || name == "default") && l.policy.Default != nil {
		return l.policy.Default, nil
	}
	return nil, fmt.Errorf("%w %q; the signing policy has: %s", ErrUnknownProfile, name, profileNames(l.policy))
}

// Renew issues a fresh certificate for req; the local CA needs no proof of
// the current certificate because whoever can read the CA key is trusted.
// A renewal must name its profile: the policy's default profile could
// quietly drop a usage the current certificate has.
func (l *Local) Renew(ctx context.Context, _ *x509.Certificate, _ crypto.Signer, req *Request) (*Issued, error) {
	if req != nil && req.Profile == "" {
		return nil, fmt.Errorf("%w: a renewal names its profile; the signing policy has: %s", ErrUnknownProfile, profileNames(l.policy))
	}
	return l.Issue(ctx, req)
}
