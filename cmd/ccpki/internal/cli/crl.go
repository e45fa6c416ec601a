package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccserver/ccserver/pki"
)

// crlOptions are ccpki crl's flags.
type crlOptions struct {
	cf       caFlags
	out      string
	validity time.Duration
}

func crlCmd() *cobra.Command {
	var o crlOptions
	c := &cobra.Command{
		Use:   "crl --ca DIR",
		Short: "Sign a fresh CRL",
		Long: `Sign a CRL listing every certificate revoked with ccpki revoke, valid until now +
--validity (nextUpdate). Servers treat a CRL past nextUpdate as stale, so run this
regularly (e.g. daily from cron). Written atomically as PEM.`,
		Example: `  ccpki crl --ca certs/ca
  ccpki crl --ca certs/ca --validity 24h --out /etc/ccserver/crl.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCRL(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	o.cf.register(c, true)
	c.Flags().StringVar(&o.out, "out", "", "CRL file (default: crl.pem in the CA directory)")
	c.Flags().DurationVar(&o.validity, "validity", pki.DefaultCRLValidity, "time until the CRL's nextUpdate")
	return c
}

// runCRL signs the local CA's CRL afresh.
func runCRL(ctx context.Context, out io.Writer, o crlOptions) error {
	ca, err := o.cf.open()
	if err != nil {
		return err
	}
	path, err := ca.WriteCRL(ctx, o.out, o.validity)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "CRL written to %s (next update in %s)\n", path, o.validity)
	return nil
}
