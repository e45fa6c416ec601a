// Package cli is the ccpki command line, callable in process: Main for the
// binary, Run with a context for tests that stop a renew --daemon.
package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	cflog "github.com/cloudflare/cfssl/log"
	"github.com/spf13/cobra"

	"github.com/ccserver/ccserver/internal/fsutil"
	"github.com/ccserver/ccserver/pki"
)

// Exit codes, documented in every --help.
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitVerify   = 3
	exitRefused  = 4
	exitNoCA     = 5
	exitCodeHelp = `
Exit codes:
  0  success
  1  the operation failed (bad input file, CA error, I/O error)
  2  usage error (unknown flag, missing or conflicting flags)
  3  verification failed (verify only: the certificate is not valid for the role)
  4  the CA refused the credentials (wrong provisioner password or key, wrong cfssl
     auth key, a revoked or expired certificate presented for renewal)
  5  the CA could not be reached (nothing was changed; retry later)`
)

// usageError marks errors that are the caller's command line, not the
// operation.
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// Main runs ccpki with args (without the program name) and returns the
// exit code; SIGINT and SIGTERM stop a renew --daemon.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	return Run(ctx, args, stdout, stderr)
}

// Run is Main with the caller's context: cancelling it stops a
// renew --daemon, which then returns 0.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cflog.Level = cflog.LevelError // cfssl logs every signature at info level
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "ccpki:", err)
	var ue usageError
	switch {
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "unknown command"), strings.HasPrefix(err.Error(), "unknown flag"),
		strings.HasPrefix(err.Error(), "required flag"), strings.Contains(err.Error(), "accepts "), strings.Contains(err.Error(), "requires at least"):
		return exitUsage
	case errors.Is(err, pki.ErrVerify):
		return exitVerify
	case errors.Is(err, pki.ErrUnauthorized):
		return exitRefused
	case errors.Is(err, pki.ErrUnavailable):
		return exitNoCA
	}
	return exitFailed
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "ccpki",
		Short: "Certificates and ccaas packages for chaincode servers",
		Long: `ccpki runs a small local CA for chaincode-as-a-service deployments: it issues the
chaincode server certificate and the peer's client certificate, renews them before
they expire, revokes them, and writes the ccaas package (connection.json) the peer
installs.

A typical development setup:
  ccpki init --dir certs/ca
  ccpki issue --profile server --ca certs/ca --dns localhost --ip 127.0.0.1 --out certs/server
  ccpki issue --profile client --ca certs/ca --cn peer0 --out certs/peer
  ccpki package --label basic_1.0 --address localhost:9999 --root-cert certs/ca/ca.crt \
      --client-cert certs/peer/tls.crt --client-key certs/peer/tls.key --out basic.tar.gz
` + exitCodeHelp,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(initCmd(), issueCmd(), renewCmd(), revokeCmd(), crlCmd(), inspectCmd(), verifyCmd(), pinCmd(), packageCmd())
	for _, c := range root.Commands() {
		c.Long += "\n" + exitCodeHelp
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	}
	return root
}

