package cfsslremote

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
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
	"time"

	"github.com/ccserver/ccserver/pki"
	"github.com/ccserver/ccserver/pki/internal/remote"
)

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = remote.DefaultTimeout

// The cfssl API endpoints the client uses.
const (
	pathAuthSign = "/api/v1/cfssl/authsign"
	pathInfo     = "/api/v1/cfssl/info"
	pathRevoke   = "/api/v1/cfssl/revoke"
)

// Config is what the client needs to know about one cfssl server.
type Config struct {
	// URL is the server's base URL, e.g. https://cfssl.example.com:8888.
	URL string
	// AuthKey is the signing profile's HMAC key, hex-encoded as in the
	// server's ca-config.json; surrounding white space is ignored, so the
	// contents of a key file can be passed as they are.
	AuthKey []byte
	// Profile is the signing profile used when a request names none.
	Profile string
	// Label selects the CA on a multi-root server; empty for `cfssl serve`.
	Label string
	// Roots are the trust anchors to hand out with issued certificates.
	// Needed when the server's signer is an intermediate; when empty, the
	// signer certificate from /info is used and must be self-signed.
	Roots []*x509.Certificate
	// TLSConfig is used for https connections to the server (its CA bundle,
	// a client certificate for an mTLS proxy); nil means the system roots.
	TLSConfig *tls.Config
	// InsecurePlaintextHTTP allows an http:// URL. The auth key still
	// authenticates requests, but answers can be forged on the way.
	InsecurePlaintextHTTP bool
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
}

// Client is a pki.Backend backed by a remote cfssl server. It is safe for
// concurrent use.
type Client struct {
	base    *url.URL
	key     []byte
	profile string
	label   string
	roots   []*x509.Certificate
	http    *http.Client
}

var _ pki.Backend = (*Client)(nil)

// New checks cfg and returns a client. It does not contact the server.
func New(cfg Config) (*Client, error) {
	base, err := remote.BaseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("cfsslremote: Config.URL: %w; give the cfssl server's address, e.g. https://cfssl.example.com:8888", err)
	}
	switch base.Scheme {
	case "https":
	case "http":
		if !cfg.InsecurePlaintextHTTP {
			return nil, fmt.Errorf("cfsslremote: Config.URL %q is plain http: serve cfssl over TLS (cfssl serve -tls-cert/-tls-key, or a TLS proxy), or allow it explicitly with Config.InsecurePlaintextHTTP", cfg.URL)
		}
	default:
		return nil, fmt.Errorf("cfsslremote: Config.URL %q must use https", cfg.URL)
	}
	key, err := ParseAuthKey(cfg.AuthKey)
	if err != nil {
		return nil, err
	}
	for i, r := range cfg.Roots {
		if r == nil {
			return nil, fmt.Errorf("cfsslremote: Roots[%d] is nil", i)
		}
	}
	return &Client{
		base:    base,
		key:     key,
		profile: cfg.Profile,
		label:   cfg.Label,
		roots:   append([]*x509.Certificate(nil), cfg.Roots...),
		http:    remote.HTTPClient(cfg.TLSConfig, cfg.Timeout),
	}, nil
}

// ParseAuthKey decodes a cfssl auth key: hex digits, white space around
// them ignored.
func ParseAuthKey(b []byte) ([]byte, error) {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, errors.New("cfsslremote: the auth key is empty: give the hex key of the profile's auth_key from the server's ca-config.json")
	}
	key, err := hex.DecodeString(s)
	if err != nil {
		// Never echo the key itself.
		return nil, fmt.Errorf("cfsslremote: the auth key is not hex (%d characters): give the \"key\" value of the profile's auth_key from ca-config.json", len(s))
	}
	return key, nil
}

