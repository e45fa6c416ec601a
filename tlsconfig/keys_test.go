package tlsconfig_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

func rsaKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
