package stepca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ccserver/ccserver/pki"
	"github.com/ccserver/ccserver/pki/internal/remote"
)

// DefaultTimeout bounds one request to the CA when Config.Timeout is zero.
const DefaultTimeout = remote.DefaultTimeout

// Config is what the client needs to know about one step-ca.
type Config struct {
	// URL is the CA's base URL, e.g. https://ca.example.com:9000.
	URL string
	// RootFingerprint is the SHA-256 of the CA root certificate (DER) in
	// hex, as `step certificate fingerprint` prints it; colons are allowed.
	RootFingerprint string
	// Provisioner is the name of a JWK provisioner on the CA. It and a
	// password or key are needed to Issue and Revoke, not to Renew.
	Provisioner string
	// ProvisionerPassword decrypts the provisioner's private key (the one
	// the CA publishes, or ProvisionerKey when that is encrypted).
	ProvisionerPassword []byte
	// ProvisionerKey optionally holds the provisioner's private key as a
	// JWK (plain or password-encrypted JWE) or PEM; when empty the client
	// uses the encrypted key the CA publishes for the provisioner.
	ProvisionerKey []byte
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
}

// Client is a pki.Backend backed by a remote step-ca. It is safe for
// concurrent use. The root is fetched and the provisioner key decrypted on
// first use and then kept, so New does no network I/O.
type Client struct {
	base        *url.URL
	fingerprint []byte
	provisioner string
	password    []byte
	keyData     []byte
	timeout     time.Duration

	mu   sync.Mutex
	root *x509.Certificate
	pool *x509.CertPool
	key  *jwk
}

var _ pki.Backend = (*Client)(nil)

// New checks cfg and returns a client. It does not contact the CA.
func New(cfg Config) (*Client, error) {
	base, err := remote.BaseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("stepca: Config.URL: %w; give the step-ca address, e.g. https://ca.example.com:9000", err)
	}
	if base.Scheme != "https" {
		return nil, fmt.Errorf("stepca: Config.URL %q must use https (step-ca serves TLS only)", cfg.URL)
	}
	fp, err := ParseFingerprint(cfg.RootFingerprint)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{
		base:        base,
		fingerprint: fp,
		provisioner: cfg.Provisioner,
		password:    bytes.Clone(cfg.ProvisionerPassword),
		keyData:     bytes.Clone(cfg.ProvisionerKey),
		timeout:     timeout,
	}, nil
}

// ParseFingerprint reads a root fingerprint: 64 hex digits, optionally
// separated by colons, any case.
func ParseFingerprint(s string) ([]byte, error) {
	if strings.HasPrefix(s, "sha256/") {
		return nil, fmt.Errorf("stepca: %q is an SPKI pin, not a root fingerprint: step-ca fingerprints hash the whole root certificate; give the 64 hex digits `step certificate fingerprint root_ca.crt` prints", s)
	}
	clean := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	b, err := hex.DecodeString(clean)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("stepca: the root fingerprint %q is not a SHA-256 fingerprint: give the 64 hex digits `step certificate fingerprint root_ca.crt` prints", s)
	}
	return b, nil
}

// Fingerprint returns the step-style fingerprint of a certificate: the hex
// SHA-256 of its DER encoding.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// checkProvisioner says what is missing for the calls that sign a
// provisioner token (Issue, Revoke). Renew and RevokeWithKey authenticate
// with the certificate and need neither, so a renewing machine need not
// hold the provisioner password.
func (c *Client) checkProvisioner() error {
	if c.provisioner == "" {
		return errors.New("stepca: the provisioner name is empty: give the name of a JWK provisioner on the CA (`step ca provisioner list`)")
	}
	if len(c.password) == 0 && len(c.keyData) == 0 {
		return fmt.Errorf("stepca: neither a provisioner password nor a provisioner key is set: give the password of provisioner %q", c.provisioner)
	}
	return nil
}

// Root returns the CA root, fetched and checked against the fingerprint on
// first use.
func (c *Client) Root(ctx context.Context) (*x509.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.root != nil {
		return c.root, nil
	}
	root, err := c.fetchRoot(ctx)
	if err != nil {
		return nil, err
	}
	c.root = root
	c.pool = x509.NewCertPool()
	c.pool.AddCert(root)
	return root, nil
}

