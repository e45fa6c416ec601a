// Package remote is the HTTP side that the clients of remote CAs (step-ca,
// cfssl) share: one HTTP client shape, one exchange that bounds what it
// reads and classifies failures into pki.ErrUnavailable (retry later) and
// pki.ErrUnauthorized (the credentials were refused), and the clipping of
// server text, which is untrusted, before it reaches a log line or a
// terminal. What a CA's answer means stays with its client.
package remote

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/ccserver/ccserver/pki"
)

// DefaultTimeout bounds one request when a client's config sets none.
const DefaultTimeout = 30 * time.Second

// MaxAnswer caps what a client reads from a CA, so a broken or hostile
// server cannot make it buffer without end.
const MaxAnswer = 1 << 20

// BaseURL parses a CA's base URL: absolute, with a host, no query or
// fragment, no trailing slash. Which schemes are allowed is the caller's
// call.
func BaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("the URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute URL: use https://host:port", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// HTTPClient is the client for a CA: TLS 1.2 at least (cfg may be nil for
// the system roots), no keep-alives because the CA is asked rarely and
// idle connections would outlive the call, no proxy from the environment,
// and no redirects, so an answer comes from the URL that was configured.
func HTTPClient(cfg *tls.Config, timeout time.Duration) *http.Client {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg != nil {
		tc = cfg.Clone()
		tc.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig:   tc,
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Answer is what a CA sent back.
type Answer struct {
	Status int
	Body   []byte // at most MaxAnswer bytes
	// TLS is the state of the connection the answer came over; nil for
	// plain http.
	TLS *tls.ConnectionState
}

// Exchange sends one request, JSON when body is not nil, and reads the
// whole answer, whatever its status. Failures to get an answer are
// classified: the caller's context ending is reported as such; a refused
// client certificate wraps pki.ErrUnauthorized; a server certificate that
// does not verify is neither (retrying will not help); anything else
// wraps pki.ErrUnavailable.
func Exchange(ctx context.Context, hc *http.Client, method, u string, body []byte) (*Answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, transportError(ctx, method, u, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w: %w", method, u, pki.ErrUnavailable, err)
	}
	if len(raw) > MaxAnswer {
		return nil, fmt.Errorf("%s %s: the answer is larger than %d bytes", method, u, MaxAnswer)
	}
	return &Answer{Status: resp.StatusCode, Body: raw, TLS: resp.TLS}, nil
}

func transportError(ctx context.Context, method, u string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s %s: %w", method, u, ctxErr)
	}
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return fmt.Errorf("%s %s: the server's TLS certificate does not verify against the trusted roots: %w", method, u, err)
	}
	if alert, ok := serverAlert(err); ok && refusedCertAlert(alert) {
		return fmt.Errorf("%s %s: the server refused the client certificate: %w: %w", method, u, pki.ErrUnauthorized, err)
	}
	return fmt.Errorf("%s %s: %w: %w", method, u, pki.ErrUnavailable, err)
}

// serverAlert is the TLS alert the server sent, if err is one. Over TCP,
// crypto/tls reports it as a *net.OpError "remote error" around its
// unexported alert type, a uint8; tls.AlertError is what QUIC reports.
func serverAlert(err error) (uint8, bool) {
	var a tls.AlertError
	if errors.As(err, &a) {
		return uint8(a), true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		if v := reflect.ValueOf(op.Err); v.Kind() == reflect.Uint8 {
			return uint8(v.Uint()), true
		}
	}
	return 0, false
}

// refusedCertAlert reports TLS alerts a server sends when it rejects the
// client's certificate.
func refusedCertAlert(a uint8) bool {
	switch a {
	case 42, 43, 44, 45, 46, 48, 116: // bad, unsupported, revoked, expired, unknown certificate; unknown CA; certificate required
		return true
	}
	return false
}

// StatusError is a CA's refusal: an answer with a status the client did
// not want. Kind is pki.ErrUnauthorized for 401 and 403,
// pki.ErrUnavailable for 429 and the gateway errors (502, 503, 504), so a
// renewer retries those, and nil otherwise.
type StatusError struct {
	Status int
	Text   string // what the client says about it, server text clipped
	Kind   error
}

func (e *StatusError) Error() string {
	if e.Kind != nil {
		return e.Text + ": " + e.Kind.Error()
	}
	return e.Text
}

func (e *StatusError) Unwrap() error { return e.Kind }

// Refusal is the StatusError for status, with text as its message.
func Refusal(status int, text string) *StatusError {
	e := &StatusError{Status: status, Text: text}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		e.Kind = pki.ErrUnauthorized
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		e.Kind = pki.ErrUnavailable
	}
	return e
}

// StatusLine is "METHOD URL: 404 Not Found", and ": message" when the
// server said something, clipped.
func StatusLine(method, u string, status int, message string) string {
	text := fmt.Sprintf("%s %s: %d %s", method, u, status, http.StatusText(status))
	if m := Clip(strings.TrimSpace(message), 300); m != "" {
		text += ": " + m
	}
	return text
}

// CheckCSR checks what every remote CA is sent: a request with a CSR whose
// signature verifies, so a broken request fails here, not at the CA.
func CheckCSR(req *pki.Request) error {
	if req == nil || req.CSR == nil {
		return errors.New("the request has no CSR")
	}
	if err := req.CSR.CheckSignature(); err != nil {
		return fmt.Errorf("the CSR signature does not verify: %w", err)
	}
	return nil
}

// CSRPEM is the CSR as the CAs' JSON APIs take it.
func CSRPEM(csr *x509.CertificateRequest) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw}))
}

// VerifyLeaf checks that a certificate a CA returned chains to roots
// through intermediates (for any usage; the caller checks the role), so
// what is written to ca.crt does verify what is written to tls.crt.
func VerifyLeaf(leaf *x509.Certificate, intermediates, roots []*x509.Certificate) error {
	rootPool, interPool := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		rootPool.AddCert(r)
	}
	for _, ic := range intermediates {
		interPool.AddCert(ic)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: rootPool, Intermediates: interPool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// Clip replaces control characters in s (which could rewrite a terminal
// line or forge log lines) with spaces and cuts it to n bytes, marking
// the cut. A cut never splits a UTF-8 sequence.
func Clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// utf8Start tells whether b begins a UTF-8 sequence (is not a
// continuation byte).
func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
