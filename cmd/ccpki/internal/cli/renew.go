package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccserver/ccserver/pki"
)

// renewOptions are ccpki renew's flags.
type renewOptions struct {
	bf                   backendFlags
	dir, profile, hook   string
	lifetime, minB, maxB time.Duration
	before               float64
	force, daemon, reuse bool
	flat                 bool
}

func renewCmd() *cobra.Command {
	var o renewOptions
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
			return runRenew(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	o.bf.register(c)
	f := c.Flags()
	f.StringVar(&o.dir, "dir", "", "directory holding tls.crt and tls.key (required)")
	f.StringVar(&o.profile, "profile", "", "signing profile (default: server or client, from the certificate's usage)")
	f.DurationVar(&o.lifetime, "lifetime", 0, "validity of the new certificate (default: same as the current one)")
	f.Float64Var(&o.before, "renew-before", pki.DefaultRenewBefore, "renew when less than this fraction of the lifetime is left")
	f.BoolVar(&o.force, "force", false, "renew now, whatever the time left")
	f.BoolVar(&o.daemon, "daemon", false, "keep running and renew whenever due")
	f.StringVar(&o.hook, "exec", "", "command run with sh -c after each renewal")
	f.BoolVar(&o.reuse, "reuse-key", false, "keep the current key instead of making a new one")
	f.BoolVar(&o.flat, "flat", false, "write plain files instead of a ..data generation swap")
	f.DurationVar(&o.minB, "min-backoff", pki.DefaultMinBackoff, "first retry delay after a failure (daemon)")
	f.DurationVar(&o.maxB, "max-backoff", pki.DefaultMaxBackoff, "longest retry delay (daemon)")
	_ = c.MarkFlagRequired("dir")
	return c
}

// runRenew renews once if due (or --force), or with --daemon for ever,
// until ctx ends; a daemon reports each failure on stderr and retries.
func runRenew(ctx context.Context, stdout, stderr io.Writer, o renewOptions) error {
	ca, _, err := o.bf.open(false)
	if err != nil {
		return err
	}
	if o.profile == "" && o.bf.cfsslProfile != "" {
		o.profile = o.bf.cfsslProfile
	}
	layout := pki.LayoutCertManager
	if o.flat {
		layout = pki.LayoutFlat
	}
	cfg := pki.RenewerConfig{Backend: ca, Dir: o.dir, Profile: o.profile, Lifetime: o.lifetime, RenewBefore: o.before,
		ReuseKey: o.reuse, Layout: layout, MinBackoff: o.minB, MaxBackoff: o.maxB, AllowInsecureKeyFile: o.bf.local.insecure,
		AfterRenew: func(ctx context.Context, iss *pki.Issued) error {
			printIssued(stdout, "renewed", o.dir, iss.Certificate)
			return runHook(ctx, stdout, stderr, o.hook, o.dir, iss)
		}}
	r, err := pki.NewRenewer(cfg)
	if err != nil {
		return usage(err)
	}
	if o.daemon {
		report := func(err error) { program().PrintError(stderr, renewHints(fmt.Errorf("renew: %w", err))) }
		if o.force {
			if _, err := r.Renew(ctx); err != nil {
				report(err)
			}
		}
		return r.Run(ctx, report)
	}
	if o.force {
		_, err := r.Renew(ctx)
		return renewHints(err)
	}
	renewed, next, err := r.RenewIfDue(ctx)
	if err != nil {
		return renewHints(err)
	}
	if !renewed {
		fmt.Fprintf(stdout, "%s: not due; renewal due at %s (use --force to renew now)\n", o.dir, next.UTC().Format(time.RFC3339))
	}
	return nil
}

// renewHints adds the flags that fix a renewal's error.
func renewHints(err error) error {
	err = hintFor(err, pki.ErrUnknownProfile, "name the profile: --profile server or --profile client")
	return hintFor(err, pki.ErrOutlivesCA, "shorten --lifetime, or renew the CA")
}

// runHook runs --exec after a renewal, with the directory and the new
// serial in its environment.
func runHook(ctx context.Context, stdout, stderr io.Writer, hook, dir string, iss *pki.Issued) error {
	if hook == "" {
		return nil
	}
	x := exec.CommandContext(ctx, "sh", "-c", hook)
	x.Env = append(os.Environ(), "CCPKI_DIR="+dir, "CCPKI_SERIAL="+iss.Certificate.SerialNumber.Text(16))
	x.Stdout, x.Stderr = stdout, stderr
	if err := x.Run(); err != nil {
		return fmt.Errorf("--exec %q: %w", hook, err)
	}
	return nil
}
