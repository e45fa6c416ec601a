package lean

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ccserver/ccserver/bench/internal/benchcc"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
)

// RegisterSync adds the Chaincode service, registering as ccid, to s (made
// with ServerOption), served in the synchronous mode, leansync.
//
// leansync is lean's codec, frames, buffer handling and work checks with
// the least structure a synchronous stub API (GetState blocks and returns
// the value) needs, and nothing else — no stub object, no timeouts:
//
//   - The receive loop (one per stream) decodes every message. It hands an
//     INIT or TRANSACTION to a parked worker through one unbuffered channel
//     (a non-blocking send succeeds only when a worker waits on it), or
//     starts a worker when none is parked: at most one worker per
//     transaction in flight, and no goroutine per transaction once enough
//     workers are parked.
//   - A worker runs the workload as straight-line blocking code: call sends
//     the request and blocks on the worker's own one-slot reply channel,
//     reused from transaction to transaction.
//   - Workers and the receive loop send concurrently, so every SendMsg holds
//     the stream's send mutex (the frame is encoded before, outside it).
//   - The receive loop routes each RESPONSE or ERROR through a map
//     txid → waiting worker under a mutex; the delivery is made under that
//     mutex, so a worker that unregisters (and drains its slot) at the end of
//     its transaction never sees a reply meant for an earlier one.
//
// Received frames stay borrowed, not copied: the receive loop hands the
// frame of a TRANSACTION or a reply to the worker with the inbound (and
// does not release it); the worker frees a reply's frame as soon as the
// request built from it is sent, and the transaction's own frame (whose
// txid and channel id every request carries) when the transaction ends.
// That is cheaper than a copy (no allocation, no memmove; the pooled buffer
// just returns to gRPC's pool a round trip later) and correct because
// nothing reads a frame after its worker freed it.
func RegisterSync(s *grpc.Server, ccid string) {
	register(s, func(stream grpc.ServerStream) error { return serveSync(stream, ccid) })
}

// errStreamEnded: a call whose stream ended before its reply came.
var errStreamEnded = errors.New("stream ended")

// syncSession is one stream in the synchronous mode.
type syncSession struct {
	stream grpc.ServerStream
	sendMu sync.Mutex // held around every SendMsg

	mu      sync.Mutex         // guards waiting and closed
	waiting map[string]*worker // by txid: the transactions that made a call
	closed  bool               // the receive loop has ended: no more replies

	work    chan inbound // unbuffered: the hand-off to a parked worker
	workers sync.WaitGroup
	started int   // workers started (read by tests after serve returns)
	out     frame // the receive loop's own sends
}

// worker runs one transaction at a time and then parks on work.
type worker struct {
	ss    *syncSession
	reply chan inbound // one slot, reused across transactions
	in    inbound      // the running transaction; its frame is held
	key   string       // in.txid as the waiting key, once registered
	t     tx           // range counts, as lean's state machine keeps them
	// scratch holds the next request's payload and out its frame, as
	// lean's session does, one per worker since workers send concurrently.
	scratch []byte
	out     frame
}

func serveSync(stream grpc.ServerStream, ccid string) error {
	ss := newSyncSession(stream)
	return ss.serve(ccid)
}

func newSyncSession(stream grpc.ServerStream) *syncSession {
	return &syncSession{stream: stream, waiting: make(map[string]*worker), work: make(chan inbound)}
}

// serve runs the receive loop, then ends the workers: the ones blocked in
// a call see their reply channel closed, the parked ones the work channel;
// it returns once all have stopped, so none sends after the handler ends.
func (ss *syncSession) serve(ccid string) error {
	err := ss.receive(ccid)
	ss.mu.Lock()
	ss.closed = true
	for _, w := range ss.waiting {
		close(w.reply)
	}
	ss.mu.Unlock()
	close(ss.work)
	ss.workers.Wait()
	return err
}

func (ss *syncSession) receive(ccid string) error {
	if err := ss.send(&ss.out, peer.ChaincodeMessage_REGISTER, nil, registration(ccid)); err != nil {
		return err
	}
	var in inbound
	for {
		if err := ss.stream.RecvMsg(&in); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		err := ss.handle(&in)
		in.release() // nothing when the frame was handed on
		if err != nil {
			return err
		}
	}
}

func (ss *syncSession) handle(in *inbound) error {
	switch in.typ {
	case peer.ChaincodeMessage_REGISTERED, peer.ChaincodeMessage_READY:
		return nil
	case peer.ChaincodeMessage_KEEPALIVE:
		return ss.send(&ss.out, in.typ, in, in.payload)
	case peer.ChaincodeMessage_TRANSACTION, peer.ChaincodeMessage_INIT:
		select {
		case ss.work <- *in: // a parked worker took it
		default:
			w := &worker{ss: ss, reply: make(chan inbound, 1), scratch: make([]byte, 0, 256)}
			ss.started++
			ss.workers.Add(1)
			go w.loop(*in)
		}
		in.held = nil // the worker frees it
		return nil
	case peer.ChaincodeMessage_RESPONSE, peer.ChaincodeMessage_ERROR:
		ss.mu.Lock()
		if w := ss.waiting[string(in.txid)]; w != nil {
			select {
			case w.reply <- *in:
				in.held = nil
			default: // its slot is full: a stray reply
			}
		}
		ss.mu.Unlock()
		return nil // else a stray reply
	}
	return fmt.Errorf("unexpected %s message from the peer", in.typ)
}