// response is cfssl's API envelope.
type response struct {
	Success bool            `json:"success"`
	Result  json.RawMessage `json:"result"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// post sends body to path and decodes the envelope's result into out.
func (c *Client) post(ctx context.Context, path string, body []byte, out any) error {
	u := c.base.String() + path
	ans, err := remote.Exchange(ctx, c.http, http.MethodPost, u, body)
	if err != nil {
		return fmt.Errorf("cfsslremote: %w", err)
	}
	var env response
	jsonErr := json.Unmarshal(ans.Body, &env)
	if ans.Status == http.StatusOK && jsonErr == nil && env.Success {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return fmt.Errorf("cfsslremote: POST %s returned a malformed result: %w", u, err)
		}
		return nil
	}
	if ans.Status == http.StatusOK && jsonErr != nil {
		return fmt.Errorf("cfsslremote: POST %s returned malformed JSON (is this a cfssl server?): %w", u, jsonErr)
	}
	return refusal(u, ans.Status, ans.Body, &env, jsonErr == nil)
}

// refusal turns an unsuccessful answer into an error, classified for the
// caller: cfssl's own error codes first, then the HTTP status.
func refusal(u string, status int, raw []byte, env *response, isJSON bool) error {
	var msgs []string
	if isJSON {
		for _, e := range env.Errors {
			msgs = append(msgs, fmt.Sprintf("%s (code %d)", remote.Clip(e.Message, 200), e.Code))
		}
	} else if s := strings.TrimSpace(string(raw)); s != "" {
		msgs = append(msgs, remote.Clip(s, 200))
	}
	text := "cfsslremote: " + remote.StatusLine(http.MethodPost, u, status, strings.Join(msgs, "; "))
	joined := strings.Join(msgs, " ")
	switch {
	case strings.Contains(joined, "invalid token"):
		return &remote.StatusError{Status: status, Kind: pki.ErrUnauthorized,
			Text: text + ": the server refused the auth key; check it matches the profile's auth_key"}
	case strings.Contains(joined, "no authentication provider"):
		return &remote.StatusError{Status: status,
			Text: text + ": the profile has no auth_key on the server, so authsign cannot use it; choose a profile with an auth_key"}
	}
	return remote.Refusal(status, text)
}

// authenticated wraps request in cfssl's authenticated request: the
// HMAC-SHA256 of the exact request bytes under the auth key.
func (c *Client) authenticated(request []byte) ([]byte, error) {
	mac := hmac.New(sha256.New, c.key)
	mac.Write(request)
	return json.Marshal(struct {
		Token   []byte `json:"token"`
		Request []byte `json:"request"`
	}{mac.Sum(nil), request})
}

// Issue signs req.CSR through the authenticated sign endpoint.
func (c *Client) Issue(ctx context.Context, req *pki.Request) (*pki.Issued, error) {
	if err := remote.CheckCSR(req); err != nil {
		return nil, fmt.Errorf("cfsslremote: %w", err)
	}
	profile := req.Profile
	if profile == "" {
		profile = c.profile
	}
	signReq, err := json.Marshal(struct {
		Request string `json:"certificate_request"`
		Profile string `json:"profile"`
		Label   string `json:"label"`
	}{
		Request: remote.CSRPEM(req.CSR),
		Profile: profile,
		Label:   c.label,
	})
	if err != nil {
		return nil, fmt.Errorf("cfsslremote: encoding the sign request: %w", err)
	}
	body, err := c.authenticated(signReq)
	if err != nil {
		return nil, fmt.Errorf("cfsslremote: encoding the sign request: %w", err)
	}
	var out struct {
		Certificate string `json:"certificate"`
	}
	if err := c.post(ctx, pathAuthSign, body, &out); err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificatesPEM([]byte(out.Certificate))
	if err != nil {
		return nil, fmt.Errorf("cfsslremote: %s%s returned a malformed certificate: %w", c.base, pathAuthSign, err)
	}
	leaf := certs[0]
	if !pki.SamePublicKey(leaf.PublicKey, req.CSR.PublicKey) {
		return nil, fmt.Errorf("cfsslremote: %s%s returned a certificate for another key", c.base, pathAuthSign)
	}
	// cfssl signs with its default profile when the name is unknown, so
	// check that the role asked for is what came back.
	if want, ok := roleUsage[profile]; ok && !hasEKU(leaf, want) {
		return nil, fmt.Errorf("cfsslremote: profile %q on %s issued a certificate without %s usage: the server has no such profile (cfssl then uses its default) or the profile lacks the usage; add %q to the profile's usages", profile, c.base, profile+" auth", profile+" auth")
	}
	return c.complete(ctx, leaf, profile)
}

// complete adds the issuer chain and roots to leaf, checking that it
// verifies to them.
func (c *Client) complete(ctx context.Context, leaf *x509.Certificate, profile string) (*pki.Issued, error) {
	signer, err := c.signerCert(ctx, profile)
	if err != nil {
		return nil, err
	}
	var intermediates []*x509.Certificate
	roots := c.roots
	switch {
	case len(roots) == 0 && isSelfSigned(signer):
		roots = []*x509.Certificate{signer}
	case len(roots) == 0:
		return nil, fmt.Errorf("cfsslremote: the cfssl signer %q is an intermediate, so its root is unknown: configure the root certificate(s)", signer.Subject)
	case !containsCert(roots, signer):
		intermediates = []*x509.Certificate{signer}
	}
	if err := remote.VerifyLeaf(leaf, intermediates, roots); err != nil {
		return nil, fmt.Errorf("cfsslremote: the certificate from %s does not verify to the configured roots: %w", c.base, err)
	}
	return &pki.Issued{Certificate: leaf, Intermediates: intermediates, Roots: roots}, nil
}

// CACertificate returns the certificate the server signs with for
// profile (empty: the default), from /api/v1/cfssl/info.
func (c *Client) CACertificate(ctx context.Context, profile string) (*x509.Certificate, error) {
	return c.signerCert(ctx, profile)
}

func (c *Client) signerCert(ctx context.Context, profile string) (*x509.Certificate, error) {
	body, err := json.Marshal(struct {
		Label   string `json:"label"`
		Profile string `json:"profile"`
	}{c.label, profile})
	if err != nil {
		return nil, err
	}
	var out struct {
		Certificate string `json:"certificate"`
	}
	if err := c.post(ctx, pathInfo, body, &out); err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificatesPEM([]byte(out.Certificate))
	if err != nil {
		return nil, fmt.Errorf("cfsslremote: %s%s returned a malformed CA certificate: %w", c.base, pathInfo, err)
	}
	if !certs[0].IsCA {
		return nil, fmt.Errorf("cfsslremote: %s%s returned %q, which is not a CA certificate", c.base, pathInfo, certs[0].Subject)
	}
	return certs[0], nil
}

// Renew asks for a new certificate for req.CSR; cfssl has no renewal, so
// this is Issue, and current and currentKey are not used.
func (c *Client) Renew(ctx context.Context, current *x509.Certificate, currentKey crypto.Signer, req *pki.Request) (*pki.Issued, error) {
	if req == nil || req.CSR == nil {
		return nil, errors.New("cfsslremote: renewing through cfssl needs a CSR (cfssl signs anew; it has no renewal endpoint)")
	}
	return c.Issue(ctx, req)
}

// Revoke marks cert revoked in the server's certificate database. cfssl
// servers without a database refuse this, and Revoke says so.
func (c *Client) Revoke(ctx context.Context, cert *x509.Certificate, reason pki.RevocationReason) error {
	if cert == nil {
		return errors.New("cfsslremote: revoke needs the certificate")
	}
	if reason < pki.ReasonUnspecified || reason > pki.ReasonCessationOfOperation {
		return fmt.Errorf("cfsslremote: revocation reason %d is not one of RFC 5280's that cfssl takes", int(reason))
	}
	body, err := json.Marshal(struct {
		Serial string `json:"serial"`
		AKI    string `json:"authority_key_id"`
		Reason string `json:"reason"`
	}{cert.SerialNumber.String(), hex.EncodeToString(cert.AuthorityKeyId), reason.String()})
	if err != nil {
		return err
	}
	var out json.RawMessage
	err = c.post(ctx, pathRevoke, body, &out)
	var se *remote.StatusError
	if errors.As(err, &se) && se.Kind == nil && (se.Status == http.StatusNotFound || strings.Contains(strings.ToLower(se.Text), "certificate not found")) {
		return fmt.Errorf("%w (cfssl revokes only certificates recorded in its database: the server needs -db-config, and the certificate must have been issued after that)", err)
	}
	return err
}

// roleUsage is the extended key usage ccpki's role profiles must carry.
var roleUsage = map[string]x509.ExtKeyUsage{
	"server": x509.ExtKeyUsageServerAuth,
	"client": x509.ExtKeyUsageClientAuth,
}

func hasEKU(c *x509.Certificate, want x509.ExtKeyUsage) bool {
	for _, u := range c.ExtKeyUsage {
		if u == want || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// String names the server without the auth key, so printing a Client
// never shows it.
func (c *Client) String() string {
	return fmt.Sprintf("cfsslremote.Client{URL: %s, Profile: %q}", c.base, c.profile)
}

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }
