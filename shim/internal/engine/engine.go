// Package engine is the chaincode side of the Fabric chaincode protocol on
// one stream: the REGISTER/REGISTERED/READY handshake, routing of the peer's
// replies to the transaction that asked, bounded execution of INIT and
// TRANSACTION messages, and the send path.
//
// It is built for a busy stream: one receive loop that never spawns a
// goroutine per message, replies handed to the waiting transaction through a
// one-slot buffered channel found by a struct-keyed map lookup, transaction
// workers that are reused while work is queued, and a stream-wide "done"
// channel that releases every waiter at once when the stream dies.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Stream is one bidirectional chaincode stream. Send is never called
// concurrently by the engine; Recv is called only by Run.
type Stream interface {
	Send(*pb.ChaincodeMessage) error
	Recv() (*pb.ChaincodeMessage, error)
}

// Outcome is what a transaction handler decided. Failed outcomes are sent
// as ERROR with ErrText; the rest as COMPLETED carrying Response.
type Outcome struct {
	Response *pb.Response
	Event    *pb.ChaincodeEvent
	Failed   bool
	ErrText  string
}

// HandlerFunc runs one INIT or TRANSACTION. It is called on a worker
// goroutine; panics are recovered by the engine.
type HandlerFunc func(tx *Tx) Outcome

// Observer hears about streams and transactions, for logs and metrics.
// Methods are called synchronously and must be quick.
type Observer interface {
	TxStarted(tx *Tx)
	TxFinished(tx *Tx, o Outcome, d time.Duration)
}

// Params are the optional protocol features the peer enabled in READY.
type Params struct {
	UseWriteBatch       bool
	MaxSizeWriteBatch   uint32
	UseGetMultipleKeys  bool
	MaxSizeGetMultiKeys uint32
}

// minBatch is the floor the anchor applies to the peer's batch sizes.
const minBatch = 100

// Config configures an Engine. Handler and CCID are required.
type Config struct {
	CCID    string
	Handler HandlerFunc
	// MaxConcurrentTx bounds transactions executing at once on the stream
	// (default 256). Further transactions wait in a queue of MaxQueuedTx
	// (default 4×MaxConcurrentTx); beyond that they are refused with ERROR.
	MaxConcurrentTx int
	MaxQueuedTx     int
	// CallTimeout bounds the wait for the peer's reply to one state call
	// (default 5 minutes, well past the peer's execute timeout).
	CallTimeout time.Duration
	Logger      *slog.Logger
	Observer    Observer
	// Peer describes the remote end in logs (address, certificate subject).
	Peer string
	// NewTx, if set, allocates the Tx of each INIT or TRANSACTION. It lets
	// the handler keep its own per-transaction state in the same block
	// (Tx.Ext), so that a transaction costs one allocation instead of
	// several. It must return a zero Tx.
	NewTx func() *Tx
	// Frames says the stream may be a gRPC stream whose codec is Codec:
	// once the first message received shows that Codec decoded it, the
	// engine sends Frames it encoded itself through SendMsg. A stream
	// whose server forced another codec (ServerOptions) gets messages: a
	// Frame refused by a gRPC stream would end it.
	Frames bool
}

// Errors a stub call can return; callers branch on them with errors.Is.
var (
	ErrStreamClosed = errors.New("chaincode stream closed")
	ErrCallTimeout  = errors.New("timed out waiting for the peer's reply")
	ErrDraining     = errors.New("chaincode server is shutting down")
	// ErrTxFinished is a state call made for a transaction whose Init or
	// Invoke has already returned (from a goroutine the chaincode left
	// running, or a stub it kept): the peer has closed that transaction.
	ErrTxFinished = errors.New("the transaction has already finished (Init or Invoke returned); a stub serves only its own transaction while it runs")
)

type txKey struct{ channel, txid string }

type state int32

const (
	stateCreated state = iota
	stateEstablished
	stateReady
)

