package shim

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"

	"github.com/ccserver/ccserver/tlsconfig"
)

// TLSProperties configures the chaincode server's TLS. The first four
// fields are the original shim's (PEM bytes, read once); the rest are
// additions: files that are watched and reloaded without a restart, peer
// pinning, identity rules, revocation and policy. All TLS is built by
// package tlsconfig.
//
// Unlike the original shim, a server without a client CA does not quietly
// accept any client: set ClientCACerts or ClientCAFile (recommended) or
// InsecureNoClientAuth.
type TLSProperties struct {
	// Disabled turns TLS off (plaintext). The zero value means TLS on.
	Disabled bool
	// Key and Cert are the server's PEM private key and certificate chain.
	Key  []byte
	Cert []byte
	// ClientCACerts is the PEM bundle of CAs whose clients (peers) are
	// admitted; their certificate is required and verified.
	ClientCACerts []byte

	// KeyFile, CertFile and ClientCAFile name PEM files used instead of
	// the byte fields; they are watched and reloaded on change, keeping the
	// last good material if a new file is bad.
	KeyFile      string
	CertFile     string
	ClientCAFile string
	// Identity supplies the certificate from elsewhere, for example a
	// tlsconfig.PushedIdentity fed by a renewer. It excludes Key/Cert files.
	Identity tlsconfig.IdentitySource
	// Pins admits only peers whose verified chain holds a certificate with
	// one of these SPKI SHA-256 pins ("sha256/<base64>" or hex).
	Pins []string
	// IdentityRules admits only peers whose certificate matches one rule.
	IdentityRules []tlsconfig.IdentityRule
	// CRLFile is a CRL (PEM or DER) checked at every handshake; reloaded
	// on change. A stale CRL refuses peers unless CRLFailOpen is set.
	CRLFile     string
	CRLFailOpen bool
	// CRLRequireFullChain also demands a current CRL for every CA above
	// the peer's issuer (by default those are checked when present).
	CRLRequireFullChain bool
	// MinVersion raises the minimum TLS version (TLS 1.2 by default;
	// tls.VersionTLS13 for TLS 1.3 only).
	MinVersion uint16
	// InsecureNoClientAuth accepts peers without a client certificate.
	InsecureNoClientAuth bool
	// InsecureKeyPermissions accepts a key file readable by group or others.
	InsecureKeyPermissions bool
	// Events receives TLS events (loaded, rotated, reload failed,
	// handshake rejected, expiring soon, CRL stale) for logs and metrics.
	Events func(tlsconfig.Event)
}

// serverTLS is the built TLS config and the sources behind it.
type serverTLS struct {
	config    *tls.Config
	reloaders []interface{ Reload() error }
	closers   []io.Closer
	crl       *tlsconfig.FileCRL
}

func (s *serverTLS) reload() error {
	var errs []error
	for _, r := range s.reloaders {
		errs = append(errs, r.Reload())
	}
	return errors.Join(errs...)
}

func (s *serverTLS) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c.Close())
	}
	s.closers = nil
	return errors.Join(errs...)
}

func (cs *ChaincodeServer) prepareTLS() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.tls != nil {
		return nil
	}
	t, err := buildServerTLS(cs.TLSProps, func() { go cs.closeRevokedStreams() })
	if err != nil {
		return err
	}
	cs.tls = t
	return nil
}

func (cs *ChaincodeServer) closeTLS() {
	cs.mu.Lock()
	t := cs.tls
	cs.mu.Unlock()
	if t != nil {
		t.Close()
	}
}

