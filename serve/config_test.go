package serve

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ccserver/ccserver/internal/cli"
	"github.com/ccserver/ccserver/tlsconfig"
	"github.com/spf13/pflag"
)

// parse runs the flag parsing and environment resolution the command
// runs, without serving.
func parse(args []string, env map[string]string) (*config, error) {
	var v flagValues
	fs := pflag.NewFlagSet("ccserver", pflag.ContinueOnError)
	v.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, cli.Usage(err)
	}
	return resolve(v, fs.Changed, mapEnv(env))
}

var base = []string{"--address", "127.0.0.1:9999", "--ccid", "basic_1.0:abc"}

func mtls(extra ...string) []string {
	return append(append(append([]string{}, base...), "--tls-cert", "s.crt", "--tls-key", "s.key", "--client-ca", "ca.crt"), extra...)
}

const testPin = "sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

const goodPin = testPin

func TestResolve(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c *config)
	}{
		{"flags for mutual TLS", mtls(), nil, func(t *testing.T, c *config) {
			want := tlsconfig.ServerSpec{CertFile: "s.crt", KeyFile: "s.key", ClientCAFile: "ca.crt", MinVersion: tlsconfig.VersionTLS12}
			if !equalTLS(c.tls, want) || c.address != "127.0.0.1:9999" || c.ccid != "basic_1.0:abc" {
				t.Errorf("got %+v", c)
			}
		}},
		{"env only (fabric-samples names)", nil, map[string]string{
			EnvAddress: "0.0.0.0:9999", EnvCCID: "basic_1.0:env", EnvTLSDisabled: "false",
			EnvTLSCert: "/c/tls.crt", EnvTLSKey: "/c/tls.key", EnvClientCA: "/c/ca.crt", EnvMSPID: "Org1MSP",
		}, func(t *testing.T, c *config) {
			want := tlsconfig.ServerSpec{CertFile: "/c/tls.crt", KeyFile: "/c/tls.key", ClientCAFile: "/c/ca.crt", MinVersion: tlsconfig.VersionTLS12}
			if c.address != "0.0.0.0:9999" || c.ccid != "basic_1.0:env" || c.mspid != "Org1MSP" || !equalTLS(c.tls, want) {
				t.Errorf("got %+v", c)
			}
		}},
		{"env only (contract-api's names)", nil, map[string]string{
			EnvAddress: "0.0.0.0:9999", EnvContractCCID: "basic_1.0:capi",
			EnvContractTLSCert: "/k/cert.pem", EnvContractTLSKey: "/k/key.pem", EnvContractClientCA: "/k/root.pem",
		}, func(t *testing.T, c *config) {
			want := tlsconfig.ServerSpec{CertFile: "/k/cert.pem", KeyFile: "/k/key.pem", ClientCAFile: "/k/root.pem", MinVersion: tlsconfig.VersionTLS12}
			if c.ccid != "basic_1.0:capi" || !equalTLS(c.tls, want) {
				t.Errorf("got %+v", c)
			}
			got := strings.Join(c.fromEnv, " ")
			for _, pair := range []string{"--address " + EnvAddress, "--ccid " + EnvContractCCID, "--tls-cert " + EnvContractTLSCert,
				"--tls-key " + EnvContractTLSKey, "--client-ca " + EnvContractClientCA} {
				if !strings.Contains(got, pair) {
					t.Errorf("fromEnv %q lacks %q", got, pair)
				}
			}
		}},
		{"fabric-samples' names win over contract-api's", nil, map[string]string{
			EnvAddress: "0.0.0.0:9999", EnvCCID: "basic_1.0:ours", EnvContractCCID: "basic_1.0:capi",
			EnvTLSCert: "/c/tls.crt", EnvContractTLSCert: "/k/cert.pem", EnvTLSKey: "/c/tls.key", EnvContractTLSKey: "/k/key.pem",
			EnvClientCA: "/c/ca.crt", EnvContractClientCA: "/k/root.pem",
		}, func(t *testing.T, c *config) {
			if c.ccid != "basic_1.0:ours" || c.tls.CertFile != "/c/tls.crt" || c.tls.KeyFile != "/c/tls.key" || c.tls.ClientCAFile != "/c/ca.crt" {
				t.Errorf("got %+v", c)
			}
		}},
		{"flags win over env", mtls(), map[string]string{
			EnvAddress: "0.0.0.0:1", EnvCCID: "other:1", EnvTLSCert: "e.crt", EnvTLSKey: "e.key", EnvClientCA: "e-ca.crt",
		}, func(t *testing.T, c *config) {
			if c.address != "127.0.0.1:9999" || c.ccid != "basic_1.0:abc" || c.tls.CertFile != "s.crt" || c.tls.KeyFile != "s.key" || c.tls.ClientCAFile != "ca.crt" {
				t.Errorf("got %+v", c)
			}
		}},
		{"unparsable CHAINCODE_TLS_DISABLED keeps TLS on, as fabric-samples does", mtls(), map[string]string{EnvTLSDisabled: "yes please"},
			func(t *testing.T, c *config) {
				if c.tls == nil || !hasNote(c, "not a boolean; TLS stays on") {
					t.Errorf("got %+v", c)
				}
			}},
		{"empty env values count as unset", mtls(), map[string]string{EnvTLSDisabled: "", EnvAddress: ""}, func(t *testing.T, c *config) {
			if c.tls == nil {
				t.Error("TLS off")
			}
		}},
		{"--insecure-plaintext", append(base, "--insecure-plaintext"), nil, func(t *testing.T, c *config) {
			if c.tls != nil || !hasNote(c, "TLS is OFF") {
				t.Errorf("got %+v", c)
			}
		}},
		{"--insecure-plaintext with CHAINCODE_TLS_DISABLED=true and env TLS files (a fabric-samples env file)",
			append(base, "--insecure-plaintext"), map[string]string{EnvTLSDisabled: "true", EnvTLSCert: "a", EnvTLSKey: "b", EnvClientCA: "c"},
			func(t *testing.T, c *config) {
				if c.tls != nil || !hasNote(c, EnvTLSCert+" is ignored") || !hasNote(c, EnvClientCA+" is ignored") {
					t.Errorf("got %+v", c)
				}
			}},
		{"--insecure-plaintext overrides CHAINCODE_TLS_DISABLED=false", append(base, "--insecure-plaintext"), map[string]string{EnvTLSDisabled: "false"},
			func(t *testing.T, c *config) {
				if c.tls != nil || !hasNote(c, "overridden by --insecure-plaintext") {
					t.Errorf("got %+v", c)
				}
			}},
		{"--insecure-no-client-auth", append(append([]string{}, base...), "--tls-cert", "s.crt", "--tls-key", "s.key", "--insecure-no-client-auth"), nil,
			func(t *testing.T, c *config) {
				if !c.tls.InsecureNoClientAuth || c.tls.ClientCAFile != "" || !hasNote(c, "client authentication is OFF") {
					t.Errorf("got %+v", c)
				}
			}},
		{"--pin repeatable, base64 and hex", mtls("--pin", testPin, "--pin", strings.Repeat("ab", 32), "--pin", strings.Repeat("AB:", 31)+"AB"), nil, func(t *testing.T, c *config) {
			if len(c.tls.Pins) != 3 || c.tls.Pins[0] != testPin {
				t.Errorf("pins %v", c.tls.Pins)
			}
		}},
		{"--crl and --crl-require-full-chain", mtls("--crl", "x.crl", "--crl-require-full-chain"), nil, func(t *testing.T, c *config) {
			if c.tls.CRLFile != "x.crl" || !c.tls.CRLRequireFullChain {
				t.Errorf("tls = %+v", c.tls)
			}
		}},
		{"--crl and --crl-fail-open", mtls("--crl", "x.crl", "--crl-fail-open"), nil, func(t *testing.T, c *config) {
			if c.tls.CRLFile != "x.crl" || !c.tls.CRLFailOpen {
				t.Errorf("got %+v", c.tls)
			}
		}},
		{"--client-identity repeatable", mtls("--client-identity", "o=Org1MSP,ou=peer", "--client-identity", "dns=peer0.org2.example.com"), nil, func(t *testing.T, c *config) {
			if len(c.tls.IdentityRules) != 2 || c.tls.IdentityRules[0].String() != "o=Org1MSP,ou=peer" || c.tls.IdentityRules[1].DNSNames[0] != "peer0.org2.example.com" {
				t.Errorf("rules %v", c.tls.IdentityRules)
			}
		}},
		{"--tls-min-version 1.3", mtls("--tls-min-version", "1.3"), nil, func(t *testing.T, c *config) {
			if c.tls.MinVersion != tlsconfig.VersionTLS13 {
				t.Errorf("min version %x", c.tls.MinVersion)
			}
		}},
		{"--insecure-key-permissions", mtls("--insecure-key-permissions"), nil, func(t *testing.T, c *config) {
			if !c.tls.InsecureKeyPermissions || !hasNote(c, "not checked") {
				t.Errorf("got %+v", c.tls)
			}
		}},
		{"--max-concurrent-tx", mtls("--max-concurrent-tx", "8"), nil, func(t *testing.T, c *config) {
			if c.maxConcurrentTx != 8 {
				t.Errorf("got %d", c.maxConcurrentTx)
			}
		}},
		{"--metrics-address", mtls("--metrics-address", "127.0.0.1:9443"), nil, func(t *testing.T, c *config) {
			if c.metricsAddress != "127.0.0.1:9443" {
				t.Errorf("got %q", c.metricsAddress)
			}
		}},
		{"--log-format json --log-level debug", mtls("--log-format", "json", "--log-level", "debug"), nil, func(t *testing.T, c *config) {
			if c.logFormat != "json" || c.logLevel.String() != "DEBUG" {
				t.Errorf("got %s %s", c.logFormat, c.logLevel)
			}
		}},
		{"--shutdown-timeout and keepalive", mtls("--shutdown-timeout", "5s", "--keepalive-time", "2m", "--keepalive-timeout", "7s", "--keepalive-min-time", "1m"), nil,
			func(t *testing.T, c *config) {
				if c.shutdownTimeout != 5*time.Second || c.keepaliveTime != 2*time.Minute || c.keepaliveTimeout != 7*time.Second || c.keepaliveMinTime != time.Minute {
					t.Errorf("got %+v", c)
				}
			}},
		{"defaults", mtls(), nil, func(t *testing.T, c *config) {
			if c.shutdownTimeout != 30*time.Second || c.keepaliveTime != time.Minute || c.keepaliveTimeout != 20*time.Second ||
				c.keepaliveMinTime != 20*time.Second || c.logFormat != "text" || c.logLevel.String() != "INFO" || c.metricsAddress != "" || c.maxConcurrentTx != 0 {
				t.Errorf("got %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(tt.args, tt.env)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func equalTLS(a *tlsconfig.ServerSpec, b tlsconfig.ServerSpec) bool {
	return a != nil && a.CertFile == b.CertFile && a.KeyFile == b.KeyFile &&
		a.ClientCAFile == b.ClientCAFile && a.MinVersion == b.MinVersion && a.InsecureNoClientAuth == b.InsecureNoClientAuth &&
		len(a.Pins) == len(b.Pins) && a.CRLFile == b.CRLFile
}

func hasNote(c *config, sub string) bool {
	for _, n := range c.notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// TestUsageErrors runs the whole command: each bad setting exits 2 with
// a message that names the setting and the fix, before binding a port.
func TestUsageErrors(t *testing.T) {
	noTLS := append([]string{}, base...)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // substrings of stderr
	}{
		{"no address", []string{"--ccid", "x:1", "--insecure-plaintext"}, nil, []string{"--address", EnvAddress}},
		{"no ccid", []string{"--address", "127.0.0.1:0", "--insecure-plaintext"}, nil, []string{"--ccid", EnvCCID, "queryinstalled"}},
		{"TLS without a certificate", noTLS, nil, []string{"TLS is on but no server certificate is given: give --tls-cert (or " + EnvTLSCert + ") and --tls-key (or " + EnvTLSKey + ")",
			"fix: 'ccpki issue server' makes a pair", "--insecure-plaintext"}},
		{"key without cert", append(noTLS, "--tls-key", "k"), nil, []string{"--tls-key is given but not --tls-cert (or " + EnvTLSCert + ")"}},
		{"cert without key", append(noTLS, "--tls-cert", "c"), nil, []string{"--tls-cert is given but not --tls-key"}},
		{"cert from env, key missing", noTLS, map[string]string{EnvTLSCert: "c"}, []string{"not --tls-key", EnvTLSKey}},
		{"contract-api's names keep the secure default: no client CA", nil, map[string]string{
			EnvAddress: "0.0.0.0:9999", EnvContractCCID: "basic_1.0:capi", EnvContractTLSCert: "/k/cert.pem", EnvContractTLSKey: "/k/key.pem",
		}, []string{"--client-ca", "--insecure-no-client-auth"}},
		{"TLS without a client CA", append(noTLS, "--tls-cert", "c", "--tls-key", "k"), nil, []string{"give --client-ca (or " + EnvClientCA + ") with the CA", "or --insecure-no-client-auth to admit any client"}},
		{"client CA and no client auth", mtls("--insecure-no-client-auth"), nil, []string{"--client-ca requires client certificates", "drop one"}},
		{"env client CA and no client auth", append(noTLS, "--tls-cert", "c", "--tls-key", "k", "--insecure-no-client-auth"),
			map[string]string{EnvClientCA: "ca"}, []string{EnvClientCA + " requires client certificates"}},
		{"CHAINCODE_TLS_DISABLED=true alone", noTLS, map[string]string{EnvTLSDisabled: "true"}, []string{EnvTLSDisabled + "=true asks for plaintext", "--insecure-plaintext"}},
		{"CHAINCODE_TLS_DISABLED=1 alone", noTLS, map[string]string{EnvTLSDisabled: "1", EnvTLSCert: "c", EnvTLSKey: "k"}, []string{"asks for plaintext"}},
		{"plaintext with TLS flags", append(noTLS, "--insecure-plaintext", "--tls-cert", "c", "--pin", testPin), nil,
			[]string{"--insecure-plaintext turns TLS off", "--tls-cert", "--pin"}},
		{"pin without client auth", append(noTLS, "--tls-cert", "c", "--tls-key", "k", "--insecure-no-client-auth", "--pin", testPin), nil, []string{"--pin checks"}},
		{"client identity without client auth", append(noTLS, "--tls-cert", "c", "--tls-key", "k", "--insecure-no-client-auth", "--client-identity", "o=X"), nil,
			[]string{"--client-identity checks the peers' certificates, which --insecure-no-client-auth does not ask for: give --client-ca instead"}},
		{"bad client identity", mtls("--client-identity", "cn=peer0"), nil, []string{`"cn=peer0" for "--client-identity"`, "want dns=, uri=, o= or ou="}},
		{"crl without client auth", append(noTLS, "--tls-cert", "c", "--tls-key", "k", "--insecure-no-client-auth", "--crl", "x"), nil, []string{"--crl checks"}},
		{"crl-fail-open without crl", mtls("--crl-fail-open"), nil, []string{"--crl-fail-open needs --crl"}},
		{"crl-require-full-chain without crl", mtls("--crl-require-full-chain"), nil, []string{"--crl-require-full-chain needs --crl"}},
		{"crl-require-full-chain with fail-open", mtls("--crl", "x.crl", "--crl-require-full-chain", "--crl-fail-open"), nil, []string{"contradict"}},
		{"bad pin", mtls("--pin", "md5/xyz"), nil, []string{`--pin "md5/xyz"`, "fix: 'ccpki pin CERT'"}},
		{"bad TLS version", mtls("--tls-min-version", "1.1"), nil, []string{`"1.1" for "--tls-min-version"`, "want 1.2 or 1.3"}},
		{"negative max tx", mtls("--max-concurrent-tx", "-1"), nil, []string{"--max-concurrent-tx -1"}},
		{"metrics on the chaincode port", mtls("--metrics-address", "127.0.0.1:9999"), nil, []string{"port of its own"}},
		{"bad log format", mtls("--log-format", "xml"), nil, []string{`--log-format "xml"`}},
		{"bad log level", mtls("--log-level", "loud"), nil, []string{`--log-level "loud"`}},
		{"zero shutdown timeout", mtls("--shutdown-timeout", "0s"), nil, []string{"--shutdown-timeout 0s"}},
		{"keepalive min time above the peer's ping interval", mtls("--keepalive-min-time", "5m"), nil, []string{"too_many_pings", "at most 1m"}},
		{"negative keepalive min time", mtls("--keepalive-min-time", "-1s"), nil, []string{"--keepalive-min-time -1s is negative"}},
		{"zero keepalive time", mtls("--keepalive-time", "0s"), nil, []string{"must be positive"}},
		{"unknown flag", append(noTLS, "--frobnicate"), nil, []string{"unknown flag: --frobnicate", "--help"}},
		{"bad duration", mtls("--shutdown-timeout", "soon"), nil, []string{"--shutdown-timeout"}},
		{"positional argument", append(mtls(), "extra"), nil, []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr syncBuffer
			code := Run(t.Context(), newTestCC(), Env{Args: tt.args, LookupEnv: mapEnv(tt.env), Stderr: &stderr,
				Ready: func(Listening) { t.Error("server started") }})
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitUsage, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if f := specFieldIn(stderr.String()); f != "" {
				t.Errorf("stderr names the spec field %s instead of a flag:\n%s", f, stderr.String())
			}
		})
	}
}

// specFieldIn returns a tlsconfig.ServerSpec field name (of two words or
// more, which no sentence uses) that s mentions, or "".
func specFieldIn(s string) string {
	st := reflect.TypeFor[tlsconfig.ServerSpec]()
	for i := range st.NumField() {
		name := st.Field(i).Name
		if strings.IndexFunc(name[1:], unicode.IsUpper) >= 0 && strings.Contains(s, name) {
			return name
		}
	}
	return ""
}

// TestTLSFlagsBindSpecFields: each TLS flag sets the spec field of its
// table line, and the spec's errors about that field name the flag.
func TestTLSFlagsBindSpecFields(t *testing.T) {
	var v flagValues
	fs := pflag.NewFlagSet("ccserver", pflag.ContinueOnError)
	v.register(fs)
	want := map[string]string{"tls-cert": "CertFile", "tls-key": "KeyFile", "client-ca": "ClientCAFile", "pin": "Pins",
		"client-identity": "IdentityRules", "crl": "CRLFile", "crl-fail-open": "CRLFailOpen", "crl-require-full-chain": "CRLRequireFullChain",
		"tls-min-version": "MinVersion", "insecure-no-client-auth": "InsecureNoClientAuth", "insecure-key-permissions": "InsecureKeyPermissions",
		"allow": "Orgs", "allow-dir": "OrgsDir", "insecure-client-ca-leaf": "InsecureClientCALeaf"}
	if len(v.tls.flags) != len(want) {
		t.Errorf("%d TLS flags, want %d", len(v.tls.flags), len(want))
	}
	for _, f := range v.tls.flags {
		if want[f.flag] != f.field || fs.Lookup(f.flag) == nil {
			t.Errorf("--%s sets %s, want %s", f.flag, f.field, want[f.flag])
		}
	}
	if err := fs.Parse([]string{"--tls-cert", "c", "--tls-key", "k", "--client-ca", "ca", "--pin", goodPin, "--client-identity", "o=A",
		"--crl", "x", "--crl-fail-open", "--tls-min-version", "1.3", "--insecure-key-permissions"}); err != nil {
		t.Fatal(err)
	}
	s := v.tls.spec
	if s.CertFile != "c" || s.KeyFile != "k" || s.ClientCAFile != "ca" || len(s.Pins) != 1 || s.IdentityRules[0].String() != "o=A" ||
		s.CRLFile != "x" || !s.CRLFailOpen || s.MinVersion != tlsconfig.VersionTLS13 || !s.InsecureKeyPermissions {
		t.Errorf("spec %+v", s)
	}
}

func TestHelp(t *testing.T) {
	var stdout syncBuffer
	if code := Run(t.Context(), newTestCC(), Env{Args: []string{"--help"}, Stdout: &stdout}); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"--address", "--ccid", "--tls-cert", "--tls-key", "--client-ca", "--pin", "--client-identity", "--crl", "--tls-min-version",
		"--insecure-plaintext", "--insecure-no-client-auth", "--max-concurrent-tx", "--metrics-address", "--log-format", "--log-level",
		"--shutdown-timeout", EnvAddress, EnvCCID, EnvTLSDisabled, EnvTLSCert, EnvTLSKey, EnvClientCA, EnvMSPID} {
		if !strings.Contains(stdout.String(), f) {
			t.Errorf("help lacks %s", f)
		}
	}
}
