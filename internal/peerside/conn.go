package peerside

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Sentinel errors callers branch on.
var (
	// ErrCCIDMismatch: the chaincode registered with another CCID than the
	// one expected. A real peer would not answer and the launch would time
	// out after chaincode.startuptimeout.
	ErrCCIDMismatch = errors.New("CCID mismatch")
	// ErrStreamTerminated: the stream ended while a transaction ran.
	ErrStreamTerminated = errors.New("chaincode stream terminated")
	// ErrProtocol: the chaincode broke the protocol (wrong first message,
	// overlapping requests, unexpected message type).
	ErrProtocol = errors.New("chaincode protocol violation")
	// ErrTimeout: the transaction did not complete within the execute timeout.
	ErrTimeout = errors.New("timeout expired while executing transaction")
)

// CCIDMismatchError says which CCID was expected and which one arrived.
type CCIDMismatchError struct{ Expected, Got string }

func (e *CCIDMismatchError) Error() string {
	return fmt.Sprintf("CCID mismatch: the chaincode registered as %q but %q was expected; start the chaincode server with the package ID the peer installed (peer lifecycle chaincode calculatepackageid), or pass the CCID it uses", e.Got, e.Expected)
}

// Is makes errors.Is(err, ErrCCIDMismatch) true.
func (e *CCIDMismatchError) Is(target error) bool { return target == ErrCCIDMismatch }

// ChaincodeError is an ERROR reply to INIT/TRANSACTION: the chaincode
// failed the transaction (the peer reports "transaction returned with
// failure: <message>").
type ChaincodeError struct {
	TxID    string
	Message string
	Event   *peer.ChaincodeEvent
}

func (e *ChaincodeError) Error() string { return "transaction returned with failure: " + e.Message }

// Stream is one bidirectional chaincode message stream as the peer sees
// it: a gRPC /protos.Chaincode/Connect stream or an internal/msgpipe end.
// Send is never called concurrently by this package. If the stream also
// has CloseSend, the Conn calls it when it gives up on the stream.
type Stream interface {
	Send(*peer.ChaincodeMessage) error
	Recv() (*peer.ChaincodeMessage, error)
}

// Conn is the peer side of one chaincode stream.
type Conn struct {
	stream Stream
	o      options

	sendMu sync.Mutex

	mu   sync.Mutex
	txs  map[string]*txState // by channel + "\x00" + txid
	ccid string

	registered chan struct{} // closed once REGISTER arrived (ok or not)
	regErr     error
	done       chan struct{} // closed when the receive loop ends
	err        error         // why it ended

	idOnce sync.Once
	id     *identity
	idErr  error

	iterSeq atomic.Uint64
	started atomic.Bool
	pingSeq atomic.Uint64
	pings   map[string]chan struct{} // under mu
}

// New wraps a stream. Call Handshake next; the stream belongs to the Conn
// until it ends. To stop, close the underlying stream (cancel the gRPC
// context, or Close an internal/msgpipe end): the receive loop ends when
// Recv fails.
func New(stream Stream, opts ...Option) *Conn {
	return &Conn{
		stream:     stream,
		o:          buildOptions(opts),
		txs:        map[string]*txState{},
		registered: make(chan struct{}),
		done:       make(chan struct{}),
	}
}

// Handshake waits for REGISTER, checks the CCID, sends REGISTERED and
// READY (with the configured ChaincodeAdditionalParams). On a CCID
// mismatch it returns a *CCIDMismatchError and, like the peer, sends
// nothing. It starts the receive loop, so call it once.
func (c *Conn) Handshake(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("peerside: Handshake called twice")
	}
	go c.recvLoop()
	select {
	case <-c.registered:
	case <-c.done:
		if c.regErr == nil {
			return fmt.Errorf("waiting for REGISTER: %w", c.err)
		}
	case <-ctx.Done():
		return fmt.Errorf("waiting for REGISTER from the chaincode: %w", ctx.Err())
	}
	if c.regErr != nil {
		return c.regErr
	}
	params, err := proto.Marshal(c.o.params)
	if err != nil {
		return err
	}
	if err := c.send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_REGISTERED}); err != nil {
		return fmt.Errorf("send REGISTERED: %w", err)
	}
	if err := c.send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_READY, Payload: params}); err != nil {
		return fmt.Errorf("send READY: %w", err)
	}
	if c.o.keepalive > 0 {
		go c.keepaliveLoop()
	}
	return nil
}

