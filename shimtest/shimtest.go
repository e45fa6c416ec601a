package shimtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/msgpipe"
	"github.com/ccserver/ccserver/internal/peerside"
	"github.com/ccserver/ccserver/shim"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// ErrClosed is the Err of a call made after Close.
var ErrClosed = errors.New("shimtest: ledger closed")

const (
	pipeBuffer  = 64
	stopTimeout = 30 * time.Second
)

// Ledger is a chaincode running on the real shim engine, connected in
// memory to a peer with its own world state. Its methods are safe for
// concurrent use; transactions run concurrently as on a real peer.
type Ledger struct {
	o       options
	id      *Identity
	store   *peerside.MemStore
	conn    *peerside.Conn
	peerEnd *msgpipe.End
	ccDone  chan error
	seq     atomic.Int64

	mu     sync.Mutex
	events []Event
	orgs   map[string]*org // by MSP ID

	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// New starts cc on a fresh ledger for the test and stops it when the test
// ends. It fails the test if the chaincode cannot start.
func New(t testing.TB, cc shim.Chaincode, opts ...Option) *Ledger {
	t.Helper()
	l, err := Start(cc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// Start starts cc on a fresh ledger: the shim's engine on one end of an
// in-memory stream, a peer on the other, after the same REGISTER,
// REGISTERED, READY handshake as on a real network. Call Close when done.
// In tests, New does both.
func Start(cc shim.Chaincode, opts ...Option) (*Ledger, error) {
	if cc == nil {
		return nil, errors.New("shimtest: the chaincode is nil; pass the value whose Init and Invoke you want to test")
	}
	o := buildOptions(opts)
	switch {
	case o.name == "" || strings.ContainsAny(o.name, ":\x00"):
		return nil, fmt.Errorf("shimtest: chaincode name %q must be non-empty and contain neither ':' nor NUL", o.name)
	case o.channel == "":
		return nil, errors.New("shimtest: the channel name is empty; leave WithChannel out for the default")
	case o.mspid == "":
		return nil, errors.New("shimtest: the MSP ID is empty; leave WithMSPID out for the default")
	case o.clock == nil:
		return nil, errors.New("shimtest: WithClock(nil); pass a function returning the time")
	case o.timeout <= 0:
		return nil, fmt.Errorf("shimtest: timeout %v must be positive", o.timeout)
	}
	l := &Ledger{o: o, orgs: map[string]*org{}, ccDone: make(chan error, 1)}
	id, err := l.NewIdentity(o.mspid, "User1", o.attrs)
	if err != nil {
		return nil, err
	}
	l.id = id
	sum := sha256.Sum256([]byte(o.name))
	ccid := o.name + ":" + hex.EncodeToString(sum[:])
	store := peerside.NewMemStore()
	popts := []peerside.Option{
		peerside.WithCCID(ccid),
		peerside.WithNamespace(o.name),
		peerside.WithStore(store),
		peerside.WithIdentity(o.mspid, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.cert.Raw}), id.key),
		peerside.WithClock(o.clock),
		peerside.WithExecuteTimeout(o.timeout),
	}
	if o.olderPeer {
		popts = append(popts, peerside.WithAdditionalParams(&pb.ChaincodeAdditionalParams{}))
	}
	if o.deterministic {
		popts = append(popts, peerside.WithRand(&lockedReader{r: rand.NewChaCha8([32]byte{})}))
	}

	ccEnd, peerEnd := msgpipe.New(pipeBuffer)
	var stream peerside.Stream = peerEnd
	if o.tap != nil {
		stream = tapStream{peerEnd, o.tap}
	}
	l.store, l.peerEnd = store, peerEnd
	go func() { l.ccDone <- shim.StartInProc(ccid, ccEnd, cc) }()
	l.conn = peerside.New(stream, popts...)
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := l.conn.Handshake(ctx); err != nil {
		_ = peerEnd.Close()
		<-l.ccDone
		<-l.conn.Done()
		return nil, fmt.Errorf("shimtest: start chaincode %s: %w", o.name, err)
	}
	return l, nil
}

// Close ends the chaincode's stream the way a peer does, waits for the
// engine to stop and reports an error if it did not stop cleanly. Calls
// made afterwards fail with ErrClosed. Close is idempotent.
func (l *Ledger) Close() error {
	l.closeOnce.Do(func() {
		l.closing.Store(true)
		_ = l.peerEnd.CloseSend()
		select {
		case err := <-l.ccDone:
			l.closeErr = err
		case <-time.After(stopTimeout):
			l.closeErr = fmt.Errorf("shimtest: chaincode %s did not stop within %v after its stream ended: a transaction is still running (does Init or Invoke block?)", l.o.name, stopTimeout)
		}
		_ = l.peerEnd.Close()
		<-l.conn.Done()
	})
	return l.closeErr
}

// Call is one transaction with everything a client can choose.
type Call struct {
	// Args are the chaincode's arguments, function name first.
	Args []string
	// Init runs the chaincode's Init instead of Invoke.
	Init bool
	// Query evaluates the transaction without committing its writes.
	Query bool
	// Transient is the proposal's transient map (GetTransient).
	Transient map[string][]byte
	// Channel overrides the Ledger's channel.
	Channel string
	// TxID overrides the generated transaction ID.
	TxID string
	// Time overrides the proposal timestamp (GetTxTimestamp).
	Time time.Time
	// As submits the call as another client (see NewIdentity).
	As *Identity
}

// Result is what the chaincode answered.
type Result struct {
	TxID    string
	Status  int32
	Message string
	Payload []byte
	// Event is the event the chaincode set, or nil.
	Event *Event
	// Committed says whether the writes were applied to the world state:
	// only for Init and Invoke, and only when Status is below 400.
	Committed bool
	// Err is set when the peer got no normal answer: the chaincode failed
	// Init or its write batch (the peer receives ERROR), or the
	// transaction could not run (timeout, Close). Status is then 500 and
	// Message holds Err's text.
	Err error
}

// OK reports whether the chaincode answered with a status below 400, the
// threshold under which a peer endorses.
func (r *Result) OK() bool { return r.Err == nil && r.Status < shim.ERRORTHRESHOLD }

// String describes the result for failure messages.
func (r *Result) String() string {
	if r.OK() {
		return fmt.Sprintf("status %d, payload %q", r.Status, r.Payload)
	}
	return fmt.Sprintf("status %d: %s", r.Status, r.Message)
}

// Event is a chaincode event (SetEvent).
type Event struct {
	TxID    string
	Name    string
	Payload []byte
}

// Init runs the chaincode's Init with args and commits its writes if it
// succeeds.
func (l *Ledger) Init(args ...string) *Result { return l.Do(Call{Args: args, Init: true}) }

// Invoke runs the chaincode's Invoke with args (function name first) and
// commits its writes if the status is below 400.
func (l *Ledger) Invoke(args ...string) *Result { return l.Do(Call{Args: args}) }

// Query runs Invoke with args and never commits, like evaluating a
// transaction on a gateway.
func (l *Ledger) Query(args ...string) *Result { return l.Do(Call{Args: args, Query: true}) }

// Do runs one transaction as described by c.
func (l *Ledger) Do(c Call) *Result {
	n := l.seq.Add(1)
	if l.closing.Load() {
		return failed("", ErrClosed)
	}
	tx := &peerside.Tx{
		ChannelID: c.Channel,
		Args:      make([][]byte, len(c.Args)),
		Transient: c.Transient,
		Init:      c.Init,
		Commit:    !c.Query,
		TxID:      c.TxID,
		Timestamp: c.Time,
	}
	if tx.ChannelID == "" {
		tx.ChannelID = l.o.channel
	}
	for i, a := range c.Args {
		tx.Args[i] = []byte(a)
	}
	if c.As != nil {
		tx.Creator, tx.Signer = c.As.creator, c.As.key
	}
	if tx.TxID == "" && l.o.deterministic {
		tx.TxID = TxID(int(n))
	}
	res, err := l.conn.Execute(context.Background(), tx)
	if err != nil {
		if l.closing.Load() && errors.Is(err, peerside.ErrStreamTerminated) {
			err = fmt.Errorf("%w: %w", ErrClosed, err)
		}
		out := failed(tx.TxID, err)
		var ce *peerside.ChaincodeError
		if errors.As(err, &ce) {
			out.TxID, out.Message, out.Event = ce.TxID, ce.Message, event(ce.Event)
		}
		return out
	}
	out := &Result{
		TxID: res.TxID, Status: res.Response.Status, Message: res.Response.Message,
		Payload: res.Response.Payload, Event: event(res.Event), Committed: res.Committed,
	}
	// A valid transaction commits even without writes; its event is then
	// delivered to listeners.
	if !c.Query && out.OK() && out.Event != nil {
		l.mu.Lock()
		l.events = append(l.events, *out.Event)
		l.mu.Unlock()
	}
	return out
}

func failed(txid string, err error) *Result {
	return &Result{TxID: txid, Status: shim.ERROR, Message: err.Error(), Err: err}
}

func event(e *pb.ChaincodeEvent) *Event {
	if e == nil {
		return nil
	}
	return &Event{TxID: e.TxId, Name: e.EventName, Payload: e.Payload}
}

// TxID is the ID of the n-th transaction (from 1) of a Ledger started
// with WithDeterministicIDs: 64 hex digits, like a Fabric transaction ID.
func TxID(n int) string {
	sum := sha256.Sum256([]byte("shimtest/" + strconv.Itoa(n)))
	return hex.EncodeToString(sum[:])
}

// Identity returns the client that submits calls unless a Call says
// otherwise: User1 of the MSP set by WithMSPID.
func (l *Ledger) Identity() *Identity { return l.id }

// lockedReader makes a deterministic random stream safe for the
// concurrent transactions that draw nonces from it.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// tapStream shows a test every message the chaincode sends.
type tapStream struct {
	*msgpipe.End
	tap func(*pb.ChaincodeMessage)
}

func (s tapStream) Recv() (*pb.ChaincodeMessage, error) {
	m, err := s.End.Recv()
	if err == nil {
		s.tap(m)
	}
	return m, err
}
