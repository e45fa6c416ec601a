package ccaas_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// material is PEM for connection.json fields.
type material struct {
	ca, cert, key   string // a CA and a client pair it issued
	otherCert       string // a certificate whose key is not key
	otherCA         string
	expiredCA, junk string
}

// fixedMaterial is the same bytes on every run (Ed25519 keys from fixed
// seeds, fixed serials and validity), so packages built from it can be
// compared with recorded hashes.
func fixedMaterial(t *testing.T) material {
	t.Helper()
	key := func(b byte) testpki.Option {
		seed := make([]byte, ed25519.SeedSize)
		for i := range seed {
			seed[i] = b
		}
		return testpki.WithKey(ed25519.NewKeyFromSeed(seed))
	}
	valid := testpki.WithValidity(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC))
	ca := testpki.NewCA(t, key(1), testpki.WithSerial(1), valid)
	client := ca.Client(t, key(2), testpki.WithSerial(2), valid)
	other := ca.Client(t, key(3), testpki.WithSerial(3), valid)
	otherCA := testpki.NewCA(t, key(4), testpki.WithSerial(4), valid)
	expired := testpki.NewCA(t, key(5), testpki.WithSerial(5),
		testpki.WithValidity(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)))
	return material{
		ca: string(ca.CertPEM), cert: string(client.CertPEM), key: string(client.KeyPEM),
		otherCert: string(other.CertPEM), otherCA: string(otherCA.CertPEM), expiredCA: string(expired.CertPEM),
		junk: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
	}
}
