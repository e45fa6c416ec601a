package serve

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccserver/ccserver/internal/cli"
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

// Environment names of fabric-contract-api-go's server mode, read after
// ours when ours are unset, so a contract-api deployment's environment
// works unchanged. In that mode the CORE_TLS_CLIENT_* files are the
// server's own certificate and key, and the peer's root is the client CA.
const (
	EnvContractCCID     = "CORE_CHAINCODE_ID_NAME"
	EnvContractTLSCert  = "CORE_TLS_CLIENT_CERT_FILE"
	EnvContractTLSKey   = "CORE_TLS_CLIENT_KEY_FILE"
	EnvContractClientCA = "CORE_PEER_TLS_ROOTCERT_FILE"
)

// peerPingInterval is how often a Fabric peer pings an idle chaincode
// connection; it cannot be configured on the peer.
const peerPingInterval = time.Minute

// flagValues holds the parsed flags before environment fallbacks.
type flagValues struct {
	address, ccid              string
	packagesFile               string
	tls                        tlsFlags
	insecurePlaintext          bool
	maxConcurrentTx            int
	metricsAddress             string
	logFormat, logLevel        string
	shutdownTimeout            time.Duration
	keepaliveTime, keepaliveTO time.Duration
	keepaliveMinTime           time.Duration
	limits                     limitFlags
}

func (v *flagValues) register(fs *pflag.FlagSet) {
	fs.StringVar(&v.address, "address", "", "listen address host:port, e.g. 0.0.0.0:9999 (env "+EnvAddress+")")
	fs.StringVar(&v.ccid, "ccid", "", "package id the peer installed, label:hash (env "+EnvCCID+", then "+EnvContractCCID+")")
	fs.StringVar(&v.packagesFile, "packages", "", "file of `PACKAGE_ID ADDRESS` lines, one listener per package id, served beside --ccid/--address (or alone) and re-read on SIGHUP and every 5s: add the next package before the channel moves to it, remove the old one after, e.g. --packages /etc/ccserver/packages")
	v.tls.register(fs)
	fs.BoolVar(&v.insecurePlaintext, "insecure-plaintext", false, "serve without TLS: anyone who reaches the port can run transactions")
	fs.IntVar(&v.maxConcurrentTx, "max-concurrent-tx", 0, "transactions executing at once per peer connection (0: the shim's default, 256)")
	fs.StringVar(&v.metricsAddress, "metrics-address", "", "serve Prometheus /metrics and HTTP /healthz, /readyz on this host:port (off when empty)")
	fs.StringVar(&v.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&v.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&v.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM or SIGINT, how long transactions in flight may finish before connections close")
	fs.DurationVar(&v.keepaliveTime, "keepalive-time", time.Minute, "ping a peer after this long without activity")
	fs.DurationVar(&v.keepaliveTO, "keepalive-timeout", 20*time.Second, "close a connection whose ping is not answered within this")
	fs.DurationVar(&v.keepaliveMinTime, "keepalive-min-time", 20*time.Second, "accept client pings this often at most; at most 1m, because peers ping every minute")
	v.limits.register(fs)
}

// config is the validated configuration.
type config struct {
	address, ccid string
	// packages are the --packages file's entries at start; the first is
	// address and ccid when those flags are not given.
	packagesFile string
	packages     []pkgEntry
	mainFromFile bool // ccid is the file's first entry, so the file can stop it
	// tls is the validated TLS spec; nil serves plaintext.
	tls *tlsconfig.ServerSpec
	// tlsNames names each spec field as the operator set it (a flag, or
	// the environment variable it came from), for errors found later.
	tlsNames map[string]string
	// tlsEnv is the environment fallback of each spec field that has one.
	tlsEnv           map[string]string
	maxConcurrentTx  int
	metricsAddress   string
	logFormat        string
	logLevel         slog.Level
	shutdownTimeout  time.Duration
	keepaliveTime    time.Duration
	keepaliveTimeout time.Duration
	keepaliveMinTime time.Duration
	mspid            string
	limits           limits
	// notes are warnings found while resolving, logged once a logger exists.
	notes []string
	// fromEnv pairs each setting taken from the environment with the
	// variable that set it ("--ccid", "CORE_CHAINCODE_ID_NAME", ...), for
	// one log line at start.
	fromEnv []string
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
	fallback := func(flag string, val *string, envNames ...string) {
		if changed(flag) || *val != "" {
			return
		}
		for _, name := range envNames {
			if *val = env(name); *val != "" {
				c.fromEnv = append(c.fromEnv, "--"+flag, name)
				return
			}
		}
	}
	fallback("address", &v.address, EnvAddress)
	fallback("ccid", &v.ccid, EnvCCID, EnvContractCCID)

	if v.packagesFile != "" {
		ps, err := readPackages(v.packagesFile)
		if err != nil {
			return nil, cli.Usage(err)
		}
		if !changed("ccid") && !changed("address") && len(ps) > 0 {
			v.ccid, v.address, ps = ps[0].ccid, ps[0].address, ps[1:]
			c.mainFromFile = true
		}
		ps = slices.DeleteFunc(ps, func(e pkgEntry) bool { return e.ccid == v.ccid })
		c.packagesFile, c.packages = v.packagesFile, ps
	}
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
	var err error
	if c.limits, err = v.limits.resolve(); err != nil {
		return nil, err
	}
	return c, nil
}

func validLevel(s string) bool {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}

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
		for _, f := range v.tls.flags {
			if changed(f.flag) {
				given = append(given, "--"+f.flag)
			}
		}
		if len(given) > 0 {
			return usagef("--insecure-plaintext turns TLS off, but %s configure TLS: drop one or the other", strings.Join(given, ", "))
		}
		for _, f := range v.tls.flags {
			for _, name := range f.envs {
				if env(name) != "" {
					c.notes = append(c.notes, fmt.Sprintf("%s is ignored: --insecure-plaintext turns TLS off", name))
				}
			}
		}
		if disabledEnv != "" && !envWantsPlaintext {
			c.notes = append(c.notes, fmt.Sprintf("%s=%s is overridden by --insecure-plaintext", EnvTLSDisabled, disabledEnv))
		}
		c.notes = append(c.notes, "TLS is OFF (--insecure-plaintext): anyone who can reach the port can run transactions; use this only on a trusted development machine")
		return nil
	}
	if envWantsPlaintext {
		return usagef("%s=%s asks for plaintext, which lets anyone who can reach the port run transactions. "+
			"ccserver serves plaintext only with the explicit flag --insecure-plaintext; "+
			"to keep TLS, unset %s and give --tls-cert and --tls-key", EnvTLSDisabled, disabledEnv, EnvTLSDisabled)
	}

	spec, names := v.tls.withEnv(changed, env)
	c.tls, c.tlsNames, c.tlsEnv = &spec, names, v.tls.envs()
	for _, f := range v.tls.flags {
		if n := names[f.field]; !strings.HasPrefix(n, "--") {
			c.fromEnv = append(c.fromEnv, "--"+f.flag, n)
		}
	}
	if err := spec.Validate(); err != nil {
		return c.tlsError(err)
	}
	if spec.InsecureNoClientAuth {
		c.notes = append(c.notes, "client authentication is OFF (--insecure-no-client-auth): any client that reaches the port can run transactions")
	}
	if spec.InsecureClientCALeaf {
		c.notes = append(c.notes, "the client CA bundle may hold leaf certificates (--insecure-client-ca-leaf): each admits exactly itself")
	}
	if spec.InsecureKeyPermissions {
		c.notes = append(c.notes, "key file permissions are not checked (--insecure-key-permissions)")
	}
	if spec.CRLFailOpen {
		c.notes = append(c.notes, "a stale CRL admits peers (--crl-fail-open)")
	}
	return nil
}

