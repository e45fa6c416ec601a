package serve

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ccserver/ccserver/shim"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// A server of several package ids has one listener per package id: the
// peer dials the address of the package it launched, and the chaincode
// must register with that package's id before the peer says anything (see
// shim.ChaincodeServer.ServePackage). --packages names them in a file
// that SIGHUP and a poll re-read, so the next package is served before the
// channel's definition moves to it and the old one is stopped after,
// without a restart.

// packagesPoll is how often the --packages file is re-read without SIGHUP.
const packagesPoll = 5 * time.Second

// pkgEntry is one line of the --packages file.
type pkgEntry struct{ ccid, address string }

// parsePackages reads "PACKAGE_ID ADDRESS" lines; blank lines and lines
// starting with # are skipped.
func parsePackages(data []byte, file string) ([]pkgEntry, error) {
	var out []pkgEntry
	seen, addrs := map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || !strings.Contains(f[0], ":") {
			return nil, fmt.Errorf("%s:%d: want PACKAGE_ID ADDRESS, e.g. basic_1.1:3f2a… 0.0.0.0:9998", file, n)
		}
		if _, _, err := net.SplitHostPort(f[1]); err != nil {
			return nil, fmt.Errorf("%s:%d: address %q: want host:port", file, n, f[1])
		}
		if seen[f[0]] || addrs[f[1]] {
			return nil, fmt.Errorf("%s:%d: package id or address given twice (one listener per package id)", file, n)
		}
		seen[f[0]], addrs[f[1]] = true, true
		out = append(out, pkgEntry{ccid: f[0], address: f[1]})
	}
	return out, sc.Err()
}

func readPackages(file string) ([]pkgEntry, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--packages: %w", err)
	}
	ps, err := parsePackages(data, file)
	if err != nil {
		return nil, fmt.Errorf("--packages: %w", err)
	}
	return ps, nil
}

// fleetMetrics are the per-package and per-org instruments. The label
// values are bounded by the operator: package ids served, orgs of the
// allow list ("" without one).
type fleetMetrics struct {
	tx      *prometheus.CounterVec
	peers   *prometheus.GaugeVec
	serving *prometheus.GaugeVec
}

func newFleetMetrics(reg *prometheus.Registry) *fleetMetrics {
	f := &fleetMetrics{
		tx: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccserver_package_transactions_total",
			Help: "Transactions executed, by package id, the org the peer was admitted as (empty without --allow) and status.",
		}, []string{"ccid", "org", "status"}),
		peers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ccserver_package_connected_peers", Help: "Peer streams open now, by package id and org.",
		}, []string{"ccid", "org"}),
		serving: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ccserver_package_serving", Help: "1 while the package id is served (its listener accepts peers), 0 after it was stopped.",
		}, []string{"ccid"}),
	}
	reg.MustRegister(f.tx, f.peers, f.serving)
	return f
}

// fleetObserver adds the package id and org of every stream and
// transaction to the observer's metrics and logs.
type fleetObserver struct {
	*observer
	f *fleetMetrics
}

var _ shim.StreamObserver = fleetObserver{}

func (o fleetObserver) PeerStreamStarted(s shim.StreamInfo) {
	o.observer.StreamStarted(s.Peer)
	o.f.peers.WithLabelValues(s.CCID, s.PeerOrg).Inc()
}

func (o fleetObserver) PeerStreamEnded(s shim.StreamInfo, err error) {
	o.observer.StreamEnded(s.Peer, err)
	o.f.peers.WithLabelValues(s.CCID, s.PeerOrg).Dec()
}

func (o fleetObserver) TxFinished(info shim.TxInfo) {
	o.observer.TxFinished(info)
	status := statusOK
	switch {
	case info.Failed:
		status = statusFailed
	case info.Status >= shim.ERRORTHRESHOLD:
		status = statusError
	}
	o.f.tx.WithLabelValues(info.CCID, info.PeerOrg, status).Inc()
}

// packages serves the package ids beside the main one and follows the
// --packages file.
type packages struct {
	cs      *shim.ChaincodeServer
	hs      *health.Server
	f       *fleetMetrics
	log     *slog.Logger
	file    string
	served  map[string]string
	timeout time.Duration
	// limit wraps a package's listener in the process's connection limit.
	limit func(net.Listener) net.Listener
}

// listen binds the listeners of entries before the server starts, so a
// port in use fails the start.
func listenAll(entries []pkgEntry, limit func(net.Listener) net.Listener) ([]net.Listener, error) {
	var ls []net.Listener
	for _, e := range entries {
		l, err := net.Listen("tcp", e.address)
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return nil, fmt.Errorf("cannot listen on %s for package %s: %w", e.address, e.ccid, err)
		}
		ls = append(ls, limit(l))
	}
	return ls, nil
}

// serving marks a package id served in health and metrics.
func (p *packages) serving(ccid, addr string, on bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	v := 0.0
	if on {
		st, v = healthpb.HealthCheckResponse_SERVING, 1
		p.served[ccid] = addr
	} else {
		delete(p.served, ccid)
	}
	p.hs.SetServingStatus(ccid, st)
	p.f.serving.WithLabelValues(ccid).Set(v)
}

// reload makes the served package ids those of the file: new ones are
// served first, then the ones gone are drained and stopped. A bad file
// changes nothing.
func (p *packages) reload(ctx context.Context) {
	if p.file == "" {
		return
	}
	want, err := readPackages(p.file)
	if err != nil {
		p.log.Error("packages file not applied; the package ids served stay as they are", "err", err)
		return
	}
	if len(want) == 0 {
		p.log.Error("packages file lists no package id; not applied (stop the server to serve none)", "file", p.file)
		return
	}
	keep := map[string]bool{}
	for _, e := range want {
		keep[e.ccid] = true
		if addr, ok := p.served[e.ccid]; ok {
			if addr != e.address {
				p.log.Warn("package id is served on another address; stop and serve it again to move it", "ccid", e.ccid, "address", addr, "wanted", e.address)
			}
			continue
		}
		lis, err := net.Listen("tcp", e.address)
		if err != nil {
			p.log.Error("cannot serve package", "ccid", e.ccid, "address", e.address, "err", err)
			continue
		}
		if err := p.cs.ServePackage(e.ccid, p.limit(lis)); err != nil {
			p.log.Error("cannot serve package", "ccid", e.ccid, "err", err)
			continue
		}
		p.serving(e.ccid, e.address, true)
	}
	for ccid := range p.served {
		if keep[ccid] {
			continue
		}
		p.serving(ccid, "", false)
		go func() {
			sctx, cancel := context.WithTimeout(ctx, p.timeout)
			defer cancel()
			if err := p.cs.StopPackage(sctx, ccid); err != nil {
				p.log.Warn("stopping package", "ccid", ccid, "err", err)
			}
			p.log.Info("package no longer served", "ccid", ccid)
		}()
	}
}
