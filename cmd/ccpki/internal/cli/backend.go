package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccserver/ccserver/internal/fsutil"
	"github.com/ccserver/ccserver/pki"
	"github.com/ccserver/ccserver/pki/cfsslremote"
	"github.com/ccserver/ccserver/pki/stepca"
)

// The backends issue, renew and revoke can use.
const (
	backendLocal  = "local"
	backendStepCA = "stepca"
	backendCFSSL  = "cfssl"
)

// maxSecretFile bounds a password or auth key file; a larger one is the
// wrong file.
const maxSecretFile = 64 << 10

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
	opts := pki.LocalOptions{AllowInsecureKeyFile: cf.insecure}
	if cf.config != "" {
		policy, err := pki.LoadSigningConfig(cf.config)
		if err != nil {
			return nil, err
		}
		opts.SigningPolicy = policy
	}
	ca, err := pki.OpenLocal(cf.dir, opts)
	return ca, hintFor(insecureHint(err), pki.ErrNoCA, "create one with: ccpki init --dir "+cf.dir)
}

// backendFlags choose the CA that signs (--backend, or inferred from which
// CA's flags are given) and configure it. Secrets come only from files, so
// they never show in ps output or shell history.
type backendFlags struct {
	kind  string
	local caFlags

	stepURL, stepFingerprint, provisioner, provPasswordFile, provKeyFile string

	cfsslURL, cfsslKeyFile, cfsslProfile, cfsslLabel, cfsslRootFile, cfsslTLSCA string
	cfsslPlaintext                                                              bool

	timeout time.Duration

	// changed reports whether a flag was given, to infer the backend.
	changed func(name string) bool
}

var (
	stepFlagNames  = []string{"ca-url", "ca-fingerprint", "provisioner", "provisioner-password-file", "provisioner-key-file"}
	cfsslFlagNames = []string{"cfssl-url", "cfssl-auth-key-file", "cfssl-profile", "cfssl-label", "cfssl-root-file", "cfssl-tls-ca", "insecure-plaintext-http"}
	localFlagNames = []string{"ca", "ca-config"}
)

func (bf *backendFlags) register(c *cobra.Command) {
	bf.local.register(c, false)
	f := c.Flags()
	bf.changed = f.Changed
	f.StringVar(&bf.kind, "backend", "", "CA backend: local, stepca or cfssl (default: local, or the one whose flags are given)")
	f.StringVar(&bf.stepURL, "ca-url", "", "step-ca: base URL, e.g. https://ca.example.com:9000")
	f.StringVar(&bf.stepFingerprint, "ca-fingerprint", "", "step-ca: SHA-256 fingerprint of the root (step certificate fingerprint root_ca.crt)")
	f.StringVar(&bf.provisioner, "provisioner", "", "step-ca: name of a JWK provisioner")
	f.StringVar(&bf.provPasswordFile, "provisioner-password-file", "", "step-ca: file holding the provisioner password")
	f.StringVar(&bf.provKeyFile, "provisioner-key-file", "", "step-ca: the provisioner's private key (JWK, encrypted JWK or PEM) instead of the one the CA publishes")
	f.StringVar(&bf.cfsslURL, "cfssl-url", "", "cfssl: base URL of the cfssl server, e.g. https://cfssl.example.com:8888")
	f.StringVar(&bf.cfsslKeyFile, "cfssl-auth-key-file", "", "cfssl: file holding the profile's auth key (hex, as in the server's ca-config.json)")
	f.StringVar(&bf.cfsslProfile, "cfssl-profile", "", "cfssl: signing profile used when --profile is not given (renew)")
	f.StringVar(&bf.cfsslLabel, "cfssl-label", "", "cfssl: CA label on a multi-root server")
	f.StringVar(&bf.cfsslRootFile, "cfssl-root-file", "", "cfssl: root certificate(s) of the server's signer, written to ca.crt (needed when it signs with an intermediate)")
	f.StringVar(&bf.cfsslTLSCA, "cfssl-tls-ca", "", "cfssl: CA bundle that verifies the server's TLS certificate (default: system roots)")
	f.BoolVar(&bf.cfsslPlaintext, "insecure-plaintext-http", false, "cfssl: allow an http:// URL (INSECURE: answers can be forged on the way)")
	f.DurationVar(&bf.timeout, "ca-timeout", 30*time.Second, "step-ca/cfssl: time limit of each request to the CA")
}