func initCmd() *cobra.Command {
	var (
		dir, keyType, cn, org string
		rootLife, interLife   time.Duration
		noInter, force        bool
	)
	c := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "Create a root CA and an intermediate that signs certificates",
		Long: `Create a local CA in DIR: a root (root.crt, root.key) and, unless --no-intermediate,
an intermediate with path length 0 (intermediate.crt, intermediate.key) that signs
every certificate. ca.crt is the trust bundle to hand to servers and peers. Keys are
written 0600. An existing CA is never overwritten without --force.`,
		Example: `  ccpki init --dir certs/ca
  ccpki init --dir certs/ca --key-type ecdsa-p384 --cn "Org1 chaincode CA" --org Org1
  ccpki init --dir certs/ca --no-intermediate --root-lifetime 8760h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kt, err := pki.ParseKeyType(keyType)
			if err != nil {
				return usageError{err}
			}
			info, err := pki.InitCA(dir, pki.InitOptions{KeyType: kt, CommonName: cn, Organization: org,
				RootLifetime: rootLife, IntermediateLifetime: interLife, NoIntermediate: noInter, Force: force})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created CA in %s\n  root:         %s (until %s)\n", dir, info.Root.Subject, info.Root.NotAfter.UTC().Format(time.RFC3339))
			if info.Intermediate != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "  intermediate: %s (until %s)\n", info.Intermediate.Subject, info.Intermediate.NotAfter.UTC().Format(time.RFC3339))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "  trust bundle: %s\n  root pin:     %s\n", filepath.Join(dir, pki.BundleFile), pki.SPKIPin(info.Root))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "dir", "", "directory for the CA files (required)")
	f.StringVar(&keyType, "key-type", string(pki.DefaultKeyType), "key algorithm: ecdsa-p256, ecdsa-p384, ed25519, rsa-3072 (also rsa-2048, rsa-4096)")
	f.StringVar(&cn, "cn", "ccpki root CA", "common name of the root")
	f.StringVar(&org, "org", "", "organization of the CA subject")
	f.DurationVar(&rootLife, "root-lifetime", pki.DefaultRootLifetime, "validity of the root")
	f.DurationVar(&interLife, "intermediate-lifetime", pki.DefaultIntermediateLifetime, "validity of the intermediate")
	f.BoolVar(&noInter, "no-intermediate", false, "sign certificates with the root directly")
	f.BoolVar(&force, "force", false, "replace an existing CA (every certificate it issued stops being trusted)")
	_ = c.MarkFlagRequired("dir")
	return c
}

// caFlags are the flags every verb that signs shares.
type caFlags struct {
	dir, config string
	insecure    bool
}

func (cf *caFlags) register(c *cobra.Command, required bool) {
	help := "CA directory made by ccpki init"
	if required {
		help += " (required)"
	}
	c.Flags().StringVar(&cf.dir, "ca", "", help)
	c.Flags().StringVar(&cf.config, "ca-config", "", "cfssl ca-config.json whose signing profiles replace the built-in server and client profiles")
	c.Flags().BoolVar(&cf.insecure, "insecure", false, "accept key, password and auth key files readable by group or others (INSECURE)")
	if required {
		_ = c.MarkFlagRequired("ca")
	}
}

func (cf *caFlags) open() (*pki.Local, error) {
	var opts []pki.LocalOption
	if cf.config != "" {
		policy, err := pki.LoadSigningConfig(cf.config)
		if err != nil {
			return nil, err
		}
		opts = append(opts, pki.WithSigningPolicy(policy))
	}
	if cf.insecure {
		opts = append(opts, pki.WithInsecureKeyPermissions())
	}
	ca, err := pki.OpenLocal(cf.dir, opts...)
	if errors.Is(err, fsutil.ErrInsecurePermissions) {
		err = fmt.Errorf("%w (or pass --insecure)", err)
	}
	return ca, err
}

func issueCmd() *cobra.Command {
	var (
		bf                        backendFlags
		profile, out, cn, keyType string
		layout, csrJSON           string
		orgs, ous, dns, ips, uris []string
		lifetime                  time.Duration
		flat, force               bool
	)
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
			if layout != "cert-manager" && layout != "msp" {
				return usagef("--layout %q: use cert-manager or msp", layout)
			}
			spec := pki.CSRSpec{}
			if csrJSON != "" {
				s, err := pki.LoadCSRJSON(csrJSON)
				if err != nil {
					return err
				}
				spec = *s
			}
			if cmd.Flags().Changed("key-type") || spec.KeyType == "" {
				kt, err := pki.ParseKeyType(keyType)
				if err != nil {
					return usageError{err}
				}
				spec.KeyType = kt
			}
			if cn != "" {
				spec.Subject.CommonName = cn
			}
			spec.Subject.Organization = append(spec.Subject.Organization, orgs...)
			spec.Subject.OrganizationalUnit = append(spec.Subject.OrganizationalUnit, ous...)
			spec.Hosts = append(append(append(spec.Hosts, dns...), ips...), uris...)
			for _, ip := range ips {
				if !isIP(ip) {
					return usagef("--ip %q is not an IP address", ip)
				}
			}
			if profile == "server" && len(spec.Hosts) == 0 {
				return usagef("--profile server needs the host the peer dials: --dns NAME and/or --ip ADDRESS")
			}
			if spec.Subject.CommonName == "" {
				if len(spec.Hosts) == 0 {
					return usagef("name the certificate: --cn NAME (or --dns/--ip)")
				}
				spec.Subject.CommonName = spec.Hosts[0]
			}
			if !force {
				if (layout == "cert-manager" && pki.HasCertManager(out)) || (layout == "msp" && exists(filepath.Join(out, "keystore"))) {
					return fmt.Errorf("%s already holds a certificate: %w; renew it with ccpki renew --dir %s, or pass --force", out, pki.ErrExists, out)
				}
			}
			ca, _, err := bf.open(cmd)
			if err != nil {
				return err
			}
			key, err := pki.GenerateKey(spec.KeyType)
			if err != nil {
				return err
			}
			csr, err := pki.NewCSR(key, spec)
			if err != nil {
				return usageError{err}
			}
			issued, err := ca.Issue(cmd.Context(), &pki.Request{CSR: csr, Profile: profile, Lifetime: lifetime})
			if err != nil {
				return err
			}
			if layout == "msp" {
				err = pki.WriteMSP(out, issued, key)
			} else {
				err = pki.WriteCertManager(out, issued, key, !flat)
			}
			if err != nil {
				return err
			}
			printIssued(cmd.OutOrStdout(), "issued", out, issued.Certificate)
			return nil
		},
	}
	bf.register(c)
	f := c.Flags()
	f.StringVar(&profile, "profile", "", `signing profile: "server" or "client" (or one from --ca-config, or a cfssl server's) (required)`)
	f.StringVar(&out, "out", "", "output directory (required)")
	f.StringVar(&cn, "cn", "", "subject common name (default: the first host)")
	f.StringSliceVar(&orgs, "org", nil, "subject organization (repeatable)")
	f.StringSliceVar(&ous, "ou", nil, "subject organizational unit (repeatable)")
	f.StringSliceVar(&dns, "dns", nil, "DNS subject alternative name (repeatable or comma-separated)")
	f.StringSliceVar(&ips, "ip", nil, "IP subject alternative name (repeatable or comma-separated)")
	f.StringSliceVar(&uris, "uri", nil, "URI subject alternative name, e.g. spiffe://org1/peer0")
	f.DurationVar(&lifetime, "lifetime", 0, "validity (default: the profile's; 720h for the local server and client profiles, the provisioner's default on step-ca)")
	f.StringVar(&keyType, "key-type", string(pki.DefaultKeyType), "key algorithm: ecdsa-p256, ecdsa-p384, ed25519, rsa-3072")
	f.StringVar(&csrJSON, "csr-json", "", "cfssl csr.json with CN, names, hosts and key")
	f.StringVar(&layout, "layout", "cert-manager", "output layout: cert-manager or msp")
	f.BoolVar(&flat, "flat", false, "write plain files instead of a ..data generation swap")
	f.BoolVar(&force, "force", false, "overwrite an existing certificate in --out")
	_ = c.MarkFlagRequired("profile")
	_ = c.MarkFlagRequired("out")
	return c
}

func isIP(s string) bool { return net.ParseIP(s) != nil }

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func printIssued(w io.Writer, verb, dir string, c *x509.Certificate) {
	fmt.Fprintf(w, "%s %s: %s, serial %s, valid until %s\n  spki pin: %s\n", verb, dir, c.Subject,
		c.SerialNumber.Text(16), c.NotAfter.UTC().Format(time.RFC3339), pki.SPKIPin(c))
}

func renewCmd() *cobra.Command {
	var (
		bf                   backendFlags
		dir, profile, hook   string
		lifetime, minB, maxB time.Duration
		before               float64
		force, daemon, reuse bool
		flat                 bool
	)
	c := &cobra.Command{
		Use:   "renew (--ca DIR | --ca-url URL ... | --cfssl-url URL ...) --dir DIR",
		Short: "Renew a certificate when a third of its lifetime is left",
		Long: `Renew the certificate in DIR (tls.crt, tls.key, ca.crt as written by ccpki issue)
when less than --renew-before of its lifetime is left (default one third), moved
earlier by a random jitter of up to 1/20 of the lifetime. The new certificate keeps
the subject, hosts and lifetime, gets a new key (unless --reuse-key) and is swapped
in as one generation through the ..data symlink, so a server watching DIR never reads
a half-written pair. On any failure the old files stay.

--daemon keeps running: it sleeps until the next renewal is due, retries failures
with exponential backoff from --min-backoff to --max-backoff, and stops on SIGINT or
SIGTERM. --exec runs a command with sh -c after each renewal (CCPKI_DIR and
CCPKI_SERIAL are set). When the CA cannot be reached the current certificate stays
in place and the daemon retries; a one-shot renew exits 5.

With step-ca the renewal is authenticated by the current certificate and key over
mutual TLS (step-ca's rekey for the new key, or renew with --reuse-key), so only
--ca-url and --ca-fingerprint are needed: the renewing machine holds no provisioner
password. An expired or revoked certificate cannot renew itself (exit 4): issue a
new one. cfssl has no renewal: it signs a new request with the auth key.`,
		Example: `  ccpki renew --ca certs/ca --dir certs/server
  ccpki renew --ca certs/ca --dir certs/server --force
  ccpki renew --ca certs/ca --dir certs/server --daemon --exec 'kill -HUP $(cat server.pid)'

  # step-ca: renew over mTLS with the current certificate, for ever
  ccpki renew --backend stepca --ca-url https://ca.example.com:9000 --ca-fingerprint 3b5f...e1 \
      --dir certs/server --daemon

  # cfssl
  ccpki renew --backend cfssl --cfssl-url https://cfssl.example.com:8888 \
      --cfssl-auth-key-file /run/secrets/cfssl-key --cfssl-tls-ca cfssl-tls-ca.pem --dir certs/peer --daemon`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ca, _, err := bf.open(cmd)
			if err != nil {
				return err
			}
			if profile == "" && bf.cfsslProfile != "" {
				profile = bf.cfsslProfile
			}
			out := cmd.OutOrStdout()
			cfg := pki.RenewerConfig{Backend: ca, Dir: dir, Profile: profile, Lifetime: lifetime, RenewBefore: before,
				ReuseKey: reuse, Flat: flat, MinBackoff: minB, MaxBackoff: maxB, AllowInsecureKey: bf.local.insecure,
				AfterRenew: func(ctx context.Context, iss *pki.Issued) error {
					printIssued(out, "renewed", dir, iss.Certificate)
					if hook == "" {
						return nil
					}
					x := exec.CommandContext(ctx, "sh", "-c", hook)
					x.Env = append(os.Environ(), "CCPKI_DIR="+dir, "CCPKI_SERIAL="+iss.Certificate.SerialNumber.Text(16))
					x.Stdout, x.Stderr = out, cmd.ErrOrStderr()
					if err := x.Run(); err != nil {
						return fmt.Errorf("--exec %q: %w", hook, err)
					}
					return nil
				}}
			r, err := pki.NewRenewer(cfg)
			if err != nil {
				return usageError{err}
			}
			if daemon {
				if force {
					if _, _, err := r.RenewIfDue(cmd.Context(), true); err != nil {
						fmt.Fprintln(cmd.ErrOrStderr(), "ccpki: renew:", err)
					}
				}
				return r.Run(cmd.Context(), func(err error) { fmt.Fprintln(cmd.ErrOrStderr(), "ccpki: renew:", err) })
			}
			renewed, next, err := r.RenewIfDue(cmd.Context(), force)
			if err != nil {
				return err
			}
			if !renewed {
				fmt.Fprintf(out, "%s: not due; renewal due at %s (use --force to renew now)\n", dir, next.UTC().Format(time.RFC3339))
			}
			return nil
		},
	}
	bf.register(c)
	f := c.Flags()
	f.StringVar(&dir, "dir", "", "directory holding tls.crt and tls.key (required)")
	f.StringVar(&profile, "profile", "", "signing profile (default: server or client, from the certificate's usage)")
	f.DurationVar(&lifetime, "lifetime", 0, "validity of the new certificate (default: same as the current one)")
	f.Float64Var(&before, "renew-before", pki.DefaultRenewBefore, "renew when less than this fraction of the lifetime is left")
	f.BoolVar(&force, "force", false, "renew now, whatever the time left")
	f.BoolVar(&daemon, "daemon", false, "keep running and renew whenever due")
	f.StringVar(&hook, "exec", "", "command run with sh -c after each renewal")
	f.BoolVar(&reuse, "reuse-key", false, "keep the current key instead of making a new one")
	f.BoolVar(&flat, "flat", false, "write plain files instead of a ..data generation swap")
	f.DurationVar(&minB, "min-backoff", pki.DefaultMinBackoff, "first retry delay after a failure (daemon)")
	f.DurationVar(&maxB, "max-backoff", pki.DefaultMaxBackoff, "longest retry delay (daemon)")
	_ = c.MarkFlagRequired("dir")
	return c
}