// Ping sends a KEEPALIVE and waits for the chaincode's echo (every shim
// echoes it verbatim), returning the round-trip time.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	id := fmt.Sprintf("ping-%d", c.pingSeq.Add(1))
	ch := make(chan struct{})
	c.mu.Lock()
	if c.pings == nil {
		c.pings = map[string]chan struct{}{}
	}
	c.pings[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pings, id)
		c.mu.Unlock()
	}()
	start := time.Now()
	if err := c.send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_KEEPALIVE, Txid: id}); err != nil {
		return 0, fmt.Errorf("send KEEPALIVE: %w", err)
	}
	select {
	case <-ch:
		return time.Since(start), nil
	case <-c.done:
		return 0, fmt.Errorf("%w: %v", ErrStreamTerminated, c.err)
	case <-ctx.Done():
		return 0, fmt.Errorf("no KEEPALIVE echo: %w", ctx.Err())
	}
}

// CCID returns the CCID the chaincode sent in REGISTER ("" before).
func (c *Conn) CCID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ccid
}

// Done is closed when the stream has ended; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is the reason the stream ended (io.EOF for an orderly end), or nil
// while it is up.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Store returns the world state the Conn serves.
func (c *Conn) Store() Store { return c.o.store }

func (c *Conn) send(m *peer.ChaincodeMessage) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.stream.Send(m)
}

func (c *Conn) keepaliveLoop() {
	t := time.NewTicker(c.o.keepalive)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if err := c.send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_KEEPALIVE}); err != nil {
				return
			}
		}
	}
}

func txKey(channel, txid string) string { return channel + "\x00" + txid }

// recvLoop reads every message and routes it; it is the only reader.
func (c *Conn) recvLoop() {
	err := c.readRegister()
	if err == nil {
		for {
			var m *peer.ChaincodeMessage
			m, err = c.stream.Recv()
			if err != nil {
				break
			}
			if err = c.route(m); err != nil {
				break
			}
		}
	}
	c.err = err
	if cs, ok := c.stream.(interface{ CloseSend() error }); ok && !errors.Is(err, io.EOF) {
		_ = cs.CloseSend()
	}
	close(c.done)
}

func (c *Conn) readRegister() error {
	err := c.checkRegister()
	close(c.registered)
	if c.regErr != nil {
		// Like the peer: no reply; keep reading so the chaincode is not
		// blocked, until the owner closes the stream.
		for {
			if _, err := c.stream.Recv(); err != nil {
				return c.regErr
			}
		}
	}
	return err
}

func (c *Conn) checkRegister() error {
	m, err := c.stream.Recv()
	if err != nil {
		return err
	}
	if m.Type != peer.ChaincodeMessage_REGISTER {
		c.regErr = fmt.Errorf("%w: first message was %s, want REGISTER", ErrProtocol, m.Type)
		return c.regErr
	}
	id := &peer.ChaincodeID{}
	if err := proto.Unmarshal(m.Payload, id); err != nil {
		c.regErr = fmt.Errorf("%w: REGISTER payload is not a ChaincodeID: %v", ErrProtocol, err)
		return c.regErr
	}
	c.mu.Lock()
	c.ccid = id.Name
	c.mu.Unlock()
	switch {
	case id.Name == "":
		c.regErr = fmt.Errorf("%w: REGISTER carries an empty chaincode ID", ErrProtocol)
	case c.o.ccid != "" && id.Name != c.o.ccid:
		c.regErr = &CCIDMismatchError{Expected: c.o.ccid, Got: id.Name}
	}
	if c.regErr != nil {
		return c.regErr
	}
	if c.o.namespace == "" {
		c.o.namespace = label(id.Name)
	}
	return nil
}