// send sends {typ, payload, txid and channel of in} in f under the send
// mutex; the frame is encoded before taking it.
func (ss *syncSession) send(f *frame, typ peer.ChaincodeMessage_Type, in *inbound, payload []byte) error {
	f.buf = encodeFrame(typ, in, payload)
	ss.sendMu.Lock()
	err := ss.stream.SendMsg(f)
	ss.sendMu.Unlock()
	return err
}

// loop runs in, then every transaction handed to it while parked, until
// the stream ends.
func (w *worker) loop(in inbound) {
	defer w.ss.workers.Done()
	for ok := true; ok; in, ok = <-w.ss.work {
		w.in, w.t = in, tx{}
		_ = w.run() // an error is the stream's end: the receive loop sees it too
		w.end()
	}
}

// end unregisters the finished transaction (a stray reply still in its
// slot is freed) and frees its frame.
func (w *worker) end() {
	if w.key != "" {
		w.ss.mu.Lock()
		if w.ss.waiting[w.key] == w {
			delete(w.ss.waiting, w.key)
		}
		select {
		case r, ok := <-w.reply:
			if ok {
				r.release()
			}
		default:
		}
		w.ss.mu.Unlock()
		w.key = ""
	}
	w.in.release()
}

// run is the workload as a synchronous chaincode writes it, with lean's
// checks and replies.
func (w *worker) run() error {
	fn, err := firstArg(w.in.payload)
	if err != nil {
		return w.send(peer.ChaincodeMessage_ERROR, fmt.Appendf(nil, "decode input of %s: %v", w.in.txid, err))
	}
	switch string(fn) {
	case "noop":
		return w.complete(200, "", nil)
	case "getput":
		r, err := w.call(peer.ChaincodeMessage_GET_STATE, 1, []byte(benchcc.GetPutKey), 0, nil, nil)
		if err != nil {
			return err
		}
		if r.typ == peer.ChaincodeMessage_ERROR {
			return w.fail(&r)
		}
		if len(r.payload) == 0 {
			r.release()
			return w.complete(500, notSeeded, nil)
		}
		err = w.request(peer.ChaincodeMessage_PUT_STATE, 1, []byte(benchcc.GetPutKey), 2, nil, r.payload)
		r.release()
		if err != nil {
			return err
		}
		if r, err = w.wait(); err != nil {
			return err
		}
		if r.typ == peer.ChaincodeMessage_ERROR {
			return w.fail(&r)
		}
		r.release()
		return w.complete(200, "", nil)
	case "range":
		r, err := w.call(peer.ChaincodeMessage_GET_STATE_BY_RANGE, 1, []byte(benchcc.RangeStart), 2, []byte(benchcc.RangeEnd), nil)
		for {
			if err != nil {
				return err
			}
			if r.typ == peer.ChaincodeMessage_ERROR {
				return w.fail(&r)
			}
			hasMore, id, perr := w.t.page(r.payload)
			if perr != nil {
				r.release()
				return w.send(peer.ChaincodeMessage_ERROR, fmt.Appendf(nil, "decode range page: %v", perr))
			}
			if !hasMore {
				r.release()
				break
			}
			err = w.request(peer.ChaincodeMessage_QUERY_STATE_NEXT, 1, id, 0, nil, nil) // id is in r's frame
			r.release()
			if err == nil {
				r, err = w.wait()
			}
		}
		var num [20]byte
		status, msg, payload := w.t.rangeOutcome(&num)
		return w.complete(status, msg, payload)
	}
	return w.complete(500, unknownFunction(fn), nil)
}

// call sends a state request (see appendRequest) and waits for its reply,
// whose frame the caller frees.
func (w *worker) call(typ peer.ChaincodeMessage_Type, n1 protowire.Number, s1 []byte, n2 protowire.Number, s2, value []byte) (inbound, error) {
	if err := w.request(typ, n1, s1, n2, s2, value); err != nil {
		return inbound{}, err
	}
	return w.wait()
}

// request registers the transaction for replies on its first call, then
// sends the request.
func (w *worker) request(typ peer.ChaincodeMessage_Type, n1 protowire.Number, s1 []byte, n2 protowire.Number, s2, value []byte) error {
	if w.key == "" {
		ss := w.ss
		ss.mu.Lock()
		if ss.closed {
			ss.mu.Unlock()
			return errStreamEnded
		}
		w.key = string(w.in.txid)
		ss.waiting[w.key] = w
		ss.mu.Unlock()
	}
	w.scratch = appendRequest(w.scratch[:0], n1, s1, n2, s2, value)
	return w.send(typ, w.scratch)
}

// wait blocks until the receive loop delivers the reply.
func (w *worker) wait() (inbound, error) {
	r, ok := <-w.reply
	if !ok {
		return inbound{}, errStreamEnded
	}
	return r, nil
}

// fail answers an ERROR reply r as lean does: the transaction fails with
// its payload.
func (w *worker) fail(r *inbound) error {
	err := w.send(peer.ChaincodeMessage_ERROR, r.payload)
	r.release()
	return err
}

// complete sends COMPLETED carrying Response{status, message, payload}.
func (w *worker) complete(status int32, msg string, payload []byte) error {
	w.scratch = appendResponse(w.scratch[:0], status, msg, payload)
	return w.send(peer.ChaincodeMessage_COMPLETED, w.scratch)
}

func (w *worker) send(typ peer.ChaincodeMessage_Type, payload []byte) error {
	return w.ss.send(&w.out, typ, &w.in, payload)
}