// readChain reads a certificate file, or tls.crt in a directory.
func readChain(path string) ([]*x509.Certificate, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, pki.CertFile)
	}
	return pki.ReadCertificates(path)
}

func revokeCmd() *cobra.Command {
	var (
		bf           backendFlags
		cert, reason string
		validity     time.Duration
	)
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
			r, err := pki.ParseRevocationReason(reason)
			if err != nil {
				return usageError{err}
			}
			backend, local, err := bf.open(cmd)
			if err != nil {
				return err
			}
			chain, err := readChain(cert)
			if err != nil {
				return err
			}
			if err := backend.Revoke(cmd.Context(), chain[0], r); err != nil {
				return err
			}
			if local == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "revoked serial %s (%s) at the CA\n", chain[0].SerialNumber.Text(16), chain[0].Subject)
				return nil
			}
			path, err := local.WriteCRL("", validity)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked serial %s (%s); CRL written to %s\n", chain[0].SerialNumber.Text(16), chain[0].Subject, path)
			return nil
		},
	}
	bf.register(c)
	c.Flags().StringVar(&cert, "cert", "", "certificate to revoke: PEM file or directory with tls.crt (required)")
	c.Flags().StringVar(&reason, "reason", "unspecified", "unspecified, key-compromise, ca-compromise, affiliation-changed, superseded, cessation-of-operation")
	c.Flags().DurationVar(&validity, "crl-validity", pki.DefaultCRLValidity, "time until the CRL's nextUpdate")
	_ = c.MarkFlagRequired("cert")
	return c
}