// Engine runs the protocol on one stream. Create with New, run with Run.
type Engine struct {
	cfg    Config
	stream Stream
	log    *slog.Logger

	sendMu sync.Mutex

	state  atomic.Int32
	params Params // written once on READY, before any transaction starts

	mu       sync.Mutex
	txs      map[txKey]*Tx
	running  int // transactions executing
	parked   int // idle workers waiting on work
	queue    []*Tx
	draining bool
	drainWhy string        // the refusal text while draining
	idle     chan struct{} // closed and replaced as in-flight reaches zero while draining

	done    chan struct{} // closed when the stream has ended
	doneErr error
	// closed is set just before done is closed. A state call reads it
	// after announcing that it waits, and finish reads the waiting calls
	// after setting it, so a call either sees the stream closed or is
	// handed streamEnded: it waits on its reply channel alone, which is
	// cheaper than a select with done.
	closed  atomic.Bool
	workers sync.WaitGroup
	// work hands transactions to parked workers; its capacity is the
	// concurrency bound, so a send never blocks.
	work chan *Tx

	// Call deadlines are kept by one watcher per stream (watchCalls)
	// instead of a timer per call: epoch is the clock's origin, timedOut
	// the reply the watcher hands to a call past its deadline.
	epoch    time.Time
	timedOut *pb.ChaincodeMessage
	watch    *time.Timer
	// streamEnded is the reply finish hands to every waiting call, txDone
	// the one execute hands to a call still waiting when its transaction
	// has finished (the peer will not answer it).
	streamEnded, txDone *pb.ChaincodeMessage

	// receiver is the stream's RecvMsg when it has one (gRPC streams do):
	// replies are then decoded into recycled messages (spare), since a
	// reply is read by one state call and dropped. Other streams (an
	// in-memory pipe may keep what it passed) get a fresh message each.
	receiver interface{ RecvMsg(any) error }
	spare    sync.Pool
	in       Inbound // the receive target (Run's goroutine only)

	// sender is the stream's SendMsg when Config.Frames; framed is set
	// once the first message received came through Codec (probed).
	sender interface{ SendMsg(any) error }
	probed bool // Run's goroutine only
	framed atomic.Bool
}

// New makes an engine for stream.
func New(stream Stream, cfg Config) *Engine {
	if cfg.MaxConcurrentTx <= 0 {
		cfg.MaxConcurrentTx = 256
	}
	if cfg.MaxQueuedTx <= 0 {
		cfg.MaxQueuedTx = 4 * cfg.MaxConcurrentTx
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 5 * time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Peer != "" {
		log = log.With("peer", cfg.Peer)
	}
	e := &Engine{
		cfg:    cfg,
		stream: stream,
		log:    log,
		txs:    make(map[txKey]*Tx),
		done:   make(chan struct{}),
		work:   make(chan *Tx, cfg.MaxConcurrentTx),

		epoch:       time.Now(),
		timedOut:    &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_ERROR},
		streamEnded: &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_ERROR},
		txDone:      &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_ERROR},
	}
	e.receiver, _ = stream.(interface{ RecvMsg(any) error })
	e.in.e = e
	if cfg.Frames {
		e.sender, _ = stream.(interface{ SendMsg(any) error })
	}
	return e
}

// sendFrame sends an encoded frame. It reports false, sending nothing,
// when the frame did not come out at its size (the caller then sends a
// message); a gRPC stream that fails a send has ended.
func (e *Engine) sendFrame(buf *[]byte, ok bool) (bool, error) {
	if !ok {
		return false, nil
	}
	e.sendMu.Lock()
	err := e.sender.SendMsg(Frame{buf})
	e.sendMu.Unlock()
	return true, err
}

// sendRequest sends a state request of tx, encoded from payload or r.
func (e *Engine) sendRequest(typ pb.ChaincodeMessage_Type, key txKey, payload []byte, r *Request) error {
	if e.framed.Load() {
		if sent, err := e.sendFrame(requestFrame(typ, key, payload, r)); sent {
			return err
		}
	}
	if r != nil {
		var err error
		if payload, err = r.Marshal(); err != nil {
			return err
		}
	}
	return e.send(&pb.ChaincodeMessage{Type: typ, Payload: payload, Txid: key.txid, ChannelId: key.channel})
}

