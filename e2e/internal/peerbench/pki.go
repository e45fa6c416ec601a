package peerbench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// tlsFiles is the TLS material of one chaincode server: a CA, the
// server's certificate for 127.0.0.1, and the client certificate the
// peer presents (it goes into the package's connection.json).
type tlsFiles struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// writeTLS makes a fresh CA and the two leaves, ECDSA P-256 as Fabric's
// own material, and writes them as PEM files under dir. A throwaway PKI
// for a benchmark: one day of validity, nothing kept.
func writeTLS(dir string) (tlsFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tlsFiles{}, err
	}
	now := time.Now().Add(-time.Hour)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tlsFiles{}, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peerbench CA"},
		NotBefore: now, NotAfter: now.Add(25 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tlsFiles{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tlsFiles{}, err
	}
	leaf := func(serial int64, subject pkix.Name, usage x509.ExtKeyUsage, ips []net.IP, dns []string) ([]byte, []byte, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subject, NotBefore: now, NotAfter: now.Add(25 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, DNSNames: dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), nil
	}
	srvCert, srvKey, err1 := leaf(2, pkix.Name{CommonName: "localhost"}, x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"})
	cliCert, cliKey, err2 := leaf(3, pkix.Name{CommonName: "peer0.org1.example.com", Organization: []string{"Org1MSP"}}, x509.ExtKeyUsageClientAuth, nil, nil)
	if err := errors.Join(err1, err2); err != nil {
		return tlsFiles{}, err
	}
	f := tlsFiles{
		CA: filepath.Join(dir, "ca.crt"), ServerCert: filepath.Join(dir, "server.crt"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"),
	}
	for _, w := range []struct {
		path string
		data []byte
	}{
		{f.CA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})},
		{f.ServerCert, srvCert}, {f.ServerKey, srvKey}, {f.ClientCert, cliCert}, {f.ClientKey, cliKey},
	} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return tlsFiles{}, err
		}
	}
	return f, nil
}
