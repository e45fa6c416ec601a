package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ccserver/ccserver/ccaas"
	"github.com/ccserver/ccserver/devpeer"
	"github.com/ccserver/ccserver/internal/cli"
	"github.com/spf13/cobra"
)

// exitCodes documents the scheme: 0 to 2 are every command's
// (internal/cli), 10 to 20 are devpeer's probe diagnoses.
const exitCodes = `Exit codes:
  0   success (invoke/query: chaincode status < 400)
  1   the chaincode failed the transaction (ERROR or status >= 400) / other failure
  2   usage or connection settings error
  10  connection refused           11  unreachable / timed out
  12  server cert: unknown CA      13  server cert: name mismatch
  14  server cert: expired         15  server requires a client certificate
  16  client certificate rejected  17  TLS configured, server is plaintext
  18  plaintext configured, server speaks TLS
  19  CCID mismatch                20  connected, but no chaincode handshake
  21  client certificate expired or not yet valid`

// builderConfigEnv is the peer's variable the ccaas builder fills
// connection.json's templates from; ccpeer reads it the same way.
const builderConfigEnv = "CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"

type common struct {
	connection, address, rootCert, clientCert, clientKey, domain string
	builderConfig                                                string
	dialTimeout                                                  time.Duration
	insecurePlaintext                                            bool
	ccid, channel                                                string
}

func (c *common) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.connection, "connection", "", "connection.json as in the package the peer installs (address, dial_timeout, tls_required, client_auth_required, client_key, client_cert, root_cert), processed as the peer's ccaas builder does")
	f.StringVar(&c.builderConfig, "builder-config", "", "JSON object the templates in --connection are filled from, as the ccaas builder does (default $"+builderConfigEnv+")")
	f.StringVar(&c.address, "address", "", "chaincode server host:port (instead of --connection)")
	f.StringVar(&c.rootCert, "tls-root-cert", "", "PEM file of the CA that issued the server certificate; enables TLS")
	f.StringVar(&c.clientCert, "client-cert", "", "PEM file of the client (peer) certificate; enables client auth")
	f.StringVar(&c.clientKey, "client-key", "", "PEM file of the client key")
	f.StringVar(&c.domain, "domain", "", "TLS server name override (with client auth, as connection.json's domain)")
	f.DurationVar(&c.dialTimeout, "dial-timeout", 10*time.Second, "dial and handshake timeout (with --address)")
	f.BoolVar(&c.insecurePlaintext, "insecure-plaintext", false, "INSECURE: connect without TLS when using --address")
	f.StringVar(&c.ccid, "ccid", "", "expected chaincode package ID; a different REGISTER fails (default: accept any)")
	f.StringVar(&c.channel, "channel", "mychannel", "channel ID")
}

func readPEM(path, what string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	return string(b), nil
}

// conn is the connection the peer would dial. A --connection file goes
// the way of a package's connection.json through the peer: the ccaas
// builder's decoding and templating (from --builder-config, else the
// environment), then the peer's checks. Notes go to stderr.
func (c *common) conn(cmd *cobra.Command) (ccaas.Connection, error) {
	if c.connection != "" {
		if c.address != "" || c.rootCert != "" || c.clientCert != "" || c.clientKey != "" || c.domain != "" {
			return ccaas.Connection{}, errors.New("use either --connection or --address/--tls-root-cert/--client-cert/--client-key/--domain, not both")
		}
		cfg := os.Getenv(builderConfigEnv)
		if cmd.Flags().Changed("builder-config") {
			cfg = c.builderConfig
		}
		return loadConnection(c.connection, []byte(cfg), cmd.ErrOrStderr())
	}
	if c.builderConfig != "" {
		return ccaas.Connection{}, errors.New("--builder-config fills the templates of a --connection file; with --address there are none")
	}
	if c.address == "" {
		return ccaas.Connection{}, errors.New("no chaincode server given: pass --connection connection.json or --address host:port")
	}
	conn := ccaas.Connection{Address: c.address, DialTimeout: c.dialTimeout.String(), Domain: c.domain}
	var err error
	if conn.RootCert, err = readPEM(c.rootCert, "--tls-root-cert"); err != nil {
		return ccaas.Connection{}, err
	}
	if conn.ClientCert, err = readPEM(c.clientCert, "--client-cert"); err != nil {
		return ccaas.Connection{}, err
	}
	if conn.ClientKey, err = readPEM(c.clientKey, "--client-key"); err != nil {
		return ccaas.Connection{}, err
	}
	conn.TLSRequired = c.rootCert != ""
	conn.ClientAuthRequired = c.clientCert != "" || c.clientKey != ""
	if !conn.TLSRequired && !c.insecurePlaintext {
		return ccaas.Connection{}, errors.New("no --tls-root-cert given: pass the server's CA, or --insecure-plaintext to connect without TLS")
	}
	if conn.TLSRequired && c.insecurePlaintext {
		return ccaas.Connection{}, errors.New("--insecure-plaintext conflicts with --tls-root-cert")
	}
	return conn, conn.Validate()
}