// recv returns the next message from the stream, and with Codec, for an
// INIT or TRANSACTION, the new transaction it was decoded into.
func (e *Engine) recv() (*pb.ChaincodeMessage, *Tx, error) {
	if e.receiver == nil {
		m, err := e.stream.Recv()
		return m, nil, err
	}
	if e.in.ChaincodeMessage == nil {
		m, _ := e.spare.Get().(*pb.ChaincodeMessage)
		if m == nil {
			m = new(pb.ChaincodeMessage)
		}
		e.in.ChaincodeMessage = m
	}
	e.in.tx = nil
	if err := e.receiver.RecvMsg(&e.in); err != nil {
		return nil, nil, err
	}
	if !e.probed {
		e.probed = true
		e.framed.Store(e.sender != nil && e.in.viaCodec)
	}
	if tx := e.in.tx; tx != nil { // e.in.tx is reset before the next receive
		return tx.msg, tx, nil
	}
	m := e.in.ChaincodeMessage
	e.in.ChaincodeMessage = nil
	return m, nil, nil
}

// newTx allocates a transaction (Config.NewTx).
func (e *Engine) newTx() *Tx {
	if e.cfg.NewTx != nil {
		return e.cfg.NewTx()
	}
	return new(Tx)
}

// recycle takes back a received reply nothing refers to any more.
func (e *Engine) recycle(m *pb.ChaincodeMessage) {
	if e.receiver != nil && m != e.timedOut && m != e.streamEnded && m != e.txDone {
		m.Reset()
		e.spare.Put(m)
	}
}

// now is the engine's monotonic clock.
func (e *Engine) now() int64 { return int64(time.Since(e.epoch)) }

// watchPeriod is how often watchCalls runs: a quarter of the timeout, so
// a call fails between 1 and 1.25 CallTimeouts after it was sent.
func (e *Engine) watchPeriod() time.Duration {
	return min(max(e.cfg.CallTimeout/4, time.Millisecond), time.Second)
}

// watchCalls fails state calls that wait past CallTimeout. It runs on a
// timer that re-arms itself while the stream lives: no timer per call
// (two allocations and a timer-heap update on every call) and no
// goroutine parked per idle stream.
func (e *Engine) watchCalls() {
	select {
	case <-e.done:
		return
	default:
	}
	now := e.now()
	e.mu.Lock()
	for _, tx := range e.txs {
		if tx.waiting.Load() && now >= tx.deadline.Load() {
			select {
			case tx.resp <- e.timedOut:
			default: // a reply got there first
			}
		}
	}
	e.watch.Reset(e.watchPeriod())
	e.mu.Unlock()
}

// Params returns the features negotiated in READY.
func (e *Engine) Params() Params { return e.params }

// Done is closed when the stream has ended.
func (e *Engine) Done() <-chan struct{} { return e.done }

func (e *Engine) send(m *pb.ChaincodeMessage) error {
	e.sendMu.Lock()
	err := e.stream.Send(m)
	e.sendMu.Unlock()
	return err
}

// Run sends REGISTER and serves the stream until it ends, then waits for
// every transaction worker to finish (their pending state calls fail with
// ErrStreamClosed). It returns nil when the peer closed the stream cleanly.
func (e *Engine) Run() error {
	payload, err := proto.Marshal(&pb.ChaincodeID{Name: e.cfg.CCID})
	if err != nil {
		return fmt.Errorf("marshal REGISTER: %w", err)
	}
	if err := e.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_REGISTER, Payload: payload}); err != nil {
		e.finish(err)
		return fmt.Errorf("send REGISTER: %w", err)
	}
	e.mu.Lock()
	e.watch = time.AfterFunc(e.watchPeriod(), e.watchCalls)
	e.mu.Unlock()
	var runErr error
	for {
		msg, tx, err := e.recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				runErr = fmt.Errorf("receive: %w", err)
			}
			break
		}
		if err := e.handle(msg, tx); err != nil {
			runErr = err
			break
		}
	}
	e.finish(runErr)
	return runErr
}