func crlCmd() *cobra.Command {
	var (
		cf       caFlags
		out      string
		validity time.Duration
	)
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
			ca, err := cf.open()
			if err != nil {
				return err
			}
			path, err := ca.WriteCRL(out, validity)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "CRL written to %s (next update in %s)\n", path, validity)
			return nil
		},
	}
	cf.register(c, true)
	c.Flags().StringVar(&out, "out", "", "CRL file (default: crl.pem in the CA directory)")
	c.Flags().DurationVar(&validity, "validity", pki.DefaultCRLValidity, "time until the CRL's nextUpdate")
	return c
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
			for _, a := range args {
				chain, err := readChain(a)
				if err != nil {
					return err
				}
				for i, c := range chain {
					fmt.Fprintf(cmd.OutOrStdout(), "== %s [%d]\n", a, i)
					if err := pki.Describe(cmd.OutOrStdout(), c, time.Now()); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
}

func verifyCmd() *cobra.Command {
	var roots, role, address, crl string
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
			r, err := pki.ParseRole(role)
			if err != nil {
				return usageError{err}
			}
			if r == pki.RoleServer && address == "" {
				return usagef("--role server needs --address HOST:PORT, the address in connection.json")
			}
			chain, err := readChain(args[0])
			if err != nil {
				return err
			}
			bundle, err := pki.ReadCertificates(roots)
			if err != nil {
				return err
			}
			opts := pki.VerifyOptions{Roots: bundle, Role: r, Address: address}
			if crl != "" {
				data, err := fsutil.ReadFile(crl, 64<<20)
				if err != nil {
					return err
				}
				if opts.CRL, err = pki.ParseCRL(data); err != nil {
					return fmt.Errorf("%s: %w", crl, err)
				}
			}
			if err := pki.Verify(chain, opts); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "OK: %s is valid as %s", chain[0].Subject, role)
			if address != "" {
				fmt.Fprintf(cmd.OutOrStdout(), " for %s", address)
			}
			fmt.Fprintf(cmd.OutOrStdout(), " (expires %s)\n", chain[0].NotAfter.UTC().Format(time.RFC3339))
			return nil
		},
	}
	c.Flags().StringVar(&roots, "roots", "", "PEM trust bundle, e.g. certs/ca/ca.crt (required)")
	c.Flags().StringVar(&role, "role", "any", "server, client or any")
	c.Flags().StringVar(&address, "address", "", "host:port the peer dials (for --role server)")
	c.Flags().StringVar(&crl, "crl", "", "CRL file (PEM or DER) to check revocation against")
	_ = c.MarkFlagRequired("roots")
	return c
}

