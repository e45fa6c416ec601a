package ccaas_test

import (
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/ccaas"
	"github.com/ccserver/ccserver/internal/x509util"
)

func TestParseConnection(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       ccaas.Connection
		kind       error // nil: no error
		field      string
		text       string
	}{
		{name: "every field", json: `{"address":"cc:9999","dial_timeout":"10s","tls_required":true,"client_auth_required":true,"root_cert":"R","client_cert":"C","client_key":"K","domain":"d"}`,
			want: ccaas.Connection{Address: "cc:9999", DialTimeout: "10s", TLSRequired: true, ClientAuthRequired: true, RootCert: "R", ClientCert: "C", ClientKey: "K", Domain: "d"}},
		{name: "keys match in any case, as encoding/json does for the builder", json: `{"Address":"cc:1","TLS_REQUIRED":true}`,
			want: ccaas.Connection{Address: "cc:1", TLSRequired: true}},
		{name: "unknown keys ignored", json: `{"address":"cc:1","peer":"x","tls":{"a":1}}`, want: ccaas.Connection{Address: "cc:1"}},
		{name: "last duplicate wins", json: `{"address":"a:1","address":"b:2"}`, want: ccaas.Connection{Address: "b:2"}},
		{name: "null values are absent", json: `{"address":null,"tls_required":null,"dial_timeout":null}`},
		{name: "null document", json: `null`},
		{name: "templates are kept", json: `{"address":"{{.peername}}:9999","dial_timeout":"{{.t}}"}`, want: ccaas.Connection{Address: "{{.peername}}:9999", DialTimeout: "{{.t}}"}},
		{name: "string boolean", json: `{"address":"cc:1","tls_required":"true"}`, kind: ccaas.ErrType, field: "tls_required", text: "want true or false without quotes, not a JSON string"},
		{name: "number boolean", json: `{"client_auth_required":1}`, kind: ccaas.ErrType, field: "client_auth_required", text: "not a JSON number"},
		{name: "dial timeout in nanoseconds", json: `{"address":"cc:1","dial_timeout":2000000000}`, kind: ccaas.ErrType, field: "dial_timeout", text: `want a duration string such as "10s", not a JSON number`},
		{name: "dial timeout boolean", json: `{"dial_timeout":true}`, kind: ccaas.ErrType, field: "dial_timeout", text: "not a JSON bool"},
		{name: "address object", json: `{"address":{"host":"cc"}}`, kind: ccaas.ErrType, field: "address", text: "want a JSON string, not a JSON object"},
		{name: "domain number", json: `{"domain":5}`, kind: ccaas.ErrType, field: "domain"},
		{name: "array", json: `[{"address":"cc:1"}]`, kind: ccaas.ErrType, text: "connection.json: want a JSON object"},
		{name: "not json", json: `address: cc:1`, kind: ccaas.ErrInvalid, text: "connection.json: not JSON"},
		{name: "trailing data", json: `{"address":"cc:1"} {}`, kind: ccaas.ErrInvalid, text: "not JSON"},
		{name: "empty", json: ``, kind: ccaas.ErrInvalid, text: "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ccaas.ParseConnection([]byte(tc.json))
			if tc.kind == nil {
				if err != nil || c != tc.want {
					t.Fatalf("got %+v, %v; want %+v", c, err, tc.want)
				}
				return
			}
			checkErr(t, err, tc.kind, tc.field, tc.text)
			if c != (ccaas.Connection{}) {
				t.Errorf("partial result %+v", c)
			}
		})
	}
}

// checkErr asserts err matches ErrInvalid and kind, names field (if not
// empty) and contains text.
func checkErr(t *testing.T, err error, kind error, field, text string) {
	t.Helper()
	if !errors.Is(err, ccaas.ErrInvalid) || !errors.Is(err, kind) || !strings.Contains(err.Error(), text) {
		t.Fatalf("err = %v, want %v with %q", err, kind, text)
	}
	var fe *ccaas.FieldError
	if field != "" && (!errors.As(err, &fe) || fe.Field != field || !strings.HasPrefix(err.Error(), "connection.json: "+field+": ")) {
		t.Fatalf("err = %v, want a FieldError for %s", err, field)
	}
}

