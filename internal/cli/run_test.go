package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// testRoot is a command tree shaped like ours: a root with verbs, flags,
// required flags and argument checks.
func testRoot() *cobra.Command {
	root := &cobra.Command{Use: "tool", Short: "a test tool"}
	var dir string
	var n int
	issue := &cobra.Command{
		Use:  "issue --dir DIR",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch dir {
			case "bad":
				return Usagef("--dir %q is not a directory", dir)
			case "verify":
				return fmt.Errorf("%s: %w", dir, errVerify)
			case "hint":
				return WithHint(errors.New("no CA here"), "run tool init")
			case "code":
				return Exit(19, errors.New("mismatch"))
			case "cobra-like":
				// An operation's error that merely reads like cobra's.
				return errors.New(`unknown flag: the CA accepts 2 arg(s)`)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "issued", dir, n)
			return nil
		},
	}
	issue.Flags().StringVar(&dir, "dir", "", "output directory")
	issue.Flags().IntVar(&n, "n", 1, "how many")
	_ = issue.MarkFlagRequired("dir")
	inspect := &cobra.Command{
		Use:  "inspect FILE...",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "inspected", strings.Join(args, " "))
			return nil
		},
	}
	wait := &cobra.Command{
		Use: "wait",
		RunE: func(cmd *cobra.Command, _ []string) error {
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.OutOrStdout(), "stopped")
			return nil
		},
	}
	root.AddCommand(issue, inspect, wait)
	return root
}

func TestExecute(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		code         int
		stdout       string // regexp
		stderr       string // exact
		stderrRegexp string
	}{
		{name: "ok", args: []string{"issue", "--dir", "d", "--n", "2"}, stdout: "^issued d 2\n$"},
		{name: "help", args: []string{"issue", "--help"}, stdout: "--dir string"},
		{name: "root without verb shows help", args: nil, stdout: "Available Commands:"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2,
			stderr: "tool: unknown command \"frobnicate\" for \"tool\"\n  fix: see 'tool --help'\n"},
		{name: "unknown flag", args: []string{"issue", "--nope"}, code: 2,
			stderr: "tool: unknown flag: --nope\n  fix: see 'tool issue --help'\n"},
		{name: "bad flag value", args: []string{"issue", "--dir", "d", "--n", "many"}, code: 2,
			stderrRegexp: `^tool: invalid argument "many" for "--n" flag: .*\n  fix: see 'tool issue --help'\n$`},
		{name: "missing required flag", args: []string{"issue"}, code: 2,
			stderr: "tool: required flag(s) \"dir\" not set\n  fix: see 'tool issue --help'\n"},
		{name: "unexpected argument", args: []string{"issue", "--dir", "d", "extra"}, code: 2,
			stderr: "tool: unknown command \"extra\" for \"tool issue\"\n  fix: see 'tool issue --help'\n"},
		{name: "too few arguments", args: []string{"inspect"}, code: 2,
			stderr: "tool: requires at least 1 arg(s), only received 0\n  fix: see 'tool inspect --help'\n"},
		{name: "usage error from the operation", args: []string{"issue", "--dir", "bad"}, code: 2,
			stderr: "tool: --dir \"bad\" is not a directory\n"},
		{name: "sentinel exit code", args: []string{"issue", "--dir", "verify"}, code: 3,
			stderr: "tool: verify: verification failed\n"},
		{name: "hint", args: []string{"issue", "--dir", "hint"}, code: 1,
			stderr: "tool: no CA here\n  fix: run tool init\n"},
		{name: "own exit code", args: []string{"issue", "--dir", "code"}, code: 19, stderr: "tool: mismatch\n"},
		{name: "an operation's error is no usage error, whatever it says", args: []string{"issue", "--dir", "cobra-like"}, code: 1,
			stderr: "tool: unknown flag: the CA accepts 2 arg(s)\n"},
		{name: "version", args: []string{"--version"}, stdout: `^tool version \S.*, go1\.\d+`},
		{name: "version on a verb, before its required flags are checked", args: []string{"issue", "--version"}, stdout: `^tool version \S`},
		{name: "no -v shorthand", args: []string{"-v"}, code: 2, stderrRegexp: "unknown shorthand flag: 'v'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := testProgram().Execute(t.Context(), testRoot(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if tt.stdout != "" && !regexp.MustCompile(tt.stdout).MatchString(stdout.String()) {
				t.Errorf("stdout %q does not match %q", stdout.String(), tt.stdout)
			}
			if tt.stdout == "" && stdout.Len() > 0 && tt.code != 0 {
				t.Errorf("stdout on failure: %q", stdout.String())
			}
			switch {
			case tt.stderrRegexp != "":
				if !regexp.MustCompile(tt.stderrRegexp).MatchString(stderr.String()) {
					t.Errorf("stderr %q does not match %q", stderr.String(), tt.stderrRegexp)
				}
			case stderr.String() != tt.stderr:
				t.Errorf("stderr %q, want %q", stderr.String(), tt.stderr)
			}
		})
	}
}

// Every command's help shows --version.
func TestHelpListsVersion(t *testing.T) {
	var stdout bytes.Buffer
	if code := testProgram().Execute(t.Context(), testRoot(), []string{"inspect", "--help"}, &stdout, &stdout); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stdout.String(), "--version") || strings.Contains(stdout.String(), "-v,") {
		t.Errorf("help:\n%s", stdout.String())
	}
}

// The context reaches RunE: cancelling it stops a waiting verb, which
// then exits 0.
func TestExecuteContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	done := make(chan int)
	var stdout bytes.Buffer
	go func() { done <- testProgram().Execute(ctx, testRoot(), []string{"wait"}, &stdout, &stdout) }()
	cancel()
	if code := <-done; code != 0 || stdout.String() != "stopped\n" {
		t.Fatalf("exit %d, output %q", code, stdout.String())
	}
}

func TestSignalContext(t *testing.T) {
	parent, cancel := context.WithCancel(t.Context())
	ctx, stop := SignalContext(parent)
	defer stop()
	cancel()
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("SignalContext does not follow its parent")
	}
}
