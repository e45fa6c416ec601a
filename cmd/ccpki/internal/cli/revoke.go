package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccserver/ccserver/pki"
)

// revokeOptions are ccpki revoke's flags.
type revokeOptions struct {
	bf           backendFlags
	cert, reason string
	validity     time.Duration
}

func revokeCmd() *cobra.Command {
	var o revokeOptions
	c := &cobra.Command{
		Use:   "revoke (--ca DIR | --ca-url URL ... | --cfssl-url URL ...) --cert FILE",
		Short: "Revoke a certificate and re-sign the CRL",
		Long: `Record the certificate as revoked in the CA's revoked.json and re-sign the CRL
(crl.pem in the CA directory) so servers that check it refuse the certificate.
--cert takes a PEM file or a directory holding tls.crt. Concurrent revokes on one CA
are serialised by a lock file (revoked.json.lock), so none is lost.

With step-ca the revocation is authorised by a provisioner token (passive
revocation: step-ca refuses to renew the certificate from then on). With cfssl it
needs a server with a certificate database (-db-config); the server's own CRL then
lists it. Neither writes a local crl.pem.`,
		Example: `  ccpki revoke --ca certs/ca --cert certs/peer/tls.crt --reason key-compromise
  ccpki revoke --ca certs/ca --cert certs/peer

  # step-ca
  ccpki revoke --backend stepca --ca-url https://ca.example.com:9000 --ca-fingerprint 3b5f...e1 \
      --provisioner ccpki --provisioner-password-file /run/secrets/prov-pass --cert certs/peer --reason superseded

  # cfssl (the server needs -db-config)
  ccpki revoke --backend cfssl --cfssl-url https://cfssl.example.com:8888 \
      --cfssl-auth-key-file /run/secrets/cfssl-key --cfssl-tls-ca cfssl-tls-ca.pem --cert certs/peer`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRevoke(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	o.bf.register(c)
	c.Flags().StringVar(&o.cert, "cert", "", "certificate to revoke: PEM file or directory with tls.crt (required)")
	c.Flags().StringVar(&o.reason, "reason", "unspecified", "unspecified, key-compromise, ca-compromise, affiliation-changed, superseded, cessation-of-operation")
	c.Flags().DurationVar(&o.validity, "crl-validity", pki.DefaultCRLValidity, "time until the CRL's nextUpdate")
	_ = c.MarkFlagRequired("cert")
	return c
}

// runRevoke records the revocation at the CA; the local CA also re-signs
// its CRL.
func runRevoke(ctx context.Context, out io.Writer, o revokeOptions) error {
	r, err := pki.ParseRevocationReason(o.reason)
	if err != nil {
		return usage(err)
	}
	backend, local, err := o.bf.open(true)
	if err != nil {
		return err
	}
	chain, err := readChain(o.cert)
	if err != nil {
		return err
	}
	if err := backend.Revoke(ctx, chain[0], r); err != nil {
		return err
	}
	if local == nil {
		fmt.Fprintf(out, "revoked serial %s (%s) at the CA\n", chain[0].SerialNumber.Text(16), chain[0].Subject)
		return nil
	}
	path, err := local.WriteCRL(ctx, "", o.validity)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "revoked serial %s (%s); CRL written to %s\n", chain[0].SerialNumber.Text(16), chain[0].Subject, path)
	return nil
}