func TestValidate(t *testing.T) {
	m := fixedMaterial(t)
	plain := ccaas.Connection{Address: "cc.example.com:9999", DialTimeout: "10s"}
	mtls := ccaas.Connection{Address: "127.0.0.1:9999", DialTimeout: "10s", TLSRequired: true, ClientAuthRequired: true, RootCert: m.ca, ClientCert: m.cert, ClientKey: m.key}
	p := func(f func(*ccaas.Connection)) ccaas.Connection { c := plain; f(&c); return c }
	mt := func(f func(*ccaas.Connection)) ccaas.Connection { c := mtls; f(&c); return c }
	keyDER, _ := pem.Decode([]byte(m.key))
	tlsgenKey := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER.Bytes}))
	encrypted := string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}}))
	for _, tc := range []struct {
		name  string
		conn  ccaas.Connection
		kind  error // nil: valid
		field string
		text  string
	}{
		{name: "plaintext", conn: plain},
		{name: "tls", conn: mt(func(c *ccaas.Connection) { c.ClientAuthRequired, c.ClientCert, c.ClientKey = false, "", "" })},
		{name: "mtls", conn: mtls},
		{name: "zero dial timeout is the peer's default", conn: p(func(c *ccaas.Connection) { c.DialTimeout = "0s" })},
		{name: "ipv6", conn: p(func(c *ccaas.Connection) { c.Address = "[::1]:9999" })},
		{name: "no address", conn: p(func(c *ccaas.Connection) { c.Address = "" }), kind: ccaas.ErrMissing, field: "address", text: "chaincode address not provided"},
		{name: "no port", conn: p(func(c *ccaas.Connection) { c.Address = "cc.example.com" }), kind: ccaas.ErrInvalid, field: "address", text: "want host:port"},
		{name: "no host", conn: p(func(c *ccaas.Connection) { c.Address = ":9999" }), kind: ccaas.ErrInvalid, field: "address", text: "want host:port"},
		{name: "port 0", conn: p(func(c *ccaas.Connection) { c.Address = "cc:0" }), kind: ccaas.ErrInvalid, field: "address", text: "1 to 65535"},
		{name: "port too big", conn: p(func(c *ccaas.Connection) { c.Address = "cc:70000" }), kind: ccaas.ErrInvalid, field: "address", text: "1 to 65535"},
		{name: "named port", conn: p(func(c *ccaas.Connection) { c.Address = "cc:http" }), kind: ccaas.ErrInvalid, field: "address", text: "must be a number"},
		{name: "no dial timeout", conn: p(func(c *ccaas.Connection) { c.DialTimeout = "" }), kind: ccaas.ErrMissing, field: "dial_timeout", text: `invalid duration ""`},
		{name: "dial timeout without unit", conn: p(func(c *ccaas.Connection) { c.DialTimeout = "10" }), kind: ccaas.ErrInvalid, field: "dial_timeout", text: "missing unit"},
		{name: "negative dial timeout", conn: p(func(c *ccaas.Connection) { c.DialTimeout = "-1s" }), kind: ccaas.ErrInvalid, field: "dial_timeout", text: "negative"},
		{name: "template in address", conn: p(func(c *ccaas.Connection) { c.Address = "{{.peername}}:9999" }), kind: ccaas.ErrNotRendered, field: "address", text: "render it with the builder config"},
		{name: "template comment in dial timeout", conn: p(func(c *ccaas.Connection) { c.DialTimeout = "{{/* x */}}10s" }), kind: ccaas.ErrNotRendered, field: "dial_timeout"},
		{name: "template in root_cert", conn: mt(func(c *ccaas.Connection) { c.RootCert = "{{.root}}" }), kind: ccaas.ErrNotRendered, field: "root_cert"},
		{name: "broken template", conn: p(func(c *ccaas.Connection) { c.Address = "{{.peername:9999" }), kind: ccaas.ErrTemplate, field: "address"},
		{name: "without tls the pem fields are not looked at", conn: p(func(c *ccaas.Connection) {
			c.ClientAuthRequired, c.RootCert, c.ClientCert, c.ClientKey = true, "{{.x", "junk", ""
		})},
		{name: "tls without root", conn: mt(func(c *ccaas.Connection) { c.RootCert = "" }), kind: ccaas.ErrMissing, field: "root_cert", text: "chaincode tls root cert not provided"},
		{name: "root without certificate", conn: mt(func(c *ccaas.Connection) { c.RootCert = m.key }), kind: ccaas.ErrInvalid, field: "root_cert", text: "error adding root certificate"},
		{name: "corrupt root", conn: mt(func(c *ccaas.Connection) { c.RootCert = m.junk }), kind: x509util.ErrMalformedCertificate, field: "root_cert", text: "error adding root certificate"},
		{name: "root bundle with a corrupt block loads, as in the peer's pool", conn: mt(func(c *ccaas.Connection) { c.RootCert = m.junk + m.ca })},
		{name: "expired root loads (the handshake judges it)", conn: mt(func(c *ccaas.Connection) { c.RootCert = m.expiredCA })},
		{name: "client auth without key", conn: mt(func(c *ccaas.Connection) { c.ClientKey = "" }), kind: ccaas.ErrMissing, field: "client_key", text: "chaincode tls key not provided"},
		{name: "client auth without cert", conn: mt(func(c *ccaas.Connection) { c.ClientCert = "" }), kind: ccaas.ErrMissing, field: "client_cert", text: "chaincode tls cert not provided"},
		{name: "key of another certificate", conn: mt(func(c *ccaas.Connection) { c.ClientCert = m.otherCert }), kind: ccaas.ErrInvalid, field: "client_key", text: "does not form a key pair with client_cert"},
		{name: "encrypted key", conn: mt(func(c *ccaas.Connection) { c.ClientKey = encrypted }), kind: x509util.ErrEncryptedKey, field: "client_key"},
		{name: "certificate as key", conn: mt(func(c *ccaas.Connection) { c.ClientKey = m.cert }), kind: ccaas.ErrInvalid, field: "client_key"},
		{name: "corrupt client cert", conn: mt(func(c *ccaas.Connection) { c.ClientCert = m.junk }), kind: x509util.ErrMalformedCertificate, field: "client_cert"},
		{name: "pkcs8 under EC PRIVATE KEY, as Fabric's tlsgen writes", conn: mt(func(c *ccaas.Connection) { c.ClientKey = tlsgenKey })},
		{name: "client pair without client auth is ignored", conn: mt(func(c *ccaas.Connection) { c.ClientAuthRequired, c.ClientKey = false, "junk" })},
		{name: "domain", conn: mt(func(c *ccaas.Connection) { c.Domain = "cc.example.com" })},
		{name: "ipv6 domain", conn: mt(func(c *ccaas.Connection) { c.Domain = "::1" })},
		{name: "domain with port", conn: mt(func(c *ccaas.Connection) { c.Domain = "cc.example.com:9999" }), kind: ccaas.ErrInvalid, field: "domain", text: "server name alone"},
		{name: "domain with space", conn: mt(func(c *ccaas.Connection) { c.Domain = "cc example" }), kind: ccaas.ErrInvalid, field: "domain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.conn.Validate()
			if tc.kind == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkErr(t, err, tc.kind, tc.field, tc.text)
			if strings.Contains(err.Error(), m.key[40:80]) {
				t.Errorf("key material in %v", err)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{"10s": 10 * time.Second, "1m30s": 90 * time.Second, "0s": ccaas.DefaultDialTimeout, "0": ccaas.DefaultDialTimeout, "250ms": 250 * time.Millisecond} {
		if got, err := (ccaas.Connection{DialTimeout: in}).Timeout(); err != nil || got != want {
			t.Errorf("Timeout(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10", "ten", "-1s", "{{.t}}"} {
		if _, err := (ccaas.Connection{DialTimeout: in}).Timeout(); !errors.Is(err, ccaas.ErrInvalid) {
			t.Errorf("Timeout(%q) err = %v", in, err)
		}
	}
}

func TestServerName(t *testing.T) {
	for _, tc := range []struct {
		conn ccaas.Connection
		want string
	}{
		{ccaas.Connection{Address: "cc.example.com:9999"}, "cc.example.com"},
		{ccaas.Connection{Address: "[::1]:9999", TLSRequired: true}, "::1"},
		{ccaas.Connection{Address: "10.0.0.1:9999", TLSRequired: true, ClientAuthRequired: true, Domain: "cc.example.com"}, "cc.example.com"},
		{ccaas.Connection{Address: "10.0.0.1:9999", TLSRequired: true, Domain: "cc.example.com"}, "10.0.0.1"}, // domain only with client auth
		{ccaas.Connection{Address: "no-port"}, "no-port"},
	} {
		if got := tc.conn.ServerName(); got != tc.want {
			t.Errorf("%+v: ServerName %q, want %q", tc.conn, got, tc.want)
		}
	}
}

// TestMarshalParse: Marshal's output parses back to the same value, and
// drops empty PEM fields and domain from the file.
func TestMarshalParse(t *testing.T) {
	m := fixedMaterial(t)
	for _, c := range []ccaas.Connection{
		{Address: "cc:1", DialTimeout: "1s"},
		{Address: "cc:1", DialTimeout: "1s", TLSRequired: true, ClientAuthRequired: true, RootCert: m.ca, ClientCert: m.cert, ClientKey: m.key, Domain: "d"},
		{Address: "<&>{{.x}}"},
	} {
		b, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ccaas.ParseConnection(b)
		if err != nil || back != c {
			t.Errorf("%s: back %+v, %v", b, back, err)
		}
	}
	b, _ := (ccaas.Connection{Address: "cc:1"}).Marshal()
	if strings.Contains(string(b), "root_cert") || strings.Contains(string(b), "domain") {
		t.Errorf("empty fields written: %s", b)
	}
}