// choose returns the backend the flags name, checking that flags of two
// backends are not mixed.
func (bf *backendFlags) choose() (string, error) {
	set := func(names []string) []string {
		var out []string
		for _, n := range names {
			if bf.changed(n) {
				out = append(out, "--"+n)
			}
		}
		return out
	}
	given := map[string][]string{backendLocal: set(localFlagNames), backendStepCA: set(stepFlagNames), backendCFSSL: set(cfsslFlagNames)}
	kind := bf.kind
	if kind == "" {
		var named []string
		for _, k := range []string{backendLocal, backendStepCA, backendCFSSL} {
			if len(given[k]) > 0 {
				named = append(named, k)
			}
		}
		switch len(named) {
		case 0:
			return "", usagef("name the CA: --ca DIR (local CA), --ca-url URL (step-ca) or --cfssl-url URL (cfssl)")
		case 1:
			kind = named[0]
		default:
			return "", usagef("flags of more than one CA backend given (%s): use one backend, or name it with --backend", strings.Join(named, ", "))
		}
	}
	switch kind {
	case backendLocal, backendStepCA, backendCFSSL:
	default:
		return "", usagef("--backend %q: use local, stepca or cfssl", kind)
	}
	for k, flags := range given {
		if k != kind && len(flags) > 0 {
			return "", usagef("%s belong to the %s backend, not %s", strings.Join(flags, ", "), k, kind)
		}
	}
	return kind, nil
}

// open returns the backend; local is set when it is the local CA (which
// also keeps the revocation list and signs CRLs). needProvisioner is for
// the verbs that sign a step-ca token (issue, revoke); renew
// authenticates with the current certificate.
func (bf *backendFlags) open(needProvisioner bool) (backend pki.Backend, local *pki.Local, err error) {
	kind, err := bf.choose()
	if err != nil {
		return nil, nil, err
	}
	switch kind {
	case backendStepCA:
		b, err := bf.openStepCA(needProvisioner)
		return b, nil, err
	case backendCFSSL:
		b, err := bf.openCFSSL()
		return b, nil, err
	}
	if bf.local.dir == "" {
		return nil, nil, usagef("the local backend needs --ca DIR, the CA directory made by ccpki init")
	}
	l, err := bf.local.open()
	return l, l, err
}

// openStepCA needs the provisioner only for verbs that sign a token.
func (bf *backendFlags) openStepCA(needProvisioner bool) (*stepca.Client, error) {
	var missing []string
	for _, m := range []struct{ flag, val string }{{"--ca-url", bf.stepURL}, {"--ca-fingerprint", bf.stepFingerprint}} {
		if m.val == "" {
			missing = append(missing, m.flag)
		}
	}
	if needProvisioner && bf.provisioner == "" {
		missing = append(missing, "--provisioner")
	}
	if needProvisioner && bf.provPasswordFile == "" && bf.provKeyFile == "" {
		missing = append(missing, "--provisioner-password-file (or --provisioner-key-file)")
	}
	if len(missing) > 0 {
		return nil, usagef("the stepca backend needs %s", strings.Join(missing, ", "))
	}
	cfg := stepca.Config{URL: bf.stepURL, RootFingerprint: bf.stepFingerprint, Provisioner: bf.provisioner, Timeout: bf.timeout}
	var err error
	if bf.provPasswordFile != "" {
		if cfg.ProvisionerPassword, err = bf.readSecret(bf.provPasswordFile, "--provisioner-password-file"); err != nil {
			return nil, err
		}
	}
	if bf.provKeyFile != "" {
		if cfg.ProvisionerKey, err = bf.readSecret(bf.provKeyFile, "--provisioner-key-file"); err != nil {
			return nil, err
		}
	}
	client, err := stepca.New(cfg)
	if err != nil {
		return nil, usage(err)
	}
	return client, nil
}

func (bf *backendFlags) openCFSSL() (*cfsslremote.Client, error) {
	if bf.cfsslURL == "" || bf.cfsslKeyFile == "" {
		return nil, usagef("the cfssl backend needs --cfssl-url and --cfssl-auth-key-file")
	}
	key, err := bf.readSecret(bf.cfsslKeyFile, "--cfssl-auth-key-file")
	if err != nil {
		return nil, err
	}
	cfg := cfsslremote.Config{URL: bf.cfsslURL, AuthKey: key, Profile: bf.cfsslProfile, Label: bf.cfsslLabel,
		InsecurePlaintextHTTP: bf.cfsslPlaintext, Timeout: bf.timeout}
	if bf.cfsslRootFile != "" {
		if cfg.Roots, err = pki.ReadCertificates(bf.cfsslRootFile); err != nil {
			return nil, err
		}
	}
	if bf.cfsslTLSCA != "" {
		certs, err := pki.ReadCertificates(bf.cfsslTLSCA)
		if err != nil {
			return nil, err
		}
		cfg.TLSConfig = &tls.Config{RootCAs: poolOf(certs), MinVersion: tls.VersionTLS12}
	}
	client, err := cfsslremote.New(cfg)
	if err != nil {
		return nil, usage(err)
	}
	return client, nil
}

// readSecret reads a password or key file that only its owner may read
// (unless --insecure). Errors name the file and the flag, never the
// content; one trailing line break is dropped, as editors add it.
func (bf *backendFlags) readSecret(path, flag string) ([]byte, error) {
	if err := fsutil.CheckKeyFile(path, bf.local.insecure); err != nil {
		return nil, fmt.Errorf("%s: %w", flag, insecureHint(err))
	}
	data, err := fsutil.ReadFile(path, maxSecretFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	data = bytes.TrimSuffix(bytes.TrimSuffix(data, []byte("\n")), []byte("\r"))
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: %s is empty", flag, path)
	}
	return data, nil
}

func poolOf(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