// fetchRoot gets /root/<fingerprint> over a connection whose certificate is
// not yet checked; the answer is trusted only because it hashes to the
// pinned fingerprint, and the server's own chain must then verify to it.
func (c *Client) fetchRoot(ctx context.Context) (*x509.Certificate, error) {
	hc := c.httpClient(&tls.Config{
		MinVersion: tls.VersionTLS12,
		// Checked below against the pinned fingerprint.
		InsecureSkipVerify: true, //nolint:gosec // the content is pinned by hash
	})
	var out struct {
		CA string `json:"ca"`
	}
	fp := hex.EncodeToString(c.fingerprint)
	state, err := c.do(ctx, hc, http.MethodGet, "/root/"+fp, nil, &out, http.StatusOK)
	if se := (*remote.StatusError)(nil); errors.As(err, &se) && se.Status == http.StatusNotFound {
		return nil, fmt.Errorf("stepca: the CA at %s has no root with fingerprint %s: check the fingerprint (`step certificate fingerprint root_ca.crt`): %w", c.base, fp, err)
	}
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificatesPEM([]byte(out.CA))
	if err != nil || len(certs) != 1 {
		return nil, fmt.Errorf("stepca: %s returned a malformed root (want one PEM certificate in \"ca\"): %v", c.base, err)
	}
	root := certs[0]
	if got := sha256.Sum256(root.Raw); !bytes.Equal(got[:], c.fingerprint) {
		return nil, fmt.Errorf("stepca: the root from %s has fingerprint %x, not the configured %s: check the fingerprint, or you are not talking to your CA", c.base, got, fp)
	}
	if state == nil || len(state.PeerCertificates) == 0 {
		return nil, fmt.Errorf("stepca: %s presented no certificate", c.base)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	inter := x509.NewCertPool()
	for _, ic := range state.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	if _, err := state.PeerCertificates[0].Verify(x509.VerifyOptions{
		DNSName:       c.base.Hostname(),
		Roots:         pool,
		Intermediates: inter,
	}); err != nil {
		return nil, fmt.Errorf("stepca: the TLS certificate of %s does not verify to the pinned root: %w", c.base, err)
	}
	return root, nil
}

// httpClient returns a client for one exchange with cfg.
func (c *Client) httpClient(cfg *tls.Config) *http.Client { return remote.HTTPClient(cfg, c.timeout) }

// pinned returns an HTTP client that trusts only the pinned root and, when
// cert is not nil, presents it for mutual TLS.
func (c *Client) pinned(ctx context.Context, cert *tls.Certificate) (*http.Client, error) {
	if _, err := c.Root(ctx); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.pool, ServerName: c.base.Hostname()}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return c.httpClient(cfg), nil
}

// apiError is step-ca's error body.
type apiError struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// do sends one JSON request and decodes the answer into out when the
// status is want; any other status is a *remote.StatusError with
// step-ca's message.
func (c *Client) do(ctx context.Context, hc *http.Client, method, path string, in, out any, want int) (*tls.ConnectionState, error) {
	u := c.base.String() + path
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("stepca: encoding %s request: %w", path, err)
		}
		body = b
	}
	ans, err := remote.Exchange(ctx, hc, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("stepca: %w", err)
	}
	if ans.Status != want {
		msg := string(ans.Body)
		var ae apiError
		if json.Unmarshal(ans.Body, &ae) == nil && ae.Message != "" {
			msg = ae.Message
		}
		return nil, remote.Refusal(ans.Status, "stepca: "+remote.StatusLine(method, u, ans.Status, msg))
	}
	if out != nil {
		if err := json.Unmarshal(ans.Body, out); err != nil {
			return nil, fmt.Errorf("stepca: %s %s returned malformed JSON: %w", method, u, err)
		}
	}
	return ans.TLS, nil
}

// signResponse is step-ca's answer to sign, renew and rekey.
type signResponse struct {
	Crt       string   `json:"crt"`
	CA        string   `json:"ca"`
	CertChain []string `json:"certChain"`
}

