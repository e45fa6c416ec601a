package serve

import (
	"context"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// connectMethod is the peer stream's full gRPC method name.
const connectMethod = "/protos.Chaincode/Connect"

// drainGate makes sure the results of the last transactions of a drain
// reach the peer. shim.ChaincodeServer.Shutdown closes every connection
// (grpc Server.Stop) as soon as no transaction is left, and Stop drops
// frames grpc has queued but not yet written, so a reply sent a moment
// before could be lost. The gate holds the last transaction's completion
// until the peer streams have ended the graceful way (their handlers
// return, grpc writes what it queued, then closes the connection), bounded
// by the shutdown deadline.
//
// It also ends the streams when the deadline passes: grpc's GracefulStop
// waits for every handler, and a transaction that never returns would
// otherwise keep the process alive.
//
// It sits on the shim's public hooks only: a stream interceptor on
// Connect, a stats handler counting connections, and the Observer.
type drainGate struct {
	inFlight atomic.Int64
	draining atomic.Bool

	mu       sync.Mutex
	deadline context.Context
	release  chan struct{} // closed when peer streams may end
	expired  chan struct{} // closed when the drain deadline passes
	conns    int
	noConns  chan struct{} // closed while conns == 0
}

func newDrainGate() *drainGate {
	g := &drainGate{release: make(chan struct{}), expired: make(chan struct{}), noConns: make(chan struct{}), deadline: context.Background()}
	close(g.noConns)
	return g
}

// begin starts a drain that ends no later than ctx.
func (g *drainGate) begin(ctx context.Context) {
	g.mu.Lock()
	g.deadline = ctx
	g.mu.Unlock()
	g.draining.Store(true)
	go func() {
		<-ctx.Done()
		close(g.expired)
	}()
}

func (g *drainGate) txStarted() { g.inFlight.Add(1) }

// txFinished runs after the transaction's reply was queued and before the
// shim counts it done; on the last transaction of a drain it lets the
// peer streams end and waits for their connections to close.
func (g *drainGate) txFinished() {
	if g.inFlight.Add(-1) != 0 || !g.draining.Load() {
		return
	}
	g.mu.Lock()
	select {
	case <-g.release:
	default:
		close(g.release)
	}
	deadline, noConns := g.deadline, g.noConns
	g.mu.Unlock()
	select {
	case <-noConns:
	case <-deadline.Done():
	}
}

// interceptor ends a Connect stream as soon as the gate releases it, so
// grpc writes what the stream queued and closes the connection the
// graceful way. The shim's handler keeps running until the connections
// are gone: its receive error is held back (gatedStream), because the
// shim closes every connection at once when a handler ends.
func (g *drainGate) interceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if info.FullMethod != connectMethod {
		return handler(srv, ss)
	}
	done := make(chan error, 1)
	go func() { done <- handler(srv, gatedStream{ss, g}) }()
	select {
	case err := <-done:
		return err
	case <-g.release:
		return nil
	case <-g.expired:
		// A transaction that outlives the deadline must not keep grpc's
		// GracefulStop waiting for this handler forever.
		return status.Error(codes.Unavailable, "chaincode server shut down")
	}
}

// stats.Handler: count connections.

func (g *drainGate) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (g *drainGate) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (g *drainGate) HandleRPC(context.Context, stats.RPCStats)                         {}

func (g *drainGate) HandleConn(_ context.Context, s stats.ConnStats) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch s.(type) {
	case *stats.ConnBegin:
		if g.conns == 0 {
			g.noConns = make(chan struct{})
		}
		g.conns++
	case *stats.ConnEnd:
		g.conns--
		if g.conns == 0 {
			close(g.noConns)
		}
	}
}

func (g *drainGate) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainStreamInterceptor(g.interceptor), grpc.StatsHandler(g)}
}

// gatedStream holds back a receive error that follows a release until the
// connections have closed or the drain deadline passed.
type gatedStream struct {
	grpc.ServerStream
	g *drainGate
}

func (s gatedStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		return nil
	}
	s.g.mu.Lock()
	release, deadline, noConns := s.g.release, s.g.deadline, s.g.noConns
	s.g.mu.Unlock()
	select {
	case <-release:
		select {
		case <-noConns:
		case <-deadline.Done():
		}
	default:
	}
	return err
}
