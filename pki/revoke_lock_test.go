package pki

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ccserver/ccserver/internal/x509util"
)

// TestConcurrentRevokes: revocations from separately opened CAs (as two
// ccpki processes would) each read, extend and rewrite revoked.json; the
// lock keeps every entry, and every CRL written names what was revoked
// before it with a CRL number higher than the last.
func TestConcurrentRevokes(t *testing.T) {
	ca := newCA(t, InitOptions{})
	const n = 12
	certs := make([]*x509.Certificate, n)
	for i := range certs {
		iss, _ := issue(t, ca, "client", CSRSpec{Subject: pkix.Name{CommonName: fmt.Sprintf("peer%d", i)}})
		certs[i] = iss.Certificate
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range certs {
		wg.Go(func() {
			own, err := OpenLocal(ca.dir, LocalOptions{}) // its own view of the files, like a separate process
			if err == nil {
				err = own.Revoke(context.Background(), c, ReasonSuperseded)
			}
			if err == nil {
				_, err = own.WriteCRL(context.Background(), "", 0)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rl, err := readRevocationList(filepath.Join(ca.dir, revocationFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rl.Revoked) != n {
		t.Fatalf("revoked.json has %d entries after %d concurrent revokes: entries were lost", len(rl.Revoked), n)
	}
	if rl.CRLNumber != n {
		t.Errorf("CRL number = %d after %d CRLs, want %d", rl.CRLNumber, n, n)
	}
	data, err := os.ReadFile(filepath.Join(ca.dir, CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509util.ParseCRL(data)
	if err != nil {
		t.Fatal(err)
	}
	// The last CRL written was signed last: it names every certificate.
	if len(crl.RevokedCertificateEntries) != n || crl.Number.Int64() != n {
		t.Fatalf("crl.pem: %d entries, number %v; want %d and %d", len(crl.RevokedCertificateEntries), crl.Number, n, n)
	}
}
