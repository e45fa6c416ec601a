// Command ccmigrate moves a chaincode module written for the v1 shim
// (github.com/hyperledger/fabric-chaincode-go/shim, or Fabric 1.x's
// core/chaincode/shim) onto ccserver's shim, in place:
//
//	ccmigrate [--diff] [--ccserver-version V] [DIR]
//
// It rewrites the imports (the shim to github.com/ccserver/ccserver/shim,
// fabric-protos-go to fabric-protos-go-apiv2, pkg/cid, pkg/statebased and
// pkg/attrmgr to fabric-chaincode-go/v2's), turns peer.Response by value
// into *peer.Response (signatures, variables, fields, literals), and edits
// go.mod: the v1 modules go, the new ones come in at explicit versions.
// It parses and prints Go with go/ast, so formatting and comments stay.
// --diff shows the changes and writes nothing. What it cannot rewrite it
// lists as notes, with positions; then run go mod tidy, go build, go vet
// and the tests.
//
// Exit status: 0 done (notes may remain), 1 the migration failed, 2 bad
// usage; --version prints the version from the build info.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"

	"github.com/ccserver/ccserver/fabricshim/internal/migrate"
	"github.com/ccserver/ccserver/internal/cli"
	"github.com/spf13/cobra"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

// run is main without the process, for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := cli.SignalContext(ctx)
	defer stop()
	return cli.Program{Name: "ccmigrate"}.Execute(ctx, newRoot(), args, stdout, stderr)
}

func newRoot() *cobra.Command {
	var diff bool
	var ccVersion string
	root := &cobra.Command{
		Use:   "ccmigrate [--diff] [--ccserver-version V] [DIR]",
		Short: "Move a v1-shim chaincode module onto ccserver's shim, in place",
		Long: `Rewrites the v1-shim chaincode module in DIR (default .) in place to run on
ccserver's shim: imports, peer.Response by value, go.mod. With --diff it
only shows what it would change. What it cannot rewrite it lists as notes.

Exit status: 0 done (notes may remain), 1 the migration failed, 2 bad usage.`,
		Example: `  ccmigrate --diff ./mychaincode
  ccmigrate ./mychaincode && cd mychaincode && go mod tidy && go build ./... && go vet ./... && go test ./...`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ccVersion == "" {
				return cli.WithHint(cli.Usagef("no ccserver version to require"),
					"name one with --ccserver-version (this build of ccmigrate has no version of its own)")
			}
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return migrateModule(cmd.Context(), dir, ccVersion, diff, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	root.Flags().BoolVar(&diff, "diff", false, "print the changes as a unified diff and write nothing")
	root.Flags().StringVar(&ccVersion, "ccserver-version", defaultCCServerVersion(),
		"version of github.com/ccserver/ccserver to require (default: this ccmigrate's version)")
	return root
}

func migrateModule(ctx context.Context, dir, ccVersion string, diff bool, stdout, stderr io.Writer) error {
	res, err := migrate.Plan(ctx, dir, migrate.Options{CCServerVersion: ccVersion})
	if errors.Is(err, fs.ErrNotExist) {
		return cli.WithHint(err, "run ccmigrate in the chaincode's module root, or name that directory")
	}
	if err != nil {
		return err
	}
	if diff {
		if err := res.WriteDiff(stdout); err != nil {
			return err
		}
	} else if err := res.Apply(); err != nil {
		return err
	}
	report(res, diff, stderr)
	return nil
}

// report tells what changed and what is left to do by hand.
func report(res *migrate.Result, dryRun bool, w io.Writer) {
	verb := "rewrote"
	if dryRun {
		verb = "would rewrite"
	}
	files := len(res.Changes)
	for _, c := range res.Changes {
		if c.Path == "go.mod" {
			files--
		}
	}
	fmt.Fprintf(w, "ccmigrate: %s %d Go files in %s\n", verb, files, res.Root)
	for _, d := range res.Dropped {
		fmt.Fprintf(w, "  go.mod: drop %s\n", d)
	}
	for _, a := range res.Added {
		fmt.Fprintf(w, "  go.mod: require %s\n", a)
	}
	if len(res.Notes) > 0 {
		fmt.Fprintf(w, "%d notes, to look at by hand:\n", len(res.Notes))
		for _, n := range res.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	if len(res.Changes) > 0 && !dryRun {
		fmt.Fprintln(w, "next: go mod tidy && go build ./... && go vet ./... && go test ./...")
	}
}

// defaultCCServerVersion is the version of this ccmigrate when it was
// installed at a version (go install …/ccmigrate@vX.Y.Z): fabricshim and
// ccserver are released together. A development build knows none.
func defaultCCServerVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return ""
	}
	return bi.Main.Version
}
