package serve

import (
	"log/slog"
	"sync"
	"time"

	"github.com/ccserver/ccserver/shim"
	"github.com/ccserver/ccserver/tlsconfig"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// FunctionLister is implemented by chaincode that knows its transaction
// names. Metrics label transactions with these names and every other
// name with "other"; without it the first maxFunctionLabels distinct
// names are kept, so a caller cannot grow the label set without bound.
type FunctionLister interface {
	Functions() []string
}

const (
	maxFunctionLabels = 32
	otherFunction     = "other"
)

// Transaction status labels.
const (
	statusOK     = "ok"     // chaincode answered with a status below 400
	statusError  = "error"  // chaincode answered with a status of 400 or more
	statusFailed = "failed" // the peer got ERROR: panic, bad input, shutdown
)

// metrics is ccserver's Prometheus registry and the instruments in it.
type metrics struct {
	reg            *prometheus.Registry
	txTotal        *prometheus.CounterVec
	txDuration     *prometheus.HistogramVec
	inFlight       prometheus.Gauge
	peers          prometheus.Gauge
	serving        prometheus.Gauge
	handshakeFails *prometheus.CounterVec
	certNotAfter   *prometheus.GaugeVec
	rotations      *prometheus.CounterVec
	reloadFailures *prometheus.CounterVec
	crlNextUpdate  prometheus.Gauge
	txFailures     *prometheus.CounterVec
	connDrops      *prometheus.CounterVec
	connections    prometheus.Gauge

	mu            sync.Mutex
	crlThisUpdate time.Time
	now           func() time.Time
}

func newMetrics(now func() time.Time) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), now: now}
	m.txTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccserver_transactions_total",
		Help: "Transactions executed, by function and status (ok, error: chaincode status >= 400, failed: the peer got ERROR).",
	}, []string{"function", "status"})
	m.txDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ccserver_transaction_duration_seconds",
		Help:    "Time from receiving a transaction to sending its result, by function.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"function"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ccserver_transactions_in_flight", Help: "Transactions executing now.",
	})
	m.peers = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ccserver_connected_peers", Help: "Peer streams (/protos.Chaincode/Connect) open now.",
	})
	m.serving = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ccserver_serving", Help: "1 while the server accepts transactions, 0 while starting or draining.",
	})
	m.handshakeFails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccserver_tls_handshake_failures_total", Help: "TLS handshakes refused, by reason.",
	}, []string{"reason"})
	m.certNotAfter = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ccserver_tls_certificate_not_after_timestamp_seconds",
		Help: "Expiry (Unix time) of the certificate in use, by source (server-certificate, client-ca).",
	}, []string{"source"})
	m.rotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccserver_tls_rotations_total", Help: "TLS material replaced without a restart, by source.",
	}, []string{"source"})
	m.reloadFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccserver_tls_reload_failures_total", Help: "Reloads of TLS material that failed (the last good material stays), by source.",
	}, []string{"source"})
	m.crlNextUpdate = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ccserver_tls_crl_next_update_timestamp_seconds", Help: "Earliest nextUpdate (Unix time) of the CRLs in use.",
	})
	m.txFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccserver_transaction_failures_total",
		Help: "Transactions that did not succeed, by function and reason (panic; failed: the peer got ERROR; client-error: status 400-499; server-error: status >= 500). Their log lines are sampled; this counts every one.",
	}, []string{"function", "reason"})
	m.connDrops = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccserver_connections_dropped_total",
		Help: "Connections or streams dropped before or outside a transaction, by reason (connection-limit, handshake-timeout, no-alpn, handshake-error, too-many-pings, message-too-large). TLS refusals by the trust checks are in ccserver_tls_handshake_failures_total.",
	}, []string{"reason"})
	m.connections = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ccserver_connections_open", Help: "TCP connections open on the chaincode port, handshakes included (at most --max-connections).",
	})
	crlAge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ccserver_tls_crl_age_seconds", Help: "Seconds since the thisUpdate of the oldest CRL in use (0 without a CRL).",
	}, m.crlAge)
	m.reg.MustRegister(m.txTotal, m.txDuration, m.inFlight, m.peers, m.serving,
		m.handshakeFails, m.certNotAfter, m.rotations, m.reloadFailures, m.crlNextUpdate, crlAge,
		m.txFailures, m.connDrops, m.connections,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) crlAge() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crlThisUpdate.IsZero() {
		return 0
	}
	return m.now().Sub(m.crlThisUpdate).Seconds()
}

// functionLabels bounds the function label's values.
type functionLabels struct {
	mu    sync.Mutex
	known map[string]bool
	fixed bool
}

func newFunctionLabels(cc shim.Chaincode) *functionLabels {
	fl := &functionLabels{known: map[string]bool{}}
	if l, ok := cc.(FunctionLister); ok {
		for _, f := range l.Functions() {
			fl.known[f] = true
		}
		fl.fixed = true
	}
	return fl
}

func (fl *functionLabels) label(fn string) string {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	switch {
	case fl.known[fn]:
		return fn
	case fl.fixed || fn == "" || len(fl.known) >= maxFunctionLabels:
		return otherFunction
	}
	fl.known[fn] = true
	return fn
}

// observer turns shim stream and transaction callbacks into metrics and
// one log line per failed transaction.
type observer struct {
	m   *metrics
	fn  *functionLabels
	log *slog.Logger
}

