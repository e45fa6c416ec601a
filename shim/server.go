package shim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/ccserver/ccserver/shim/internal/engine"
	"github.com/ccserver/ccserver/tlsconfig"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Message size limits, matching the peer's.
const maxMessageSize = 100 * 1024 * 1024

// Keepalive defaults. The peer pings every 60 s of inactivity, so the
// server must accept pings at that rate: grpc-go's default minimum of 5
// minutes answers an idle peer with GOAWAY "too_many_pings".
var (
	defaultKeepalive = keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}
	defaultKaPolicy  = keepalive.EnforcementPolicy{MinTime: 20 * time.Second, PermitWithoutStream: true}
)

// ChaincodeServer serves chaincode to peers that dial it ("chaincode as a
// service"). The first five fields are those of the original shim; the
// rest are additions with safe zero values.
type ChaincodeServer struct {
	// CCID is the package id the peer installed (label:hash); the server
	// registers with it on every stream.
	CCID string
	// Address is the listen address, e.g. "0.0.0.0:9999".
	Address string
	// CC is the chaincode.
	CC Chaincode
	// TLSProps configures TLS; the zero value means TLS on.
	TLSProps TLSProperties
	// TLSSpec, if set, configures TLS instead of TLSProps (leave that
	// zero): the declarative spec a command line fills in directly.
	TLSSpec *tlsconfig.ServerSpec
	// KaOpts overrides the server keepalive parameters (ping after 1 min
	// idle, 20 s timeout).
	KaOpts *keepalive.ServerParameters

	// KaPolicy overrides the keepalive enforcement policy (accept pings
	// every 20 s or slower, also without active calls).
	KaPolicy *keepalive.EnforcementPolicy
	// Logger receives connection and failure logs; nil logs nothing.
	Logger *slog.Logger
	// MaxConcurrentTx bounds transactions executing at once per peer
	// stream (default 256); more wait in a bounded queue, then are refused.
	MaxConcurrentTx int
	// Observer hears about streams and transactions (metrics).
	Observer Observer
	// ServerOptions are added to the gRPC server's options.
	ServerOptions []grpc.ServerOption
	// RegisterServices registers further services (for example the gRPC
	// health service) on the chaincode port.
	RegisterServices func(grpc.ServiceRegistrar)
	// WrapCredentials, if set, wraps the transport credentials the server
	// builds (TLS or plaintext), so a serving layer can observe handshakes
	// and connections that fail before any stream.
	WrapCredentials func(credentials.TransportCredentials) credentials.TransportCredentials

	mu        sync.Mutex
	srv       *grpc.Server
	lis       net.Listener
	engines   map[*engine.Engine]*peerStream
	packages  map[string]*packageListener // ServePackage's, by package id
	mainLis   *packageListener            // Serve's, for CCID
	tls       *tlsconfig.Server           // nil for plaintext
	tlsReady  bool
	stopping  bool
	serveDone chan struct{}
	closing   chan struct{} // closed to end every stream (Shutdown, Stop)
}

func (cs *ChaincodeServer) validate() error {
	switch {
	case cs.CCID == "":
		return errors.New("ccid must be specified")
	case cs.Address == "" && cs.lis == nil:
		return errors.New("address must be specified")
	case cs.CC == nil:
		return errors.New("chaincode must be specified")
	}
	return nil
}

func (cs *ChaincodeServer) logger() *slog.Logger {
	if cs.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return cs.Logger
}

// Connect serves one peer stream; gRPC calls it for /protos.Chaincode/Connect.
func (cs *ChaincodeServer) Connect(stream peer.Chaincode_ConnectServer) error {
	who := describePeer(stream.Context())
	st := newPeerStream(stream.Context(), cs.CCID)
	cs.mu.Lock()
	t := cs.tls
	cs.mu.Unlock()
	info := StreamInfo{Peer: who, CCID: st.ccid}
	if t != nil && st.tls != nil {
		info.PeerOrg, _ = t.PeerOrg(*st.tls)
	}
	guarded := &connectStream{Chaincode_ConnectServer: stream}
	h := newHandler(guarded, cs.CC, runOptions{
		ccid:            st.ccid,
		logger:          cs.Logger,
		observer:        cs.Observer,
		maxConcurrentTx: cs.MaxConcurrentTx,
		peer:            who,
		peerOrg:         info.PeerOrg,
		frames:          true,
	})
	cs.mu.Lock()
	if cs.stopping {
		cs.mu.Unlock()
		return errors.New("chaincode server is shutting down")
	}
	if cs.engines == nil {
		cs.engines = make(map[*engine.Engine]*peerStream)
	}
	cs.engines[h.eng] = st
	closing := cs.closingLocked()
	cs.mu.Unlock()

	log := cs.logger()
	log.Info("peer connected", "peer", who, "ccid", st.ccid, "org", info.PeerOrg)
	so, _ := cs.Observer.(StreamObserver)
	switch {
	case so != nil:
		so.PeerStreamStarted(info)
	case cs.Observer != nil:
		cs.Observer.StreamStarted(who)
	}
	// Run blocks in Recv, which only the end of this handler interrupts:
	// it runs beside the handler so Shutdown can end a drained stream (or
	// abandon a stuck one) by closing closing.
	ran := make(chan error, 1)
	go func() { ran <- h.eng.Run() }()
	var err error
	select {
	case err = <-ran:
	case <-closing:
		// Returning ends the RPC after the replies already sent are
		// flushed; Run then ends on its failed Recv.
	case <-st.end:
		err = st.endErr
	}
	guarded.close()
	cs.mu.Lock()
	delete(cs.engines, h.eng)
	cs.mu.Unlock()
	switch {
	case so != nil:
		so.PeerStreamEnded(info, err)
	case cs.Observer != nil:
		cs.Observer.StreamEnded(who, err)
	}
	if err != nil {
		log.Info("peer disconnected", "peer", who, "ccid", st.ccid, "err", err)
	} else {
		log.Info("peer disconnected", "peer", who, "ccid", st.ccid)
	}
	return err
}

// The peer dials and the chaincode speaks first: REGISTER carries the
// package id, and nothing the peer sends before names the package it
// launched. So a server of several package ids tells them apart by the
// listener a connection arrived on (one address per package id, the
// address in that package's connection.json): packageListener tags each
// connection's local address with its package id, which Connect reads
// from the gRPC peer.
type packageListener struct {
	net.Listener
	ccid    string
	stopped chan struct{} // closed by StopPackage
	closed  chan struct{} // closed by Close (gRPC stopping)
	once    sync.Once
	stop    sync.Once
}

func newPackageListener(lis net.Listener, ccid string) *packageListener {
	return &packageListener{Listener: lis, ccid: ccid, stopped: make(chan struct{}), closed: make(chan struct{})}
}

// Accept tags the connection. Once StopPackage closed the socket it
// blocks until gRPC closes the listener, so that gRPC's Serve does not
// take the stopped package for a failure of the whole server.
func (l *packageListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		select {
		case <-l.stopped:
			<-l.closed
		default:
		}
		return nil, err
	}
	return packageConn{Conn: c, local: packageAddr{Addr: c.LocalAddr(), ccid: l.ccid}}, nil
}

func (l *packageListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// stopAccepting closes the socket for StopPackage.
func (l *packageListener) stopAccepting() error {
	var err error
	l.stop.Do(func() { close(l.stopped); err = l.Listener.Close() })
	return err
}

type packageConn struct {
	net.Conn
	local net.Addr
}

func (c packageConn) LocalAddr() net.Addr { return c.local }

// packageAddr is a local address that knows its package id.
type packageAddr struct {
	net.Addr
	ccid string
}

// ServePackage serves a further package id on lis, beside the one Serve
// serves, with the same chaincode, TLS and limits: peers that dial lis
// get streams registered as ccid. Serve must be running (it builds the
// gRPC server); ServePackage returns once lis accepts connections, and
// lis is served until StopPackage or the server stops. A package id is
// served on one listener at a time.
//
// This is how a channel moves from one package to the next without a
// restart: serve the new package id before the definition that names it
// is committed, stop the old one after.
func (cs *ChaincodeServer) ServePackage(ccid string, lis net.Listener) error {
	if ccid == "" {
		lis.Close()
		return errors.New("ServePackage: ccid must be specified")
	}
	cs.mu.Lock()
	srv := cs.srv
	if srv == nil || cs.stopping {
		cs.mu.Unlock()
		lis.Close()
		return errors.New("ServePackage: the server is not serving; call Serve first")
	}
	if _, dup := cs.packages[ccid]; dup || ccid == cs.CCID && cs.packages[ccid] == nil && cs.mainServed() {
		cs.mu.Unlock()
		lis.Close()
		return fmt.Errorf("ServePackage: package id %s is served already", ccid)
	}
	pl := newPackageListener(lis, ccid)
	if cs.packages == nil {
		cs.packages = map[string]*packageListener{}
	}
	cs.packages[ccid] = pl
	cs.mu.Unlock()
	cs.logger().Info("serving package", "ccid", ccid, "address", lis.Addr().String())
	go func() {
		if err := srv.Serve(pl); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			select {
			case <-pl.stopped:
			default:
				cs.logger().Error("listener of package failed", "ccid", ccid, "err", err)
			}
		}
	}()
	return nil
}

// mainServed reports whether Serve's listener for CCID is still open;
// cs.mu held.
func (cs *ChaincodeServer) mainServed() bool {
	return cs.mainLis != nil && !cs.mainLis.isStopped()
}

func (l *packageListener) isStopped() bool {
	select {
	case <-l.stopped:
		return true
	default:
		return false
	}
}

// StopPackage stops serving ccid: its listener stops accepting at once,
// its streams refuse new transactions and finish those in flight until
// ctx ends, then end. Other package ids are untouched. Stop a package
// only after no channel definition names it any more: a peer that still
// sends it transactions gets them refused.
func (cs *ChaincodeServer) StopPackage(ctx context.Context, ccid string) error {
	cs.mu.Lock()
	pl := cs.packages[ccid]
	delete(cs.packages, ccid)
	if pl == nil && ccid == cs.CCID && cs.mainServed() {
		pl = cs.mainLis
	}
	var streams []*engine.Engine
	var states []*peerStream
	for e, st := range cs.engines {
		if st.ccid == ccid {
			streams, states = append(streams, e), append(states, st)
		}
	}
	cs.mu.Unlock()
	if pl == nil {
		return fmt.Errorf("StopPackage: package id %s is not served", ccid)
	}
	_ = pl.stopAccepting()
	cs.logger().Info("stopped serving package; draining its streams", "ccid", ccid, "streams", len(streams))
	errs := make(chan error, len(streams))
	for i, e := range streams {
		go func() {
			err := e.DrainBecause(ctx, "package id "+ccid+" is no longer served by this chaincode server")
			states[i].finish(status.Error(codes.Unavailable, "package id "+ccid+" is no longer served"))
			errs <- err
		}()
	}
	var first error
	for range streams {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// connectStream refuses sends once the Connect handler has returned:
// gRPC forbids using a server stream after its handler is done.
type connectStream struct {
	peer.Chaincode_ConnectServer
	mu     sync.Mutex
	closed bool
}

var errStreamEnded = errors.New("chaincode stream ended by the server")

func (s *connectStream) Send(m *peer.ChaincodeMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStreamEnded
	}
	return s.Chaincode_ConnectServer.Send(m)
}

// SendMsg is Send for the engine's encoded frames, with the same guard.
func (s *connectStream) SendMsg(m any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStreamEnded
	}
	return s.Chaincode_ConnectServer.SendMsg(m)
}

func (s *connectStream) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// closingLocked returns the channel closed to end every stream; cs.mu held.
func (cs *ChaincodeServer) closingLocked() chan struct{} {
	if cs.closing == nil {
		cs.closing = make(chan struct{})
	}
	return cs.closing
}

// closeStreams makes every Connect handler return.
func (cs *ChaincodeServer) closeStreams() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.closingLocked()
	select {
	case <-c:
	default:
		close(c)
	}
}

