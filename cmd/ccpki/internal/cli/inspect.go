package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccserver/ccserver/pki"
)

// inspectOptions are ccpki inspect's arguments.
type inspectOptions struct {
	files []string
}

func inspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE|DIR...",
		Short: "Show subject, SANs, usages, issuer, validity and pin of certificates",
		Long:  `Print a readable summary of every certificate in each PEM file (a directory means its tls.crt).`,
		Example: `  ccpki inspect certs/server/tls.crt
  ccpki inspect certs/server certs/ca/ca.crt`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd.Context(), cmd.OutOrStdout(), inspectOptions{files: args})
		},
	}
}

// runInspect describes every certificate of every file.
func runInspect(_ context.Context, out io.Writer, o inspectOptions) error {
	for _, a := range o.files {
		chain, err := readChain(a)
		if err != nil {
			return err
		}
		for i, c := range chain {
			fmt.Fprintf(out, "== %s [%d]\n", a, i)
			if err := pki.Describe(out, c, time.Now()); err != nil {
				return err
			}
		}
	}
	return nil
}