func (e *Engine) finish(err error) {
	e.mu.Lock()
	select {
	case <-e.done:
	default:
		e.doneErr = err
		e.closed.Store(true)
		close(e.done)
		// Only Run's goroutine sends on work (dispatch) and calls finish,
		// so closing it here races with no send; a parked worker then
		// wakes with nothing and returns.
		close(e.work)
		for _, tx := range e.txs {
			if tx.waiting.Load() {
				e.deliver(tx, e.streamEnded)
			}
		}
	}
	if e.watch != nil {
		e.watch.Stop()
	}
	// Queued transactions never started: nothing to reply on a dead stream.
	for _, tx := range e.queue {
		delete(e.txs, tx.key)
	}
	e.queue = nil
	e.mu.Unlock()
	e.workers.Wait()
}

// handle processes one received message (tx: the transaction an INIT or
// TRANSACTION was decoded into, or nil). Only handshake violations end the
// stream; everything else is logged and confined to one transaction.
func (e *Engine) handle(msg *pb.ChaincodeMessage, tx *Tx) error {
	if msg == nil {
		return errors.New("received a nil message")
	}
	if msg.Type == pb.ChaincodeMessage_KEEPALIVE {
		err := e.send(msg)
		e.recycle(msg)
		if err != nil {
			return fmt.Errorf("echo KEEPALIVE: %w", err)
		}
		return nil
	}
	switch state(e.state.Load()) {
	case stateCreated:
		if msg.Type == pb.ChaincodeMessage_REGISTERED {
			e.state.Store(int32(stateEstablished))
			return nil
		}
		return e.protocolViolation(msg, "REGISTERED")
	case stateEstablished:
		if msg.Type == pb.ChaincodeMessage_READY {
			e.params = decodeParams(msg.Payload)
			e.state.Store(int32(stateReady))
			e.log.Debug("chaincode stream ready", "write_batch", e.params.UseWriteBatch, "get_multiple_keys", e.params.UseGetMultipleKeys)
			return nil
		}
		return e.protocolViolation(msg, "READY")
	}
	switch msg.Type {
	case pb.ChaincodeMessage_RESPONSE, pb.ChaincodeMessage_ERROR:
		e.route(msg)
	case pb.ChaincodeMessage_INIT, pb.ChaincodeMessage_TRANSACTION:
		e.dispatch(msg, tx)
	default:
		e.log.Warn("dropped unexpected message", "type", msg.Type.String(), "txid", msg.Txid, "channel", msg.ChannelId)
	}
	return nil
}

func (e *Engine) protocolViolation(msg *pb.ChaincodeMessage, want string) error {
	text := fmt.Sprintf("[%s] chaincode expected %s during the handshake, received %s", shortID(msg.Txid), want, msg.Type)
	_ = e.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_ERROR, Payload: []byte(text), Txid: msg.Txid, ChannelId: msg.ChannelId})
	return errors.New(text)
}

func decodeParams(b []byte) Params {
	var ap pb.ChaincodeAdditionalParams
	if len(b) == 0 || proto.Unmarshal(b, &ap) != nil {
		return Params{}
	}
	p := Params{
		UseWriteBatch:       ap.UseWriteBatch,
		MaxSizeWriteBatch:   max(ap.MaxSizeWriteBatch, minBatch),
		UseGetMultipleKeys:  ap.UseGetMultipleKeys,
		MaxSizeGetMultiKeys: max(ap.MaxSizeGetMultipleKeys, minBatch),
	}
	return p
}

