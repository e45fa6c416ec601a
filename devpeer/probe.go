package devpeer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/ccserver/ccserver/ccaas"
	"github.com/ccserver/ccserver/internal/peerside"
	"github.com/ccserver/ccserver/internal/x509util"
)

// Exit codes of a probe, distinct per diagnosis so scripts and health
// checks can branch on them.
const (
	ExitOK                = 0
	ExitFailure           = 1  // anything not classified below
	ExitUsage             = 2  // bad flags or connection.json
	ExitRefused           = 10 // nothing listens at the address
	ExitUnreachable       = 11 // dial timed out / host unreachable / DNS
	ExitUnknownAuthority  = 12 // server cert not from root_cert's CA
	ExitNameMismatch      = 13 // server cert SANs do not cover the address/domain
	ExitExpired           = 14 // server cert expired or not yet valid
	ExitClientCertNeeded  = 15 // server demands a client cert, none configured
	ExitClientCertRefused = 16 // server rejected the client cert
	ExitPlaintextServer   = 17 // TLS configured, server speaks plaintext
	ExitTLSServer         = 18 // plaintext configured, server speaks TLS
	ExitCCIDMismatch      = 19 // chaincode registered with another CCID
	ExitNoRegister        = 20 // connected, but no chaincode handshake
	ExitClientCertExpired = 21 // our client cert expired or not yet valid
)

// CertInfo describes one certificate of the server's chain.
type CertInfo struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	DNSNames []string  `json:"dns_names,omitempty"`
	IPs      []string  `json:"ips,omitempty"`
	URIs     []string  `json:"uris,omitempty"`
	NotAfter time.Time `json:"not_after"`
	SPKIPin  string    `json:"spki_pin"`
}

// ProbeReport is what a successful probe saw.
type ProbeReport struct {
	Address             string        `json:"address"`
	TLS                 bool          `json:"tls"`
	Version             string        `json:"tls_version,omitempty"`
	CipherSuite         string        `json:"cipher_suite,omitempty"`
	ALPN                string        `json:"alpn,omitempty"`
	ServerName          string        `json:"server_name,omitempty"`
	Chain               []CertInfo    `json:"server_chain,omitempty"`
	ClientCertRequested bool          `json:"client_cert_requested"`
	ClientCertSent      bool          `json:"client_cert_sent"`
	CCID                string        `json:"ccid"`
	ConnectTime         time.Duration `json:"connect_ns"`
	RoundTrip           time.Duration `json:"rtt_ns"`
}

// ProbeError is a failed probe with its diagnosis.
type ProbeError struct {
	Code    int    // one of the Exit* codes
	Problem string // what is wrong, one line
	Fix     string // what to do about it
	Err     error  // the underlying error
}

func (e *ProbeError) Error() string {
	return fmt.Sprintf("%s: %v", e.Problem, e.Err)
}

func (e *ProbeError) Unwrap() error { return e.Err }

// Probe connects as the peer would, completes the chaincode handshake
// (checking ccid when not empty), measures a KEEPALIVE round trip and
// reports the TLS session. Failures come back as *ProbeError; invalid
// connection settings have Code ExitUsage.
func Probe(ctx context.Context, conn ccaas.Connection, ccid string) (*ProbeReport, error) {
	if err := conn.Validate(); err != nil {
		return nil, &ProbeError{Code: ExitUsage, Problem: "connection settings are invalid", Fix: "correct connection.json or the flags", Err: err}
	}
	start := time.Now()
	var opts []peerside.Option
	if ccid != "" {
		opts = append(opts, peerside.WithCCID(ccid))
	}
	client, obs, err := dial(ctx, conn, opts)
	if err != nil {
		return nil, diagnose(ctx, conn, obs, err)
	}
	defer client.Close()
	rep := &ProbeReport{Address: conn.Address, TLS: conn.TLSRequired, CCID: client.CCID(), ConnectTime: time.Since(start)}
	if rep.RoundTrip, err = client.Ping(ctx); err != nil {
		return nil, &ProbeError{Code: ExitFailure, Problem: "the chaincode registered but did not echo KEEPALIVE", Fix: "check the chaincode server's logs", Err: err}
	}
	if st := client.TLS; st != nil {
		rep.Version = tls.VersionName(st.Version)
		rep.CipherSuite = tls.CipherSuiteName(st.CipherSuite)
		rep.ALPN = st.NegotiatedProtocol
		rep.ServerName = conn.ServerName()
		for _, c := range st.PeerCertificates {
			rep.Chain = append(rep.Chain, certInfo(c))
		}
		obs.mu.Lock()
		rep.ClientCertRequested = obs.requested
		obs.mu.Unlock()
		rep.ClientCertSent = rep.ClientCertRequested && conn.ClientAuthRequired
	}
	return rep, nil
}

