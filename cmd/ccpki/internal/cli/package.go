package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccserver/ccserver/ccaas"
	icli "github.com/ccserver/ccserver/internal/cli"
	"github.com/ccserver/ccserver/internal/fsutil"
	"github.com/ccserver/ccserver/pki"
)

// packageOptions are ccpki package's flags.
type packageOptions struct {
	label, address, rootCert, clientCert, clientKey, out string
	dialTimeout                                          time.Duration
	plaintext, noClientAuth, insecure, force             bool
	// templated maps connection.json fields to the builder config keys
	// that fill them (--templated).
	templated []string
}

// templateFields are the fields --templated may name, and those it
// templates when given alone: the per-peer TLS material.
var (
	templateFields  = []string{"address", "root_cert", "client_cert", "client_key"}
	defaultTemplate = []string{"root_cert", "client_cert", "client_key"}
)

// templateKeys reads --templated: FIELD or FIELD=KEY entries.
func templateKeys(entries []string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range entries {
		field, key, ok := strings.Cut(strings.TrimSpace(e), "=")
		if !ok {
			key = field
		}
		if !slices.Contains(templateFields, field) {
			return nil, usagef("--templated %q: the fields that can be templates are %s", e, strings.Join(templateFields, ", "))
		}
		if !validKey.MatchString(key) {
			return nil, usagef("--templated %q: the builder config key must be a Go identifier (letters, digits, _), e.g. %s=client_cert_v2", e, field)
		}
		out[field] = key
	}
	return out, nil
}

// validKey is a key {{.KEY}} can reach.
var validKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

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
and key. The package holds a private key: it is written 0600.

--templated writes Go templates instead of the PEM material: root_cert, client_cert
and client_key become {{.root_cert}}, {{.client_cert}} and {{.client_key}}, which the
peer's ccaas builder (Fabric >= 2.4.1) fills from its CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG
JSON when it builds the package ('ccpki builder-config' writes that JSON). Every peer
then installs the same package, so the package id stays the same when a peer's client
certificate or the server's CA changes. --templated=FIELD[=KEY],... chooses the fields
(address too) and the keys.`,
		Example: `  ccpki package --label basic_1.0 --address localhost:9999 --root-cert certs/ca/ca.crt \
      --client-cert certs/peer/tls.crt --client-key certs/peer/tls.key --out basic.tar.gz
  # one package for a fleet: each peer's builder config holds its own material
  ccpki package --label basic_1.0 --address cc.example:9999 --templated --out basic.tar.gz
  ccpki package --label basic_1.0 --templated=address,root_cert,client_cert,client_key --out basic.tar.gz
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
	f.StringSliceVar(&o.templated, "templated", nil, "write these fields as templates the peer's builder config fills, FIELD[=KEY],...; alone: root_cert,client_cert,client_key (e.g. --templated or --templated=address,client_cert,client_key)")
	f.Lookup("templated").NoOptDefVal = strings.Join(defaultTemplate, ",")
	for _, n := range []string{"label", "out"} {
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
			return icli.WithHint(fmt.Errorf("%s exists with other content: %w", o.out, pki.ErrExists), "pass --force to replace it")
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
	keys, err := templateKeys(o.templated)
	if err != nil {
		return conn, err
	}
	if len(keys) > 0 {
		return o.templatedConnection(conn, keys)
	}
	if o.address == "" {
		return conn, usagef("--address is required (host:port the peer dials), unless --templated=address")
	}
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
	conn.ClientCert, conn.ClientKey, err = readClientPair(o.clientCert, o.clientKey, o.insecure)
	return conn, err
}

// readClientPair reads a client certificate chain and its key as PEM,
// checking that they match.
func readClientPair(certFile, keyFile string, insecure bool) (string, string, error) {
	certs, err := readChain(certFile)
	if err != nil {
		return "", "", err
	}
	key, err := pki.ReadKey(keyFile, pki.ReadOptions{AllowInsecureKeyFile: insecure})
	if err != nil {
		return "", "", insecureHint(err)
	}
	if !pki.SamePublicKey(certs[0].PublicKey, key.Public()) {
		return "", "", fmt.Errorf("%s does not match the certificate in %s", keyFile, certFile)
	}
	keyPEM, err := pki.EncodeKeyPEM(key)
	if err != nil {
		return "", "", err
	}
	return string(pki.EncodeCertificatesPEM(certs...)), string(keyPEM), nil
}

// templatedConnection is connection.json with the fields of keys written
// as templates; the flags for those fields must not be given, the others
// as without --templated.
func (o packageOptions) templatedConnection(conn ccaas.Connection, keys map[string]string) (ccaas.Connection, error) {
	if o.plaintext {
		for f := range keys {
			if f != "address" {
				return conn, usagef("--templated %s: with --insecure-plaintext the builder drops the PEM fields; template address only", f)
			}
		}
	}
	flagOf := map[string]string{"address": o.address, "root_cert": o.rootCert, "client_cert": o.clientCert, "client_key": o.clientKey}
	names := map[string]string{"address": "--address", "root_cert": "--root-cert", "client_cert": "--client-cert", "client_key": "--client-key"}
	for f := range keys {
		if flagOf[f] != "" {
			return conn, usagef("%s is given but --templated makes %s a template: drop one", names[f], f)
		}
	}
	if o.noClientAuth && (keys["client_cert"] != "" || keys["client_key"] != "") {
		return conn, usagef("--no-client-auth: the peer presents no client certificate, so client_cert and client_key cannot be templates")
	}
	if _, ok := keys["address"]; !ok && o.address == "" {
		return conn, usagef("--address is required (host:port the peer dials), unless --templated names address")
	}
	_, cert := keys["client_cert"]
	_, key := keys["client_key"]
	if cert != key {
		return conn, usagef("--templated: template client_cert and client_key together (a peer's certificate and key change together)")
	}
	// The fields not templated come from their flags as usual.
	base := conn
	base.Address = o.address
	if !o.plaintext {
		if o.rootCert != "" {
			certs, err := pki.ReadCertificates(o.rootCert)
			if err != nil {
				return conn, err
			}
			base.RootCert = string(pki.EncodeCertificatesPEM(certs...))
		} else if _, ok := keys["root_cert"]; !ok {
			return conn, usagef("--root-cert is required (the CA bundle of the chaincode server's certificate), or --templated root_cert")
		}
		if base.ClientAuthRequired && !cert {
			if o.clientCert == "" || o.clientKey == "" {
				return conn, usagef("--client-cert and --client-key are required, or --templated client_cert,client_key")
			}
			var err error
			if base.ClientCert, base.ClientKey, err = readClientPair(o.clientCert, o.clientKey, o.insecure); err != nil {
				return conn, err
			}
		}
	}
	set := map[string]*string{"address": &base.Address, "root_cert": &base.RootCert, "client_cert": &base.ClientCert, "client_key": &base.ClientKey}
	for f, k := range keys {
		*set[f] = ccaas.TemplateField(k)
	}
	return base, nil
}
