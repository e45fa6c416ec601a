package pki

import (
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/ccserver/ccserver/internal/fsutil"
	"github.com/ccserver/ccserver/internal/x509util"
)

// maxPEMFile bounds what pki reads as a PEM or JSON file.
const maxPEMFile = 4 << 20

// ReadOptions shape how key material is read. The zero value is the
// secure default.
type ReadOptions struct {
	// AllowInsecureKeyFile accepts a private key file that group or
	// others can read. Only for throw-away setups.
	AllowInsecureKeyFile bool
}

// ReadCertificates reads a PEM file of certificates; errors name the file.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := fsutil.ReadFile(path, maxPEMFile)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// ReadKey reads a private key file after checking that group and others
// cannot read it (ErrInsecureKeyFile otherwise, unless
// opts.AllowInsecureKeyFile). It takes the first private key in the file:
// PKCS#8, SEC 1 or PKCS#1 under any "... PRIVATE KEY" label (Fabric's
// tlsgen writes PKCS#8 as "EC PRIVATE KEY"; MSP keystores hold PKCS#8
// "PRIVATE KEY"), with certificates or EC PARAMETERS around it, or raw
// DER. An encrypted key is refused with the way to decrypt it. Errors name
// the file, never the key.
func ReadKey(path string, opts ReadOptions) (crypto.Signer, error) {
	if err := fsutil.CheckKeyFile(path, opts.AllowInsecureKeyFile); err != nil {
		return nil, err
	}
	data, err := fsutil.ReadFile(path, maxPEMFile)
	if err != nil {
		return nil, err
	}
	key, err := x509util.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}
