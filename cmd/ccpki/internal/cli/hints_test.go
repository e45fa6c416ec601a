package cli

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/serve"
	"github.com/ccserver/ccserver/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/spf13/cobra"
)

// hintSources are the trees whose messages reach command-line users.
var hintSources = []string{"serve", "tlsconfig", "devpeer", "pki", "ccaas", "internal/fsutil", "internal/x509util", "cmd"}

var (
	ccpkiHint    = regexp.MustCompile(`['(\x60]ccpki ([a-z][a-z-]*)((?: [a-z][a-z-]*)?)((?: [A-Z]+| --[a-z][a-z0-9-]*(?: [A-Za-z./_-]+)?)*)`)
	ccserverFlag = regexp.MustCompile(`ccserver((?: --[a-z][a-z0-9-]*)+)`)
	flagToken    = regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
)

// literals returns every string literal of the non-test Go files under
// the module's dirs, with where it is.
func literals(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, dir := range hintSources {
		root := filepath.Join("../../../..", dir)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if bl, ok := n.(*ast.BasicLit); ok && bl.Kind == token.STRING {
					if s, err := strconv.Unquote(bl.Value); err == nil {
						out[s] = fset.Position(bl.Pos()).String()
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// ccserverFlags are the flags ccserver's own help lists.
func ccserverFlags(t *testing.T) map[string]bool {
	t.Helper()
	var out bytes.Buffer
	serve.Run(context.Background(), nopCC{}, serve.Env{Args: []string{"--help"}, Stdout: &out})
	flags := map[string]bool{}
	for _, m := range flagToken.FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = true
	}
	if !flags["tls-key"] || !flags["max-connections"] {
		t.Fatalf("ccserver --help lists no flags:\n%s", out.String())
	}
	return flags
}

// TestHintsNameRealCommands: every 'ccpki VERB [--flag]' (quoted, or in
// parentheses: the form hints take) and "ccserver
// --flag" a message tells a user to run names a verb and flags that exist
// in the command trees (ccpki's cobra root, ccserver's help).
func TestHintsNameRealCommands(t *testing.T) {
	root := newRoot()
	srvFlags := ccserverFlags(t)
	checked := 0
	for s, where := range literals(t) {
		for _, m := range ccpkiHint.FindAllStringSubmatch(s, -1) {
			args := []string{m[1]}
			if sub := strings.TrimSpace(m[2]); sub != "" {
				args = append(args, sub)
			}
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == root {
				t.Errorf("%s: %q names ccpki %s, which does not exist", where, m[0], m[1])
				continue
			}
			_ = rest // a word after the verb that is no subcommand is an argument
			for _, f := range flagToken.FindAllStringSubmatch(m[3], -1) {
				if !hasFlag(cmd, f[1]) {
					t.Errorf("%s: %q: ccpki %s has no flag --%s", where, m[0], cmd.Name(), f[1])
				}
			}
			checked++
		}
		for _, m := range ccserverFlag.FindAllStringSubmatch(s, -1) {
			for _, f := range flagToken.FindAllStringSubmatch(m[1], -1) {
				if !srvFlags[f[1]] {
					t.Errorf("%s: %q: ccserver has no flag --%s", where, m[0], f[1])
				}
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no hint found: the patterns no longer match the messages")
	}
}

// TestServeMessagesNameCCServerFlags: every --flag in serve's messages is
// one of ccserver's flags (serve's texts are ccserver's).
func TestServeMessagesNameCCServerFlags(t *testing.T) {
	srvFlags := ccserverFlags(t)
	for s, where := range literals(t) {
		if !strings.Contains(where, "/serve/") {
			continue
		}
		for _, f := range flagToken.FindAllStringSubmatch(s, -1) {
			if !srvFlags[f[1]] && f[1] != "help" && f[1] != "version" {
				t.Errorf("%s: %q names --%s, which ccserver does not have", where, s, f[1])
			}
		}
	}
}

type nopCC struct{}

func (nopCC) Init(shim.ChaincodeStubInterface) *peer.Response   { return nil }
func (nopCC) Invoke(shim.ChaincodeStubInterface) *peer.Response { return nil }

func hasFlag(cmd *cobra.Command, name string) bool {
	return cmd.Flags().Lookup(name) != nil || cmd.InheritedFlags().Lookup(name) != nil || name == "help"
}
