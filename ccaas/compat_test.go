package ccaas_test

import (
	"bytes"
	"testing"

	"github.com/ccserver/ccserver/ccaas"
	"github.com/ccserver/ccserver/pki"
)

// TestMatchesPKIWriter compares with the writer ccaas replaces, while it
// exists; TestPackageBytesStable keeps the hashes afterwards.
func TestMatchesPKIWriter(t *testing.T) {
	m := fixedMaterial(t)
	for _, tc := range goldenCases(m) {
		old, err := pki.CCaaSPackage(tc.label, pki.Connection{Address: tc.conn.Address, DialTimeout: tc.conn.DialTimeout, TLSRequired: tc.conn.TLSRequired,
			ClientAuthRequired: tc.conn.ClientAuthRequired, RootCert: tc.conn.RootCert, ClientCert: tc.conn.ClientCert, ClientKey: tc.conn.ClientKey})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := ccaas.WritePackage(&buf, tc.label, tc.conn); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(old, buf.Bytes()) {
			t.Errorf("%s: bytes differ", tc.name)
		}
	}
}
