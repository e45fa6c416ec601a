package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ccserver/ccserver/internal/cli"
	"github.com/ccserver/ccserver/shim"
	"github.com/ccserver/ccserver/tlsconfig"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
)

// Exit statuses, the scheme every command shares (internal/cli).
const (
	ExitOK      = cli.ExitOK     // served and stopped on a signal or context end
	ExitFailure = cli.ExitFailed // failed while running (port in use, server error)
	ExitUsage   = cli.ExitUsage  // missing, contradictory or insecure settings
)

// Env is what Run takes from its process.
type Env struct {
	// Args are the command-line arguments without the program name.
	Args []string
	// LookupEnv reads environment variables (os.LookupEnv in Main).
	LookupEnv func(string) (string, bool)
	// Stdout receives help; Stderr receives logs and errors.
	Stdout, Stderr io.Writer
	// Signals delivers SIGTERM, SIGINT (drain and stop) and SIGHUP
	// (reload TLS). Nil delivers none.
	Signals <-chan os.Signal
	// Root is the file system root /sys/fs/cgroup is read under (for
	// GOMEMLIMIT); empty means "/". Tests point it at a fake tree.
	Root string
	// Ready, if set, is called once the chaincode port (and the metrics
	// port, if any) accept connections.
	Ready func(Listening)
}

// Listening names the ports a running server accepts connections on.
type Listening struct {
	Chaincode net.Addr
	Metrics   net.Addr // nil without --metrics-address
}

// Main runs the ccserver command line for cc and exits with its status.
func Main(cc shim.Chaincode) {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	code := Run(context.Background(), cc, Env{
		Args: os.Args[1:], LookupEnv: os.LookupEnv,
		Stdout: os.Stdout, Stderr: os.Stderr, Signals: sig,
	})
	signal.Stop(sig)
	os.Exit(code)
}