// route hands a RESPONSE or ERROR to the transaction waiting for it.
func (e *Engine) route(msg *pb.ChaincodeMessage) {
	e.mu.Lock()
	tx := e.txs[txKey{msg.ChannelId, msg.Txid}]
	delivered := tx != nil && tx.waiting.Load() && e.deliver(tx, msg)
	e.mu.Unlock()
	if delivered {
		return
	}
	if tx == nil || !tx.waiting.Load() {
		e.log.Warn("dropped a reply for no waiting transaction", "type", msg.Type.String(), "txid", msg.Txid, "channel", msg.ChannelId)
	} else {
		e.log.Warn("dropped a second reply to one request", "type", msg.Type.String(), "txid", msg.Txid, "channel", msg.ChannelId)
	}
	e.recycle(msg)
}

// deliver puts msg in the reply slot of tx, unless it holds a reply
// already; e.mu held, so that no reply reaches a transaction after it was
// unregistered (its worker's channel then serves the next transaction).
func (e *Engine) deliver(tx *Tx, msg *pb.ChaincodeMessage) bool {
	select {
	case tx.resp <- msg:
		return true
	default:
	}
	// The slot is full: a second reply, or a timeout notice of watchCalls
	// meant for the call before this one, which this reply replaces.
	select {
	case old := <-tx.resp:
		if old == e.timedOut {
			select {
			case tx.resp <- msg:
				return true
			default:
			}
		} else {
			select {
			case tx.resp <- old:
			default:
			}
		}
	default:
	}
	return false
}

// dispatch registers a new transaction and runs or queues it; tx is the
// one msg was decoded into, or nil.
func (e *Engine) dispatch(msg *pb.ChaincodeMessage, tx *Tx) {
	key := txKey{msg.ChannelId, msg.Txid}
	e.mu.Lock()
	if _, dup := e.txs[key]; dup {
		e.mu.Unlock()
		// Replying would complete the original on the peer's side (it
		// correlates by channel and txid), so the duplicate gets no reply.
		e.log.Warn("refused a duplicate of a transaction in flight", "txid", msg.Txid, "channel", msg.ChannelId)
		return
	}
	var refuse string
	switch {
	case e.draining:
		refuse = e.drainWhy
	case e.running >= e.cfg.MaxConcurrentTx && len(e.queue) >= e.cfg.MaxQueuedTx:
		refuse = fmt.Sprintf("chaincode server busy: %d transactions executing and %d queued on this stream; retry later", e.running, len(e.queue))
	}
	if refuse != "" {
		e.mu.Unlock()
		e.log.Warn("refused transaction", "txid", msg.Txid, "channel", msg.ChannelId, "reason", refuse)
		_ = e.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_ERROR, Payload: []byte(refuse), Txid: msg.Txid, ChannelId: msg.ChannelId})
		return
	}
	if tx == nil {
		tx = e.newTx()
		tx.msg = msg
	}
	tx.e, tx.key = e, key
	e.txs[key] = tx
	if e.running >= e.cfg.MaxConcurrentTx {
		e.queue = append(e.queue, tx)
		e.mu.Unlock()
		return
	}
	e.running++
	if e.parked > 0 {
		// A parked worker has a grown stack and costs no goroutine start.
		e.parked--
		e.mu.Unlock()
		e.work <- tx
		return
	}
	e.workers.Add(1)
	e.mu.Unlock()
	go e.worker(tx)
}

// worker executes tx, then keeps taking queued transactions until none is
// left, then parks until dispatch hands it another one or the stream ends.
// Workers live at most as long as the stream, and there are never more
// than MaxConcurrentTx of them, so a burst does not pay for a goroutine
// (and a fresh, growing stack) per transaction.
//
// The worker's reply channel serves each transaction it runs in turn, so a
// transaction costs no channel of its own.
func (e *Engine) worker(tx *Tx) {
	defer e.workers.Done()
	resp := make(chan *pb.ChaincodeMessage, 1)
	for tx != nil {
		if !e.execute(tx, resp) {
			resp = make(chan *pb.ChaincodeMessage, 1)
		}
		e.mu.Lock()
		tx = nil
		if len(e.queue) > 0 {
			tx = e.queue[0]
			e.queue[0] = nil
			e.queue = e.queue[1:]
			e.mu.Unlock()
			continue
		}
		e.running--
		if e.running == 0 && e.idle != nil {
			close(e.idle)
			e.idle = nil
		}
		e.parked++
		e.mu.Unlock()
		// A plain receive (not a select with done): finish closes work.
		tx = <-e.work
	}
}