// issued turns a sign response into pki.Issued, checking that the leaf
// carries wantKey and verifies to the pinned root.
func (c *Client) issued(path string, r *signResponse, wantKey crypto.PublicKey) (*pki.Issued, error) {
	bad := func(what string, err error) error {
		if err != nil {
			return fmt.Errorf("stepca: %s%s returned a malformed answer: %s: %w", c.base, path, what, err)
		}
		return fmt.Errorf("stepca: %s%s returned a malformed answer: %s", c.base, path, what)
	}
	var chain []*x509.Certificate
	if len(r.CertChain) > 0 {
		for i, p := range r.CertChain {
			certs, err := pki.ParseCertificatesPEM([]byte(p))
			if err != nil || len(certs) == 0 {
				return nil, bad(fmt.Sprintf("certChain[%d] is not a PEM certificate", i), err)
			}
			chain = append(chain, certs...)
		}
	} else {
		leaf, err := pki.ParseCertificatesPEM([]byte(r.Crt))
		if err != nil || len(leaf) == 0 {
			return nil, bad("crt is not a PEM certificate", err)
		}
		ca, err := pki.ParseCertificatesPEM([]byte(r.CA))
		if err != nil {
			return nil, bad("ca is not PEM", err)
		}
		chain = append(leaf, ca...)
	}
	leaf := chain[0]
	if !pki.SamePublicKey(leaf.PublicKey, wantKey) {
		return nil, bad("the certificate is not for the requested key", nil)
	}
	var intermediates []*x509.Certificate
	for _, ic := range chain[1:] {
		if !ic.Equal(c.root) {
			intermediates = append(intermediates, ic)
		}
	}
	if err := remote.VerifyLeaf(leaf, intermediates, []*x509.Certificate{c.root}); err != nil {
		return nil, bad("the certificate does not verify to the pinned root", err)
	}
	return &pki.Issued{Certificate: leaf, Intermediates: intermediates, Roots: []*x509.Certificate{c.root}}, nil
}

func checkRequest(req *pki.Request) error {
	if err := remote.CheckCSR(req); err != nil {
		return fmt.Errorf("stepca: %w", err)
	}
	switch req.Profile {
	case "", "server", "client":
	default:
		return fmt.Errorf("stepca: profile %q is not supported: step-ca's provisioner template decides key usages; use \"server\" or \"client\"", req.Profile)
	}
	if req.Lifetime < 0 {
		return fmt.Errorf("stepca: negative lifetime %s", req.Lifetime)
	}
	return nil
}

// names returns the token subject and "sans" claim for a CSR: step-ca
// requires the token to name exactly the CSR's SANs.
func names(csr *x509.CertificateRequest) (subject string, sans []string) {
	sans = append(sans, csr.DNSNames...)
	for _, ip := range csr.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, csr.EmailAddresses...)
	for _, u := range csr.URIs {
		sans = append(sans, u.String())
	}
	subject = csr.Subject.CommonName
	if subject == "" && len(sans) > 0 {
		subject = sans[0]
	}
	return subject, sans
}

// Issue signs req.CSR through POST /1.0/sign with a provisioner token.
func (c *Client) Issue(ctx context.Context, req *pki.Request) (*pki.Issued, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	if err := c.checkProvisioner(); err != nil {
		return nil, err
	}
	subject, sans := names(req.CSR)
	if subject == "" {
		return nil, errors.New("stepca: the CSR has no common name and no SANs; step-ca needs at least one name")
	}
	hc, err := c.pinned(ctx, nil)
	if err != nil {
		return nil, err
	}
	key, err := c.provisionerKey(ctx, hc)
	if err != nil {
		return nil, err
	}
	ott, err := c.token(key, subject, sans, "/1.0/sign")
	if err != nil {
		return nil, err
	}
	body := struct {
		CSR      string `json:"csr"`
		OTT      string `json:"ott"`
		NotAfter string `json:"notAfter,omitempty"`
	}{CSR: remote.CSRPEM(req.CSR), OTT: ott}
	if req.Lifetime > 0 {
		body.NotAfter = req.Lifetime.String()
	}
	var out signResponse
	if _, err := c.do(ctx, hc, http.MethodPost, "/1.0/sign", body, &out, http.StatusCreated); err != nil {
		return nil, err
	}
	return c.issued("/1.0/sign", &out, req.CSR.PublicKey)
}