// describePeer names the remote end: its address and, over mTLS, the
// subject of its certificate.
func describePeer(ctx context.Context) string {
	p, ok := grpcpeer.FromContext(ctx)
	if !ok {
		return "unknown"
	}
	s := p.Addr.String()
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
		s += " (" + ti.State.PeerCertificates[0].Subject.String() + ")"
	}
	return s
}

// Start listens on Address and serves until Shutdown, Stop or a fatal error.
func (cs *ChaincodeServer) Start() error {
	if err := cs.validate(); err != nil {
		return err
	}
	// Check TLS before binding the port so a bad setting never half-starts.
	if err := cs.prepareTLS(); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cs.Address)
	if err != nil {
		cs.closeTLS()
		return fmt.Errorf("listen on %s: %w", cs.Address, err)
	}
	return cs.Serve(lis)
}

// Serve serves on lis, which it closes when done. Use it when the caller
// binds the port itself (tests, socket activation).
func (cs *ChaincodeServer) Serve(lis net.Listener) error {
	cs.mu.Lock()
	cs.lis = lis
	cs.mu.Unlock()
	if err := cs.validate(); err != nil {
		lis.Close()
		return err
	}
	if err := cs.prepareTLS(); err != nil {
		lis.Close()
		return err
	}
	ka := defaultKeepalive
	if cs.KaOpts != nil {
		ka = *cs.KaOpts
	}
	policy := defaultKaPolicy
	if cs.KaPolicy != nil {
		policy = *cs.KaPolicy
	}
	opts := []grpc.ServerOption{
		grpc.KeepaliveParams(ka),
		grpc.KeepaliveEnforcementPolicy(policy),
		grpc.MaxRecvMsgSize(maxMessageSize),
		grpc.MaxSendMsgSize(maxMessageSize),
		grpc.ConnectionTimeout(5 * time.Second),
		// ChaincodeMessage without reflection (engine.Codec); this
		// server only, other gRPC servers keep the default codec.
		grpc.ForceServerCodecV2(engine.NewCodec()),
	}
	creds := insecure.NewCredentials()
	if cs.tls != nil {
		creds = credentials.NewTLS(cs.tls.Config())
	}
	if cs.WrapCredentials != nil {
		creds = cs.WrapCredentials(creds)
	}
	opts = append(opts, grpc.Creds(creds))
	opts = append(opts, cs.ServerOptions...)
	srv := grpc.NewServer(opts...)
	peer.RegisterChaincodeServer(srv, cs)
	if cs.RegisterServices != nil {
		cs.RegisterServices(srv)
	}
	main := newPackageListener(lis, cs.CCID)
	cs.mu.Lock()
	if cs.stopping {
		cs.mu.Unlock()
		lis.Close()
		cs.closeTLS()
		return nil
	}
	cs.srv = srv
	cs.mainLis = main
	cs.serveDone = make(chan struct{})
	done := cs.serveDone
	cs.mu.Unlock()
	cs.logger().Info("chaincode server listening", "address", lis.Addr().String(), "ccid", cs.CCID, "tls", cs.tls != nil)
	err := srv.Serve(main)
	close(done)
	cs.closeTLS()
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Addr returns the address the server listens on, once serving.
func (cs *ChaincodeServer) Addr() net.Addr {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.lis == nil {
		return nil
	}
	return cs.lis.Addr()
}

// Shutdown stops accepting connections and transactions, lets transactions
// in flight finish until ctx ends, then ends every stream cleanly, after
// the last reply has been sent. Peers see new transactions refused with
// ERROR while draining. If ctx ends first, the remaining streams are cut
// and Shutdown returns ctx.Err(); a transaction stuck in chaincode code
// keeps its goroutine, but no longer holds the server.
func (cs *ChaincodeServer) Shutdown(ctx context.Context) error {
	cs.mu.Lock()
	cs.stopping = true
	srv, done := cs.srv, cs.serveDone
	engines := make([]*engine.Engine, 0, len(cs.engines))
	for e := range cs.engines {
		engines = append(engines, e)
	}
	cs.mu.Unlock()
	if srv == nil {
		return nil
	}
	// GracefulStop closes the listeners at once, then waits for the
	// handlers, which return once closing is closed below.
	graceful := make(chan struct{})
	go func() { srv.GracefulStop(); close(graceful) }()

	errs := make(chan error, len(engines))
	for _, e := range engines {
		go func() { errs <- e.Drain(ctx) }()
	}
	var drainErr error
	for range engines {
		if err := <-errs; err != nil {
			drainErr = err
		}
	}
	cs.closeStreams()
	select {
	case <-graceful:
	case <-ctx.Done():
		srv.Stop()
		<-graceful
		if drainErr == nil {
			drainErr = ctx.Err()
		}
	}
	<-done
	if drainErr != nil {
		cs.logger().Warn("shutdown deadline passed before every transaction finished", "err", drainErr)
	}
	return drainErr
}

// Stop closes every stream at once; transactions in flight fail.
func (cs *ChaincodeServer) Stop() {
	cs.mu.Lock()
	cs.stopping = true
	srv := cs.srv
	cs.mu.Unlock()
	cs.closeStreams()
	if srv != nil {
		srv.Stop()
	}
}

// ReloadTLS re-reads file-based TLS material now (for SIGHUP). The last
// good material stays in use if the files are bad.
func (cs *ChaincodeServer) ReloadTLS() error {
	cs.mu.Lock()
	t := cs.tls
	cs.mu.Unlock()
	if t == nil {
		return nil
	}
	return t.Reload()
}

// revokedIdleWait bounds how long a revoked peer's stream may keep running
// its transactions in flight before it is closed anyway.
const revokedIdleWait = time.Minute

// peerStream is what the server keeps about one peer stream besides its engine.
type peerStream struct {
	tls    *tls.ConnectionState // nil for plaintext
	ccid   string               // the package id it registers with
	end    chan struct{}        // closed to end this stream alone
	endErr error                // what Connect returns then
	once   sync.Once
}

// newPeerStream reads the stream's TLS state and its package id (from
// the listener it arrived on, else ccid).
func newPeerStream(ctx context.Context, ccid string) *peerStream {
	s := &peerStream{end: make(chan struct{}), ccid: ccid}
	if p, ok := grpcpeer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			state := ti.State
			s.tls = &state
		}
		if a, ok := p.LocalAddr.(packageAddr); ok {
			s.ccid = a.ccid
		}
	}
	return s
}