var _ shim.Observer = (*observer)(nil)

func (o *observer) StreamStarted(string)      { o.m.peers.Inc() }
func (o *observer) StreamEnded(string, error) { o.m.peers.Dec() }
func (o *observer) TxStarted(string, string)  { o.m.inFlight.Inc() }

func (o *observer) TxFinished(info shim.TxInfo) {
	o.m.inFlight.Dec()
	fn := o.fn.label(info.Function)
	status := statusOK
	switch {
	case info.Failed:
		status = statusFailed
	case info.Status >= shim.ERRORTHRESHOLD:
		status = statusError
	}
	o.m.txTotal.WithLabelValues(fn, status).Inc()
	o.m.txDuration.WithLabelValues(fn).Observe(info.Duration.Seconds())
	if status != statusOK {
		reason := failureReason(info)
		o.m.txFailures.WithLabelValues(fn, reason).Inc()
		o.log.Warn("transaction failed", "channel", info.ChannelID, "txid", info.TxID, "function", fn,
			"status", info.Status, "outcome", status, "message", info.Message, "panicked", info.Panicked,
			"duration", info.Duration, "reason", reason, "ccid", info.CCID, "org", info.PeerOrg)
	}
}

// Failure reasons, ccserver_transaction_failures_total's reason label.
const (
	failPanic       = "panic"
	failFailed      = "failed"
	failClientError = "client-error"
	failServerError = "server-error"
)

func failureReason(info shim.TxInfo) string {
	switch {
	case info.Panicked:
		return failPanic
	case info.Failed:
		return failFailed
	case info.Status < 500:
		return failClientError
	}
	return failServerError
}

// tlsEvents logs TLS events and counts them. sources maps the files
// in use to the role names used as metric labels.
type tlsEvents struct {
	m       *metrics
	log     *slog.Logger
	sources map[string]string
}

func newTLSEvents(m *metrics, log *slog.Logger, p tlsconfig.ServerSpec) *tlsEvents {
	e := &tlsEvents{m: m, log: log, sources: map[string]string{}}
	if p.CertFile != "" {
		e.sources[p.CertFile] = "server-certificate"
	}
	if p.ClientCAFile != "" {
		e.sources[p.ClientCAFile] = "client-ca"
	}
	if p.CRLFile != "" {
		e.sources[p.CRLFile] = "crl"
	}
	if len(p.Orgs) > 0 || p.OrgsDir != "" {
		e.sources[tlsconfig.OrgsSource] = tlsconfig.OrgsSource
	}
	return e
}

func (e *tlsEvents) role(source string) string {
	if r, ok := e.sources[source]; ok {
		return r
	}
	return "other"
}

func (e *tlsEvents) handle(ev tlsconfig.Event) {
	role := e.role(ev.Source)
	attrs := []any{"source", ev.Source}
	if ev.OldSerial != "" {
		attrs = append(attrs, "old_serial", ev.OldSerial)
	}
	if ev.NewSerial != "" {
		attrs = append(attrs, "new_serial", ev.NewSerial)
	}
	if !ev.NotAfter.IsZero() {
		attrs = append(attrs, "not_after", ev.NotAfter.UTC().Format(time.RFC3339))
	}
	switch ev.Kind {
	case tlsconfig.EventLoaded, tlsconfig.EventRotated:
		if ev.Kind == tlsconfig.EventRotated {
			e.m.rotations.WithLabelValues(role).Inc()
			e.log.Info("TLS material rotated", attrs...)
		} else {
			e.log.Info("TLS material loaded", attrs...)
		}
		if role == "crl" {
			e.crlLoaded(ev)
		} else if !ev.NotAfter.IsZero() {
			e.m.certNotAfter.WithLabelValues(role).Set(float64(ev.NotAfter.Unix()))
		}
	case tlsconfig.EventReloadFailed:
		e.m.reloadFailures.WithLabelValues(role).Inc()
		e.log.Error("TLS reload failed; the last good material stays in use", append(attrs, "err", errText(ev.Err))...)
	case tlsconfig.EventHandshakeRejected:
		reason := string(ev.Reason)
		if reason == "" {
			reason = string(tlsconfig.ReasonOther)
		}
		e.m.handshakeFails.WithLabelValues(reason).Inc()
		e.log.Warn("TLS handshake rejected", "reason", reason, "peer", ev.Peer, "err", errText(ev.Err))
	case tlsconfig.EventExpiringSoon:
		e.log.Warn("certificate expires soon; renew it ('ccpki renew')", attrs...)
	case tlsconfig.EventCRLStale:
		e.log.Warn("CRL is past its nextUpdate; publish a fresh one", append(attrs, "err", errText(ev.Err))...)
	default:
		e.log.Info("TLS event", append(attrs, "kind", ev.Kind.String())...)
	}
}

// crlLoaded records the CRL times tlsconfig reports with the load:
// NextUpdate is the earliest nextUpdate, ThisUpdate the oldest thisUpdate.
func (e *tlsEvents) crlLoaded(ev tlsconfig.Event) {
	if !ev.NextUpdate.IsZero() {
		e.m.crlNextUpdate.Set(float64(ev.NextUpdate.Unix()))
	}
	e.m.mu.Lock()
	e.m.crlThisUpdate = ev.ThisUpdate
	e.m.mu.Unlock()
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
