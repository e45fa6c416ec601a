package pki_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ccserver/ccserver/pki"
)

// Create a CA, issue a chaincode server certificate into the cert-manager
// layout, and check it is valid for the address the peer dials.
func Example() {
	dir, _ := os.MkdirTemp("", "ccpki")
	defer os.RemoveAll(dir)
	caDir := filepath.Join(dir, "ca")
	if _, err := pki.InitCA(caDir, pki.InitOptions{}); err != nil {
		panic(err)
	}
	ca, err := pki.OpenLocal(caDir)
	if err != nil {
		panic(err)
	}
	key, _ := pki.GenerateKey(pki.DefaultKeyType)
	csr, _ := pki.NewCSR(key, pki.CSRSpec{Subject: pkix.Name{CommonName: "localhost"}, Hosts: []string{"localhost", "127.0.0.1"}})
	issued, err := ca.Issue(context.Background(), &pki.Request{CSR: csr, Profile: "server"})
	if err != nil {
		panic(err)
	}
	out := filepath.Join(dir, "server")
	if err := pki.WriteCertManager(out, issued, key, true); err != nil {
		panic(err)
	}
	kp, _ := pki.ReadCertManager(out, false)
	chain := append([]*x509.Certificate{kp.Certificate}, kp.Intermediates...)
	err = pki.Verify(chain, pki.VerifyOptions{Roots: kp.Roots, Role: pki.RoleServer, Address: "localhost:9999"})
	fmt.Println(kp.Certificate.DNSNames, err)
	// Output: [localhost] <nil>
}