// finish ends the stream alone with err.
func (s *peerStream) finish(err error) {
	s.once.Do(func() { s.endErr = err; close(s.end) })
}

// closeRevokedStreams re-checks every open stream against the current
// client CA bundle and CRL. A stream whose peer no longer passes stops
// taking transactions at once, finishes those in flight (up to
// revokedIdleWait) and is then closed, so the peer must reconnect and is
// refused at the handshake. Breaking it at once would fail the
// transactions in flight.
func (cs *ChaincodeServer) closeRevokedStreams() {
	cs.mu.Lock()
	t := cs.tls
	type open struct {
		e  *engine.Engine
		st *peerStream
	}
	var streams []open
	for e, st := range cs.engines {
		if st.tls != nil {
			streams = append(streams, open{e, st})
		}
	}
	cs.mu.Unlock()
	if t == nil {
		return
	}
	for _, o := range streams {
		err := t.CheckConnection(*o.st.tls)
		if err == nil {
			continue
		}
		cs.logger().Warn("closing the stream of a peer that no longer passes the revocation or trust check, once its transactions finish",
			"peer", describeState(o.st.tls), "err", err)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), revokedIdleWait)
			defer cancel()
			_ = o.e.DrainBecause(ctx, "the peer's certificate no longer passes the revocation or trust check; this stream closes once its transactions finish")
			o.st.finish(status.Error(codes.PermissionDenied, "the peer's certificate no longer passes the revocation or trust check; reconnect"))
		}()
	}
}

func describeState(s *tls.ConnectionState) string {
	if len(s.PeerCertificates) == 0 {
		return "unknown"
	}
	return s.PeerCertificates[0].Subject.String()
}