// route hands a message to its transaction. A non-nil error ends the stream.
func (c *Conn) route(m *peer.ChaincodeMessage) error {
	switch m.Type {
	case peer.ChaincodeMessage_KEEPALIVE:
		// The peer ignores echoed keepalives; Ping waits for its own.
		c.mu.Lock()
		if ch := c.pings[m.Txid]; ch != nil {
			close(ch)
			delete(c.pings, m.Txid)
		}
		c.mu.Unlock()
		return nil
	case peer.ChaincodeMessage_COMPLETED, peer.ChaincodeMessage_ERROR:
		if tx := c.lookup(m.ChannelId, m.Txid); tx != nil {
			select {
			case tx.final <- m:
			default:
				c.o.logf("peerside: second %s for [%s] ignored", m.Type, shortTx(m.Txid))
			}
			return nil
		}
		c.o.logf("peerside: %s for unknown transaction [%s] on channel %q ignored", m.Type, shortTx(m.Txid), m.ChannelId)
		return nil
	case peer.ChaincodeMessage_GET_STATE, peer.ChaincodeMessage_PUT_STATE, peer.ChaincodeMessage_DEL_STATE,
		peer.ChaincodeMessage_INVOKE_CHAINCODE, peer.ChaincodeMessage_GET_STATE_BY_RANGE,
		peer.ChaincodeMessage_GET_QUERY_RESULT, peer.ChaincodeMessage_QUERY_STATE_NEXT,
		peer.ChaincodeMessage_QUERY_STATE_CLOSE, peer.ChaincodeMessage_GET_HISTORY_FOR_KEY,
		peer.ChaincodeMessage_GET_STATE_METADATA, peer.ChaincodeMessage_PUT_STATE_METADATA,
		peer.ChaincodeMessage_GET_PRIVATE_DATA_HASH, peer.ChaincodeMessage_PURGE_PRIVATE_DATA,
		peer.ChaincodeMessage_WRITE_BATCH_STATE, peer.ChaincodeMessage_GET_STATE_MULTIPLE:
		tx := c.lookup(m.ChannelId, m.Txid)
		if tx == nil { // the peer's texts for a request of no running transaction
			cause := "no ledger context"
			if m.Type == peer.ChaincodeMessage_INVOKE_CHAINCODE {
				cause = "could not get valid transaction"
			}
			return c.send(errorReply(m, errors.New(cause)))
		}
		if !tx.busy.CompareAndSwap(false, true) {
			// The peer drops an overlapping request and only logs, which
			// hangs the transaction; we fail it with a clear reason instead.
			tx.violate(fmt.Errorf("%w: the chaincode sent %s for [%s] while another request of that transaction was pending; the peer drops such requests (one outstanding request per transaction)", ErrProtocol, m.Type, shortTx(m.Txid)))
			return nil
		}
		tx.reqs <- m
		return nil
	default:
		return fmt.Errorf("%w: unexpected %s message in ready state (txid %q); a peer ends the stream", ErrProtocol, m.Type, m.Txid)
	}
}

func (c *Conn) lookup(channel, txid string) *txState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.txs[txKey(channel, txid)]
}

func shortTx(txid string) string {
	if len(txid) > 8 {
		return txid[:8]
	}
	return txid
}

// errorReply builds the peer's ERROR answer to a failed request.
func errorReply(req *peer.ChaincodeMessage, cause error) *peer.ChaincodeMessage {
	return &peer.ChaincodeMessage{
		Type:      peer.ChaincodeMessage_ERROR,
		Payload:   []byte(fmt.Sprintf("%s failed: transaction ID: %s: %v", req.Type, req.Txid, cause)),
		Txid:      req.Txid,
		ChannelId: req.ChannelId,
	}
}
