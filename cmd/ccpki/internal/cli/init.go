package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccserver/ccserver/pki"
)

// initOptions are ccpki init's flags.
type initOptions struct {
	dir, keyType, cn, org string
	rootLife, interLife   time.Duration
	noInter, force        bool
}

func initCmd() *cobra.Command {
	var o initOptions
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
			return runInit(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.dir, "dir", "", "directory for the CA files (required)")
	f.StringVar(&o.keyType, "key-type", string(pki.DefaultKeyType), "key algorithm: ecdsa-p256, ecdsa-p384, ed25519, rsa-3072 (also rsa-2048, rsa-4096)")
	f.StringVar(&o.cn, "cn", "", `common name of the root (default "ccpki root CA <key id>": unique per CA)`)
	f.StringVar(&o.org, "org", "", "organization of the CA subject")
	f.DurationVar(&o.rootLife, "root-lifetime", pki.DefaultRootLifetime, "validity of the root")
	f.DurationVar(&o.interLife, "intermediate-lifetime", pki.DefaultIntermediateLifetime, "validity of the intermediate")
	f.BoolVar(&o.noInter, "no-intermediate", false, "sign certificates with the root directly")
	f.BoolVar(&o.force, "force", false, "replace an existing CA (every certificate it issued stops being trusted)")
	_ = c.MarkFlagRequired("dir")
	return c
}

// runInit creates the CA and prints what it made.
func runInit(_ context.Context, out io.Writer, o initOptions) error {
	kt, err := pki.ParseKeyType(o.keyType)
	if err != nil {
		return usage(err)
	}
	info, err := pki.InitCA(o.dir, pki.InitOptions{KeyType: kt, CommonName: o.cn, Organization: o.org,
		RootLifetime: o.rootLife, IntermediateLifetime: o.interLife, NoIntermediate: o.noInter, Force: o.force})
	if err != nil {
		return hintFor(err, pki.ErrExists, "pass --force to replace it (every certificate it issued stops being trusted)")
	}
	fmt.Fprintf(out, "created CA in %s\n  root:         %s (until %s)\n", o.dir, info.Root.Subject, info.Root.NotAfter.UTC().Format(time.RFC3339))
	if info.Intermediate != nil {
		fmt.Fprintf(out, "  intermediate: %s (until %s)\n", info.Intermediate.Subject, info.Intermediate.NotAfter.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(out, "  trust bundle: %s\n  root pin:     %s\n", filepath.Join(o.dir, pki.BundleFile), pki.SPKIPin(info.Root))
	return nil
}