// loadConnection reads a package's connection.json and renders it with
// builderConfig, as the peer's ccaas builder does before the peer reads it.
func loadConnection(path string, builderConfig []byte, warn io.Writer) (ccaas.Connection, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ccaas.Connection{}, fmt.Errorf("read connection file: %w", err)
	}
	pkg, err := ccaas.ParseConnection(b)
	if err != nil {
		return ccaas.Connection{}, fmt.Errorf("%s: %w", path, err)
	}
	conn, err := pkg.Render(builderConfig)
	if err != nil {
		return ccaas.Connection{}, fmt.Errorf("%s: %w", path, err)
	}
	if pkg.Domain != "" {
		fmt.Fprintf(warn, "ccpeer: note: %s sets \"domain\", which the peer's ccaas builder drops: the server certificate must cover the host of \"address\" (pass --address with --domain to act as a Fabric ≥ 3.0 peer whose builder keeps it)\n", path)
	}
	if err := conn.Validate(); err != nil {
		return ccaas.Connection{}, fmt.Errorf("%s: %w", path, err)
	}
	return conn, nil
}

// dialErr gives a diagnosed dial error its exit code and its fix.
func dialErr(err error) error {
	var pe *devpeer.ProbeError
	if errors.As(err, &pe) {
		return &cli.Error{Code: pe.Code, Hint: pe.Fix, Err: pe}
	}
	return err
}

// Main runs ccpeer with args and returns the exit code; SIGINT and
// SIGTERM stop a running bench.
func Main(args []string, stdout, stderr io.Writer) int {
	return cli.Program{Name: "ccpeer"}.Main(newRoot(), args, stdout, stderr)
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "ccpeer",
		Short: "A development peer: talk to a chaincode server the way a Fabric peer does",
		Long: `ccpeer dials a chaincode server ("chaincode as a service") exactly as a Fabric peer
does, configured by the same connection.json, and serves the chaincode's state requests
from an embedded state file.

--connection takes connection.json as it is in the package (ccpki package writes it) and
treats it as the peer's ccaas builder does: every string field is a Go template filled
from the JSON object in --builder-config or $CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG (a
missing key is an error), TLS fields count only with tls_required, and "domain" is
dropped; dial_timeout must be a duration string such as "10s".

` + exitCodes,
	}
	root.AddCommand(txCommand("invoke", true), txCommand("query", false), probeCommand(), benchCommand())
	return root
}

func txCommand(verb string, commit bool) *cobra.Command {
	var c common
	var state, namespace string
	var transient []string
	short := "Run one transaction and commit its writes to the state file"
	if !commit {
		short = "Run one transaction without committing (like a query through the peer)"
	}
	cmd := &cobra.Command{
		Use:   verb + " [flags] -- FUNCTION [ARG...]",
		Short: short,
		Example: fmt.Sprintf(`  ccpeer %[1]s --connection connection.json --ccid basic_1.0:4f2a... -- ReadAsset asset1
  ccpeer %[1]s --address localhost:9999 --tls-root-cert ca.crt --client-cert peer.crt --client-key peer.key -- CreateAsset a1 blue 5 Tom 100
  ccpeer %[1]s --address localhost:9999 --insecure-plaintext --transient price=42 -- PutPrivate`, verb),
		Long: short + `.

Prints status, message, payload and event. World state lives in --state (bbolt), one
namespace per chaincode (--namespace, default: the CCID label).

` + exitCodes,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := c.conn(cmd)
			if err != nil {
				return cli.Usage(err)
			}
			tm := map[string][]byte{}
			for _, kv := range transient {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return cli.Usagef("--transient %q: want key=value", kv)
				}
				tm[k] = []byte(v)
			}
			ns := namespaceOf(namespace, c.ccid)
			st, err := devpeer.OpenBoltStore(state, ns)
			if err != nil {
				return err
			}
			defer st.Close()
			opts := []devpeer.Option{devpeer.WithState(st), devpeer.WithNamespace(ns)}
			if c.ccid != "" {
				opts = append(opts, devpeer.WithCCID(c.ccid))
			}
			client, err := devpeer.Dial(cmd.Context(), conn, opts...)
			if err != nil {
				return dialErr(err)
			}
			defer client.Close()
			var bargs [][]byte
			for _, a := range args {
				bargs = append(bargs, []byte(a))
			}
			res, err := client.Execute(cmd.Context(), devpeer.Tx{ChannelID: c.channel, Args: bargs, Transient: tm, Commit: commit})
			out := cmd.OutOrStdout()
			var ce *devpeer.ChaincodeError
			if errors.As(err, &ce) {
				fmt.Fprintf(out, "txid: %s\nstatus: ERROR\nmessage: %s\n", ce.TxID, ce.Message)
				return err
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "txid: %s\nstatus: %d\nmessage: %s\npayload: %s\n", res.TxID, res.Response.Status, res.Response.Message, printable(res.Response.Payload))
			if res.Event != nil {
				fmt.Fprintf(out, "event: %s %s\n", res.Event.EventName, printable(res.Event.Payload))
			}
			if commit {
				fmt.Fprintf(out, "committed: %v (%d writes)\n", res.Committed, len(res.Writes))
			}
			if res.Response.Status >= 400 {
				return fmt.Errorf("chaincode returned status %d: %s", res.Response.Status, res.Response.Message)
			}
			return nil
		},
	}
	c.register(cmd)
	cmd.Flags().StringVar(&state, "state", ".ccpeer/state.db", "world state file (bbolt)")
	cmd.Flags().StringVar(&namespace, "namespace", "", "state namespace (default: the CCID label, else \"chaincode\")")
	cmd.Flags().StringArrayVar(&transient, "transient", nil, "transient data key=value (repeatable)")
	return cmd
}