// execute runs tx with resp as its reply channel. It reports whether resp
// may serve the next transaction: not when a call of tx (from a goroutine
// the chaincode left running) may still be reading it.
func (e *Engine) execute(tx *Tx, resp chan *pb.ChaincodeMessage) (reusable bool) {
	var start time.Time
	if e.cfg.Observer != nil {
		start = time.Now()
		e.cfg.Observer.TxStarted(tx)
	}
	tx.resp = resp
	o := e.runHandler(tx)
	// From here a call of tx fails at once (see Tx.call for the order).
	tx.finished.Store(true)
	reusable = !tx.waiting.Load()
	// Unregister before replying so a late reply cannot reach a finished
	// tx; replies are delivered under e.mu, so none is in flight after.
	e.mu.Lock()
	delete(e.txs, tx.key)
	e.mu.Unlock()
	if reusable {
		select {
		case m := <-resp: // a late reply to a call that timed out
			e.recycle(m)
		default:
		}
	} else {
		// A goroutine the chaincode left running waits on resp: release it
		// (the worker takes a new channel). A full slot releases it too.
		select {
		case resp <- e.txDone:
		default:
		}
	}
	if err := e.reply(tx, o); err != nil {
		e.log.Warn("could not send the transaction result", "txid", tx.key.txid, "channel", tx.key.channel, "err", err)
	}
	if e.cfg.Observer != nil {
		e.cfg.Observer.TxFinished(tx, o, time.Since(start))
	}
	return reusable
}

// reply sends the outcome of tx: COMPLETED with the response (and event),
// or ERROR.
func (e *Engine) reply(tx *Tx, o Outcome) error {
	if !o.Failed && o.Event == nil && e.framed.Load() {
		if sent, err := e.sendFrame(completedFrame(tx.key, o.Response)); sent {
			return err
		}
	}
	reply := &pb.ChaincodeMessage{Txid: tx.key.txid, ChannelId: tx.key.channel, ChaincodeEvent: o.Event}
	if o.Failed {
		reply.Type = pb.ChaincodeMessage_ERROR
		reply.Payload = []byte(o.ErrText)
	} else {
		reply.Type, reply.Payload = pb.ChaincodeMessage_COMPLETED, MarshalResponse(o.Response)
	}
	return e.send(reply)
}

func (e *Engine) runHandler(tx *Tx) (o Outcome) {
	defer func() {
		if r := recover(); r != nil {
			tx.Panicked = true
			e.log.Error("chaincode panicked; the transaction fails, the stream carries on",
				"txid", tx.key.txid, "channel", tx.key.channel, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			text := fmt.Sprintf("chaincode panicked: %v", r)
			if tx.IsInit() {
				o = Outcome{Failed: true, ErrText: text}
			} else {
				o = Outcome{Response: &pb.Response{Status: 500, Message: text}}
			}
		}
	}()
	return e.cfg.Handler(tx)
}

// Drain stops accepting transactions (new ones are refused with ERROR) and
// waits until those in flight have finished or ctx ends.
func (e *Engine) Drain(ctx context.Context) error {
	return e.DrainBecause(ctx, ErrDraining.Error())
}

// DrainBecause is Drain with the text new transactions are refused with.
func (e *Engine) DrainBecause(ctx context.Context, why string) error {
	e.mu.Lock()
	if !e.draining {
		e.draining, e.drainWhy = true, why
	}
	if e.running == 0 {
		e.mu.Unlock()
		return nil
	}
	if e.idle == nil {
		e.idle = make(chan struct{})
	}
	idle := e.idle
	e.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// InFlight reports executing and queued transactions.
func (e *Engine) InFlight() (running, queued int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.running, len(e.queue)
}

func shortID(txid string) string {
	if len(txid) < 8 {
		return txid
	}
	return txid[:8]
}
