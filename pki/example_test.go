package pki_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/ccserver/ccserver/pki"
)

// Create a CA, issue a chaincode server certificate into the cert-manager
// layout, and check it is valid for the address the peer dials.
func Example() {
	dir, err := os.MkdirTemp("", "pki-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A root and an intermediate that signs (path length 0); keys 0600.
	caDir := filepath.Join(dir, "ca")
	if _, err := pki.InitCA(caDir, pki.InitOptions{}); err != nil {
		log.Fatal(err)
	}
	ca, err := pki.OpenLocal(caDir, pki.LocalOptions{})
	if err != nil {
		log.Fatal(err)
	}

	// The key is made here; only the request goes to the CA.
	key, err := pki.GenerateKey(pki.DefaultKeyType)
	if err != nil {
		log.Fatal(err)
	}
	csr, err := pki.NewCSR(key, pki.CSRSpec{Subject: pkix.Name{CommonName: "localhost"}, Hosts: []string{"localhost", "127.0.0.1"}})
	if err != nil {
		log.Fatal(err)
	}
	issued, err := ca.Issue(context.Background(), &pki.Request{CSR: csr, Profile: "server"})
	if err != nil {
		log.Fatal(err)
	}

	// tls.crt, tls.key and ca.crt, swapped in through ..data.
	out := filepath.Join(dir, "server")
	if err := pki.LayoutCertManager.Write(out, issued, key); err != nil {
		log.Fatal(err)
	}
	kp, err := pki.ReadCertManager(out, pki.ReadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	chain := append([]*x509.Certificate{kp.Certificate}, kp.Intermediates...)
	err = pki.Verify(chain, pki.VerifyOptions{Roots: kp.Roots, Role: pki.RoleServer, Address: "localhost:9999"})
	fmt.Println(kp.Certificate.DNSNames, err)
	// Output: [localhost] <nil>
}

// Keep the server certificate in certs/server fresh until the process is
// interrupted, as ccpki renew --daemon does: renewed when a third of its
// lifetime is left, with a new key, swapped in through ..data.
func ExampleRenewer() {
	ca, err := pki.OpenLocal("certs/ca", pki.LocalOptions{})
	if err != nil {
		log.Fatal(err)
	}
	r, err := pki.NewRenewer(pki.RenewerConfig{Backend: ca, Dir: "certs/server", Logger: slog.Default()})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := r.Run(ctx, func(err error) { log.Print(err) }); err != nil {
		log.Fatal(err)
	}
}
