package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	icli "github.com/ccserver/ccserver/internal/cli"
	"github.com/ccserver/ccserver/pki"
)

// issueOptions are ccpki issue's flags.
type issueOptions struct {
	bf                        backendFlags
	profile, out, cn, keyType string
	keyTypeSet                bool // --key-type given: it overrides the key of --csr-json
	layout, csrJSON           string
	orgs, ous, dns, ips, uris []string
	lifetime                  time.Duration
	flat, force               bool
}

func issueCmd() *cobra.Command {
	var o issueOptions
	c := &cobra.Command{
		Use:   "issue (--ca DIR | --ca-url URL ... | --cfssl-url URL ...) --profile server|client --out DIR",
		Short: "Issue a server or client certificate",
		Long: `Issue a certificate with a new key made on this machine; only a certificate request
goes to the CA. The CA is the local one (--ca DIR), a step-ca (--ca-url with
--ca-fingerprint, --provisioner and --provisioner-password-file: a JWK provisioner
one-time token) or a cfssl server (--cfssl-url with --cfssl-auth-key-file: cfssl's
authenticated sign). --backend names it; by default it follows from the flags given.
Passwords and auth keys are read from files only, which must not be readable by
group or others.

Profiles: "server" (serverAuth; the chaincode server; give the host the peer dials
with --dns or --ip) and "client" (clientAuth; the peer's identity towards the
chaincode server). Both last 30 days unless --lifetime; renew them with ccpki renew.
With --ca-config the profiles come from your cfssl ca-config.json instead, and
--csr-json takes the subject, hosts and key from a cfssl csr.json.

Output (--layout cert-manager, the default): tls.crt (certificate and intermediate),
tls.key (0600), ca.crt (root), swapped in as one generation through a ..data symlink
like a Kubernetes secret volume (--flat writes plain files). --layout msp writes the
Fabric MSP layout: signcerts/cert.pem, keystore/priv_sk, cacerts/,
intermediatecerts/, tlscacerts/. Existing output is never overwritten without --force.`,
		Example: `  ccpki issue --profile server --ca certs/ca --dns localhost --ip 127.0.0.1 --out certs/server
  ccpki issue --profile client --ca certs/ca --cn peer0.org1.example.com --org Org1 --out certs/peer
  ccpki issue --profile ccaas-server --ca certs/ca --ca-config ca-config.json --csr-json csr.json --out certs/server
  ccpki issue --profile client --ca certs/ca --cn peer0 --layout msp --out msp/peer0

  # step-ca (the fingerprint is what "step certificate fingerprint root_ca.crt" prints)
  ccpki issue --backend stepca --ca-url https://ca.example.com:9000 \
      --ca-fingerprint 3b5f...e1 --provisioner ccpki --provisioner-password-file /run/secrets/prov-pass \
      --profile server --dns cc.example.com --lifetime 24h --out certs/server

  # cfssl (authsign with the profile's auth key; --cfssl-tls-ca verifies the server)
  ccpki issue --backend cfssl --cfssl-url https://cfssl.example.com:8888 \
      --cfssl-auth-key-file /run/secrets/cfssl-key --cfssl-tls-ca cfssl-tls-ca.pem \
      --profile client --cn peer0 --out certs/peer`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.keyTypeSet = cmd.Flags().Changed("key-type")
			return runIssue(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	o.bf.register(c)
	f := c.Flags()
	f.StringVar(&o.profile, "profile", "", `signing profile: "server" or "client" (or one from --ca-config, or a cfssl server's) (required)`)
	f.StringVar(&o.out, "out", "", "output directory (required)")
	f.StringVar(&o.cn, "cn", "", "subject common name (default: the first host)")
	f.StringSliceVar(&o.orgs, "org", nil, "subject organization (repeatable)")
	f.StringSliceVar(&o.ous, "ou", nil, "subject organizational unit (repeatable)")
	f.StringSliceVar(&o.dns, "dns", nil, "DNS subject alternative name (repeatable or comma-separated)")
	f.StringSliceVar(&o.ips, "ip", nil, "IP subject alternative name (repeatable or comma-separated)")
	f.StringSliceVar(&o.uris, "uri", nil, "URI subject alternative name, e.g. spiffe://org1/peer0")
	f.DurationVar(&o.lifetime, "lifetime", 0, "validity (default: the profile's; 720h for the local server and client profiles, the provisioner's default on step-ca)")
	f.StringVar(&o.keyType, "key-type", string(pki.DefaultKeyType), "key algorithm: ecdsa-p256, ecdsa-p384, ed25519, rsa-3072")
	f.StringVar(&o.csrJSON, "csr-json", "", "cfssl csr.json with CN, names, hosts and key")
	f.StringVar(&o.layout, "layout", "cert-manager", "output layout: cert-manager or msp")
	f.BoolVar(&o.flat, "flat", false, "write plain files instead of a ..data generation swap")
	f.BoolVar(&o.force, "force", false, "overwrite an existing certificate in --out")
	_ = c.MarkFlagRequired("profile")
	_ = c.MarkFlagRequired("out")
	return c
}

// runIssue makes a key here, has the CA sign a request for it and writes
// the pair in the layout asked for; existing output needs --force.
func runIssue(ctx context.Context, stdout io.Writer, o issueOptions) error {
	if o.layout != "cert-manager" && o.layout != "msp" {
		return usagef("--layout %q: use cert-manager or msp", o.layout)
	}
	layout := pki.LayoutMSP
	if o.layout == "cert-manager" {
		layout = pki.LayoutCertManager
		if o.flat {
			layout = pki.LayoutFlat
		}
	}
	spec, err := o.csrSpec()
	if err != nil {
		return err
	}
	if !o.force && layout.Exists(o.out) {
		return icli.WithHint(fmt.Errorf("%s already holds a certificate: %w", o.out, pki.ErrExists),
			"renew it with: ccpki renew --dir "+o.out+" (or pass --force to replace it)")
	}
	ca, _, err := o.bf.open(true)
	if err != nil {
		return err
	}
	key, err := pki.GenerateKey(spec.KeyType)
	if err != nil {
		return err
	}
	csr, err := pki.NewCSR(key, spec)
	if err != nil {
		return usage(err)
	}
	issued, err := ca.Issue(ctx, &pki.Request{CSR: csr, Profile: o.profile, Lifetime: o.lifetime})
	if err != nil {
		err = hintFor(err, pki.ErrOutlivesCA, "shorten --lifetime, or renew the CA")
		return hintFor(err, pki.ErrUnknownProfile, "name one of its profiles with --profile, or give the signing profiles with --ca-config")
	}
	if err := layout.Write(o.out, issued, key); err != nil {
		return err
	}
	printIssued(stdout, "issued", o.out, issued.Certificate)
	return nil
}

// csrSpec is the request's subject, hosts and key type: --csr-json, with
// the flags added on top.
func (o issueOptions) csrSpec() (pki.CSRSpec, error) {
	spec := pki.CSRSpec{}
	if o.csrJSON != "" {
		s, err := pki.LoadCSRJSON(o.csrJSON)
		if err != nil {
			return spec, err
		}
		spec = *s
	}
	if o.keyTypeSet || spec.KeyType == "" {
		kt, err := pki.ParseKeyType(o.keyType)
		if err != nil {
			return spec, usage(err)
		}
		spec.KeyType = kt
	}
	if o.cn != "" {
		spec.Subject.CommonName = o.cn
	}
	spec.Subject.Organization = append(spec.Subject.Organization, o.orgs...)
	spec.Subject.OrganizationalUnit = append(spec.Subject.OrganizationalUnit, o.ous...)
	spec.Hosts = append(append(append(spec.Hosts, o.dns...), o.ips...), o.uris...)
	for _, ip := range o.ips {
		if !isIP(ip) {
			return spec, usagef("--ip %q is not an IP address", ip)
		}
	}
	if o.profile == "server" && len(spec.Hosts) == 0 {
		return spec, usagef("--profile server needs the host the peer dials: --dns NAME and/or --ip ADDRESS")
	}
	if spec.Subject.CommonName == "" {
		if len(spec.Hosts) == 0 {
			return spec, usagef("name the certificate: --cn NAME (or --dns/--ip)")
		}
		spec.Subject.CommonName = spec.Hosts[0]
	}
	return spec, nil
}
