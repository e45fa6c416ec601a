package serve

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccserver/ccserver/tlsconfig"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Defaults of the ceilings on what connected clients can make the server
// hold (docs/operations.md, "Limits and hardening"). A Fabric peer opens
// one connection per chaincode and one Connect stream on it, and sends
// messages of up to 100 MiB, so the defaults keep that working.
const (
	defaultMaxConnections    = 32
	defaultMaxStreamsPerConn = 2 // the peer's Connect, and room for a health check
	defaultMaxMessageSize    = 100 << 20
	// memLimitShare is the part of a container's memory limit given to
	// GOMEMLIMIT; the rest is for what the Go runtime does not account
	// (thread stacks, cgo, the page cache of our own files).
	memLimitShare = 0.9
)

// limitFlags are the resource ceilings' flags.
type limitFlags struct {
	maxConnections, maxStreams, maxMessageSize int
	logSampleInterval                          time.Duration
	logSampleBurst                             int
}

func (l *limitFlags) register(fs *pflag.FlagSet) {
	fs.IntVar(&l.maxConnections, "max-connections", defaultMaxConnections, "connections open at once, TLS handshakes included; more are closed at accept (counted in ccserver_connections_dropped_total)")
	fs.IntVar(&l.maxStreams, "max-streams-per-connection", defaultMaxStreamsPerConn, "concurrent gRPC streams per connection (a peer opens one Connect stream per connection)")
	fs.IntVar(&l.maxMessageSize, "max-message-size", defaultMaxMessageSize, "largest message received, in bytes (the peer's own limit is 100 MiB)")
	fs.DurationVar(&l.logSampleInterval, "log-sample-interval", 10*time.Second, "repeated log lines of one kind (message and reason) are sampled per this interval; 0 logs every line (--log-level debug does too)")
	fs.IntVar(&l.logSampleBurst, "log-sample-burst", 5, "lines of one kind logged per --log-sample-interval before the rest are counted in one summary line")
}

// limits are the validated ceilings.
type limits struct {
	maxConnections, maxStreams, maxMessageSize int
	logSampleInterval                          time.Duration
	logSampleBurst                             int
}

func (l limitFlags) resolve() (limits, error) {
	switch {
	case l.maxConnections < 1:
		return limits{}, usagef("--max-connections %d: give at least 1 (each peer needs one connection per chaincode)", l.maxConnections)
	case l.maxStreams < 1:
		return limits{}, usagef("--max-streams-per-connection %d: give at least 1 (a peer opens one Connect stream per connection)", l.maxStreams)
	case l.maxMessageSize < 4<<20:
		return limits{}, usagef("--max-message-size %d: give at least 4194304 (4 MiB); a Fabric peer sends messages of up to 104857600 (100 MiB)", l.maxMessageSize)
	case l.logSampleInterval < 0:
		return limits{}, usagef("--log-sample-interval %s is negative: give 0 to log every line", l.logSampleInterval)
	case l.logSampleBurst < 1:
		return limits{}, usagef("--log-sample-burst %d: give at least 1", l.logSampleBurst)
	}
	return limits(l), nil
}

// serverOptions are the gRPC options that enforce the ceilings.
func (l limits) serverOptions(m *metrics, log *slog.Logger, ret *memReturn) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxConcurrentStreams(uint32(l.maxStreams)),
		grpc.MaxRecvMsgSize(l.maxMessageSize),
		grpc.ChainStreamInterceptor(messageSizeObserver(m, log, ret)),
	}
}

// Reasons a connection or stream was dropped before any transaction,
// the values of ccserver_connections_dropped_total's reason label.
const (
	dropConnectionLimit = "connection-limit"
	dropHandshakeTime   = "handshake-timeout"
	dropNoALPN          = "no-alpn"
	dropHandshakeError  = "handshake-error" // not TLS, wrong version, closed mid-handshake
	dropTooManyPings    = "too-many-pings"
	dropMessageTooLarge = "message-too-large"
)

// connDrops counts and logs (at debug, with the remote address) every
// connection the server drops without a transaction, so none is silent.
type connDrops struct {
	m   *metrics
	log *slog.Logger
}

