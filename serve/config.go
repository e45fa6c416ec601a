package serve

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ccserver/ccserver/internal/cli"
	"github.com/ccserver/ccserver/shim"
	"github.com/ccserver/ccserver/tlsconfig"
	"github.com/spf13/pflag"
)

// Environment variables read as fallbacks for flags. The CHAINCODE_* names
// are those of fabric-samples' external chaincode; CORE_PEER_LOCALMSPID is
// the peer's and is what shim.GetMSPID reads.
const (
	EnvAddress     = "CHAINCODE_SERVER_ADDRESS"
	EnvCCID        = "CHAINCODE_ID"
	EnvTLSDisabled = "CHAINCODE_TLS_DISABLED"
	EnvTLSCert     = "CHAINCODE_TLS_CERT"
	EnvTLSKey      = "CHAINCODE_TLS_KEY"
	EnvClientCA    = "CHAINCODE_CLIENT_CA_CERT"
	EnvMSPID       = "CORE_PEER_LOCALMSPID"
)

// peerPingInterval is how often a Fabric peer pings an idle chaincode
// connection; it cannot be configured on the peer.
const peerPingInterval = time.Minute

// flagValues holds the parsed flags before environment fallbacks.
type flagValues struct {
	address, ccid              string
	tlsCert, tlsKey, clientCA  string
	pins                       []string
	crl                        string
	crlFailOpen                bool
	crlFullChain               bool
	tlsMinVersion              string
	insecurePlaintext          bool
	insecureNoClientAuth       bool
	insecureKeyPermissions     bool
	maxConcurrentTx            int
	metricsAddress             string
	logFormat, logLevel        string
	shutdownTimeout            time.Duration
	keepaliveTime, keepaliveTO time.Duration
	keepaliveMinTime           time.Duration
}

