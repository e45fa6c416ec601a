package ccaas_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ccserver/ccserver/ccaas"
)

// FuzzParseConnection: what parses marshals and parses back unchanged;
// failures are always ErrInvalid.
func FuzzParseConnection(f *testing.F) {
	for _, s := range []string{
		`{"address":"cc:9999","dial_timeout":"10s","tls_required":false}`,
		`{"address":"cc:9999","dial_timeout":5000000,"tls_required":true,"root_cert":"x"}`,
		`{"address":"cc:9999","client_auth_required":"true"}`,
		`{"address":"[::1]:1","domain":"d","tls_required":true,"client_auth_required":true,"root_cert":"r","client_cert":"c","client_key":"k"}`,
		`{"address":"{{.peername}}:1"}`, `{`, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ccaas.ParseConnection(b)
		if err != nil {
			if !errors.Is(err, ccaas.ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ccaas.ParseConnection(out)
		if err != nil || back != c {
			t.Fatalf("round trip: %+v -> %s -> %+v, %v", c, out, back, err)
		}
		_ = c.Validate()
	})
}

// FuzzRender: Render never panics, fails only with ErrInvalid, and never
// keeps what the builder drops.
func FuzzRender(f *testing.F) {
	f.Add("{{.peername}}:9999", "10s", true, "{{.root}}", `{"peername":"p","root":"R"}`, "d")
	f.Add("cc:{{.port}}", "{{.t}}", false, "R", `{"port":1e6,"t":null}`, "")
	f.Add("{{index . \"a-b\"}}", "{{.x.y}}", true, "{{.x", ` `, "")
	f.Fuzz(func(t *testing.T, addr, timeout string, tlsOn bool, root, cfg, domain string) {
		c := ccaas.Connection{Address: addr, DialTimeout: timeout, TLSRequired: tlsOn, ClientAuthRequired: true, RootCert: root, ClientCert: root, ClientKey: root, Domain: domain}
		r, err := c.Render([]byte(cfg))
		if err != nil {
			if !errors.Is(err, ccaas.ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		if r.Domain != "" || (!tlsOn && (r.ClientAuthRequired || r.RootCert != "" || r.ClientCert != "" || r.ClientKey != "")) {
			t.Fatalf("kept a dropped field: %+v", r)
		}
	})
}

// FuzzReadPackage: arbitrary bytes never panic and fail with ErrInvalid.
func FuzzReadPackage(f *testing.F) {
	var pkg bytes.Buffer
	_ = ccaas.WritePackage(&pkg, "basic_1.0", ccaas.Connection{Address: "cc:1", DialTimeout: "1s"})
	f.Add(pkg.Bytes())
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, err := ccaas.ReadPackage(bytes.NewReader(b))
		if err != nil && !errors.Is(err, ccaas.ErrInvalid) {
			t.Fatalf("error not ErrInvalid: %v", err)
		}
	})
}