// buildServerTLS turns TLSProperties into a tlsconfig server config.
// onCRLChange runs when a new CRL has been loaded.
func buildServerTLS(p TLSProperties, onCRLChange func()) (_ *serverTLS, err error) {
	st := &serverTLS{}
	if p.Disabled {
		return st, nil
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	var srcOpts []tlsconfig.SourceOption
	if p.Events != nil {
		srcOpts = append(srcOpts, tlsconfig.WithEvents(p.Events))
	}
	if p.InsecureKeyPermissions {
		srcOpts = append(srcOpts, tlsconfig.WithInsecureKeyPermissions())
	}

	identity, err := identitySource(p, st, srcOpts)
	if err != nil {
		return nil, err
	}
	var opts []tlsconfig.Option
	if p.Events != nil {
		opts = append(opts, tlsconfig.WithEvents(p.Events))
	}
	if p.MinVersion != 0 {
		opts = append(opts, tlsconfig.WithMinVersion(p.MinVersion))
	}
	var trust tlsconfig.TrustSource
	switch {
	case p.ClientCAFile != "" && len(p.ClientCACerts) > 0:
		return nil, errors.New("TLS: set ClientCAFile or ClientCACerts, not both")
	case p.ClientCAFile != "":
		ft, err := tlsconfig.NewFileTrust(p.ClientCAFile, srcOpts...)
		if err != nil {
			return nil, fmt.Errorf("TLS client CA: %w", err)
		}
		st.reloaders, st.closers = append(st.reloaders, ft), append(st.closers, ft)
		trust = ft
	case len(p.ClientCACerts) > 0:
		trust, err = tlsconfig.StaticTrust(p.ClientCACerts)
		if err != nil {
			return nil, fmt.Errorf("TLS client CA (ClientCACerts): %w", err)
		}
	}
	if trust != nil && p.InsecureNoClientAuth {
		return nil, errors.New("TLS: a client CA and InsecureNoClientAuth exclude each other; drop one")
	}
	if trust == nil && !p.InsecureNoClientAuth {
		return nil, errors.New("TLS: no client CA, so no peer could be verified: set ClientCACerts or ClientCAFile to the peers' TLS CA, or InsecureNoClientAuth to accept any client")
	}
	if trust != nil {
		opts = append(opts, tlsconfig.WithClientTrust(trust))
	} else if p.InsecureNoClientAuth {
		opts = append(opts, tlsconfig.WithInsecureNoClientAuth())
	}
	if len(p.Pins) > 0 {
		pins := make([]tlsconfig.Pin, 0, len(p.Pins))
		for _, s := range p.Pins {
			pin, err := tlsconfig.ParsePin(s)
			if err != nil {
				return nil, fmt.Errorf("TLS pin %q: %w", s, err)
			}
			pins = append(pins, pin)
		}
		opts = append(opts, tlsconfig.WithPins(pins...))
	}
	if len(p.IdentityRules) > 0 {
		opts = append(opts, tlsconfig.WithIdentityRules(p.IdentityRules...))
	}
	if p.CRLFile != "" {
		if trust == nil {
			return nil, errors.New("TLS: a CRL checks client certificates, so it needs a client CA (ClientCAFile or ClientCACerts)")
		}
		// The CRL source reports to both the caller's events and the
		// server, which re-checks open streams when the CRL changes.
		crlOpts := []tlsconfig.SourceOption{tlsconfig.WithEvents(func(ev tlsconfig.Event) {
			if p.Events != nil {
				p.Events(ev)
			}
			if ev.Kind == tlsconfig.EventRotated && onCRLChange != nil {
				onCRLChange()
			}
		})}
		if p.CRLFailOpen {
			crlOpts = append(crlOpts, tlsconfig.WithCRLFailOpen())
		}
		if p.CRLRequireFullChain {
			crlOpts = append(crlOpts, tlsconfig.WithCRLRequireFullChain())
		}
		crl, err := tlsconfig.NewFileCRL(p.CRLFile, trust, crlOpts...)
		if err != nil {
			return nil, fmt.Errorf("TLS CRL: %w", err)
		}
		st.reloaders, st.closers, st.crl = append(st.reloaders, crl), append(st.closers, crl), crl
		opts = append(opts, tlsconfig.WithCRL(crl))
	}
	cfg, err := tlsconfig.ServerConfig(identity, opts...)
	if err != nil {
		return nil, err
	}
	st.config = cfg
	return st, nil
}

func identitySource(p TLSProperties, st *serverTLS, srcOpts []tlsconfig.SourceOption) (tlsconfig.IdentitySource, error) {
	files := p.CertFile != "" || p.KeyFile != ""
	bytes := len(p.Cert) > 0 || len(p.Key) > 0
	n := 0
	for _, set := range []bool{files, bytes, p.Identity != nil} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, errors.New("TLS: give the server certificate one way: Cert/Key bytes, CertFile/KeyFile, or Identity")
	case p.Identity != nil:
		return p.Identity, nil
	case files:
		if p.CertFile == "" {
			return nil, errors.New("TLS: KeyFile is set but CertFile is not; give both")
		}
		if p.KeyFile == "" {
			return nil, errors.New("TLS: CertFile is set but KeyFile is not; give both")
		}
		fi, err := tlsconfig.NewFileIdentity(p.CertFile, p.KeyFile, srcOpts...)
		if err != nil {
			return nil, fmt.Errorf("TLS server certificate: %w", err)
		}
		st.reloaders, st.closers = append(st.reloaders, fi), append(st.closers, fi)
		return fi, nil
	case len(p.Key) == 0 && len(p.Cert) == 0:
		return nil, errors.New("TLS is on but no server certificate is given: set Cert and Key (or CertFile and KeyFile), or Disabled for plaintext")
	case len(p.Key) == 0:
		return nil, errors.New("key not provided")
	case len(p.Cert) == 0:
		return nil, errors.New("cert not provided")
	}
	id, err := tlsconfig.StaticIdentity(p.Cert, p.Key)
	if err != nil {
		return nil, fmt.Errorf("failed to parse client key pair: %w", err)
	}
	return id, nil
}