func (d connDrops) drop(reason string, remote net.Addr, err error) {
	d.m.connDrops.WithLabelValues(reason).Inc()
	attrs := []any{"reason", reason, "remote", addrString(remote)}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	d.log.Debug("connection dropped", attrs...)
}

// limitListener closes connections beyond max at accept: a client
// holding connections open without completing a handshake ends up at the
// handshake timeout, and the server's memory for connections stays bounded.
type limitListener struct {
	net.Listener
	max int64
	// open counts connections across every listener of the process (the
	// main address and each package's), so the ceiling is one number.
	open  *atomic.Int64
	drops connDrops
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			l.drops.drop(dropConnectionLimit, c.RemoteAddr(), nil)
			c.Close()
			continue
		}
		l.drops.m.connections.Inc()
		return &countedConn{Conn: c, l: l}, nil
	}
}

type countedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1); c.l.drops.m.connections.Dec() })
	return c.Conn.Close()
}

// observedCreds wraps the server's transport credentials to count the
// handshakes that fail before tlsconfig's checks run (timeouts, clients
// without ALPN h2, non-TLS clients; tlsconfig reports its own refusals),
// and to watch the connection for the GOAWAY that ends a client pinging
// too often.
type observedCreds struct {
	credentials.TransportCredentials
	drops connDrops
}

func (c observedCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		if reason := handshakeDropReason(err); reason != "" {
			c.drops.drop(reason, raw.RemoteAddr(), err)
		}
		return nil, nil, err
	}
	return &goawayWatch{Conn: conn, drops: c.drops}, info, nil
}

func (c observedCreds) Clone() credentials.TransportCredentials {
	return observedCreds{TransportCredentials: c.TransportCredentials.Clone(), drops: c.drops}
}

// handshakeDropReason classifies a failed handshake, or "" for one that
// tlsconfig refused (it counts those by its own reasons).
func handshakeDropReason(err error) string {
	var ne net.Error
	switch {
	case isTLSConfigRefusal(err):
		return ""
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return dropHandshakeTime
	case strings.Contains(err.Error(), "ALPN"), strings.Contains(err.Error(), "no application protocol"),
		// crypto/tls, for a client that offers ALPN but not h2
		strings.Contains(err.Error(), "unsupported application protocols"):
		return dropNoALPN
	}
	return dropHandshakeError
}

// goawayWatch follows the HTTP/2 frames the server writes on a connection
// (9-byte headers, then payload) and counts a GOAWAY whose debug data is
// grpc-go's "too_many_pings": the one keepalive refusal grpc does not
// report. It reads headers only; payloads pass untouched.
type goawayWatch struct {
	net.Conn
	drops connDrops
	mu    sync.Mutex
	hdr   [9]byte
	nhdr  int
	skip  int    // payload bytes of the current frame still to pass
	gway  []byte // payload of a GOAWAY being collected
	want  int    // its length
	seen  bool   // counted once per connection
}

// maxGoawayPayload bounds what is collected of a GOAWAY frame.
const maxGoawayPayload = 256

func (w *goawayWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.scan(p)
	w.mu.Unlock()
	return w.Conn.Write(p)
}

func (w *goawayWatch) scan(p []byte) {
	for len(p) > 0 && !w.seen {
		switch {
		case w.skip > 0:
			n := min(w.skip, len(p))
			if w.want > 0 && len(w.gway) < w.want {
				w.gway = append(w.gway, p[:min(n, w.want-len(w.gway))]...)
			}
			w.skip -= n
			p = p[n:]
			if w.skip == 0 && w.want > 0 {
				w.goaway()
			}
		default:
			n := copy(w.hdr[w.nhdr:], p)
			w.nhdr += n
			p = p[n:]
			if w.nhdr < 9 {
				return
			}
			w.nhdr = 0
			length := int(w.hdr[0])<<16 | int(w.hdr[1])<<8 | int(w.hdr[2])
			w.skip, w.want, w.gway = length, 0, w.gway[:0]
			if w.hdr[3] == 0x7 { // GOAWAY
				w.want = min(length, maxGoawayPayload)
			}
			if length == 0 && w.want > 0 {
				w.goaway()
			}
		}
	}
}