// namespaceOf is the state namespace invoke and query use.
func namespaceOf(namespace, ccid string) string {
	ns := namespace
	if ns == "" {
		ns, _, _ = strings.Cut(ccid, ":")
	}
	if ns == "" {
		ns = "chaincode"
	}
	return ns
}

// benchSeed reads the committed state bench starts from. The default
// file missing is an empty state; a file named with --state must exist.
func benchSeed(cmd *cobra.Command, path, namespace, ccid string) (map[string][]byte, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if cmd.Flags().Changed("state") {
			return nil, cli.Usagef("--state %s does not exist: run 'ccpeer invoke --state %s ...' first, or leave --state out for an empty state", path, path)
		}
		return nil, nil
	}
	seed, err := devpeer.ReadState(path, namespaceOf(namespace, ccid))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "ccpeer: bench reads %d keys of %s (read-only; nothing is committed)\n", len(seed), path)
	return seed, nil
}

// printable shows UTF-8 payloads as text and anything else as hex.
func printable(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return fmt.Sprintf("0x%x", b)
}

func probeCommand() *cobra.Command {
	var c common
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "probe [flags]",
		Short: "Connect, check TLS and the chaincode handshake, and diagnose failures",
		Long: `probe connects as the peer would and reports the TLS version, cipher suite, ALPN, the
server chain (subjects, SANs, expiry, SPKI pins), whether a client certificate was
demanded, the CCID the chaincode registered with and the KEEPALIVE round-trip time.
A failure prints what is wrong and how to fix it, with a distinct exit code.

` + exitCodes,
		Example: `  ccpeer probe --connection connection.json --ccid basic_1.0:4f2a...
  ccpeer probe --address cc.example.com:9999 --tls-root-cert ca.crt --client-cert peer.crt --client-key peer.key --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := c.conn(cmd)
			if err != nil {
				return cli.Usage(err)
			}
			rep, err := devpeer.Probe(cmd.Context(), conn, c.ccid)
			if err != nil {
				return dialErr(err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			fmt.Fprintf(out, "address: %s\nccid: %s\nconnect: %v\nrtt: %v\n", rep.Address, rep.CCID, rep.ConnectTime.Round(time.Microsecond), rep.RoundTrip.Round(time.Microsecond))
			if !rep.TLS {
				fmt.Fprintln(out, "tls: off (plaintext)")
				return nil
			}
			fmt.Fprintf(out, "tls: %s %s alpn=%s server_name=%s\nclient certificate requested: %v (sent: %v)\n", rep.Version, rep.CipherSuite, rep.ALPN, rep.ServerName, rep.ClientCertRequested, rep.ClientCertSent)
			for i, ci := range rep.Chain {
				fmt.Fprintf(out, "cert[%d]: subject=%q issuer=%q\n  sans: %s\n  not_after: %s (%s left)\n  pin: %s\n", i, ci.Subject, ci.Issuer,
					strings.Join(append(append(append([]string{}, ci.DNSNames...), ci.IPs...), ci.URIs...), ", "),
					ci.NotAfter.UTC().Format(time.RFC3339), time.Until(ci.NotAfter).Round(time.Minute), ci.SPKIPin)
			}
			return nil
		},
	}
	c.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func benchCommand() *cobra.Command {
	var c common
	var mix, state, namespace string
	var concurrency, connections, pid int
	var duration, progress, reconnect time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench [flags] [-- ARG...]",
		Short: "Closed-loop load: throughput, p50/p99/max latency, errors, server CPU",
		Long: `bench keeps --concurrency transactions in flight over --connections streams for
--duration, choosing functions by weight from --mix. ARGs after -- are appended to every
function's arguments. Transactions run against a copy of the world state in --state
(read-only: what invoke committed is seen, nothing is committed). With --server-pid it
reports the server's CPU time per 1000 transactions (from /proc).

When the server closes a stream (restart, drain, revoked certificate), the transactions
in flight on it count as errors and the connection is redialed with backoff for up to
--reconnect; the figures report streams lost, reconnects and the longest outage.

` + exitCodes,
		Example: `  ccpeer bench --connection connection.json --mix noop=1,getput=1 --concurrency 64 --connections 4 --duration 30s
  ccpeer bench --address localhost:9999 --tls-root-cert ca.crt --client-cert peer.crt --client-key peer.key --mix ReadAsset -- asset1 --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := c.conn(cmd)
			if err != nil {
				return cli.Usage(err)
			}
			m, err := devpeer.ParseMix(mix, args)
			if err != nil {
				return cli.Usage(err)
			}
			out := cmd.OutOrStdout()
			seed, err := benchSeed(cmd, state, namespace, c.ccid)
			if err != nil {
				return err
			}
			cfg := devpeer.BenchConfig{Conn: conn, CCID: c.ccid, ChannelID: c.channel, Concurrency: concurrency, Connections: connections,
				Duration: duration, Mix: m, ServerPID: pid, ProgressEvery: progress, Seed: seed, Reconnect: reconnect}
			if progress > 0 {
				cfg.Progress = func(p devpeer.BenchProgress) {
					fmt.Fprintf(cmd.ErrOrStderr(), "%6.1fs %d tx (%.0f tx/s) %d errors\n", p.Elapsed.Seconds(), p.Transactions, float64(p.Transactions)/p.Elapsed.Seconds(), p.Errors)
				}
			}
			res, err := devpeer.Bench(cmd.Context(), cfg)
			var stopped *devpeer.BenchStopped
			if errors.As(err, &stopped) {
				res = stopped.Result
				defer fmt.Fprintf(cmd.ErrOrStderr(), "ccpeer: %d stream(s) lost, %d reconnect(s)\n", res.StreamsLost, res.Reconnects)
			} else if err != nil {
				return dialErr(err)
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "transactions: %d in %v (concurrency %d, connections %d)\nthroughput: %.0f tx/s\nlatency: p50 %v  p99 %v  max %v\nerrors: %d\n",
					res.Transactions, res.Elapsed.Round(time.Millisecond), res.Concurrency, res.Connections, res.Throughput,
					res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond), res.Max.Round(time.Microsecond), res.Errors)
				if res.StreamsLost > 0 {
					fmt.Fprintf(out, "streams lost: %d, reconnects: %d, longest outage: %v\n", res.StreamsLost, res.Reconnects, res.LongestOutage.Round(time.Millisecond))
				}
				if res.FirstError != "" {
					fmt.Fprintf(out, "first error: %s\n", res.FirstError)
				}
				if pid > 0 {
					fmt.Fprintf(out, "server cpu: %v per 1000 tx\n", res.ServerCPUPer1000)
				}
			}
			if stopped != nil {
				return cli.WithHint(stopped, "check that the chaincode server is running; raise --reconnect to wait longer for it")
			}
			if res.Errors > 0 {
				return fmt.Errorf("%d of %d transactions failed", res.Errors, res.Transactions)
			}
			return nil
		},
	}
	c.register(cmd)
	f := cmd.Flags()
	f.StringVar(&state, "state", ".ccpeer/state.db", "world state file (bbolt) to read, read-only; a missing default file means an empty state")
	f.StringVar(&namespace, "namespace", "", "state namespace (default: the CCID label, else \"chaincode\")")
	f.DurationVar(&reconnect, "reconnect", 30*time.Second, "when the server closes a stream, redial it with backoff for up to this long (0: stop at once)")
	f.StringVar(&mix, "mix", "noop=1", "workload: function=weight,... (e.g. noop=1,getput=1)")
	f.IntVar(&concurrency, "concurrency", 1, "transactions in flight")
	f.IntVar(&connections, "connections", 1, "streams (gRPC connections) to spread them over")
	f.DurationVar(&duration, "duration", 10*time.Second, "run time")
	f.DurationVar(&progress, "progress", 5*time.Second, "progress line interval on stderr (0: none)")
	f.IntVar(&pid, "server-pid", 0, "chaincode server PID, to report its CPU per 1000 transactions")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
