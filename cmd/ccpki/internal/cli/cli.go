// Package cli is the ccpki command line, callable in process: Main for the
// binary, Run with a context for tests that stop a renew --daemon.
//
// Each verb has a file of its own (init.go, issue.go, …): a function that
// builds its cobra command and binds the flags into an options struct,
// and run<Verb>, which does the work from those options alone.
package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	icli "github.com/ccserver/ccserver/internal/cli"
	"github.com/ccserver/ccserver/internal/fsutil"
	"github.com/ccserver/ccserver/pki"
)

// Exit codes, documented in every --help. 0 to 2 are every command's
// (internal/cli); 3 to 5 are ccpki's own.
const (
	exitFailed   = icli.ExitFailed
	exitUsage    = icli.ExitUsage
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

// program is ccpki's name and the pki errors that have exit codes of their
// own.
func program() icli.Program {
	return icli.Program{Name: "ccpki", Codes: []icli.ExitCode{
		{Err: pki.ErrVerify, Code: exitVerify},
		{Err: pki.ErrUnauthorized, Code: exitRefused},
		{Err: pki.ErrUnavailable, Code: exitNoCA},
	}}
}

// Main runs ccpki with args (without the program name) and returns the
// exit code; SIGINT and SIGTERM stop a renew --daemon.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := icli.SignalContext(context.Background())
	defer stop()
	return Run(ctx, args, stdout, stderr)
}

// Run is Main with the caller's context: cancelling it stops a
// renew --daemon, which then returns 0.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return program().Execute(ctx, newRoot(), args, stdout, stderr)
}

func newRoot() *cobra.Command {
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
	}
	root.AddCommand(initCmd(), issueCmd(), renewCmd(), revokeCmd(), crlCmd(), inspectCmd(), verifyCmd(), pinCmd(), packageCmd(), builderConfigCmd())
	for _, c := range root.Commands() {
		c.Long += "\n" + exitCodeHelp
	}
	return root
}

// usagef is a usage error: exit 2.
func usagef(format string, a ...any) error { return icli.Usagef(format, a...) }

// usage marks err as the command line's fault: exit 2.
func usage(err error) error { return icli.Usage(err) }

// insecureHint names the flag that accepts a key, password or auth key
// file others can read.
func insecureHint(err error) error {
	if errors.Is(err, fsutil.ErrInsecurePermissions) {
		return fmt.Errorf("%w (or pass --insecure)", err)
	}
	return err
}

// hintFor adds the command line's fix to err when it is target: the pki
// errors name fields and arguments, ccpki names its flags.
func hintFor(err, target error, hint string) error {
	if err != nil && errors.Is(err, target) {
		return icli.WithHint(err, hint)
	}
	return err
}

// readChain reads a certificate file, or tls.crt in a directory.
func readChain(path string) ([]*x509.Certificate, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, pki.CertFile)
	}
	return pki.ReadCertificates(path)
}

func isIP(s string) bool { return net.ParseIP(s) != nil }

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func printIssued(w io.Writer, verb, dir string, c *x509.Certificate) {
	fmt.Fprintf(w, "%s %s: %s, serial %s, valid until %s\n  spki pin: %s\n", verb, dir, c.Subject,
		c.SerialNumber.Text(16), c.NotAfter.UTC().Format(time.RFC3339), pki.SPKIPin(c))
}
