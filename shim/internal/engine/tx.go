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
	e    *Engine
	key  txKey
	msg  *pb.ChaincodeMessage
	resp chan *pb.ChaincodeMessage

	// callMu serialises state calls: the peer accepts one outstanding
	// request per transaction and silently drops a second one.
	callMu  sync.Mutex
	waiting atomic.Bool
	// deadline of the call in flight, on the engine's clock (watchCalls).
	deadline atomic.Int64

	// Panicked is set when the handler panicked (for observers).
	Panicked bool
	// Function is args[0], set by the handler for observers; it aliases
	// the input so the per-transaction path makes no string of it.
	Function []byte
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
	select {
	case <-e.done:
		return nil, fmt.Errorf("%s: %w", typ, ErrStreamClosed)
	default:
	}
	// Drop any stale reply left by an earlier call that timed out.
	select {
	case m := <-t.resp:
		e.recycle(m)
	default:
	}
	t.deadline.Store(e.now() + int64(e.cfg.CallTimeout))
	t.waiting.Store(true)
	defer t.waiting.Store(false)
	if err := e.sendRequest(typ, t.key, payload, r); err != nil {
		return nil, fmt.Errorf("send %s: %w: %w", typ, ErrStreamClosed, err)
	}
	for {
		select {
		case m := <-t.resp:
			// route delivers only RESPONSE and ERROR; watchCalls timedOut.
			if m == e.timedOut {
				if e.now() < t.deadline.Load() {
					continue // meant for an earlier call that was answered meanwhile
				}
				return nil, fmt.Errorf("%s after %s: %w", typ, e.cfg.CallTimeout, ErrCallTimeout)
			}
			payload, failed := m.Payload, m.Type == pb.ChaincodeMessage_ERROR
			e.recycle(m)
			if failed {
				return nil, &PeerError{Text: string(payload)}
			}
			return payload, nil
		case <-e.done:
			return nil, fmt.Errorf("%s: %w", typ, ErrStreamClosed)
		}
	}
}
