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
// usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"

	"github.com/ccserver/ccserver/fabricshim/internal/migrate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks errors in the command line: exit status 2.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := migrateCmd(ctx, args, stdout, stderr)
	var u errUsage
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "ccmigrate: %v\nusage: ccmigrate [--diff] [--ccserver-version V] [DIR]\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "ccmigrate: %v\n", err)
		return 1
	}
}

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("ccmigrate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	diff := flags.Bool("diff", false, "print the changes as a unified diff and write nothing")
	ccVersion := flags.String("ccserver-version", defaultCCServerVersion(), "version of github.com/ccserver/ccserver to require (default: this ccmigrate's version)")
	showVersion := flags.Bool("version", false, "print ccmigrate's version and exit")
	flags.Usage = func() {
		fmt.Fprint(stderr, `usage: ccmigrate [--diff] [--ccserver-version V] [DIR]

Rewrites the v1-shim chaincode module in DIR (default .) in place to run on
ccserver's shim: imports, peer.Response by value, go.mod. With --diff it
only shows what it would change. Then run: go mod tidy && go build ./... &&
go vet ./... && go test ./...

Flags:
`)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage{err.Error()}
	}
	if *showVersion {
		fmt.Fprintln(stdout, "ccmigrate", buildVersion())
		return nil
	}
	if flags.NArg() > 1 {
		return errUsage{fmt.Sprintf("one module directory, got %d arguments", flags.NArg())}
	}
	if *ccVersion == "" {
		return errUsage{"--ccserver-version is empty and this build knows no version of ccserver: name one, e.g. --ccserver-version v0.1.0"}
	}
	dir := "."
	if flags.NArg() == 1 {
		dir = flags.Arg(0)
	}
	res, err := migrate.Plan(ctx, dir, migrate.Options{CCServerVersion: *ccVersion})
	if err != nil {
		return err
	}
	if *diff {
		if err := res.WriteDiff(stdout); err != nil {
			return err
		}
	} else if err := res.Apply(); err != nil {
		return err
	}
	report(res, *diff, stderr)
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

// buildVersion is the module version and VCS revision from the build info.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v
}
