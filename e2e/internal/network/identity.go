package network

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Identity is a client of the network: an MSP ID, its certificate and key.
type Identity struct {
	MSPID string
	Cert  *x509.Certificate
	Key   crypto.Signer
}

// User returns the org's User1, made by cryptogen.
func (n *Network) User(org Org) (Identity, error) {
	msp := filepath.Join(n.orgDir(org), "users", "User1@"+org.Domain, "msp")
	cert, err := readCert(filepath.Join(msp, "signcerts", "User1@"+org.Domain+"-cert.pem"))
	if err != nil {
		return Identity{}, err
	}
	key, err := readKey(filepath.Join(msp, "keystore", "priv_sk"))
	if err != nil {
		return Identity{}, err
	}
	return Identity{MSPID: org.MSPID, Cert: cert, Key: key}, nil
}

// attrOID is the extension Fabric CA puts attributes in, which the
// chaincode's client identity library reads.
var attrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// UserWithAttributes issues a client identity from the org's CA, as Fabric
// CA would enrol one: NodeOU "client" and the attributes extension.
func (n *Network) UserWithAttributes(org Org, name string, attrs map[string]string) (Identity, error) {
	caDir := filepath.Join(n.orgDir(org), "ca")
	caCert, err := readCert(filepath.Join(caDir, "ca."+org.Domain+"-cert.pem"))
	if err != nil {
		return Identity{}, err
	}
	caKey, err := readKey(filepath.Join(caDir, "priv_sk"))
	if err != nil {
		return Identity{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Identity{}, err
	}
	val, err := json.Marshal(map[string]map[string]string{"attrs": attrs})
	if err != nil {
		return Identity{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return Identity{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:    serial,
		Subject:         pkix.Name{CommonName: name, OrganizationalUnit: []string{"client"}, Organization: []string{org.Domain}},
		NotBefore:       time.Now().Add(-time.Minute),
		NotAfter:        time.Now().Add(24 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: attrOID, Value: val}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return Identity{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Identity{}, err
	}
	return Identity{MSPID: org.MSPID, Cert: cert, Key: key}, nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

func readKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", path)
	}
	return s, nil
}
