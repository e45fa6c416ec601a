package x509util_test

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/internal/x509util"
)

func TestParseCertificates(t *testing.T) {
	ca := testpki.NewCA(t)
	inter := ca.Intermediate(t)
	leaf := inter.Server(t)
	chain := leaf.ChainPEM // leaf, intermediate
	ecParams := pemOf("EC PARAMETERS", mustASN1(t, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}))
	for _, tc := range []struct {
		name    string
		in      []byte
		want    []*x509.Certificate
		wantErr error
		wantMsg string
	}{
		{name: "chain", in: chain, want: []*x509.Certificate{leaf.Cert, inter.Cert}},
		{name: "text before and between", in: cat([]byte("subject=CN = leaf\n"), leaf.CertPEM, []byte("\n# the CA\n"), inter.CertPEM, []byte("trailing comment\n")),
			want: []*x509.Certificate{leaf.Cert, inter.Cert}},
		{name: "key and other blocks skipped", in: cat(leaf.KeyPEM, leaf.CertPEM, ecParams, inter.CertPEM), want: []*x509.Certificate{leaf.Cert, inter.Cert}},
		{name: "CRLF", in: bytes.ReplaceAll(leaf.CertPEM, []byte("\n"), []byte("\r\n")), want: []*x509.Certificate{leaf.Cert}},
		{name: "truncated second certificate", in: chain[:len(chain)-40], wantErr: x509util.ErrMalformedCertificate, wantMsg: "certificate 2: the PEM block is truncated"},
		{name: "corrupt first certificate", in: cat(leaf.CertPEM[:len(leaf.CertPEM)-40], []byte("\n"), inter.CertPEM), wantErr: x509util.ErrMalformedCertificate, wantMsg: "certificate 1"},
		{name: "bad DER in a certificate block", in: cat(leaf.CertPEM, pemOf("CERTIFICATE", []byte{0x30, 0})), wantErr: x509util.ErrMalformedCertificate, wantMsg: "certificate 2"},
		{name: "key file", in: leaf.KeyPEM, wantErr: x509util.ErrNoCertificate, wantMsg: "is a private key, not a certificate"},
		{name: "other blocks only", in: ecParams, wantErr: x509util.ErrNoCertificate, wantMsg: "EC PARAMETERS"},
		{name: "garbage", in: []byte("not a certificate\x00\xff"), wantErr: x509util.ErrNoCertificate, wantMsg: "want PEM CERTIFICATE blocks"},
		{name: "DER certificate (PEM wanted)", in: leaf.Cert.Raw, wantErr: x509util.ErrNoCertificate},
		{name: "empty", in: []byte("\n \n"), wantErr: x509util.ErrNoCertificate, wantMsg: "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := x509util.ParseCertificates(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("err = %v, want %v mentioning %q", err, tc.wantErr, tc.wantMsg)
				}
				if strings.Contains(err.Error(), "-----BEGIN") {
					t.Fatalf("error quotes PEM: %v", err)
				}
				if bytes.Contains(tc.in, leaf.KeyPEM) {
					assertNoKeyMaterial(t, err, tc.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d certificates, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !got[i].Equal(tc.want[i]) {
					t.Fatalf("certificate %d differs", i+1)
				}
			}
		})
	}
}

func TestParseCRLs(t *testing.T) {
	ca := testpki.NewCA(t)
	inter := ca.Intermediate(t)
	now := time.Now()
	rootDER := ca.CRL(t, now, now.Add(time.Hour))
	interDER := inter.CRL(t, now, now.Add(time.Hour))
	rootPEM, interPEM := pemOf("X509 CRL", rootDER), pemOf("X509 CRL", interDER)
	for _, tc := range []struct {
		name    string
		in      []byte
		want    [][]byte // RawTBSRevocationList of each, by DER
		wantErr error
		wantMsg string
	}{
		{name: "DER", in: rootDER, want: [][]byte{rootDER}},
		{name: "PEM", in: rootPEM, want: [][]byte{rootDER}},
		{name: "two PEM with text and a certificate", in: cat([]byte("Certificate Revocation List (CRL):\n"), rootPEM, ca.CertPEM, interPEM), want: [][]byte{rootDER, interDER}},
		{name: "truncated second PEM", in: cat(rootPEM, interPEM[:len(interPEM)-30]), wantErr: x509util.ErrMalformedCRL, wantMsg: "CRL 2"},
		{name: "bad DER in a PEM block", in: []byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"), wantErr: x509util.ErrMalformedCRL, wantMsg: "CRL 1"},
		{name: "truncated DER", in: rootDER[:len(rootDER)/2], wantErr: x509util.ErrMalformedCRL, wantMsg: "DER"},
		{name: "certificates only", in: ca.CertPEM, wantErr: x509util.ErrNoCRL, wantMsg: "CERTIFICATE"},
		{name: "empty", in: nil, wantErr: x509util.ErrNoCRL, wantMsg: "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := x509util.ParseCRLs(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("err = %v, want %v mentioning %q", err, tc.wantErr, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d CRLs, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i].Raw, tc.want[i]) {
					t.Fatalf("CRL %d differs", i+1)
				}
			}
			first, err := x509util.ParseCRL(tc.in)
			if err != nil || !bytes.Equal(first.Raw, tc.want[0]) {
				t.Fatalf("ParseCRL: %v", err)
			}
		})
	}
}
