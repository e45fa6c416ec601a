package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccserver/ccserver/internal/fsutil"
	"github.com/ccserver/ccserver/internal/x509util"
	"github.com/ccserver/ccserver/pki"
)

// verifyOptions are ccpki verify's flags and argument.
type verifyOptions struct {
	roots, role, address, crl string
	cert                      string
}

// maxCRLFile bounds a CRL read for verify; a larger one is the wrong file.
const maxCRLFile = 64 << 20

func verifyCmd() *cobra.Command {
	var o verifyOptions
	c := &cobra.Command{
		Use:   "verify --roots FILE [--role server --address HOST:PORT | --role client] CERT",
		Short: "Check that a certificate chains to a bundle and fits its role",
		Long: `Verify CERT (a PEM file with the leaf first, or a directory with tls.crt) against
the trust bundle --roots.

--role server: a chaincode server certificate the peer will accept when dialling
--address (serverAuth, and a DNS or IP SAN that covers the host).
--role client: a peer client certificate the chaincode server will accept
(clientAuth, chains to --roots).
--crl: also refuse a certificate the CRL names, or a stale CRL.

Exit code 3 means the certificate is not valid.`,
		Example: `  ccpki verify --roots certs/ca/ca.crt --role server --address localhost:9999 certs/server
  ccpki verify --roots certs/ca/ca.crt --role client --crl certs/ca/crl.pem certs/peer/tls.crt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.cert = args[0]
			return runVerify(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	c.Flags().StringVar(&o.roots, "roots", "", "PEM trust bundle, e.g. certs/ca/ca.crt (required)")
	c.Flags().StringVar(&o.role, "role", "any", "server, client or any")
	c.Flags().StringVar(&o.address, "address", "", "host:port the peer dials (for --role server)")
	c.Flags().StringVar(&o.crl, "crl", "", "CRL file (PEM or DER) to check revocation against")
	_ = c.MarkFlagRequired("roots")
	return c
}

// runVerify checks the certificate against the roots, the role and the
// CRL; a certificate that fails wraps pki.ErrVerify (exit 3).
func runVerify(_ context.Context, out io.Writer, o verifyOptions) error {
	r, err := pki.ParseRole(o.role)
	if err != nil {
		return usage(err)
	}
	if r == pki.RoleServer && o.address == "" {
		return usagef("--role server needs --address HOST:PORT, the address in connection.json")
	}
	chain, err := readChain(o.cert)
	if err != nil {
		return err
	}
	bundle, err := pki.ReadCertificates(o.roots)
	if err != nil {
		return err
	}
	opts := pki.VerifyOptions{Roots: bundle, Role: r, Address: o.address}
	if o.crl != "" {
		data, err := fsutil.ReadFile(o.crl, maxCRLFile)
		if err != nil {
			return err
		}
		if opts.CRL, err = x509util.ParseCRL(data); err != nil {
			return fmt.Errorf("%s: %w", o.crl, err)
		}
	}
	if err := pki.Verify(chain, opts); err != nil {
		return hintFor(fmt.Errorf("%s: %w", o.cert, err), pki.ErrStaleCRL, "sign it afresh: ccpki crl --ca DIR (and re-sign it regularly, well before nextUpdate)")
	}
	fmt.Fprintf(out, "OK: %s is valid as %s", chain[0].Subject, o.role)
	if o.address != "" {
		fmt.Fprintf(out, " for %s", o.address)
	}
	fmt.Fprintf(out, " (expires %s)\n", chain[0].NotAfter.UTC().Format(time.RFC3339))
	return nil
}
