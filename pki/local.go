package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// Local is the file-based CA made by InitCA. It applies cfssl signing
// profiles, so a user's ca-config.json holds unchanged.
type Local struct {
	dir           string
	cert          *x509.Certificate // the signing CA: intermediate, or root
	key           crypto.Signer
	intermediates []*x509.Certificate
	root          *x509.Certificate
	policy        *config.Signing
	// signer is cfssl's local signer over cert and key. Only its policy
	// helpers are used, never its Sign (see sign.go).
	signer      *local.Signer
	now         func() time.Time
	insecureKey bool // key files readable by group or others accepted
}

var _ Backend = (*Local)(nil)

// LocalOptions shape OpenLocal. The zero value is the secure default.
type LocalOptions struct {
	// SigningPolicy replaces the built-in "server" and "client" profiles
	// with a cfssl signing policy, e.g. from LoadSigningConfig. It is
	// checked as LoadSigningConfig checks a file.
	SigningPolicy *config.Signing
	// AllowInsecureKeyFile accepts CA key files that group or others can
	// read. Only for throw-away setups.
	AllowInsecureKeyFile bool
	// Now is the clock for validity periods and CRLs; nil means time.Now.
	Now func() time.Time
}

// OpenLocal loads the CA in dir (made by InitCA). It signs with the
// intermediate when there is one, else with the root. The signing key must
// be readable by its owner only (see LocalOptions.AllowInsecureKeyFile)
// and must match its certificate. A directory without a CA is ErrNoCA.
func OpenLocal(dir string, opts LocalOptions) (*Local, error) {
	policy := opts.SigningPolicy
	if policy == nil {
		policy = builtinSigning()
	} else if err := checkSigning(policy); err != nil {
		return nil, fmt.Errorf("LocalOptions.SigningPolicy: %w", err)
	}
	rootPath := filepath.Join(dir, rootCertFile)
	roots, err := ReadCertificates(rootPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w: no %s (InitCA makes one)", dir, ErrNoCA, rootCertFile)
		}
		return nil, err
	}
	l := &Local{dir: dir, root: roots[0], policy: policy, now: clock(opts.Now), insecureKey: opts.AllowInsecureKeyFile}
	certPath, keyPath := filepath.Join(dir, intermediateCertFile), filepath.Join(dir, intermediateKeyFile)
	if _, err := os.Stat(certPath); errors.Is(err, os.ErrNotExist) {
		certPath, keyPath = rootPath, filepath.Join(dir, rootKeyFile)
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
	if l.key, err = l.readKey(keyPath); err != nil {
		return nil, err
	}
	if !keyMatches(l.cert, l.key) {
		return nil, fmt.Errorf("%s does not match the certificate in %s", keyPath, certPath)
	}
	l.signer, err = local.NewSigner(l.key, l.cert, signer.DefaultSigAlgo(l.key), policy)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", dir, err)
	}
	return l, nil
}

// readKey reads one of the CA's key files with the CA's permission rule.
func (l *Local) readKey(path string) (crypto.Signer, error) {
	return ReadKey(path, ReadOptions{AllowInsecureKeyFile: l.insecureKey})
}

// profile is the named profile of the policy; "" and "default" name its
// default.
func (l *Local) profile(name string) (*config.SigningProfile, error) {
	if p, ok := l.policy.Profiles[name]; ok && p != nil {
		return p, nil
	}
	if (name == "" || name == "default") && l.policy.Default != nil {
		return l.policy.Default, nil
	}
	return nil, fmt.Errorf("%w %q; the signing policy has: %s", ErrUnknownProfile, name, profileNames(l.policy))
}