func (w *goawayWatch) goaway() {
	w.want = 0
	if len(w.gway) < 8 {
		return
	}
	code := binary.BigEndian.Uint32(w.gway[4:8])
	if code == 0xb && strings.Contains(string(w.gway[8:]), "too_many_pings") { // ENHANCE_YOUR_CALM
		w.seen = true
		w.drops.drop(dropTooManyPings, w.Conn.RemoteAddr(), nil)
	}
}

// messageSizeObserver counts a stream whose peer sent a message above
// --max-message-size (gRPC refuses it with ResourceExhausted), and tells
// ret about large messages.
func messageSizeObserver(m *metrics, log *slog.Logger, ret *memReturn) grpc.StreamServerInterceptor {
	drops := connDrops{m: m, log: log}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		err := handler(srv, &sizeWatchStream{ServerStream: ss, drops: drops, ret: ret})
		ret.touch(0) // a stream that ended may have held large messages
		return err
	}
}

type sizeWatchStream struct {
	grpc.ServerStream
	drops connDrops
	ret   *memReturn
	once  sync.Once
}

func (s *sizeWatchStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err != nil && status.Code(err) == codes.ResourceExhausted {
		s.once.Do(func() { s.drops.drop(dropMessageTooLarge, remoteOf(s.Context()), err) })
	}
	if cm, ok := m.(*peer.ChaincodeMessage); ok && err == nil {
		s.ret.touch(len(cm.Payload))
	}
	return err
}

// largeMessage is the size from which a message's memory is worth
// handing back to the kernel once the burst it came in is over.
const largeMessage = 8 << 20

// memReturn hands the memory of large messages back to the kernel once
// no large message arrived for quiet: an idle server allocates nothing,
// so without this the garbage collector may not run for minutes and the
// runtime keeps the pages (the RSS a burst of 100 MiB messages leaves).
type memReturn struct {
	quiet   time.Duration
	log     *slog.Logger
	mu      sync.Mutex
	pending bool
	timer   *time.Timer
}

func newMemReturn(quiet time.Duration, log *slog.Logger) *memReturn {
	return &memReturn{quiet: quiet, log: log}
}

// touch records a message of n bytes (0: a stream ended).
func (r *memReturn) touch(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n >= largeMessage {
		r.pending = true
	}
	if !r.pending {
		return
	}
	if r.timer == nil {
		r.timer = time.AfterFunc(r.quiet, r.fire)
		return
	}
	r.timer.Reset(r.quiet)
}

func (r *memReturn) fire() {
	r.mu.Lock()
	r.pending = false
	r.mu.Unlock()
	debug.FreeOSMemory()
	r.log.Debug("returned the memory of large messages to the system")
}

func (r *memReturn) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
	}
}

// memLimitFromCgroup sets GOMEMLIMIT to a share of the container's
// memory limit when GOMEMLIMIT is unset, so the garbage collector works
// harder before the kernel's OOM killer would, and returns memory after a
// burst of large messages. It returns what it did, for the log.
func memLimitFromCgroup(lookup func(string) (string, bool), root string) (limit int64, source string, err error) {
	if v, ok := lookup("GOMEMLIMIT"); ok && v != "" {
		return 0, "GOMEMLIMIT=" + v, nil
	}
	for _, f := range []string{"sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		path := filepath.Join(root, f)
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, path + " (no limit)", nil
		}
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil {
			return 0, path, fmt.Errorf("read container memory limit %s: %w", path, perr)
		}
		// cgroup v1 reports "no limit" as a huge page-rounded number.
		if n <= 0 || n >= 1<<62 {
			return 0, path + " (no limit)", nil
		}
		limit = int64(float64(n) * memLimitShare)
		debug.SetMemoryLimit(limit)
		return limit, path, nil
	}
	return 0, "", nil
}

// isTLSConfigRefusal reports a handshake tlsconfig refused and counted.
func isTLSConfigRefusal(err error) bool {
	var he *tlsconfig.HandshakeError
	return errors.As(err, &he)
}

func remoteOf(ctx context.Context) net.Addr {
	if p, ok := grpcpeer.FromContext(ctx); ok {
		return p.Addr
	}
	return nil
}