func certInfo(c *x509.Certificate) CertInfo {
	ci := CertInfo{
		Subject: c.Subject.String(), Issuer: c.Issuer.String(), DNSNames: c.DNSNames,
		NotAfter: c.NotAfter, SPKIPin: x509util.FormatPin(x509util.SPKIPin(c)),
	}
	for _, ip := range c.IPAddresses {
		ci.IPs = append(ci.IPs, ip.String())
	}
	for _, u := range c.URIs {
		ci.URIs = append(ci.URIs, u.String())
	}
	return ci
}

// diagnose turns a dial failure into a ProbeError with a named cause.
func diagnose(ctx context.Context, conn ccaas.Connection, obs *tlsObserver, err error) *ProbeError {
	err = fromEngine(err)
	pe := func(code int, problem, fix string) *ProbeError {
		return &ProbeError{Code: code, Problem: problem, Fix: fix, Err: err}
	}
	if errors.Is(err, ccaas.ErrInvalid) {
		return pe(ExitUsage, "connection settings are invalid", "correct connection.json or the flags")
	}
	var mm *peerside.CCIDMismatchError
	if errors.As(err, &mm) {
		return pe(ExitCCIDMismatch, fmt.Sprintf("the chaincode registered as %q, not %q", mm.Got, mm.Expected),
			"start the chaincode server with the package ID the peer installed (CHAINCODE_ID / --ccid); a real peer would wait 300 s and fail with \"timeout expired while starting chaincode\"")
	}
	var hsErr, dialErr error
	requested := false
	if obs != nil {
		obs.mu.Lock()
		hsErr, dialErr, requested = obs.err, obs.dialErr, obs.requested
		obs.mu.Unlock()
	}
	if hsErr != nil {
		err = fmt.Errorf("%w (TLS handshake: %v)", err, hsErr)
		var ua x509.UnknownAuthorityError
		var he x509.HostnameError
		var ci x509.CertificateInvalidError
		switch {
		case errors.As(hsErr, &ua):
			return pe(ExitUnknownAuthority, "the server's certificate is not signed by a CA in root_cert",
				"put the CA that issued the chaincode server's certificate into root_cert (a bundle of old and new CA is fine)")
		case errors.As(hsErr, &he):
			return pe(ExitNameMismatch, fmt.Sprintf("the server's certificate does not cover the name %q", he.Host),
				"issue the server certificate with a DNS or IP SAN equal to the host of \"address\" (or set \"domain\" with client auth on Fabric ≥ 3.0)")
		case errors.As(hsErr, &ci) && ci.Reason == x509.Expired:
			return pe(ExitExpired, "the server's certificate has expired or is not yet valid", "renew the chaincode server certificate (ccpki renew) and check the clocks")
		case strings.Contains(hsErr.Error(), "first record does not look like a TLS handshake"):
			return pe(ExitPlaintextServer, "tls_required is true but the server speaks plaintext",
				"enable TLS on the chaincode server, or set \"tls_required\": false if plaintext is really intended")
		}
	}
	msg := err.Error()
	if hsErr == nil && conn.TLSRequired && dialErr == nil {
		// With TLS 1.3 the server judges the client certificate after the
		// client's handshake finished; its alert only shows on a read.
		if alert := postHandshakeAlert(ctx, conn); alert != nil {
			err = fmt.Errorf("%w (server alert: %v)", err, alert)
			msg = err.Error()
		}
	}
	switch {
	case strings.Contains(msg, "certificate required"):
		return pe(ExitClientCertNeeded, "the server requires a client certificate and none was sent",
			"set \"client_auth_required\": true with client_cert and client_key (the peer's TLS client certificate)")
	case strings.Contains(msg, "bad certificate") || strings.Contains(msg, "unknown certificate authority") || strings.Contains(msg, "unknown certificate"):
		if requested && !conn.ClientAuthRequired {
			return pe(ExitClientCertNeeded, "the server requires a client certificate and none was sent",
				"set \"client_auth_required\": true with client_cert and client_key (the peer's TLS client certificate)")
		}
		return clientCertRefused(conn, pe)
	}
	if dialErr != nil {
		if errors.Is(dialErr, syscall.ECONNREFUSED) {
			return pe(ExitRefused, fmt.Sprintf("nothing accepts connections at %s", conn.Address),
				"start the chaincode server, or fix the host/port in \"address\" (a server bound to 127.0.0.1 is unreachable from another host)")
		}
		return pe(ExitUnreachable, fmt.Sprintf("cannot reach %s", conn.Address), "check the address, DNS and network path")
	}
	if !conn.TLSRequired && speaksTLS(ctx, conn) {
		return pe(ExitTLSServer, "the server speaks TLS but tls_required is false",
			"set \"tls_required\": true with root_cert (and client_cert/client_key if it requires client auth)")
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "waiting for REGISTER") {
		if strings.Contains(msg, "waiting for REGISTER") {
			return pe(ExitNoRegister, "connected, but the server never sent REGISTER",
				"check that the address is a chaincode server (protos.Chaincode/Connect) and not another gRPC or HTTP service")
		}
		return pe(ExitUnreachable, fmt.Sprintf("timed out connecting to %s", conn.Address), "check the address and raise dial_timeout if the path is slow")
	}
	return pe(ExitFailure, "the connection failed", "see the error; run the chaincode server with debug logs")
}