// tlsError turns an error of the TLS spec (found by Validate, or when the
// server loads its files) into a usage error that names flags and
// environment variables instead of spec fields, with the command line's
// own hint on the fix line.
func (c *config) tlsError(err error) error {
	var fe *tlsconfig.FieldError
	if !errors.As(err, &fe) || c.tls == nil {
		return cli.Usage(err)
	}
	missing := errors.Is(fe, tlsconfig.ErrMissing)
	spec := reflect.ValueOf(c.tls).Elem()
	name := func(field string) string {
		n := c.tlsNames[field]
		// Something is missing: offer the environment variable beside an
		// unset flag that has one.
		if env := c.tlsEnv[field]; missing && env != "" && spec.FieldByName(field).String() == "" {
			n += " (or " + env + ")"
		}
		return n
	}
	err = tlsconfig.Rename(err, name)
	hint := ""
	switch {
	case missing && fe.Field == "CertFile" && c.tls.KeyFile == "":
		err = fmt.Errorf("TLS is on but %w", err)
		hint = "'ccpki issue server' makes a pair; for a plaintext development server pass --insecure-plaintext"
	case fe.Field == "Pins" && fe.Value != "":
		hint = "'ccpki pin CERT' prints the pin of a certificate"
	case errors.Is(fe, tlsconfig.ErrNotCA):
		hint = "give the CA certificate that issued the peers' certificates ('ccpki init' writes it as ca.crt); --insecure-client-ca-leaf admits exactly the leaf given"
	case errors.Is(fe, tlsconfig.ErrExpired):
		hint = "'ccpki renew' renews it"
	case fe.Field == "CRLFile" && !errors.Is(fe, tlsconfig.ErrBadOption): // the file, not a spec rule
		hint = "'ccpki crl' writes one"
	}
	if hint == "" {
		return cli.Usage(err)
	}
	return cli.WithHint(cli.Usage(err), hint)
}

// errNotServing marks a failure before the server accepted connections.
var errNotServing = errors.New("server did not start")
