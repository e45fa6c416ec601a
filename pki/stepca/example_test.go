package stepca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"os"

	"github.com/ccserver/ccserver/pki"
	"github.com/ccserver/ccserver/pki/stepca"
)

// A chaincode server certificate from step-ca, configured with what
// `step ca bootstrap` asks for plus a JWK provisioner and its password.
func Example() {
	password, err := os.ReadFile("/run/secrets/provisioner-password")
	if err != nil {
		log.Fatal(err)
	}
	ca, err := stepca.New(stepca.Config{
		URL:                 "https://ca.example.com:9000",
		RootFingerprint:     "d9d0978692f1c7cc791f5c343ce98771900721405e834cd27b9502cc719f5097",
		Provisioner:         "ccpki",
		ProvisionerPassword: password,
	})
	if err != nil {
		log.Fatal(err)
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "asset-transfer.org1.example.com"},
		DNSNames: []string{"asset-transfer.org1.example.com"},
	}, key)
	csr, _ := x509.ParseCertificateRequest(der)

	ctx := context.Background()
	iss, err := ca.Issue(ctx, &pki.Request{CSR: csr, Profile: "server"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("issued", iss.Certificate.Subject.CommonName, "until", iss.Certificate.NotAfter)

	// Later: renew over mTLS with the current pair. A CSR for a new key
	// makes step-ca rekey; without one it renews the same key.
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  csr.Subject,
		DNSNames: csr.DNSNames,
	}, newKey)
	next, _ := x509.ParseCertificateRequest(der)
	if _, err := ca.Renew(ctx, iss.Certificate, key, &pki.Request{CSR: next}); err != nil {
		log.Fatal(err)
	}
}

func ExampleParseFingerprint() {
	fp, err := stepca.ParseFingerprint("D9:D0:97:86:92:F1:C7:CC:79:1F:5C:34:3C:E9:87:71:90:07:21:40:5E:83:4C:D2:7B:95:02:CC:71:9F:50:97")
	fmt.Printf("%x %v\n", fp, err)
	_, err = stepca.ParseFingerprint("sha256/2dCXhpLxx8x5H1w0POmHcZAHIUBeg0zSe5UCzHGfUJc=")
	fmt.Println(err != nil)
	// Output:
	// d9d0978692f1c7cc791f5c343ce98771900721405e834cd27b9502cc719f5097 <nil>
	// true
}
