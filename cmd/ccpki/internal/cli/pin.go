package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ccserver/ccserver/pki"
)

// pinOptions are ccpki pin's flag and arguments.
type pinOptions struct {
	all   bool
	files []string
}

func pinCmd() *cobra.Command {
	var o pinOptions
	c := &cobra.Command{
		Use:   "pin FILE|DIR...",
		Short: "Print the SPKI pin (sha256/<base64>) that ccserver --pin takes",
		Long: `Print the SHA-256 pin of the SubjectPublicKeyInfo of the first certificate in each
file (with --all, of every certificate), one per line, in the form ccserver --pin
takes. The pin stays the same when a certificate is renewed with --reuse-key.`,
		Example: `  ccpki pin certs/ca/ca.crt
  ccserver --pin "$(ccpki pin certs/peer)" ...
  ccpki pin --all certs/server/tls.crt`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.files = args
			return runPin(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	c.Flags().BoolVar(&o.all, "all", false, "print the pin of every certificate in the file")
	return c
}

// runPin prints the SPKI pin of the first (or every) certificate in each
// file.
func runPin(_ context.Context, out io.Writer, o pinOptions) error {
	for _, a := range o.files {
		chain, err := readChain(a)
		if err != nil {
			return err
		}
		if !o.all {
			chain = chain[:1]
		}
		for _, c := range chain {
			fmt.Fprintln(out, pki.SPKIPin(c))
		}
	}
	return nil
}
