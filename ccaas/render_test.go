package ccaas_test

import (
	"reflect"
	"testing"

	"github.com/ccserver/ccserver/ccaas"
)

// TestRender pins the ccaas builder's templating (ccaas_builder/cmd/build
// in Fabric v2.5.16 and v3.1.5): text/template with missingkey=error over
// the JSON object of CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG decoded into
// map[string]interface{}.
func TestRender(t *testing.T) {
	m := fixedMaterial(t)
	addr := func(a string) ccaas.Connection { return ccaas.Connection{Address: a, DialTimeout: "10s"} }
	for _, tc := range []struct {
		name string
		conn ccaas.Connection
		cfg  string
		want ccaas.Connection
		kind error // nil: no error
		fld  string
		text string
	}{
		{name: "fabric-samples' per-peer address", conn: addr("{{.peername}}_basic_ccaas:9999"), cfg: `{"peername":"peer0org1"}`, want: addr("peer0org1_basic_ccaas:9999")},
		{name: "no template, no config: unchanged", conn: addr("cc:9999"), want: addr("cc:9999")},
		{name: "no template, config ignored", conn: addr("cc:9999"), cfg: `{"x":1}`, want: addr("cc:9999")},
		{name: "missing key", conn: addr("{{.peername}}:9999"), cfg: `{"peer":"p"}`, kind: ccaas.ErrTemplate, fld: "address", text: `map has no entry for key "peername"`},
		{name: "missing key without config", conn: addr("{{.peername}}:9999"), kind: ccaas.ErrTemplate, fld: "address", text: `map has no entry for key "peername"`},
		{name: "null config is no config", conn: addr("{{.peername}}:9999"), cfg: `null`, kind: ccaas.ErrTemplate, fld: "address", text: "map has no entry"},
		{name: "missing nested key", conn: addr("{{.peer.name}}:1"), cfg: `{"peer":{"id":"p"}}`, kind: ccaas.ErrTemplate, fld: "address", text: `map has no entry for key "name"`},
		{name: "field of a string", conn: addr("{{.peer.name}}:1"), cfg: `{"peer":"p"}`, kind: ccaas.ErrTemplate, fld: "address", text: "can't evaluate field name"},
		{name: "nested key", conn: addr("{{.peer.name}}:1"), cfg: `{"peer":{"name":"p0"}}`, want: addr("p0:1")},
		{name: "key that is not an identifier", conn: addr(`{{index . "peer-name"}}:1`), cfg: `{"peer-name":"p0"}`, want: addr("p0:1")},
		{name: "index of a missing key is <no value>, not an error", conn: addr(`{{index . "nope"}}:1`), cfg: `{}`, want: addr("<no value>:1")},
		{name: "integer port", conn: addr("cc:{{.port}}"), cfg: `{"port":9999}`, want: addr("cc:9999")},
		{name: "large number prints as a float64", conn: addr("cc:{{.n}}"), cfg: `{"n":1000000}`, want: addr("cc:1e+06")},
		{name: "fraction", conn: addr("cc:{{.n}}"), cfg: `{"n":1.5}`, want: addr("cc:1.5")},
		{name: "boolean", conn: addr("{{.b}}:1"), cfg: `{"b":true}`, want: addr("true:1")},
		{name: "null value", conn: addr("{{.n}}:1"), cfg: `{"n":null}`, want: addr("<no value>:1")},
		{name: "object", conn: addr("{{.o}}"), cfg: `{"o":{"k":"v"}}`, want: addr("map[k:v]")},
		{name: "array", conn: addr("{{.a}}"), cfg: `{"a":[1,"x"]}`, want: addr("[1 x]")},
		{name: "no html escaping", conn: addr("{{.x}}"), cfg: `{"x":"<&>"}`, want: addr("<&>")},
		{name: "builtin functions", conn: addr(`{{printf "%s-%03d" .p 7}}:1`), cfg: `{"p":"peer"}`, want: addr("peer-007:1")},
		{name: "conditionals", conn: addr(`{{if .tls}}secure{{else}}plain{{end}}:1`), cfg: `{"tls":false}`, want: addr("plain:1")},
		{name: "comments vanish", conn: addr(`{{/* per peer */}}cc:1`), want: addr("cc:1")},
		{name: "no other functions", conn: addr(`{{env "HOME"}}:1`), kind: ccaas.ErrTemplate, fld: "address", text: `function "env" not defined`},
		{name: "unclosed action", conn: addr(`{{.x`), kind: ccaas.ErrTemplate, fld: "address", text: "unclosed action"},
		{name: "dial timeout templated", conn: ccaas.Connection{Address: "cc:1", DialTimeout: "{{.t}}"}, cfg: `{"t":"5s"}`, want: ccaas.Connection{Address: "cc:1", DialTimeout: "5s"}},
		{name: "dial timeout from a number has no unit", conn: ccaas.Connection{Address: "cc:1", DialTimeout: "{{.t}}"}, cfg: `{"t":5}`, want: ccaas.Connection{Address: "cc:1", DialTimeout: "5"}},
		{name: "address fails before dial timeout", conn: ccaas.Connection{Address: "{{.a}}", DialTimeout: "{{.t}}"}, cfg: `{}`, kind: ccaas.ErrTemplate, fld: "address"},
		{name: "dial timeout fails", conn: ccaas.Connection{Address: "cc:1", DialTimeout: "{{.t}}"}, cfg: `{}`, kind: ccaas.ErrTemplate, fld: "dial_timeout"},
		{name: "pem fields with tls", conn: ccaas.Connection{Address: "cc:1", DialTimeout: "1s", TLSRequired: true, ClientAuthRequired: true,
			RootCert: "{{.root}}", ClientKey: "{{.key}}", ClientCert: m.cert}, cfg: `{"root":"R","key":"K"}`,
			want: ccaas.Connection{Address: "cc:1", DialTimeout: "1s", TLSRequired: true, ClientAuthRequired: true, RootCert: "R", ClientKey: "K", ClientCert: m.cert}},
		{name: "root_cert fails before client_key", conn: ccaas.Connection{TLSRequired: true, RootCert: "{{.r}}", ClientKey: "{{.k}}"}, cfg: `{}`, kind: ccaas.ErrTemplate, fld: "root_cert"},
		{name: "client_key fails before client_cert", conn: ccaas.Connection{TLSRequired: true, ClientCert: "{{.c}}", ClientKey: "{{.k}}"}, cfg: `{}`, kind: ccaas.ErrTemplate, fld: "client_key"},
		{name: "without tls the pem fields and client auth are dropped unparsed", conn: ccaas.Connection{Address: "cc:1", DialTimeout: "1s", ClientAuthRequired: true,
			RootCert: "{{.r", ClientCert: m.cert, ClientKey: m.key}, want: ccaas.Connection{Address: "cc:1", DialTimeout: "1s"}},
		{name: "domain is dropped", conn: ccaas.Connection{Address: "cc:1", DialTimeout: "1s", TLSRequired: true, ClientAuthRequired: true, RootCert: "R", ClientCert: "C", ClientKey: "K", Domain: "cc.example.com"},
			want: ccaas.Connection{Address: "cc:1", DialTimeout: "1s", TLSRequired: true, ClientAuthRequired: true, RootCert: "R", ClientCert: "C", ClientKey: "K"}},
		{name: "config array", conn: addr("cc:1"), cfg: `["x"]`, kind: ccaas.ErrBuilderConfig, text: "want a JSON object"},
		{name: "config string", conn: addr("cc:1"), cfg: `"x"`, kind: ccaas.ErrBuilderConfig},
		{name: "config blank", conn: addr("cc:1"), cfg: ` `, kind: ccaas.ErrBuilderConfig, text: "unexpected end of JSON input"},
		{name: "config not json", conn: addr("cc:1"), cfg: `peername=p0`, kind: ccaas.ErrBuilderConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg []byte
			if tc.cfg != "" {
				cfg = []byte(tc.cfg)
			}
			got, err := tc.conn.Render(cfg)
			if tc.kind == nil {
				if err != nil || got != tc.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
				}
				return
			}
			checkErr(t, err, tc.kind, tc.fld, tc.text)
		})
	}
}

