package ccaas

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/ccserver/ccserver/internal/x509util"
)

// DefaultDialTimeout is the peer's dial timeout when dial_timeout is zero.
const DefaultDialTimeout = 3 * time.Second

// Connection is connection.json: how the peer dials the chaincode server.
// Booleans are JSON booleans (the builder refuses "true" in quotes) and
// the PEM material is inline, not file paths. In a package every string
// field except Domain may be a template that Render fills.
//
// The JSON form, field order included, is what WritePackage puts in the
// package, so it is part of every package id: do not reorder the fields.
type Connection struct {
	// Address is the host:port the peer dials. The peer checks the
	// server certificate against its host (unless Domain applies).
	Address string `json:"address"`
	// DialTimeout bounds the peer's connect, as a Go duration ("10s").
	// The builder reads it as a JSON string, so a number fails there,
	// and passes an absent one on as "", which the peer cannot parse:
	// with the ccaas builder it is required. "0s" means 3 s.
	DialTimeout string `json:"dial_timeout"`
	// TLSRequired turns TLS on. Without it the builder drops
	// ClientAuthRequired and the three PEM fields.
	TLSRequired bool `json:"tls_required"`
	// ClientAuthRequired makes the peer present ClientCert/ClientKey.
	ClientAuthRequired bool `json:"client_auth_required"`
	// RootCert holds the CA certificate(s) (PEM) that issued the
	// chaincode server's certificate; the peer trusts only these.
	RootCert string `json:"root_cert,omitempty"`
	// ClientCert and ClientKey are the peer's client certificate (PEM,
	// chain allowed) and its private key (PEM).
	ClientCert string `json:"client_cert,omitempty"`
	ClientKey  string `json:"client_key,omitempty"`
	// Domain overrides the name the server certificate is checked
	// against, and only with client authentication; a Fabric ≥ 3.0 peer
	// reads it, v2.5 ignores it. The ccaas builder has no such field and
	// drops it, so it reaches the peer only through a builder that copies
	// connection.json unchanged: Render drops it, WritePackage refuses it.
	Domain string `json:"domain,omitempty"`
}

// ParseConnection decodes connection.json as the ccaas builder does:
// encoding/json into the fields above (keys match case-insensitively,
// unknown keys are ignored, the last of duplicate keys wins), with
// booleans as JSON booleans and dial_timeout as a JSON string. A wrong
// type is a *FieldError wrapping ErrType. It does not validate: a
// package's connection.json may hold templates; Render, then Validate.
func ParseConnection(data []byte) (Connection, error) {
	var c Connection
	if err := json.Unmarshal(data, &c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Connection{}, &FieldError{Field: te.Field, Err: typeError(te)}
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Connection{}, &inputError{kind: ErrInvalid, msg: "connection.json: not JSON", err: err}
		}
		return Connection{}, &inputError{kind: ErrType, msg: "connection.json: want a JSON object", err: err}
	}
	return c, nil
}

func typeError(te *json.UnmarshalTypeError) error {
	if te.Type.Kind() == reflect.Bool {
		return fmt.Errorf("%w: want true or false without quotes, not a JSON %s (the builder fails to decode the file)", ErrType, te.Value)
	}
	if te.Field == "dial_timeout" {
		return fmt.Errorf("%w: want a duration string such as \"10s\", not a JSON %s (the ccaas builder reads it as a string)", ErrType, te.Value)
	}
	return fmt.Errorf("%w: want a JSON string, not a JSON %s", ErrType, te.Value)
}

// Marshal returns connection.json as WritePackage stores it: indented
// with two spaces, ending in a newline.
func (c Connection) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode connection.json: %w", err)
	}
	return append(b, '\n'), nil
}

// Timeout is the dial timeout the peer uses: DialTimeout parsed, or
// DefaultDialTimeout when it is zero. It fails where the peer fails to
// read it (empty or not a duration).
func (c Connection) Timeout() (time.Duration, error) {
	if err := checkDialTimeout(c.DialTimeout); err != nil {
		return 0, &FieldError{Field: "dial_timeout", Err: err}
	}
	d, _ := time.ParseDuration(c.DialTimeout)
	if d == 0 {
		return DefaultDialTimeout, nil
	}
	return d, nil
}

// ServerName is the name the server certificate must cover: Domain when
// set and client authentication is on (as a Fabric ≥ 3.0 peer does),
// else the host of Address.
func (c Connection) ServerName() string {
	if c.TLSRequired && c.ClientAuthRequired && c.Domain != "" {
		return c.Domain
	}
	host, _, err := net.SplitHostPort(c.Address)
	if err != nil {
		return c.Address
	}
	return host
}

// Validate checks a connection as the peer reads it, after the builder:
// every error names the field (*FieldError). It checks what the peer
// checks (address given; root_cert with TLS; client_cert and client_key
// with client authentication) and what would make every dial fail: an
// address that is not host:port, a dial_timeout that is empty, not a
// duration or negative, PEM that the peer cannot load (root_cert holding
// no certificate, a client key that is encrypted, does not parse or does
// not match client_cert), a domain with a port. Fields the builder drops
// without TLS are not looked at. A template action anywhere is
// ErrNotRendered.
func (c Connection) Validate() error { return c.check(false) }

// field is one templated string field, in the order the builder renders.
type field struct {
	name  string
	value *string
}

