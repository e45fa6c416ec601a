package serve

import (
	"strings"
	"testing"

	"github.com/ccserver/ccserver/internal/cli"
)

// FuzzResolve feeds arbitrary flags and environment values to the
// settings resolver. Whatever the input, it must not panic, and it must
// never turn TLS off or drop client authentication without the flag
// that says so.
func FuzzResolve(f *testing.F) {
	f.Add("--tls-cert c --tls-key k --client-ca ca", "true", "", "")
	f.Add("--insecure-plaintext", "false", "c", "ca")
	f.Add("--tls-cert c --tls-key k", "maybe", "c", "")
	f.Add("--pin sha256/x --tls-min-version 1.3", "", "", "ca")
	f.Fuzz(func(t *testing.T, args, disabled, cert, ca string) {
		argv := append([]string{"--address", "127.0.0.1:1", "--ccid", "x:1"}, strings.Fields(args)...)
		c, err := parse(argv, map[string]string{EnvTLSDisabled: disabled, EnvTLSCert: cert, EnvTLSKey: cert, EnvClientCA: ca})
		if err != nil {
			if !cli.IsUsage(err) {
				t.Fatalf("error %v is not a usage error", err)
			}
			return
		}
		if c.tls == nil && !strings.Contains(args, "--insecure-plaintext") {
			t.Fatalf("TLS off without --insecure-plaintext: %q", args)
		}
		if c.tls != nil && c.tls.ClientCAFile == "" && !strings.Contains(args, "--insecure-no-client-auth") {
			t.Fatalf("no client authentication without --insecure-no-client-auth: %q", args)
		}
	})
}