// TestRenderThenValidate is the peer's whole path: a package's templates
// filled per peer, then the peer's checks on the result.
func TestRenderThenValidate(t *testing.T) {
	pkg := ccaas.Connection{Address: "{{.peername}}_cc:{{.port}}", DialTimeout: "{{.timeout}}"}
	for cfg, wantErr := range map[string]bool{
		`{"peername":"peer0org1","port":9999,"timeout":"10s"}`:   false,
		`{"peername":"peer0org1","port":9999,"timeout":10}`:      true, // "10": no unit
		`{"peername":"peer0org1","port":1000000,"timeout":"1s"}`: true, // "1e+06"
	} {
		c, err := pkg.Render([]byte(cfg))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); (err != nil) != wantErr {
			t.Errorf("%s: %+v: Validate = %v", cfg, c, err)
		}
	}
}

func TestTemplates(t *testing.T) {
	tests := []struct {
		name string
		conn ccaas.Connection
		want map[string]string
	}{
		{"literal", ccaas.Connection{Address: "a:1", DialTimeout: "1s"}, map[string]string{}},
		{"address", ccaas.Connection{Address: "{{.host}}:1", DialTimeout: "1s"}, map[string]string{"address": "{{.host}}:1"}},
		{"pem without TLS is not rendered", ccaas.Connection{Address: "a:1", RootCert: "{{.root_cert}}"}, map[string]string{}},
		{"pem with TLS", ccaas.Connection{Address: "a:1", TLSRequired: true, ClientAuthRequired: true, RootCert: "{{.root_cert}}", ClientKey: "{{.client_key}}", ClientCert: "x"},
			map[string]string{"root_cert": "{{.root_cert}}", "client_key": "{{.client_key}}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.conn.Templates(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Templates() = %v, want %v", got, tt.want)
			}
		})
	}
}
