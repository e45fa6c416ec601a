package cfsslremote_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cfssl/certdb"

	"github.com/ccserver/ccserver/internal/testcfssl"
	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/pki"
	"github.com/ccserver/ccserver/pki/cfsslremote"
	"github.com/ccserver/ccserver/pkitest/testca"
)

func TestMain(m *testing.M) { testca.Main(m) }

// TestRevokeWithCertDB: Revoke against a cfssl server with a certificate
// database marks the certificate revoked there, and explains the database
// requirement for a certificate the server never recorded.
func TestRevokeWithCertDB(t *testing.T) {
	srv := testca.StartCFSSL(t, testcfssl.Options{CA: testpki.NewCA(t, testpki.WithCommonName("cfssl certdb root"))})
	c, err := cfsslremote.New(cfsslremote.Config{URL: srv.URL, AuthKey: []byte(testcfssl.AuthKey), TLSConfig: srv.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	csr, _ := testpki.NewCSR(t, testpki.WithCommonName("peer0.org1.example.com"))
	iss, err := c.Issue(ctx, &pki.Request{CSR: csr, Profile: "client"})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}

	if err := c.Revoke(ctx, iss.Certificate, pki.ReasonKeyCompromise); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	revoked, err := srv.DB.GetRevokedAndUnexpiredCertificates()
	if err != nil {
		t.Fatal(err)
	}
	if !containsSerial(revoked, iss.Certificate.SerialNumber.String(), 1) {
		t.Fatalf("certdb revoked list %v does not hold serial %s with reason keyCompromise", revoked, iss.Certificate.SerialNumber)
	}

	// A certificate the server never issued (not in its database).
	stranger := testpki.NewCA(t).Client(t)
	err = c.Revoke(ctx, stranger.Cert, pki.ReasonUnspecified)
	if err == nil || !strings.Contains(err.Error(), "database") {
		t.Fatalf("Revoke of an unknown certificate: err = %v, want it to explain the certdb requirement", err)
	}
}

func containsSerial(recs []certdb.CertificateRecord, serial string, reason int) bool {
	for _, r := range recs {
		if r.Serial == serial && r.Status == "revoked" && r.Reason == reason {
			return true
		}
	}
	return false
}