// Renew replaces current over mutual TLS, authenticated by current and
// currentKey. When req carries a CSR for a different key it asks step-ca to
// rekey (POST /1.0/rekey), otherwise to renew with the same key
// (POST /1.0/renew). step-ca keeps the subject, SANs and lifetime of the
// current certificate either way.
func (c *Client) Renew(ctx context.Context, current *x509.Certificate, currentKey crypto.Signer, req *pki.Request) (*pki.Issued, error) {
	cert, err := clientCert(current, currentKey)
	if err != nil {
		return nil, err
	}
	hc, err := c.pinned(ctx, cert)
	if err != nil {
		return nil, err
	}
	if req != nil && req.CSR != nil && !pki.SamePublicKey(req.CSR.PublicKey, current.PublicKey) {
		if err := remote.CheckCSR(req); err != nil {
			return nil, fmt.Errorf("stepca: %w", err)
		}
		body := struct {
			CSR string `json:"csr"`
		}{remote.CSRPEM(req.CSR)}
		var out signResponse
		if _, err := c.do(ctx, hc, http.MethodPost, "/1.0/rekey", body, &out, http.StatusCreated); err != nil {
			return nil, err
		}
		return c.issued("/1.0/rekey", &out, req.CSR.PublicKey)
	}
	var out signResponse
	if _, err := c.do(ctx, hc, http.MethodPost, "/1.0/renew", nil, &out, http.StatusCreated); err != nil {
		return nil, err
	}
	return c.issued("/1.0/renew", &out, current.PublicKey)
}

// clientCert checks the pair a renewal or revocation authenticates with.
func clientCert(cert *x509.Certificate, key crypto.Signer) (*tls.Certificate, error) {
	if cert == nil || key == nil {
		return nil, errors.New("stepca: renewing needs the current certificate and its private key")
	}
	if !pki.SamePublicKey(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("stepca: the private key does not match the certificate (serial %s)", cert.SerialNumber)
	}
	if now := time.Now(); now.After(cert.NotAfter) {
		return nil, fmt.Errorf("stepca: the current certificate (serial %s) expired at %s; step-ca authenticates renewals with an unexpired certificate, so issue a new one: %w",
			cert.SerialNumber, cert.NotAfter.UTC().Format(time.RFC3339), pki.ErrUnauthorized)
	}
	return &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

type revokeRequest struct {
	Serial     string `json:"serial"`
	OTT        string `json:"ott,omitempty"`
	ReasonCode int    `json:"reasonCode"`
	Reason     string `json:"reason,omitempty"`
	Passive    bool   `json:"passive"`
}

// Revoke marks cert revoked (passively: step-ca refuses its renewal from
// then on) with a provisioner token whose subject is the serial number.
func (c *Client) Revoke(ctx context.Context, cert *x509.Certificate, reason pki.RevocationReason) error {
	if cert == nil {
		return errors.New("stepca: revoke needs the certificate")
	}
	if err := c.checkProvisioner(); err != nil {
		return err
	}
	hc, err := c.pinned(ctx, nil)
	if err != nil {
		return err
	}
	key, err := c.provisionerKey(ctx, hc)
	if err != nil {
		return err
	}
	serial := cert.SerialNumber.String()
	ott, err := c.token(key, serial, nil, "/1.0/revoke")
	if err != nil {
		return err
	}
	return c.revoke(ctx, hc, revokeRequest{Serial: serial, OTT: ott, ReasonCode: int(reason), Reason: reason.String(), Passive: true})
}

// RevokeWithKey revokes cert authenticated by the certificate itself over
// mutual TLS, for holders of the key who have no provisioner credentials.
func (c *Client) RevokeWithKey(ctx context.Context, cert *x509.Certificate, key crypto.Signer, reason pki.RevocationReason) error {
	tc, err := clientCert(cert, key)
	if err != nil {
		return err
	}
	hc, err := c.pinned(ctx, tc)
	if err != nil {
		return err
	}
	return c.revoke(ctx, hc, revokeRequest{Serial: cert.SerialNumber.String(), ReasonCode: int(reason), Reason: reason.String(), Passive: true})
}

func (c *Client) revoke(ctx context.Context, hc *http.Client, body revokeRequest) error {
	if body.ReasonCode < 0 || body.ReasonCode > 10 {
		return fmt.Errorf("stepca: revocation reason %d is not an RFC 5280 reason code", body.ReasonCode)
	}
	var out struct {
		Status string `json:"status"`
	}
	if _, err := c.do(ctx, hc, http.MethodPost, "/1.0/revoke", body, &out, http.StatusOK); err != nil {
		return err
	}
	if out.Status != "ok" {
		return fmt.Errorf("stepca: %s/1.0/revoke answered status %q, not \"ok\"", c.base, remote.Clip(out.Status, 60))
	}
	return nil
}

// String names the CA without the credentials the client holds, so
// printing a Client never shows the provisioner password or key.
func (c *Client) String() string {
	return fmt.Sprintf("stepca.Client{URL: %s, Provisioner: %q}", c.base, c.provisioner)
}

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }
