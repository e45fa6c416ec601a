package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ccserver/ccserver/ccaas"
	"github.com/ccserver/ccserver/internal/fsutil"
	"github.com/ccserver/ccserver/pki"
)

// builderConfigOptions are ccpki builder-config's flags.
type builderConfigOptions struct {
	clientCert, clientKey, address, pkg, out string
	rootCerts, set                           []string
	insecure, force                          bool
}

func builderConfigCmd() *cobra.Command {
	var o builderConfigOptions
	c := &cobra.Command{
		Use:   "builder-config --client-cert FILE --client-key FILE --root-cert FILE [--address HOST:PORT] --out FILE",
		Short: "Write one peer's CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG for a templated package",
		Long: `Write the JSON object a peer's ccaas builder fills the templates of a package
from ('ccpki package --templated'): client_cert and client_key (this peer's client
certificate and key, PEM), root_cert (the CA bundle of the chaincode server's
certificate; give --root-cert twice to trust old and new CA while rotating) and,
with --address, address. --set KEY=VALUE adds other keys.

Give the JSON to the peer as the environment variable
CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG (its core.yaml must list it under the ccaas
builder's propagateEnvironment), e.g. from a Kubernetes secret with
valueFrom.secretKeyRef. It holds a private key: the file is written 0600. --out -
writes to stdout.

The builder fills the templates when it builds the package (at install, or at the
first launch after the peer's build cache for the package id is removed); the peer
keeps that build across restarts. --package checks that this config fills every
template of a package and that the result is what the peer accepts.`,
		Example: `  ccpki builder-config --client-cert certs/peer0.org1 --client-key certs/peer0.org1/tls.key \
      --root-cert certs/ca/ca.crt --out peer0.org1.builder-config.json
  # CA rotation: trust both server CAs
  ccpki builder-config --client-cert certs/peer0.org1 --client-key certs/peer0.org1/tls.key \
      --root-cert certs/ca-old/ca.crt --root-cert certs/ca-new/ca.crt --package basic.tar.gz --out cfg.json
  kubectl create secret generic peer0-ccaas --from-file=config=cfg.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBuilderConfig(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.clientCert, "client-cert", "", "this peer's client certificate (PEM file or directory with tls.crt), e.g. certs/peer0")
	f.StringVar(&o.clientKey, "client-key", "", "this peer's client key, e.g. certs/peer0/tls.key")
	f.StringArrayVar(&o.rootCerts, "root-cert", nil, "CA bundle of the chaincode server's certificate; repeat to trust several, e.g. --root-cert old/ca.crt --root-cert new/ca.crt")
	f.StringVar(&o.address, "address", "", "host:port this peer dials, for a package with --templated=address, e.g. cc.org1.internal:9999")
	f.StringArrayVar(&o.set, "set", nil, "another KEY=VALUE for the templates (repeatable), e.g. --set ccserver_host=10.0.0.5")
	f.StringVar(&o.pkg, "package", "", "check the config against this package: every template filled, the result valid for the peer")
	f.StringVar(&o.out, "out", "", "file to write (0600), or - for stdout (required)")
	f.BoolVar(&o.insecure, "insecure", false, "accept a client key file readable by group or others (INSECURE)")
	f.BoolVar(&o.force, "force", false, "overwrite an existing file with different content")
	_ = c.MarkFlagRequired("out")
	return c
}

// runBuilderConfig writes the builder config JSON.
func runBuilderConfig(_ context.Context, stdout io.Writer, o builderConfigOptions) error {
	cfg := map[string]string{}
	if (o.clientCert == "") != (o.clientKey == "") {
		return usagef("give --client-cert and --client-key together")
	}
	if o.clientCert != "" {
		cert, key, err := readClientPair(o.clientCert, o.clientKey, o.insecure)
		if err != nil {
			return err
		}
		cfg["client_cert"], cfg["client_key"] = cert, key
	}
	if len(o.rootCerts) > 0 {
		var roots []byte
		for _, f := range o.rootCerts {
			certs, err := pki.ReadCertificates(f)
			if err != nil {
				return err
			}
			roots = append(roots, pki.EncodeCertificatesPEM(certs...)...)
		}
		cfg["root_cert"] = string(roots)
	}
	if o.address != "" {
		cfg["address"] = o.address
	}
	for _, kv := range o.set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !validKey.MatchString(k) {
			return usagef("--set %q: want KEY=VALUE with KEY a Go identifier, e.g. --set ccserver_host=10.0.0.5", kv)
		}
		cfg[k] = v
	}
	if len(cfg) == 0 {
		return usagef("nothing to write: give --client-cert/--client-key, --root-cert, --address or --set")
	}
	data, err := json.Marshal(cfg) // keys sorted: the same inputs give the same file
	if err != nil {
		return fmt.Errorf("encode builder config: %w", err)
	}
	if o.pkg != "" {
		if err := checkAgainstPackage(o.pkg, data); err != nil {
			return err
		}
	}
	if o.out == "-" {
		_, err := fmt.Fprintln(stdout, string(data))
		return err
	}
	if !o.force && exists(o.out) {
		if old, err := os.ReadFile(o.out); err != nil || !bytes.Equal(bytes.TrimSpace(old), data) {
			return fmt.Errorf("%s exists with other content: %w; pass --force", o.out, pki.ErrExists)
		}
	}
	return fsutil.WriteFile(o.out, append(data, '\n'), 0o600)
}

// checkAgainstPackage renders the package's connection.json with cfg as
// the peer's builder would and validates the result as the peer does.
func checkAgainstPackage(file string, cfg []byte) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("--package: %w", err)
	}
	defer f.Close()
	_, conn, err := ccaas.ReadPackage(f)
	if err != nil {
		return fmt.Errorf("--package %s: %w", file, err)
	}
	r, err := conn.Render(cfg)
	if err != nil {
		return fmt.Errorf("--package %s: the peer's builder would fail: %w", file, err)
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("--package %s: the peer would refuse the rendered connection: %w", file, err)
	}
	return nil
}