// templated lists the fields the builder treats as templates: address
// and dial_timeout always, the PEM fields only with TLS.
func (c *Connection) templated() []field {
	fs := []field{{"address", &c.Address}, {"dial_timeout", &c.DialTimeout}}
	if c.TLSRequired {
		fs = append(fs, field{"root_cert", &c.RootCert}, field{"client_key", &c.ClientKey}, field{"client_cert", &c.ClientCert})
	}
	return fs
}

// check validates the literal fields; templates are an error unless
// inPackage, where they are only checked to parse.
func (c Connection) check(inPackage bool) error {
	literal := map[string]bool{}
	for _, f := range c.templated() {
		lit, err := isLiteral(*f.value)
		if err != nil {
			return &FieldError{Field: f.name, Err: fmt.Errorf("%w: %w", ErrTemplate, err)}
		}
		if !lit && !inPackage {
			return &FieldError{Field: f.name, Err: ErrNotRendered}
		}
		literal[f.name] = lit
	}
	if literal["address"] {
		if err := checkAddress(c.Address); err != nil {
			return &FieldError{Field: "address", Err: err}
		}
	}
	if literal["dial_timeout"] {
		if err := checkDialTimeout(c.DialTimeout); err != nil {
			return &FieldError{Field: "dial_timeout", Err: err}
		}
	}
	if c.Domain != "" {
		if strings.ContainsAny(c.Domain, " \t\r\n") {
			return &FieldError{Field: "domain", Err: errors.New("want a DNS name or IP address, without spaces")}
		}
		if _, _, err := net.SplitHostPort(c.Domain); err == nil {
			return &FieldError{Field: "domain", Err: fmt.Errorf("%q is host:port; want the server name alone", c.Domain)}
		}
	}
	if !c.TLSRequired {
		return nil
	}
	// The peer checks the key first, then the certificate, then the root.
	if c.ClientAuthRequired {
		if c.ClientKey == "" {
			return &FieldError{Field: "client_key", Err: fmt.Errorf("%w: client_auth_required is true but there is no client key (the peer: \"chaincode tls key not provided\")", ErrMissing)}
		}
		if c.ClientCert == "" {
			return &FieldError{Field: "client_cert", Err: fmt.Errorf("%w: client_auth_required is true but there is no client certificate (the peer: \"chaincode tls cert not provided\")", ErrMissing)}
		}
	}
	if c.RootCert == "" {
		return &FieldError{Field: "root_cert", Err: fmt.Errorf("%w: tls_required is true but there is no CA certificate of the chaincode server (the peer: \"chaincode tls root cert not provided\")", ErrMissing)}
	}
	if literal["root_cert"] {
		if err := checkRoots(c.RootCert); err != nil {
			return &FieldError{Field: "root_cert", Err: err}
		}
	}
	if c.ClientAuthRequired && literal["client_cert"] && literal["client_key"] {
		return checkKeyPair(c.ClientCert, c.ClientKey)
	}
	return nil
}

// isLiteral reports whether the builder leaves s as it is: it holds no
// "{{", the only way into a template action (comments included). An
// error is a template the builder cannot parse.
func isLiteral(s string) (bool, error) {
	if !strings.Contains(s, "{{") {
		return true, nil
	}
	if _, err := newTemplate(s); err != nil {
		return false, err
	}
	return false, nil
}

// newTemplate parses s exactly as the ccaas builder does.
func newTemplate(s string) (*template.Template, error) {
	return template.New("").Option("missingkey=error").Parse(s)
}

func checkAddress(addr string) error {
	if addr == "" {
		return fmt.Errorf("%w: want host:port, the address the peer dials (the peer: \"chaincode address not provided\")", ErrMissing)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("%q: want host:port, the address the peer dials", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: the port must be a number from 1 to 65535", addr)
	}
	return nil
}

func checkDialTimeout(s string) error {
	if s == "" {
		return fmt.Errorf("%w: want a duration such as \"10s\"; the builder passes an empty one on and the peer fails to read it (time: invalid duration \"\")", ErrMissing)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a Go duration such as \"10s\": %w", err)
	}
	if d < 0 {
		return fmt.Errorf("%q is negative; the peer's dial would fail at once", s)
	}
	return nil
}

// checkRoots loads root_cert as the peer does (x509.CertPool, which
// skips blocks it cannot parse and fails only with no certificate).
func checkRoots(pemData string) error {
	if x509.NewCertPool().AppendCertsFromPEM([]byte(pemData)) {
		return nil
	}
	if _, err := x509util.ParseCertificates([]byte(pemData)); err != nil {
		return fmt.Errorf("the peer cannot load it (\"error adding root certificate\"): %w", err)
	}
	return errors.New("holds no PEM certificate the peer can load (\"error adding root certificate\")")
}

// checkKeyPair loads the client pair as the peer does (tls.X509KeyPair);
// x509util only explains a refusal. Neither error contains key material.
func checkKeyPair(certPEM, keyPEM string) error {
	_, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err == nil {
		return nil
	}
	if _, kerr := x509util.ParsePrivateKey([]byte(keyPEM)); kerr != nil {
		return &FieldError{Field: "client_key", Err: fmt.Errorf("the peer cannot load it: %w", kerr)}
	}
	if _, cerr := x509util.ParseCertificates([]byte(certPEM)); cerr != nil {
		return &FieldError{Field: "client_cert", Err: fmt.Errorf("the peer cannot load it: %w", cerr)}
	}
	return &FieldError{Field: "client_key", Err: fmt.Errorf("does not form a key pair with client_cert: %v", err)}
}
