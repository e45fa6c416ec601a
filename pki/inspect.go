package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/ccserver/ccserver/internal/x509util"
)

// SPKIPin is the pin form ccserver --pin takes: "sha256/" and the standard
// base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo. It
// survives renewal with the same key and changes with a new key.
func SPKIPin(cert *x509.Certificate) string { return x509util.FormatPin(x509util.SPKIPin(cert)) }

// ParsePin accepts what ccserver --pin accepts ("sha256/<base64>", or 64
// hex digits with or without a colon between every pair) and returns the
// 32-byte digest.
func ParsePin(s string) ([]byte, error) {
	sum, err := x509util.ParsePin(s)
	if err != nil {
		return nil, fmt.Errorf("pin %q: %w", strings.TrimSpace(s), err)
	}
	return sum[:], nil
}

var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny: "any", x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth",
	x509.ExtKeyUsageCodeSigning: "codeSigning", x509.ExtKeyUsageEmailProtection: "emailProtection",
	x509.ExtKeyUsageTimeStamping: "timeStamping", x509.ExtKeyUsageOCSPSigning: "OCSPSigning",
}

var keyUsageNames = []struct {
	u    x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digitalSignature"}, {x509.KeyUsageContentCommitment, "contentCommitment"},
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"}, {x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"}, {x509.KeyUsageCertSign, "certSign"}, {x509.KeyUsageCRLSign, "crlSign"},
}

// usages lists a certificate's key usages and extended key usages by name.
func usages(c *x509.Certificate) []string {
	var out []string
	for _, k := range keyUsageNames {
		if c.KeyUsage&k.u != 0 {
			out = append(out, k.name)
		}
	}
	for _, e := range c.ExtKeyUsage {
		if n, ok := extKeyUsageNames[e]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("eku(%d)", e))
		}
	}
	return out
}

// DescribeOptions shape Describe.
type DescribeOptions struct {
	// Now is the clock the time left is counted from; nil means time.Now.
	Now func() time.Time
}

// Describe writes a readable summary of cert: subject, SANs, usages,
// issuer, validity with time left, and the SPKI pin.
func Describe(w io.Writer, c *x509.Certificate, opts DescribeOptions) error {
	now := clock(opts.Now)()
	kt, err := keyTypeOf(c.PublicKey)
	if err != nil {
		kt = KeyType(c.PublicKeyAlgorithm.String())
	}
	role := "leaf"
	if c.IsCA {
		role = "CA"
		if c.MaxPathLenZero {
			role = "CA (path length 0)"
		}
	}
	var sans []string
	sans = append(sans, prefixed("DNS:", c.DNSNames)...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, "IP:"+ip.String())
	}
	for _, u := range c.URIs {
		sans = append(sans, "URI:"+u.String())
	}
	sans = append(sans, prefixed("email:", c.EmailAddresses)...)
	left := c.NotAfter.Sub(now)
	status := "valid, " + humanDuration(left) + " left"
	switch {
	case now.Before(c.NotBefore):
		status = "NOT YET VALID (starts in " + humanDuration(c.NotBefore.Sub(now)) + ")"
	case left <= 0:
		status = "EXPIRED " + humanDuration(-left) + " ago"
	}
	_, err = fmt.Fprintf(w, "Subject:    %s\nIssuer:     %s\nSerial:     %s\nType:       %s, %s key\nSANs:       %s\nUsages:     %s\nNot before: %s\nNot after:  %s (%s)\nSPKI pin:   %s\n",
		c.Subject, c.Issuer, c.SerialNumber.Text(16), role, kt, orNone(sans), orNone(usages(c)),
		c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), status, SPKIPin(c))
	return err
}

func prefixed(p string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = p + x
	}
	return out
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "(none)"
	}
	return strings.Join(xs, ", ")
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return d.Truncate(time.Second).String()
	}
}

// Role is what a certificate must be good for in a ccaas deployment.
type Role int

// Roles checked by Verify.
const (
	RoleAny    Role = iota // chains to the roots, any usage
	RoleServer             // chaincode server: serverAuth and a SAN for the address
	RoleClient             // peer client: clientAuth
)

// ParseRole accepts "server", "client" or "any".
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(s) {
	case "server":
		return RoleServer, nil
	case "client":
		return RoleClient, nil
	case "any", "":
		return RoleAny, nil
	}
	return 0, fmt.Errorf("unknown role %q; use server, client or any", s)
}

// VerifyOptions say what Verify checks.
type VerifyOptions struct {
	Roots []*x509.Certificate
	Role  Role
	// Address is the host:port (or host) the peer dials; required for
	// RoleServer, since the peer checks the server certificate against it.
	Address string
	// CRL, when set, must be signed by the leaf's issuer, current, and not
	// name the leaf.
	CRL *x509.RevocationList
	// Now is the clock the validity periods are checked against; nil
	// means time.Now.
	Now func() time.Time
}

// Verify checks that chain[0] chains to opts.Roots through chain[1:] and is
// fit for opts.Role. Failures wrap ErrVerify (and ErrStaleCRL for a CRL
// past its nextUpdate).
func Verify(chain []*x509.Certificate, opts VerifyOptions) error {
	if len(chain) == 0 {
		return errors.New("no certificate to verify")
	}
	if len(opts.Roots) == 0 {
		return errors.New("no trust roots given")
	}
	now := clock(opts.Now)()
	leaf := chain[0]
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range opts.Roots {
		roots.AddCert(r)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	vo := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	switch opts.Role {
	case RoleServer:
		if opts.Address == "" {
			return errors.New("VerifyOptions.Address is required for RoleServer: the host:port the peer dials")
		}
		host := opts.Address
		if h, _, err := net.SplitHostPort(opts.Address); err == nil {
			host = h
		}
		vo.DNSName = host
		vo.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case RoleClient:
		vo.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	chains, err := leaf.Verify(vo)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrVerify, err)
	}
	if opts.CRL != nil {
		issuer := chains[0][0]
		if len(chains[0]) > 1 {
			issuer = chains[0][1]
		}
		if err := opts.CRL.CheckSignatureFrom(issuer); err != nil {
			return fmt.Errorf("%w: the CRL is not signed by the certificate's issuer %q: %v", ErrVerify, issuer.Subject.CommonName, err)
		}
		if !opts.CRL.NextUpdate.IsZero() && now.After(opts.CRL.NextUpdate) {
			return fmt.Errorf("%w: %w (nextUpdate %s); sign it afresh (Local.WriteCRL)", ErrVerify, ErrStaleCRL, opts.CRL.NextUpdate.UTC().Format(time.RFC3339))
		}
		for _, e := range opts.CRL.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
				return fmt.Errorf("%w: certificate serial %s is revoked (since %s)", ErrVerify, leaf.SerialNumber.Text(16), e.RevocationTime.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}
