// Package devpeer is a development peer: it dials a chaincode server the
// way a Fabric peer does (same connection.json, keepalive, message sizes
// and TLS client settings), runs the peer side of the chaincode protocol
// (internal/peerside) against an embedded bbolt state file, and can probe a
// server's TLS setup or load it with a closed-loop benchmark.
package devpeer

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/ccserver/ccserver/internal/x509util"
)

// DefaultDialTimeout is the peer's default when connection.json has none.
const DefaultDialTimeout = 3 * time.Second

// Connection is what the peer reads from connection.json.
type Connection struct {
	Address            string
	DialTimeout        time.Duration
	TLSRequired        bool
	ClientAuthRequired bool
	ClientKey          []byte // PEM
	ClientCert         []byte // PEM
	RootCert           []byte // PEM, may hold several CAs
	// Domain overrides the TLS server name, only with client auth (as Fabric ≥ 3.0).
	Domain string
}

// ErrBadConnection wraps every connection.json problem.
var ErrBadConnection = errors.New("invalid connection.json")

type connectionJSON struct {
	Address            string          `json:"address"`
	DialTimeout        json.RawMessage `json:"dial_timeout"`
	TLSRequired        json.RawMessage `json:"tls_required"`
	ClientAuthRequired json.RawMessage `json:"client_auth_required"`
	ClientKey          string          `json:"client_key"`
	ClientCert         string          `json:"client_cert"`
	RootCert           string          `json:"root_cert"`
	Domain             string          `json:"domain"`
}

// ParseConnection parses connection.json with the peer's rules: address
// required, dial_timeout a duration string ("10s") or a number of
// nanoseconds, booleans as JSON booleans (a string "true" fails as it does
// on the peer), PEM fields inline.
func ParseConnection(b []byte) (*Connection, error) {
	var raw connectionJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadConnection, err)
	}
	c := &Connection{
		Address: raw.Address, Domain: raw.Domain, DialTimeout: DefaultDialTimeout,
		ClientKey: []byte(raw.ClientKey), ClientCert: []byte(raw.ClientCert), RootCert: []byte(raw.RootCert),
	}
	var err error
	if c.TLSRequired, err = jsonBool("tls_required", raw.TLSRequired); err != nil {
		return nil, err
	}
	if c.ClientAuthRequired, err = jsonBool("client_auth_required", raw.ClientAuthRequired); err != nil {
		return nil, err
	}
	if len(raw.DialTimeout) > 0 && string(raw.DialTimeout) != "null" {
		var s string
		var n int64
		switch {
		case json.Unmarshal(raw.DialTimeout, &s) == nil:
			if c.DialTimeout, err = time.ParseDuration(s); err != nil {
				return nil, fmt.Errorf("%w: dial_timeout %q is not a duration (e.g. \"10s\"): %v", ErrBadConnection, s, err)
			}
		case json.Unmarshal(raw.DialTimeout, &n) == nil:
			c.DialTimeout = time.Duration(n)
		default:
			return nil, fmt.Errorf("%w: dial_timeout must be a duration string like \"10s\" or a number of nanoseconds, not %s", ErrBadConnection, raw.DialTimeout)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func jsonBool(field string, raw json.RawMessage) (bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, fmt.Errorf("%w: %s must be a JSON boolean (true or false without quotes), not %s; the peer fails to read this file (\"malformed chaincode info\")", ErrBadConnection, field, raw)
	}
	return v, nil
}

// LoadConnection reads and parses a connection.json file.
func LoadConnection(path string) (*Connection, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read connection file: %w", err)
	}
	c, err := ParseConnection(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Validate checks what the peer checks before dialing.
func (c *Connection) Validate() error {
	if c.Address == "" {
		return fmt.Errorf("%w: chaincode address not provided (\"address\": \"host:port\")", ErrBadConnection)
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("%w: address %q is not host:port: %v", ErrBadConnection, c.Address, err)
	}
	if c.DialTimeout <= 0 {
		return fmt.Errorf("%w: dial_timeout must be positive", ErrBadConnection)
	}
	if !c.TLSRequired {
		return nil
	}
	if len(c.RootCert) == 0 {
		return fmt.Errorf("%w: chaincode tls root cert not provided (\"root_cert\": PEM of the CA that issued the chaincode server's certificate)", ErrBadConnection)
	}
	if c.ClientAuthRequired && (len(c.ClientKey) == 0 || len(c.ClientCert) == 0) {
		return fmt.Errorf("%w: client_auth_required is true but client_key or client_cert is missing", ErrBadConnection)
	}
	return nil
}

// serverName is the name the server certificate is checked against.
func (c *Connection) serverName() string {
	if c.ClientAuthRequired && c.Domain != "" {
		return c.Domain
	}
	host, _, _ := net.SplitHostPort(c.Address)
	return host
}

// TLSConfig builds the client TLS config the peer would use: TLS 1.2
// minimum, RootCAs from root_cert, the client certificate only with client
// auth, ServerName = domain with client auth, else the address host.
// observe, if not nil, is told when the server asks for a client
// certificate. It returns nil, nil when TLS is not required.
func (c *Connection) TLSConfig(observe func(*tls.CertificateRequestInfo)) (*tls.Config, error) {
	if !c.TLSRequired {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.RootCert) {
		return nil, fmt.Errorf("%w: root_cert holds no PEM certificate", ErrBadConnection)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: c.serverName()}
	var cert *tls.Certificate
	if c.ClientAuthRequired {
		// tls.X509KeyPair is what the peer reads client_key with, so devpeer
		// accepts exactly what the peer does. When it fails, x509util says
		// why the key is unusable (encrypted, truncated, ...) better than the
		// stdlib does; neither error names key material.
		kp, err := tls.X509KeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			if _, kerr := x509util.ParsePrivateKey(c.ClientKey); kerr != nil {
				return nil, fmt.Errorf("%w: client_key: %w", ErrBadConnection, kerr)
			}
			return nil, fmt.Errorf("%w: client_cert/client_key do not form a key pair: %v", ErrBadConnection, err)
		}
		cert = &kp
	}
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if observe != nil {
			observe(cri)
		}
		if cert == nil {
			return &tls.Certificate{}, nil // send none, as the peer without client auth
		}
		return cert, nil
	}
	return cfg, nil
}
