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
	"github.com/ccserver/ccserver/internal/fsutil"
	"github.com/ccserver/ccserver/pki"
)

// packageOptions are ccpki package's flags.
type packageOptions struct {
	label, address, rootCert, clientCert, clientKey, out string
	dialTimeout                                          time.Duration
	plaintext, noClientAuth, insecure, force             bool
}

func packageCmd() *cobra.Command {
	var o packageOptions
	c := &cobra.Command{
		Use:   "package --label LABEL --address HOST:PORT --root-cert FILE --client-cert FILE --client-key FILE --out FILE",
		Short: "Write the ccaas chaincode package and print its package id",
		Long: `Write the chaincode package "peer lifecycle chaincode install" takes for the ccaas
builder: a tar.gz with metadata.json ({"type":"ccaas","label":LABEL}) and
code.tar.gz holding connection.json (address, dial_timeout, tls_required and
client_auth_required as JSON booleans, root_cert, client_cert and client_key inlined).
The file is byte-for-byte reproducible; the printed package id (LABEL:sha256 of the
file) is what the chaincode server must be started with (ccserver --ccid).

--root-cert is the CA bundle of the chaincode SERVER's certificate (the peer checks
the server with it); --client-cert/--client-key are the peer's client certificate
and key. The package holds a private key: it is written 0600.`,
		Example: `  ccpki package --label basic_1.0 --address localhost:9999 --root-cert certs/ca/ca.crt \
      --client-cert certs/peer/tls.crt --client-key certs/peer/tls.key --out basic.tar.gz
  ccpki package --label basic_1.0 --address cc.example:9999 --root-cert certs/ca/ca.crt --no-client-auth --out basic.tar.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPackage(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.label, "label", "", "package label, e.g. basic_1.0 (required)")
	f.StringVar(&o.address, "address", "", "host:port the peer dials; the server certificate must cover the host (required)")
	f.DurationVar(&o.dialTimeout, "dial-timeout", 10*time.Second, "how long the peer waits to connect")
	f.StringVar(&o.rootCert, "root-cert", "", "CA bundle that issued the chaincode server's certificate")
	f.StringVar(&o.clientCert, "client-cert", "", "the peer's client certificate (PEM file or directory with tls.crt)")
	f.StringVar(&o.clientKey, "client-key", "", "the peer's client key")
	f.StringVar(&o.out, "out", "", "package file to write (required)")
	f.BoolVar(&o.noClientAuth, "no-client-auth", false, "the peer presents no client certificate (client_auth_required false)")
	f.BoolVar(&o.plaintext, "insecure-plaintext", false, "no TLS at all (tls_required false): INSECURE, development only")
	f.BoolVar(&o.insecure, "insecure", false, "accept a client key file readable by group or others (INSECURE)")
	f.BoolVar(&o.force, "force", false, "overwrite an existing package file with different content")
	for _, n := range []string{"label", "address", "out"} {
		_ = c.MarkFlagRequired(n)
	}
	return c
}

// runPackage writes the package (unchanged content is no conflict) and
// prints its package id.
func runPackage(_ context.Context, stdout io.Writer, o packageOptions) error {
	conn, err := o.connection()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := ccaas.WritePackage(&buf, o.label, conn); err != nil {
		return usage(err)
	}
	pkg := buf.Bytes()
	if !o.force && exists(o.out) {
		if old, err := os.ReadFile(o.out); err != nil || string(old) != string(pkg) {
			return fmt.Errorf("%s exists with other content: %w; pass --force", o.out, pki.ErrExists)
		}
	}
	if err := fsutil.WriteFile(o.out, pkg, 0o600); err != nil {
		return err
	}
	fmt.Fprintln(stdout, ccaas.PackageID(o.label, pkg))
	return nil
}

// connection is connection.json from the flags, with the certificates and
// the key read in; contradictory flags are usage errors.
func (o packageOptions) connection() (ccaas.Connection, error) {
	conn := ccaas.Connection{Address: o.address, DialTimeout: o.dialTimeout.String(), TLSRequired: !o.plaintext, ClientAuthRequired: !o.plaintext && !o.noClientAuth}
	if o.plaintext && (o.rootCert != "" || o.clientCert != "" || o.clientKey != "") {
		return conn, usagef("--insecure-plaintext turns TLS off; drop --root-cert, --client-cert and --client-key")
	}
	if !o.plaintext {
		if o.rootCert == "" {
			return conn, usagef("--root-cert is required (the CA bundle of the chaincode server's certificate)")
		}
		certs, err := pki.ReadCertificates(o.rootCert)
		if err != nil {
			return conn, err
		}
		conn.RootCert = string(pki.EncodeCertificatesPEM(certs...))
	}
	if !conn.ClientAuthRequired {
		if o.clientCert != "" || o.clientKey != "" {
			return conn, usagef("--no-client-auth and --client-cert/--client-key contradict each other")
		}
		return conn, nil
	}
	if o.clientCert == "" || o.clientKey == "" {
		return conn, usagef("--client-cert and --client-key are required (or --no-client-auth if the server does not ask for a client certificate)")
	}
	certs, err := readChain(o.clientCert)
	if err != nil {
		return conn, err
	}
	key, err := pki.ReadKey(o.clientKey, o.insecure)
	if err != nil {
		return conn, insecureHint(err)
	}
	if !pki.KeyMatches(certs[0], key) {
		return conn, fmt.Errorf("%s does not match the certificate in %s", o.clientKey, o.clientCert)
	}
	keyPEM, err := pki.EncodeKeyPEM(key)
	if err != nil {
		return conn, err
	}
	conn.ClientCert, conn.ClientKey = string(pki.EncodeCertificatesPEM(certs...)), string(keyPEM)
	return conn, nil
}