// Run runs the ccserver command line for cc until a stop signal arrives,
// ctx ends or the server fails, and returns the exit status.
func Run(ctx context.Context, cc shim.Chaincode, env Env) int {
	if env.LookupEnv == nil {
		env.LookupEnv = func(string) (string, bool) { return "", false }
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	code := ExitOK
	cmd := newCommand(ctx, cc, env, &code)
	if c := (cli.Program{Name: "ccserver"}).Execute(ctx, cmd, env.Args, env.Stdout, env.Stderr); c != ExitOK {
		return c
	}
	return code
}

func newCommand(ctx context.Context, cc shim.Chaincode, env Env, code *int) *cobra.Command {
	var v flagValues
	cmd := &cobra.Command{
		Use:   "ccserver",
		Short: "Serve Hyperledger Fabric chaincode as an external service over mutual TLS",
		Long: `ccserver serves chaincode to Fabric peers that dial it (the ccaas builder's
"chaincode as a server"). TLS is on and peers must present a client certificate
from --client-ca unless you pass a flag named --insecure-....

Flags fall back to the environment variables of fabric-samples' external
chaincode: ` + strings.Join([]string{EnvAddress, EnvCCID, EnvTLSDisabled, EnvTLSCert, EnvTLSKey, EnvClientCA}, ", ") + `.
Flags win. ` + EnvMSPID + ` is logged and read by shim.GetMSPID.

Signals: SIGTERM or SIGINT drain transactions in flight (up to
--shutdown-timeout) and exit 0; SIGHUP re-reads the TLS files, the --allow-dir
allow list and the --packages file now.

A fleet: one server admits the peers of several orgs, each through its own CA
(--allow Org1MSP=org1-ca.pem, --allow-dir DIR), and serves several package ids,
one listener each (--packages FILE), so a channel moves to the next package
without a restart (docs/operations.md).
Exit status 2 means a setting is missing, contradictory or insecure.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected argument %q: ccserver takes flags only", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := resolve(v, cmd.Flags().Changed, env.LookupEnv)
			if err != nil {
				return err
			}
			*code, err = serve(ctx, cc, cfg, env)
			return err
		},
	}
	v.register(cmd.Flags())
	cmd.Flags().SortFlags = false
	return cmd
}

// newLogger returns the server's logger and a flush for its sampler's
// pending summaries. Lines are sampled per kind (--log-sample-interval)
// except at debug level, which shows every line.
func newLogger(w io.Writer, cfg *config) (*slog.Logger, func()) {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.logFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	if cfg.logLevel <= slog.LevelDebug || cfg.limits.logSampleInterval <= 0 {
		return slog.New(h), func() {}
	}
	sh := newSampleHandler(h, cfg.limits.logSampleInterval, cfg.limits.logSampleBurst, "reason", "function", "outcome")
	return slog.New(sh), sh.Flush
}

// serve runs the server; the error, if any, is for Run to print.
func serve(ctx context.Context, cc shim.Chaincode, cfg *config, env Env) (int, error) {
	log, flushLog := newLogger(env.Stderr, cfg)
	defer flushLog()
	for _, n := range cfg.notes {
		log.Warn(n)
	}
	if limit, source, err := memLimitFromCgroup(env.LookupEnv, env.root()); err != nil {
		log.Warn("memory limit not set from the container", "err", err)
	} else if limit > 0 {
		log.Info("GOMEMLIMIT set from the container's memory limit", "gomemlimit", limit, "share", memLimitShare, "source", source)
	} else if source != "" {
		log.Info("memory limit", "source", source)
	}
	if len(cfg.fromEnv) > 0 {
		args := make([]any, len(cfg.fromEnv))
		for i, v := range cfg.fromEnv {
			args[i] = v
		}
		log.Info("settings taken from the environment", args...)
	}
	m := newMetrics(time.Now)
	fm := newFleetMetrics(m.reg)
	drops := connDrops{m: m, log: log}
	memRet := newMemReturn(5*time.Second, log)
	defer memRet.stop()
	var openConns atomic.Int64
	limit := func(l net.Listener) net.Listener {
		return &limitListener{Listener: l, max: int64(cfg.limits.maxConnections), open: &openConns, drops: drops}
	}
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	hs.SetServingStatus(chaincodeService, healthpb.HealthCheckResponse_NOT_SERVING)

	var spec *tlsconfig.ServerSpec
	plaintext := shim.TLSProperties{Disabled: true}
	pins, crl := 0, ""
	if cfg.tls != nil {
		s := *cfg.tls
		s.Events = newTLSEvents(m, log, s).handle
		spec, plaintext = &s, shim.TLSProperties{}
		pins, crl = len(s.Pins), s.CRLFile
	}
	registered := make(chan struct{})
	cs := &shim.ChaincodeServer{
		CCID:            cfg.ccid,
		CC:              cc,
		TLSProps:        plaintext,
		TLSSpec:         spec,
		KaOpts:          &keepalive.ServerParameters{Time: cfg.keepaliveTime, Timeout: cfg.keepaliveTimeout},
		KaPolicy:        &keepalive.EnforcementPolicy{MinTime: cfg.keepaliveMinTime, PermitWithoutStream: true},
		Logger:          log,
		MaxConcurrentTx: cfg.maxConcurrentTx,
		Observer:        fleetObserver{observer: &observer{m: m, fn: newFunctionLabels(cc), log: log}, f: fm},
		ServerOptions:   cfg.limits.serverOptions(m, log, memRet),
		WrapCredentials: func(c credentials.TransportCredentials) credentials.TransportCredentials {
			return observedCreds{TransportCredentials: c, drops: drops}
		},
		RegisterServices: func(r grpc.ServiceRegistrar) {
			healthpb.RegisterHealthServer(r, hs)
			close(registered)
		},
	}

	rawLis, err := net.Listen("tcp", cfg.address)
	if err != nil {
		return ExitFailure, fmt.Errorf("cannot listen on --address %s: %w", cfg.address, err)
	}
	lis := limit(rawLis)
	extra, err := listenAll(cfg.packages, limit)
	if err != nil {
		lis.Close()
		return ExitFailure, err
	}
	pkgs := &packages{cs: cs, hs: hs, f: fm, log: log, file: cfg.packagesFile, served: map[string]string{}, timeout: cfg.shutdownTimeout, limit: limit}
	var metricsSrv *http.Server
	var metricsAddr net.Addr
	if cfg.metricsAddress != "" {
		mlis, err := net.Listen("tcp", cfg.metricsAddress)
		if err != nil {
			lis.Close()
			return ExitFailure, fmt.Errorf("cannot listen on --metrics-address %s: %w", cfg.metricsAddress, err)
		}
		metricsAddr = mlis.Addr()
		metricsSrv = &http.Server{Handler: httpHandler(m, hs), ReadHeaderTimeout: 10 * time.Second}
		go metricsSrv.Serve(mlis)
	}
	stopMetrics := func() {
		if metricsSrv != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if metricsSrv.Shutdown(sctx) != nil {
				metricsSrv.Close()
			}
		}
	}

	log.Info("starting chaincode server", "address", lis.Addr().String(), "ccid", cfg.ccid, "packages", len(cfg.packages), "allow", allowList(spec),
		"mspid", cfg.mspid, "tls", spec != nil, "client_auth", clientAuthMode(spec),
		"pins", pins, "crl", crl, "metrics", addrString(metricsAddr),
		"max_connections", cfg.limits.maxConnections, "max_streams_per_connection", cfg.limits.maxStreams,
		"max_message_size", cfg.limits.maxMessageSize)

	serveErr := make(chan error, 1)
	go func() { serveErr <- cs.Serve(lis) }()

	select {
	case <-registered:
	case err := <-serveErr:
		stopMetrics()
		if err == nil {
			err = errNotServing
		}
		// The server never accepted a connection: its settings (TLS files,
		// keys, CA) are wrong, which is the operator's to fix.
		return ExitUsage, cfg.tlsError(err)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(chaincodeService, healthpb.HealthCheckResponse_SERVING)
	m.serving.Set(1)
	hs.SetServingStatus(cfg.ccid, healthpb.HealthCheckResponse_SERVING)
	fm.serving.WithLabelValues(cfg.ccid).Set(1)
	if cfg.mainFromFile {
		pkgs.served[cfg.ccid] = cfg.address
	}
	for i, e := range cfg.packages {
		if err := cs.ServePackage(e.ccid, extra[i]); err != nil {
			log.Error("cannot serve package", "ccid", e.ccid, "err", err)
			continue
		}
		pkgs.serving(e.ccid, extra[i].Addr().String(), true)
	}
	var poll <-chan time.Time
	if cfg.packagesFile != "" {
		t := time.NewTicker(packagesPoll)
		defer t.Stop()
		poll = t.C
	}
	log.Info("chaincode server ready", "address", lis.Addr().String())
	if env.Ready != nil {
		env.Ready(Listening{Chaincode: lis.Addr(), Metrics: metricsAddr})
	}

	for {
		var why string
		select {
		case err := <-serveErr:
			stopMetrics()
			if err != nil {
				return ExitFailure, fmt.Errorf("chaincode server failed: %w", err)
			}
			return ExitOK, nil
		case <-ctx.Done():
			why = "context ended"
		case <-poll:
			pkgs.reload(ctx)
			continue
		case s := <-env.Signals:
			if s == syscall.SIGHUP {
				pkgs.reload(ctx)
				if err := cs.ReloadTLS(); err != nil {
					log.Error("SIGHUP: TLS reload failed; the last good material stays in use", "err", err)
				} else {
					log.Info("SIGHUP: TLS material reloaded")
				}
				continue
			}
			why = s.String()
		}
		drain(cs, hs, m, log, cfg.shutdownTimeout, why, env.Signals)
		<-serveErr
		stopMetrics()
		log.Info("chaincode server stopped")
		return ExitOK, nil
	}
}

func (e Env) root() string {
	if e.Root == "" {
		return "/"
	}
	return e.Root
}

// chaincodeService is the name the health service reports for the
// chaincode protocol itself, beside the server-wide "".
const chaincodeService = "protos.Chaincode"

// drain reports NOT_SERVING, lets transactions in flight finish for up to
// timeout, then closes every stream. A second stop signal closes at once.
func drain(cs *shim.ChaincodeServer, hs *health.Server, m *metrics, log *slog.Logger, timeout time.Duration, why string, signals <-chan os.Signal) {
	log.Info("draining: refusing new transactions, waiting for those in flight", "why", why, "timeout", timeout)
	hs.Shutdown()
	m.serving.Set(0)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cs.Shutdown(ctx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				log.Warn("drain cut short: transactions still running were abandoned", "err", err)
			}
			return
		case s := <-signals:
			if s == syscall.SIGHUP {
				continue
			}
			log.Warn("second stop signal: closing all connections now", "signal", s.String())
			cancel()
		}
	}
}

func httpHandler(m *metrics, hs *health.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		// ?ccid=PACKAGE_ID asks about one package id (--packages).
		resp, err := hs.Check(r.Context(), &healthpb.HealthCheckRequest{Service: r.URL.Query().Get("ccid")})
		if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
			http.Error(w, "not serving", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "serving")
	})
	return mux
}

// allowList names the per-org admission for the start-up log.
func allowList(s *tlsconfig.ServerSpec) string {
	if s == nil {
		return ""
	}
	var parts []string
	for _, a := range s.Orgs {
		parts = append(parts, a.Org)
	}
	if s.OrgsDir != "" {
		parts = append(parts, "dir "+s.OrgsDir)
	}
	return strings.Join(parts, ",")
}

func clientAuthMode(s *tlsconfig.ServerSpec) string {
	switch {
	case s == nil:
		return "none (plaintext)"
	case s.InsecureNoClientAuth:
		return "none (insecure)"
	default:
		return "required"
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
