package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ccserver/ccserver/internal/fsutil"
)

// The cert-manager layout that ccserver and Kubernetes TLS secrets use.
const (
	CertFile = "tls.crt" // leaf followed by intermediates
	KeyFile  = "tls.key"
	CAFile   = "ca.crt" // trust anchors
)

// Layout is how a directory holds a certificate, its chain and its key.
type Layout int

// The layouts Write knows. The zero value is the cert-manager layout.
const (
	// LayoutCertManager: tls.crt, tls.key and ca.crt, as in a Kubernetes
	// TLS secret volume, swapped in as one generation through a ..data
	// symlink, so a reader never sees a half-written pair.
	LayoutCertManager Layout = iota
	// LayoutFlat: the same three files written in place, each replaced
	// atomically on its own, key first.
	LayoutFlat
	// LayoutMSP: the Fabric MSP layout: signcerts/cert.pem,
	// keystore/priv_sk, cacerts/, intermediatecerts/ and tlscacerts/.
	LayoutMSP
)

// String names the layout.
func (l Layout) String() string {
	switch l {
	case LayoutCertManager:
		return "cert-manager"
	case LayoutFlat:
		return "flat"
	case LayoutMSP:
		return "msp"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// Write puts issued and its key into dir in layout l. Keys are written
// 0600 and certificates 0644, every file atomically. An Issued without
// Roots keeps the ca.crt already in a cert-manager directory.
func (l Layout) Write(dir string, issued *Issued, key crypto.Signer) error {
	switch l {
	case LayoutCertManager, LayoutFlat:
		return writeCertManager(dir, issued, key, l == LayoutCertManager)
	case LayoutMSP:
		return writeMSP(dir, issued, key)
	}
	return fmt.Errorf("unknown layout %v", l)
}

// Exists tells whether dir already holds a certificate or key in layout
// l, so a caller can refuse to overwrite it.
func (l Layout) Exists(dir string) bool {
	names := []string{CertFile, KeyFile}
	if l == LayoutMSP {
		names = []string{"signcerts", "keystore"} // any key name counts: Fabric's tools choose their own
	}
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

// File is one file of a layout: base name, content and permissions (0600
// for a key), e.g. to put into a Kubernetes secret instead of a directory.
type File struct {
	Name string
	Data []byte
	Perm fs.FileMode
}

// CertManagerFiles is the content of the cert-manager layout for issued:
// tls.crt, tls.key and ca.crt, in that order.
func CertManagerFiles(issued *Issued, key crypto.Signer) ([]File, error) {
	keyPEM, err := EncodeKeyPEM(key)
	if err != nil {
		return nil, err
	}
	chain := append([]*x509.Certificate{issued.Certificate}, issued.Intermediates...)
	return []File{
		{Name: CertFile, Data: EncodeCertificatesPEM(chain...), Perm: 0o644},
		{Name: KeyFile, Data: keyPEM, Perm: 0o600},
		{Name: CAFile, Data: EncodeCertificatesPEM(issued.Roots...), Perm: 0o644},
	}, nil
}

// writeCertManager writes tls.crt, tls.key and ca.crt into dir: versioned,
// as one generation through ..data; otherwise each file is replaced
// atomically on its own, key first.
func writeCertManager(dir string, issued *Issued, key crypto.Signer, versioned bool) error {
	files, err := CertManagerFiles(issued, key)
	if err != nil {
		return err
	}
	if len(issued.Roots) == 0 {
		files = files[:2] // keep the existing ca.crt
	}
	if versioned {
		gen := make([]fsutil.File, len(files))
		for i, f := range files {
			gen[i] = fsutil.File{Name: f.Name, Data: f.Data, Perm: f.Perm}
		}
		return fsutil.WriteVersioned(dir, gen)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []int{1, 0, 2} {
		if f >= len(files) {
			continue
		}
		if err := fsutil.WriteFile(filepath.Join(dir, files[f].Name), files[f].Data, files[f].Perm); err != nil {
			return err
		}
	}
	return nil
}

// writeMSP writes the Fabric MSP layout.
func writeMSP(dir string, issued *Issued, key crypto.Signer) error {
	keyPEM, err := EncodeKeyPEM(key)
	if err != nil {
		return err
	}
	type file struct {
		path string
		data []byte
		perm os.FileMode
	}
	files := []file{
		{filepath.Join("keystore", "priv_sk"), keyPEM, 0o600},
		{filepath.Join("signcerts", "cert.pem"), EncodeCertificatesPEM(issued.Certificate), 0o644},
		{filepath.Join("cacerts", "ca.pem"), EncodeCertificatesPEM(issued.Roots...), 0o644},
		{filepath.Join("tlscacerts", "ca.pem"), EncodeCertificatesPEM(issued.Roots...), 0o644},
	}
	if len(issued.Intermediates) > 0 {
		files = append(files, file{filepath.Join("intermediatecerts", "intermediate.pem"), EncodeCertificatesPEM(issued.Intermediates...), 0o644})
	}
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		mode := os.FileMode(0o755)
		if f.perm == 0o600 {
			mode = 0o700
		}
		if err := os.MkdirAll(filepath.Dir(p), mode); err != nil {
			return err
		}
		if err := fsutil.WriteFile(p, f.data, f.perm); err != nil {
			return err
		}
	}
	return nil
}

// KeyPair is a certificate with its chain and key, as read from a
// cert-manager (or flat) layout directory.
type KeyPair struct {
	Certificate   *x509.Certificate
	Intermediates []*x509.Certificate
	Key           crypto.Signer
	Roots         []*x509.Certificate // from ca.crt; may be empty
}

// ReadCertManager reads tls.crt, tls.key and (if present) ca.crt from dir,
// all from the same ..data generation when the directory is versioned.
func ReadCertManager(dir string, opts ReadOptions) (*KeyPair, error) {
	base := dir
	if gen, err := fsutil.CurrentGeneration(dir); err == nil {
		base = gen
	}
	certs, err := ReadCertificates(filepath.Join(base, CertFile))
	if err != nil {
		return nil, err
	}
	key, err := ReadKey(filepath.Join(base, KeyFile), opts)
	if err != nil {
		return nil, err
	}
	if !keyMatches(certs[0], key) {
		return nil, fmt.Errorf("%s does not match the certificate in %s", filepath.Join(dir, KeyFile), filepath.Join(dir, CertFile))
	}
	kp := &KeyPair{Certificate: certs[0], Intermediates: certs[1:], Key: key}
	roots, err := ReadCertificates(filepath.Join(base, CAFile))
	switch {
	case err == nil:
		kp.Roots = roots
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	return kp, nil
}
