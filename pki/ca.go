package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/ccserver/ccserver/internal/fsutil"
)

// The files of a CA directory made by InitCA that its users are handed.
const (
	// BundleFile holds the trust anchors (the root): what servers and
	// peers are given as their CA bundle.
	BundleFile = "ca.crt"
	// CRLFile is the signed CRL the server's revocation check reads
	// (Local.WriteCRL's default).
	CRLFile = "crl.pem"
)

// The CA's own files: its keys, certificates and revocation record.
const (
	rootCertFile         = "root.crt"
	rootKeyFile          = "root.key"
	intermediateCertFile = "intermediate.crt"
	intermediateKeyFile  = "intermediate.key"
	revocationFile       = "revoked.json" // the revoked certificates, for the next CRL
)

// Default CA lifetimes: a long-lived root kept offline when possible and a
// shorter intermediate that signs leaves.
const (
	DefaultRootLifetime         = 10 * 365 * 24 * time.Hour
	DefaultIntermediateLifetime = 3 * 365 * 24 * time.Hour
)

// InitOptions shape a new local CA. Zero values are the secure defaults.
type InitOptions struct {
	KeyType KeyType // default ECDSA P-256
	// CommonName of the root; default "ccpki root CA <key id>", where the
	// key id is the first 8 hex digits of the SHA-256 of the root's public
	// key: two CAs made with the defaults never share a name, which CRL
	// and chain matching go by.
	CommonName   string
	Organization string
	// RootLifetime and IntermediateLifetime default to 10 and 3 years.
	RootLifetime         time.Duration
	IntermediateLifetime time.Duration
	// NoIntermediate signs leaves with the root directly.
	NoIntermediate bool
	// Force replaces an existing CA (and drops its revocation list).
	Force bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// CAInfo describes a CA made by InitCA.
type CAInfo struct {
	Root         *x509.Certificate
	Intermediate *x509.Certificate // nil with NoIntermediate
}

// InitCA creates a root CA and, by default, an intermediate under it
// (path length 0) in dir. Keys are written 0600, certificates 0644, each
// file atomically. It refuses to touch an existing CA unless opts.Force.
func InitCA(dir string, opts InitOptions) (*CAInfo, error) {
	opts.Now = clock(opts.Now)
	if opts.RootLifetime == 0 {
		opts.RootLifetime = DefaultRootLifetime
	}
	if opts.IntermediateLifetime == 0 {
		opts.IntermediateLifetime = DefaultIntermediateLifetime
	}
	if opts.RootLifetime < 0 || opts.IntermediateLifetime < 0 {
		return nil, errors.New("CA lifetimes must be positive")
	}
	if !opts.NoIntermediate && opts.IntermediateLifetime > opts.RootLifetime {
		return nil, fmt.Errorf("intermediate lifetime %v is longer than the root's %v", opts.IntermediateLifetime, opts.RootLifetime)
	}
	all := []string{rootCertFile, rootKeyFile, intermediateCertFile, intermediateKeyFile, BundleFile, revocationFile, CRLFile}
	if !opts.Force {
		for _, name := range all {
			if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
				return nil, fmt.Errorf("%s already holds a CA (%s): %w; InitOptions.Force replaces it, which invalidates every certificate it issued",
					dir, name, ErrExists)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), 0o755); err != nil {
		return nil, fmt.Errorf("create CA directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create CA directory: %w", err)
	}
	now := opts.Now()
	rootKey, err := GenerateKey(opts.KeyType)
	if err != nil {
		return nil, err
	}
	if opts.CommonName == "" {
		if opts.CommonName, err = defaultCAName(rootKey.Public()); err != nil {
			return nil, err
		}
	}
	subject := pkix.Name{CommonName: opts.CommonName}
	if opts.Organization != "" {
		subject.Organization = []string{opts.Organization}
	}
	rootTmpl, err := caTemplate(subject, rootKey.Public(), now, now.Add(opts.RootLifetime))
	if err != nil {
		return nil, err
	}
	if !opts.NoIntermediate {
		rootTmpl.MaxPathLen = 1
	}
	root, err := createCert(rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("create root CA: %w", err)
	}
	info := &CAInfo{Root: root}
	var files []namedFile
	var interKey crypto.Signer
	if !opts.NoIntermediate {
		interKey, err = GenerateKey(opts.KeyType)
		if err != nil {
			return nil, err
		}
		isub := subject
		isub.CommonName = opts.CommonName + " intermediate"
		tmpl, err := caTemplate(isub, interKey.Public(), now, now.Add(opts.IntermediateLifetime))
		if err != nil {
			return nil, err
		}
		tmpl.MaxPathLenZero = true
		info.Intermediate, err = createCert(tmpl, root, interKey.Public(), rootKey)
		if err != nil {
			return nil, fmt.Errorf("create intermediate CA: %w", err)
		}
	}
	keyPEM, err := EncodeKeyPEM(rootKey)
	if err != nil {
		return nil, err
	}
	files = append(files, namedFile{rootKeyFile, keyPEM, 0o600}, namedFile{rootCertFile, EncodeCertificatesPEM(root), 0o644},
		namedFile{BundleFile, EncodeCertificatesPEM(root), 0o644})
	if interKey != nil {
		keyPEM, err := EncodeKeyPEM(interKey)
		if err != nil {
			return nil, err
		}
		files = append(files, namedFile{intermediateKeyFile, keyPEM, 0o600},
			namedFile{intermediateCertFile, EncodeCertificatesPEM(info.Intermediate), 0o644})
	}
	for _, f := range files {
		if err := fsutil.WriteFile(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return nil, err
		}
	}
	if opts.Force {
		// A new CA makes the old revocation list, CRL and (without an
		// intermediate now) the old intermediate meaningless.
		stale := []string{revocationFile, CRLFile}
		if interKey == nil {
			stale = append(stale, intermediateCertFile, intermediateKeyFile)
		}
		for _, name := range stale {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
	}
	return info, nil
}

// clock is now, or time.Now when the caller set no clock: every options
// struct in pki takes its clock as a Now func() time.Time field.
func clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

type namedFile struct {
	name string
	data []byte
	perm os.FileMode
}

func caTemplate(subject pkix.Name, _ crypto.PublicKey, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             notBefore.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil
}

func createCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// randomSerial returns a positive 159-bit serial (RFC 5280 allows 20 octets).
func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return nil, err
	}
	return n.Add(n, big.NewInt(1)), nil
}

// defaultCAName is the root CN when none is given, unique per root key.
func defaultCAName(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("root public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return "ccpki root CA " + hex.EncodeToString(sum[:4]), nil
}