func (v *flagValues) register(fs *pflag.FlagSet) {
	fs.StringVar(&v.address, "address", "", "listen address host:port, e.g. 0.0.0.0:9999 (env "+EnvAddress+")")
	fs.StringVar(&v.ccid, "ccid", "", "package id the peer installed, label:hash (env "+EnvCCID+")")
	fs.StringVar(&v.tlsCert, "tls-cert", "", "server certificate chain, PEM file; reloaded on change (env "+EnvTLSCert+")")
	fs.StringVar(&v.tlsKey, "tls-key", "", "server private key, PEM file, mode 0600; reloaded on change (env "+EnvTLSKey+")")
	fs.StringVar(&v.clientCA, "client-ca", "", "CA bundle whose client certificates (the peers') are admitted, PEM file; reloaded on change (env "+EnvClientCA+")")
	fs.StringArrayVar(&v.pins, "pin", nil, "admit only peers whose verified chain holds this SPKI pin, sha256/<base64> or 64 hex digits (repeatable)")
	fs.StringVar(&v.crl, "crl", "", "CRL file (PEM or DER) checked at every handshake; reloaded on change")
	fs.BoolVar(&v.crlFailOpen, "crl-fail-open", false, "admit peers while the CRL is past its nextUpdate (default: refuse them)")
	fs.BoolVar(&v.crlFullChain, "crl-require-full-chain", false, "also require a current CRL from every CA above the peer's issuer (default: check those when present)")
	fs.StringVar(&v.tlsMinVersion, "tls-min-version", "1.2", "minimum TLS version: 1.2 or 1.3")
	fs.BoolVar(&v.insecurePlaintext, "insecure-plaintext", false, "serve without TLS: anyone who reaches the port can run transactions")
	fs.BoolVar(&v.insecureNoClientAuth, "insecure-no-client-auth", false, "TLS without client certificates: any client that reaches the port is admitted")
	fs.BoolVar(&v.insecureKeyPermissions, "insecure-key-permissions", false, "accept a key file readable by group or others")
	fs.IntVar(&v.maxConcurrentTx, "max-concurrent-tx", 0, "transactions executing at once per peer connection (0: the shim's default, 256)")
	fs.StringVar(&v.metricsAddress, "metrics-address", "", "serve Prometheus /metrics and HTTP /healthz, /readyz on this host:port (off when empty)")
	fs.StringVar(&v.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&v.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&v.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM or SIGINT, how long transactions in flight may finish before connections close")
	fs.DurationVar(&v.keepaliveTime, "keepalive-time", time.Minute, "ping a peer after this long without activity")
	fs.DurationVar(&v.keepaliveTO, "keepalive-timeout", 20*time.Second, "close a connection whose ping is not answered within this")
	fs.DurationVar(&v.keepaliveMinTime, "keepalive-min-time", 20*time.Second, "accept client pings this often at most; at most 1m, because peers ping every minute")
}

// config is the validated configuration.
type config struct {
	address, ccid    string
	tls              shim.TLSProperties
	maxConcurrentTx  int
	metricsAddress   string
	logFormat        string
	logLevel         slog.Level
	shutdownTimeout  time.Duration
	keepaliveTime    time.Duration
	keepaliveTimeout time.Duration
	keepaliveMinTime time.Duration
	mspid            string
	// notes are warnings found while resolving, logged once a logger exists.
	notes []string
}

// usagef is a missing, contradictory or insecure setting: exit 2.
func usagef(format string, args ...any) error { return cli.Usagef(format, args...) }

// resolve applies environment fallbacks to the flags and validates the
// result. changed reports whether a flag was given on the command line.
func resolve(v flagValues, changed func(string) bool, lookup func(string) (string, bool)) (*config, error) {
	env := func(name string) string {
		s, ok := lookup(name)
		if !ok {
			return ""
		}
		return strings.TrimSpace(s)
	}
	c := &config{mspid: env(EnvMSPID)}
	fallback := func(flag string, val *string, envName string) {
		if !changed(flag) && *val == "" {
			*val = env(envName)
		}
	}
	fallback("address", &v.address, EnvAddress)
	fallback("ccid", &v.ccid, EnvCCID)

	if v.address == "" {
		return nil, usagef("no listen address: give --address (for example --address 0.0.0.0:9999) or set %s", EnvAddress)
	}
	if v.ccid == "" {
		return nil, usagef("no chaincode id: give --ccid with the package id the peer installed (label:hash, shown by 'peer lifecycle chaincode queryinstalled') or set %s", EnvCCID)
	}
	c.address, c.ccid = v.address, v.ccid

	if err := resolveTLS(c, v, changed, env); err != nil {
		return nil, err
	}

	if v.maxConcurrentTx < 0 {
		return nil, usagef("--max-concurrent-tx %d is negative: give a positive bound, or 0 for the default", v.maxConcurrentTx)
	}
	c.maxConcurrentTx = v.maxConcurrentTx
	if v.metricsAddress != "" && v.metricsAddress == v.address && !strings.HasSuffix(v.address, ":0") {
		return nil, usagef("--metrics-address %s is also the chaincode --address: give the metrics endpoint a port of its own", v.metricsAddress)
	}
	c.metricsAddress = v.metricsAddress
	switch v.logFormat {
	case "text", "json":
		c.logFormat = v.logFormat
	default:
		return nil, usagef("--log-format %q: use text or json", v.logFormat)
	}
	if err := c.logLevel.UnmarshalText([]byte(v.logLevel)); err != nil || !validLevel(v.logLevel) {
		return nil, usagef("--log-level %q: use debug, info, warn or error", v.logLevel)
	}
	if v.shutdownTimeout <= 0 {
		return nil, usagef("--shutdown-timeout %s: give a positive duration such as 30s", v.shutdownTimeout)
	}
	c.shutdownTimeout = v.shutdownTimeout
	if v.keepaliveTime <= 0 || v.keepaliveTO <= 0 {
		return nil, usagef("--keepalive-time and --keepalive-timeout must be positive durations")
	}
	if v.keepaliveMinTime < 0 {
		return nil, usagef("--keepalive-min-time %s is negative", v.keepaliveMinTime)
	}
	if v.keepaliveMinTime > peerPingInterval {
		return nil, usagef("--keepalive-min-time %s is longer than the %s between a Fabric peer's pings: the server would close idle peer connections with GOAWAY too_many_pings; use at most %s", v.keepaliveMinTime, peerPingInterval, peerPingInterval)
	}
	c.keepaliveTime, c.keepaliveTimeout, c.keepaliveMinTime = v.keepaliveTime, v.keepaliveTO, v.keepaliveMinTime
	return c, nil
}

func validLevel(s string) bool {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}

// tlsFlags are the flags that only make sense with TLS on.
var tlsFlags = []string{"tls-cert", "tls-key", "client-ca", "pin", "crl", "crl-fail-open", "crl-require-full-chain", "tls-min-version", "insecure-no-client-auth", "insecure-key-permissions"}

func resolveTLS(c *config, v flagValues, changed func(string) bool, env func(string) string) error {
	disabledEnv := env(EnvTLSDisabled)
	envWantsPlaintext := false
	if disabledEnv != "" {
		b, err := strconv.ParseBool(disabledEnv)
		switch {
		case err != nil:
			// fabric-samples treats an unparsable value as "TLS enabled".
			c.notes = append(c.notes, fmt.Sprintf("%s=%q is not a boolean; TLS stays on", EnvTLSDisabled, disabledEnv))
		default:
			envWantsPlaintext = b
		}
	}

	if v.insecurePlaintext {
		var given []string
		for _, f := range tlsFlags {
			if changed(f) {
				given = append(given, "--"+f)
			}
		}
		if len(given) > 0 {
			return usagef("--insecure-plaintext turns TLS off, but %s configure TLS: drop one or the other", strings.Join(given, ", "))
		}
		for _, name := range []string{EnvTLSCert, EnvTLSKey, EnvClientCA} {
			if env(name) != "" {
				c.notes = append(c.notes, fmt.Sprintf("%s is ignored: --insecure-plaintext turns TLS off", name))
			}
		}
		if disabledEnv != "" && !envWantsPlaintext {
			c.notes = append(c.notes, fmt.Sprintf("%s=%s is overridden by --insecure-plaintext", EnvTLSDisabled, disabledEnv))
		}
		c.tls = shim.TLSProperties{Disabled: true}
		c.notes = append(c.notes, "TLS is OFF (--insecure-plaintext): anyone who can reach the port can run transactions; use this only on a trusted development machine")
		return nil
	}
	if envWantsPlaintext {
		return usagef("%s=%s asks for plaintext, which lets anyone who can reach the port run transactions. "+
			"ccserver serves plaintext only with the explicit flag --insecure-plaintext; "+
			"to keep TLS, unset %s and give --tls-cert and --tls-key", EnvTLSDisabled, disabledEnv, EnvTLSDisabled)
	}

	fallback := func(flag string, val *string, envName string) {
		if !changed(flag) && *val == "" {
			*val = env(envName)
		}
	}
	fallback("tls-cert", &v.tlsCert, EnvTLSCert)
	fallback("tls-key", &v.tlsKey, EnvTLSKey)
	clientCAFromEnv := !changed("client-ca") && v.clientCA == "" && env(EnvClientCA) != ""
	fallback("client-ca", &v.clientCA, EnvClientCA)

	switch {
	case v.tlsCert == "" && v.tlsKey == "":
		return usagef("TLS is on but no server certificate is given: give --tls-cert and --tls-key (or set %s and %s); "+
			"'ccpki issue server' makes a pair. For a plaintext development server pass --insecure-plaintext", EnvTLSCert, EnvTLSKey)
	case v.tlsCert == "":
		return usagef("--tls-key is given but not --tls-cert: give both (or set %s)", EnvTLSCert)
	case v.tlsKey == "":
		return usagef("--tls-cert is given but not --tls-key: give both (or set %s)", EnvTLSKey)
	}
	switch {
	case v.clientCA == "" && !v.insecureNoClientAuth:
		return usagef("no client CA: give --client-ca with the CA that issued the peers' client certificates (or set %s), "+
			"or pass --insecure-no-client-auth to admit any client that reaches the port", EnvClientCA)
	case v.clientCA != "" && v.insecureNoClientAuth:
		from := "--client-ca"
		if clientCAFromEnv {
			from = EnvClientCA
		}
		return usagef("%s requires client certificates but --insecure-no-client-auth turns them off: drop one", from)
	}
	if v.insecureNoClientAuth {
		if len(v.pins) > 0 {
			return usagef("--pin checks the peer's verified certificate chain, which --insecure-no-client-auth does not ask for: give --client-ca instead")
		}
		if v.crl != "" {
			return usagef("--crl checks peer certificates, which --insecure-no-client-auth does not ask for: give --client-ca instead")
		}
		c.notes = append(c.notes, "client authentication is OFF (--insecure-no-client-auth): any client that reaches the port can run transactions")
	}
	if v.crlFullChain && v.crl == "" {
		return usagef("--crl-require-full-chain needs --crl")
	}
	if v.crlFullChain && v.crlFailOpen {
		return usagef("--crl-require-full-chain and --crl-fail-open contradict each other; choose one")
	}
	if v.crlFailOpen && v.crl == "" {
		return usagef("--crl-fail-open needs --crl")
	}
	for _, p := range v.pins {
		if _, err := tlsconfig.ParsePin(p); err != nil {
			return usagef("--pin %q: %v; give sha256/<base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo> or 64 hex digits ('ccpki pin CERT' prints it)", p, err)
		}
	}
	var minVersion uint16
	switch v.tlsMinVersion {
	case "1.2", "":
		minVersion = tls.VersionTLS12
	case "1.3":
		minVersion = tls.VersionTLS13
	default:
		return usagef("--tls-min-version %q: use 1.2 or 1.3", v.tlsMinVersion)
	}
	c.tls = shim.TLSProperties{
		CertFile:               v.tlsCert,
		KeyFile:                v.tlsKey,
		ClientCAFile:           v.clientCA,
		Pins:                   v.pins,
		CRLFile:                v.crl,
		CRLFailOpen:            v.crlFailOpen,
		CRLRequireFullChain:    v.crlFullChain,
		MinVersion:             minVersion,
		InsecureNoClientAuth:   v.insecureNoClientAuth,
		InsecureKeyPermissions: v.insecureKeyPermissions,
	}
	if v.insecureKeyPermissions {
		c.notes = append(c.notes, "key file permissions are not checked (--insecure-key-permissions)")
	}
	if v.crlFailOpen {
		c.notes = append(c.notes, "a stale CRL admits peers (--crl-fail-open)")
	}
	return nil
}

// errNotServing marks a failure before the server accepted connections.
var errNotServing = errors.New("server did not start")