// clientCertRefused explains a refused client certificate from what the
// client can see: the server sends the same TLS alert (bad_certificate)
// whether the certificate is expired, from an unknown CA, revoked, or
// outside its pins or identity rules, so the local checks come first and
// the rest points at the server's own account of the reason.
func clientCertRefused(conn ccaas.Connection, pe func(int, string, string) *ProbeError) *ProbeError {
	chain, _ := x509util.ParseCertificates([]byte(conn.ClientCert))
	if len(chain) > 0 {
		leaf, now := chain[0], time.Now()
		switch {
		case now.After(leaf.NotAfter):
			return pe(ExitClientCertExpired, fmt.Sprintf("the client certificate expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339)),
				"renew the peer's client certificate ('ccpki renew') and point client_cert at the new one")
		case now.Before(leaf.NotBefore):
			return pe(ExitClientCertExpired, fmt.Sprintf("the client certificate is not valid until %s", leaf.NotBefore.UTC().Format(time.RFC3339)),
				"check the clocks of this machine and the CA")
		}
	}
	fix := "the server's log line \"TLS handshake rejected\" and its metric ccserver_tls_handshake_failures_total name the reason (unknown-ca, revoked, pin, identity-rule); for unknown-ca use a client certificate from a CA in the server's --client-ca"
	if len(chain) == 1 && !selfIssued(chain[0]) && !issuedByRoot(chain[0], conn.RootCert) {
		// Whether the issuer is an intermediate the server lacks only the
		// server knows; say what would fix that case.
		fix += fmt.Sprintf("; if %q is an intermediate CA, append its certificate to client_cert after the leaf", chain[0].Issuer.String())
	}
	return pe(ExitClientCertRefused, "the server rejected the client certificate: its CA is not in the server's client CA bundle, it is revoked, or it fails the server's pins or identity rules (TLS sends the same alert for each)", fix)
}

func selfIssued(c *x509.Certificate) bool { return bytes.Equal(c.RawIssuer, c.RawSubject) }

// issuedByRoot reports whether a certificate of the PEM bundle signed c.
func issuedByRoot(c *x509.Certificate, bundle string) bool {
	roots, _ := x509util.ParseCertificates([]byte(bundle))
	for _, r := range roots {
		if c.CheckSignatureFrom(r) == nil {
			return true
		}
	}
	return false
}

// postHandshakeAlert redoes the TLS handshake alone and reads once, to
// catch an alert the server sends after it, e.g. rejecting the client
// certificate. A server that is happy waits for our data: then the read
// times out after the dial timeout and nil is returned.
func postHandshakeAlert(ctx context.Context, conn ccaas.Connection) error {
	cfg, err := tlsConfig(conn, nil)
	if err != nil || cfg == nil {
		return nil
	}
	cfg.NextProtos = []string{"h2"}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout(conn))
	defer cancel()
	c, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", conn.Address)
	if err != nil {
		if strings.Contains(err.Error(), "remote error") {
			return err
		}
		return nil
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetReadDeadline(deadline)
	if _, err := c.Read(make([]byte, 1)); err != nil && strings.Contains(err.Error(), "remote error") {
		return err
	}
	return nil
}

// speaksTLS tries a TLS handshake without verification, to tell a TLS
// server from a broken plaintext one.
func speaksTLS(ctx context.Context, conn ccaas.Connection) bool {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout(conn))
	defer cancel()
	d := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}} // #nosec G402 -- only detects a TLS speaker; nothing is sent
	c, err := d.DialContext(ctx, "tcp", conn.Address)
	if err != nil {
		var ne net.Error
		// A server demanding a client certificate may fail us after the
		// handshake: it still speaks TLS.
		return !errors.As(err, &ne) && strings.Contains(err.Error(), "certificate")
	}
	c.Close()
	return true
}

// dialTimeout is the peer's dial timeout for a conn that passed Validate.
func dialTimeout(conn ccaas.Connection) time.Duration {
	d, err := conn.Timeout()
	if err != nil {
		return ccaas.DefaultDialTimeout
	}
	return d
}
