package engine

import (
	"fmt"
	"sync"
	"sync/atomic"

	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// Tx is one INIT or TRANSACTION in flight: its message and the way to make
// state calls to the peer on its behalf.
type Tx struct {
	e   *Engine
	key txKey
	msg *pb.ChaincodeMessage
	// resp is the reply slot: the channel of the worker running tx.
	resp chan *pb.ChaincodeMessage

	// callMu serialises state calls: the peer accepts one outstanding
	// request per transaction and silently drops a second one.
	callMu  sync.Mutex
	waiting atomic.Bool
	// finished is set once the handler has returned.
	finished atomic.Bool
	// deadline of the call in flight, on the engine's clock (watchCalls).
	deadline atomic.Int64

	// Panicked is set when the handler panicked (for observers).
	Panicked bool
	// Function is args[0], set by the handler for observers; it aliases
	// the input so the per-transaction path makes no string of it.
	Function []byte
	// Ext is the handler's own state for the transaction, allocated with
	// the Tx by Config.NewTx.
	Ext any

	// The message and its proposal are decoded into these (Codec), so
	// they come in the transaction's one allocation.
	msgBuf  pb.ChaincodeMessage
	propBuf pb.SignedProposal
}

// TxID returns the transaction id.
func (t *Tx) TxID() string { return t.key.txid }

// ChannelID returns the channel id.
func (t *Tx) ChannelID() string { return t.key.channel }

// Message returns the INIT or TRANSACTION message as received.
func (t *Tx) Message() *pb.ChaincodeMessage { return t.msg }

// IsInit reports whether this is an INIT.
func (t *Tx) IsInit() bool { return t.msg.Type == pb.ChaincodeMessage_INIT }

// Params returns the features the peer negotiated for the stream.
func (t *Tx) Params() Params { return t.e.params }

// PeerError is the peer's ERROR reply to a state call; its text is the
// peer's own ("<TYPE> failed: transaction ID: <txid>: <cause>").
type PeerError struct{ Text string }

func (e *PeerError) Error() string { return e.Text }

// Call sends one request of type typ with payload for this transaction and
// waits for the peer's reply. A RESPONSE returns its payload; an ERROR
// returns a *PeerError; a dead stream returns ErrStreamClosed.
func (t *Tx) Call(typ pb.ChaincodeMessage_Type, payload []byte) ([]byte, error) {
	return t.call(typ, payload, nil)
}

// CallRequest is Call with a request the engine encodes itself (straight
// into the frame on a gRPC stream); r must have passed Validate.
func (t *Tx) CallRequest(typ pb.ChaincodeMessage_Type, r Request) ([]byte, error) {
	return t.call(typ, nil, &r)
}

func (t *Tx) call(typ pb.ChaincodeMessage_Type, payload []byte, r *Request) ([]byte, error) {
	t.callMu.Lock()
	defer t.callMu.Unlock()
	e := t.e
	t.deadline.Store(e.now() + int64(e.cfg.CallTimeout))
	// waiting is set before finished is read, and execute sets finished
	// before it reads waiting: either this call sees the transaction
	// finished, or execute sees it waiting and gives the worker's channel
	// to no other transaction.
	t.waiting.Store(true)
	defer t.waiting.Store(false)
	if t.finished.Load() {
		return nil, fmt.Errorf("%s: %w", typ, ErrTxFinished)
	}
	if e.closed.Load() { // else finish hands this call streamEnded
		return nil, fmt.Errorf("%s: %w", typ, ErrStreamClosed)
	}
	// Drop any stale reply left by an earlier call that timed out.
	select {
	case m := <-t.resp:
		e.recycle(m)
	default:
	}
	if err := e.sendRequest(typ, t.key, payload, r); err != nil {
		return nil, fmt.Errorf("send %s: %w: %w", typ, ErrStreamClosed, err)
	}
	for {
		// route delivers only RESPONSE and ERROR; watchCalls timedOut;
		// finish streamEnded; execute txDone.
		m := <-t.resp
		switch m {
		case e.streamEnded:
			return nil, fmt.Errorf("%s: %w", typ, ErrStreamClosed)
		case e.txDone:
			return nil, fmt.Errorf("%s: %w", typ, ErrTxFinished)
		case e.timedOut:
			if e.now() >= t.deadline.Load() {
				return nil, fmt.Errorf("%s after %s: %w", typ, e.cfg.CallTimeout, ErrCallTimeout)
			}
			// Meant for an earlier call that was answered meanwhile. While
			// it sat in the slot, finish and execute could not hand over
			// their notices: look for what they would have said.
			if e.closed.Load() {
				return nil, fmt.Errorf("%s: %w", typ, ErrStreamClosed)
			}
			if t.finished.Load() {
				return nil, fmt.Errorf("%s: %w", typ, ErrTxFinished)
			}
			continue
		}
		payload, failed := m.Payload, m.Type == pb.ChaincodeMessage_ERROR
		e.recycle(m)
		if failed {
			return nil, &PeerError{Text: string(payload)}
		}
		return payload, nil
	}
}
