package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"go.uber.org/goleak"

	"github.com/ccserver/ccserver/cmd/ccpki/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ccpki": func() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: filepath.Join("testdata", "script")})
}

// Exit codes are part of the interface: scripts branch on them.
func TestExitCodes(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	ca, srv := filepath.Join(dir, "ca"), filepath.Join(dir, "srv")
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := cli.Main(args, &out, &out)
		return code, out.String()
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"init", "--dir", ca}, 0, "created CA"},
		{[]string{"init", "--dir", ca}, 1, "--force"},
		{[]string{"issue", "--ca", ca, "--profile", "server", "--dns", "localhost", "--out", srv}, 0, "issued"},
		{[]string{"verify", "--roots", filepath.Join(ca, "ca.crt"), "--role", "server", "--address", "localhost:1", srv}, 0, "OK"},
		{[]string{"verify", "--roots", filepath.Join(ca, "ca.crt"), "--role", "client", srv}, 3, "verification failed"},
		{[]string{"verify", "--roots", filepath.Join(ca, "ca.crt"), "--role", "server", srv}, 2, "--address"},
		{[]string{"issue", "--ca", ca, "--profile", "server", "--out", srv}, 2, "--dns"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"pin", "--nope"}, 2, "unknown flag"},
		{[]string{"issue", "--ca", ca}, 2, "required flag"},
		{[]string{"issue", "--ca", ca, "--profile", "server", "--dns", "localhost"}, 2, `required flag(s) "out" not set`},
		{[]string{"issue", "--ca", ca}, 2, "fix: see 'ccpki issue --help'"},
		{[]string{"--version"}, 0, "ccpki version "},
		{[]string{"crl", "--version"}, 0, "ccpki version "},
		{[]string{"pin", filepath.Join(dir, "missing.pem")}, 1, "missing.pem"},
		{[]string{"init", "--dir", filepath.Join(dir, "x"), "--key-type", "dsa"}, 2, "unknown key type"},
	} {
		code, out := run(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("ccpki %s: exit %d (want %d), output:\n%s(want %q)", strings.Join(tc.args, " "), code, tc.code, out, tc.want)
		}
	}
}
