package cfsslremote_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"os"

	"github.com/ccserver/ccserver/pki"
	"github.com/ccserver/ccserver/pki/cfsslremote"
)

// A peer client certificate from a cfssl server whose "client" profile
// carries an auth_key.
func Example() {
	authKey, err := os.ReadFile("/run/secrets/cfssl-auth-key") // the hex "key" of the profile's auth_key
	if err != nil {
		log.Fatal(err)
	}
	serverCA, err := os.ReadFile("/etc/ccpki/cfssl-server-ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(serverCA)

	ca, err := cfsslremote.New(cfsslremote.Config{
		URL:       "https://cfssl.example.com:8888",
		AuthKey:   authKey,
		Profile:   "client",
		TLSConfig: &tls.Config{RootCAs: pool},
	})
	if err != nil {
		log.Fatal(err)
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "peer0.org1.example.com", Organization: []string{"Org1MSP"}},
	}, key)
	csr, _ := x509.ParseCertificateRequest(der)

	iss, err := ca.Issue(context.Background(), &pki.Request{CSR: csr})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("issued by", iss.Certificate.Issuer.CommonName, "trusting", len(iss.Roots), "root(s)")
}

func ExampleParseAuthKey() {
	key, err := cfsslremote.ParseAuthKey([]byte("0123456789ABCDEF\n"))
	fmt.Println(len(key), err)
	_, err = cfsslremote.ParseAuthKey([]byte("not hex"))
	fmt.Println(err)
	// Output:
	// 8 <nil>
	// cfsslremote: the auth key is not hex (7 characters): give the "key" value of the profile's auth_key from ca-config.json
}