func pinCmd() *cobra.Command {
	var all bool
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
			for _, a := range args {
				chain, err := readChain(a)
				if err != nil {
					return err
				}
				if !all {
					chain = chain[:1]
				}
				for _, c := range chain {
					fmt.Fprintln(cmd.OutOrStdout(), pki.SPKIPin(c))
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "print the pin of every certificate in the file")
	return c
}

func packageCmd() *cobra.Command {
	var (
		label, address, rootCert, clientCert, clientKey, out string
		dialTimeout                                          time.Duration
		plaintext, noClientAuth, insecure, force             bool
	)
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
			conn := pki.Connection{Address: address, DialTimeout: dialTimeout.String(), TLSRequired: !plaintext, ClientAuthRequired: !plaintext && !noClientAuth}
			if plaintext && (rootCert != "" || clientCert != "" || clientKey != "") {
				return usagef("--insecure-plaintext turns TLS off; drop --root-cert, --client-cert and --client-key")
			}
			if !plaintext {
				if rootCert == "" {
					return usagef("--root-cert is required (the CA bundle of the chaincode server's certificate)")
				}
				certs, err := pki.ReadCertificates(rootCert)
				if err != nil {
					return err
				}
				conn.RootCert = string(pki.EncodeCertificatesPEM(certs...))
			}
			if conn.ClientAuthRequired {
				if clientCert == "" || clientKey == "" {
					return usagef("--client-cert and --client-key are required (or --no-client-auth if the server does not ask for a client certificate)")
				}
				certs, err := readChain(clientCert)
				if err != nil {
					return err
				}
				key, err := pki.ReadKey(clientKey, insecure)
				if err != nil {
					if errors.Is(err, fsutil.ErrInsecurePermissions) {
						err = fmt.Errorf("%w (or pass --insecure)", err)
					}
					return err
				}
				if !pki.KeyMatches(certs[0], key) {
					return fmt.Errorf("%s does not match the certificate in %s", clientKey, clientCert)
				}
				keyPEM, err := pki.EncodeKeyPEM(key)
				if err != nil {
					return err
				}
				conn.ClientCert, conn.ClientKey = string(pki.EncodeCertificatesPEM(certs...)), string(keyPEM)
			} else if clientCert != "" || clientKey != "" {
				return usagef("--no-client-auth and --client-cert/--client-key contradict each other")
			}
			pkg, err := pki.CCaaSPackage(label, conn)
			if err != nil {
				return usageError{err}
			}
			if !force && exists(out) {
				if old, err := os.ReadFile(out); err != nil || string(old) != string(pkg) {
					return fmt.Errorf("%s exists with other content: %w; pass --force", out, pki.ErrExists)
				}
			}
			if err := fsutil.WriteFile(out, pkg, 0o600); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), pki.PackageID(label, pkg))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&label, "label", "", "package label, e.g. basic_1.0 (required)")
	f.StringVar(&address, "address", "", "host:port the peer dials; the server certificate must cover the host (required)")
	f.DurationVar(&dialTimeout, "dial-timeout", 10*time.Second, "how long the peer waits to connect")
	f.StringVar(&rootCert, "root-cert", "", "CA bundle that issued the chaincode server's certificate")
	f.StringVar(&clientCert, "client-cert", "", "the peer's client certificate (PEM file or directory with tls.crt)")
	f.StringVar(&clientKey, "client-key", "", "the peer's client key")
	f.StringVar(&out, "out", "", "package file to write (required)")
	f.BoolVar(&noClientAuth, "no-client-auth", false, "the peer presents no client certificate (client_auth_required false)")
	f.BoolVar(&plaintext, "insecure-plaintext", false, "no TLS at all (tls_required false): INSECURE, development only")
	f.BoolVar(&insecure, "insecure", false, "accept a client key file readable by group or others (INSECURE)")
	f.BoolVar(&force, "force", false, "overwrite an existing package file with different content")
	for _, n := range []string{"label", "address", "out"} {
		_ = c.MarkFlagRequired(n)
	}
	return c
}

// signalContext is cancelled on SIGINT or SIGTERM, so renew --daemon stops
// cleanly.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
