package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/ccaas"
)

// builderField is how the ccaas builder names a field in "Failed to parse
// the <Name> field template".
var builderField = map[string]string{
	"address": "Address", "dial_timeout": "DialTimeout", "root_cert": "RootCert", "client_key": "ClientKey", "client_cert": "ClientCert",
}

// TestCCaaSBuilderTemplating runs the release's own ccaas builder (its
// build step, where the templating happens at install) on each input and
// compares with ccaas.ParseConnection + Render: both fail, and on the same
// field, or both succeed with the same connection.json for the peer.
func TestCCaaSBuilderTemplating(t *testing.T) {
	needFabric(t)
	build := filepath.Join(fabric.CCaaSDir, "bin", "build")
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	for _, tc := range []struct {
		name, conn, cfg string
	}{
		{"literal", `{"address":"cc:9999","dial_timeout":"10s","tls_required":false}`, ""},
		{"per-peer address", `{"address":"{{.peername}}_basic:9999","dial_timeout":"10s"}`, `{"peername":"peer0org1"}`},
		{"missing key", `{"address":"{{.peername}}:9999","dial_timeout":"10s"}`, `{"peer":"p"}`},
		{"template without config", `{"address":"{{.peername}}:9999","dial_timeout":"10s"}`, ""},
		{"null config", `{"address":"{{.peername}}:9999","dial_timeout":"10s"}`, "null"},
		{"config array", `{"address":"cc:1","dial_timeout":"1s"}`, `["x"]`},
		{"config blank", `{"address":"cc:1","dial_timeout":"1s"}`, " "},
		{"numbers booleans null", `{"address":"{{.h}}:{{.port}}","dial_timeout":"{{.big}}{{.frac}}{{.b}}{{.n}}"}`, `{"h":"cc","port":9999,"big":1000000,"frac":1.5,"b":true,"n":null}`},
		{"object and array", `{"address":"{{.o}}{{.a}}","dial_timeout":"1s"}`, `{"o":{"k":"v"},"a":[1,"x"]}`},
		{"nested and index", `{"address":"{{.peer.name}}:{{index . \"the-port\"}}","dial_timeout":"1s"}`, `{"peer":{"name":"p0"},"the-port":"7052"}`},
		{"missing nested", `{"address":"{{.peer.id}}:1","dial_timeout":"1s"}`, `{"peer":{"name":"p0"}}`},
		{"unknown function", `{"address":"{{env \"HOME\"}}:1","dial_timeout":"1s"}`, `{}`},
		{"unclosed action", `{"address":"cc:1","dial_timeout":"{{.t"}`, `{}`},
		{"address fails first", `{"address":"{{.a}}","dial_timeout":"{{.t}}"}`, `{}`},
		{"tls fields templated", `{"address":"cc:1","dial_timeout":"1s","tls_required":true,"client_auth_required":true,"root_cert":"{{.root}}","client_cert":"{{.cert}}","client_key":"K"}`, `{"root":"R","cert":"C"}`},
		{"root_cert before client_key", `{"address":"cc:1","dial_timeout":"1s","tls_required":true,"root_cert":"{{.r}}","client_key":"{{.k}}"}`, `{}`},
		{"client_key before client_cert", `{"address":"cc:1","dial_timeout":"1s","tls_required":true,"client_cert":"{{.c}}","client_key":"{{.k}}"}`, `{}`},
		{"without tls: pem and client auth dropped unparsed", `{"address":"cc:1","dial_timeout":"1s","client_auth_required":true,"root_cert":"{{.r","client_key":"K"}`, ""},
		{"domain dropped", `{"address":"cc:1","dial_timeout":"1s","tls_required":true,"client_auth_required":true,"root_cert":"` + strings.ReplaceAll(pem, "\n", `\n`) + `","client_cert":"C","client_key":"K","domain":"cc.example.com"}`, ""},
		{"no dial timeout", `{"address":"cc:1"}`, ""},
		{"quoted boolean", `{"address":"cc:1","dial_timeout":"1s","tls_required":"true"}`, ""},
		{"dial timeout number", `{"address":"cc:1","dial_timeout":1000000000}`, ""},
		{"keys in any case, unknown keys", `{"Address":"cc:1","DIAL_TIMEOUT":"1s","extra":{"x":1}}`, ""},
		{"html characters", `{"address":"{{.x}}","dial_timeout":"1s"}`, `{"x":"<&>"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src, meta, out := filepath.Join(dir, "src"), filepath.Join(dir, "meta"), filepath.Join(dir, "out")
			for _, d := range []string{src, meta, out} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(src, "connection.json"), []byte(tc.conn), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(meta, "metadata.json"), []byte(`{"type":"ccaas","label":"x"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(build, src, meta, out)
			cmd.Env = []string{"CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG=" + tc.cfg}
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stderr, &stderr
			builderErr := cmd.Run()

			parsed, err := ccaas.ParseConnection([]byte(tc.conn))
			var ours ccaas.Connection
			if err == nil {
				ours, err = parsed.Render([]byte(tc.cfg))
			}
			if builderErr != nil {
				if err == nil {
					t.Fatalf("the builder fails (%v):\n%s\nccaas renders %+v", builderErr, stderr.String(), ours)
				}
				var fe *ccaas.FieldError
				if errors.As(err, &fe) && errors.Is(err, ccaas.ErrTemplate) && !strings.Contains(stderr.String(), "the "+builderField[fe.Field]+" field template") {
					t.Fatalf("ccaas fails on %s (%v); the builder on another field:\n%s", fe.Field, err, stderr.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("ccaas fails (%v); the builder succeeds:\n%s", err, stderr.String())
			}
			written, err := os.ReadFile(filepath.Join(out, "connection.json"))
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := ccaas.ParseConnection(written)
			if err != nil {
				t.Fatalf("the builder wrote %s: %v", written, err)
			}
			if theirs != ours {
				t.Fatalf("the builder wrote %s\nccaas renders %+v", written, ours)
			}
			if tc.name == "no dial timeout" && !bytes.Contains(written, []byte(`"dial_timeout":""`)) {
				t.Fatalf("the builder wrote %s, want an empty dial_timeout (which the peer cannot parse)", written)
			}
		})
	}
}
