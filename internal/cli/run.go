package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs root as the process does: its context is cancelled on SIGINT
// or SIGTERM, so long-running verbs (ccpki renew --daemon, ccpeer bench)
// stop cleanly. It returns the exit code for os.Exit.
func (p Program) Main(root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	ctx, stop := SignalContext(context.Background())
	defer stop()
	return p.Execute(ctx, root, args, stdout, stderr)
}

// SignalContext is parent, cancelled on SIGINT or SIGTERM.
func SignalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

// Execute runs the command tree under root with args (without the program
// name) and ctx (cmd.Context() in every RunE), prints a failure with
// PrintError and returns the exit code.
//
// It also gives every command in the tree the shared manners: --version,
// no usage dump on errors (the error line says what is wrong), and exit 2
// with a pointer to --help for any command line cobra itself refuses
// (unknown command or flag, a bad flag value, wrong argument count, a
// missing required flag). Execute changes root; build a new tree for each
// call.
func (p Program) Execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	ran := false
	root.SilenceErrors, root.SilenceUsage = true, true
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	p.addVersion(root)
	walk(root, func(c *cobra.Command) {
		// An error from RunE is the operation's; every error before it
		// (parsing, argument and required-flag checks) is the command
		// line's. Telling them apart here needs no matching of cobra's
		// message texts.
		if run := c.RunE; run != nil {
			c.RunE = func(c *cobra.Command, args []string) error {
				ran = true
				return run(c, args)
			}
		}
	})
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && !ran {
		if _, ok := ownCode(err); !ok {
			err = Usage(err)
		}
		if hint(err) == "" && cmd != nil {
			err = WithHint(err, "see '"+cmd.CommandPath()+" --help'")
		}
	}
	p.PrintError(stderr, err)
	return p.ExitCode(err)
}

// addVersion gives every command --version. The flag is declared once on
// the root, persistent, so cobra does not also claim -v, which commands
// may want for themselves.
func (p Program) addVersion(root *cobra.Command) {
	line := p.Name + " version " + ReadVersion().String()
	if root.PersistentFlags().Lookup("version") == nil {
		root.PersistentFlags().Bool("version", false, "print the version and exit")
	}
	root.SetVersionTemplate("{{.Version}}\n")
	walk(root, func(c *cobra.Command) { c.Version = line })
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}
