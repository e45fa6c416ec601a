package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccserver/ccserver/ccaas"
	"github.com/ccserver/ccserver/pki"
)

// inspectOptions are ccpki inspect's arguments.
type inspectOptions struct {
	files []string
}

func inspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE|DIR...",
		Short: "Show certificates (subject, SANs, usages, validity, pin) or a ccaas package",
		Long: `Print a readable summary of every certificate in each PEM file (a directory means its
tls.crt). A ccaas package (.tar.gz) is shown instead: label, package id, and each
connection.json field, literal or templated (filled from the peer's
CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG), with the certificates it inlines.`,
		Example: `  ccpki inspect certs/server/tls.crt
  ccpki inspect certs/server certs/ca/ca.crt
  ccpki inspect basic.tar.gz`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd.Context(), cmd.OutOrStdout(), inspectOptions{files: args})
		},
	}
}

// runInspect describes every certificate of every file.
func runInspect(_ context.Context, out io.Writer, o inspectOptions) error {
	for _, a := range o.files {
		if isPackage(a) {
			if err := inspectPackage(out, a); err != nil {
				return err
			}
			continue
		}
		chain, err := readChain(a)
		if err != nil {
			return err
		}
		for i, c := range chain {
			fmt.Fprintf(out, "== %s [%d]\n", a, i)
			if err := pki.Describe(out, c, pki.DescribeOptions{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// isPackage reports whether path is a gzip file, which a PEM file never is.
func isPackage(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 2)
	_, err = io.ReadFull(f, magic)
	return err == nil && magic[0] == 0x1f && magic[1] == 0x8b
}

// inspectPackage describes a ccaas package: which fields are templates
// (per-peer values from the builder config), which are literal.
func inspectPackage(out io.Writer, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	label, conn, err := ccaas.ReadPackage(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tpl := conn.Templates()
	fmt.Fprintf(out, "== %s\nlabel:        %s\npackage id:   %s\n", path, label, ccaas.PackageID(label, raw))
	fmt.Fprintf(out, "tls:          %v, client auth %v\ndial timeout: %s\n", conn.TLSRequired, conn.ClientAuthRequired, conn.DialTimeout)
	if len(tpl) > 0 {
		fmt.Fprintln(out, "templated:    the peer's builder fills these from CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG ('ccpki builder-config')")
	}
	fields := []struct{ name, value string }{{"address", conn.Address}, {"root_cert", conn.RootCert}, {"client_cert", conn.ClientCert}, {"client_key", conn.ClientKey}}
	for _, f := range fields {
		label := fmt.Sprintf("%-13s", f.name+":")
		switch {
		case f.value == "":
			continue
		case tpl[f.name] != "":
			fmt.Fprintf(out, "%s template %s\n", label, tpl[f.name])
		case f.name == "address":
			fmt.Fprintf(out, "%s %s\n", label, f.value)
		case f.name == "client_key":
			fmt.Fprintf(out, "%s literal (a private key, not shown)\n", label)
		default:
			certs, err := pki.ParseCertificatesPEM([]byte(f.value))
			if err != nil {
				fmt.Fprintf(out, "%s literal, unreadable: %v\n", label, err)
				continue
			}
			fmt.Fprintf(out, "%s literal, %d certificate(s)\n", label, len(certs))
			for _, c := range certs {
				fmt.Fprintf(out, "    %s (serial %s, until %s)\n", c.Subject, c.SerialNumber.Text(16), c.NotAfter.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}
