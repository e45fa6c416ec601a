package devpeer

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"time"

	"github.com/ccserver/ccserver/internal/peerside"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
)

// Errors of Client.Execute, Dial and Probe to branch on with errors.Is.
var (
	// ErrCCIDMismatch: the chaincode registered with another CCID than
	// WithCCID expects. A real peer would not answer it and the launch
	// would time out after chaincode.startuptimeout.
	ErrCCIDMismatch = errors.New("CCID mismatch")
	// ErrStreamTerminated: the stream ended while a transaction ran.
	ErrStreamTerminated = errors.New("chaincode stream terminated")
	// ErrProtocol: the chaincode broke the protocol.
	ErrProtocol = errors.New("chaincode protocol violation")
	// ErrTimeout: the transaction did not complete within the execute
	// timeout (the caller's deadline, else 30 s as the peer's default).
	ErrTimeout = errors.New("timeout expired while executing transaction")
)

// engineError carries an error of the engine: its message unchanged, and
// errors.Is matching devpeer's sentinels for the engine's.
type engineError struct{ err error }

func (e *engineError) Error() string { return e.err.Error() }

func (e *engineError) Unwrap() error { return e.err }

func (e *engineError) Is(target error) bool {
	for _, s := range [...]struct{ ours, engine error }{
		{ErrCCIDMismatch, peerside.ErrCCIDMismatch}, {ErrStreamTerminated, peerside.ErrStreamTerminated},
		{ErrProtocol, peerside.ErrProtocol}, {ErrTimeout, peerside.ErrTimeout},
	} {
		if target == s.ours {
			return errors.Is(e.err, s.engine)
		}
	}
	return false
}

// fromEngine wraps err (nil stays nil) so devpeer's sentinels match it.
func fromEngine(err error) error {
	if err == nil {
		return nil
	}
	return &engineError{err}
}

// ChaincodeError is an ERROR reply to a transaction: the chaincode failed
// it (the peer reports "transaction returned with failure: <message>").
type ChaincodeError struct {
	TxID    string
	Message string
	Event   *peer.ChaincodeEvent // the event the chaincode set, if any
}

func (e *ChaincodeError) Error() string { return "transaction returned with failure: " + e.Message }

// Option configures the peer side of a Client.
type Option struct{ o peerside.Option }

// WithCCID sets the CCID (package id) the chaincode must register with;
// another one fails Dial with ErrCCIDMismatch. Without it any CCID is
// accepted and Client.CCID reports it.
func WithCCID(ccid string) Option { return Option{peerside.WithCCID(ccid)} }

// WithNamespace sets the chaincode name used as the namespace in query
// results and events. The default is the CCID's label.
func WithNamespace(ns string) Option { return Option{peerside.WithNamespace(ns)} }

// WithState serves the world state from s, so that transactions with
// Commit see each other across runs. The default is an empty in-memory
// state per Client.
func WithState(s *BoltStore) Option {
	if s == nil {
		return Option{}
	}
	return Option{peerside.WithStore(s.st)}
}

// WithIdentity sets the creator of every proposal: an MSP ID and a PEM
// certificate (what the chaincode's client identity functions read);
// signer, if not nil, signs the proposals. The default is a fresh
// self-signed identity in Org1MSP.
func WithIdentity(mspid string, certPEM []byte, signer crypto.Signer) Option {
	return Option{peerside.WithIdentity(mspid, certPEM, signer)}
}

// WithOlderPeer makes READY announce no optional features, as a peer
// before Fabric 3.1 does (no write batches, no multi-key reads). By
// default the peer acts like Fabric 3.1 with its sample core.yaml.
func WithOlderPeer() Option {
	return Option{peerside.WithAdditionalParams(&peer.ChaincodeAdditionalParams{})}
}

// WithCollections names the private data collections of the chaincode's
// definition; a request for another one fails as on the peer. By default
// every collection is accepted.
func WithCollections(names ...string) Option { return Option{peerside.WithCollections(names...)} }

func engineOptions(opts []Option) []peerside.Option {
	out := make([]peerside.Option, 0, len(opts))
	for _, o := range opts {
		if o.o != nil {
			out = append(out, o.o)
		}
	}
	return out
}

// Tx is one transaction to run.
type Tx struct {
	ChannelID   string
	Args        [][]byte          // function name first
	Transient   map[string][]byte // goes into the proposal payload, as a client sends it
	Decorations map[string][]byte
	// Init sends INIT (with is_init) instead of TRANSACTION.
	Init bool
	// Commit applies the writes to the world state when the chaincode
	// returns a status below 400; leave it false for a query.
	Commit bool
	// TxID, if set, replaces the id derived from nonce and creator.
	TxID string
	// Timestamp, if set, is the proposal's timestamp instead of now.
	Timestamp time.Time
}

// Result is what the chaincode answered, with the transaction's writes.
type Result struct {
	TxID      string
	ChannelID string
	Response  *peer.Response
	// Event is the chaincode event with chaincode_id and tx_id filled in
	// as the peer does; nil when the chaincode set none.
	Event *peer.ChaincodeEvent
	// Writes is the write set in the order the keys were first written.
	Writes []Write
	// Committed says whether Writes were applied to the world state.
	Committed bool
}

// WriteKind says what a Write does.
type WriteKind int

// The kinds of write a chaincode can make (the engine's numbering).
const (
	WritePut      WriteKind = iota + 1
	WriteDelete             // the key and its metadata removed
	WritePurge              // private data only: value and hash removed
	WriteMetadata           // one metadata entry set
)

func (k WriteKind) String() string { return peerside.WriteKind(k).String() }

// Write is one entry of a write set.
type Write struct {
	Kind       WriteKind
	Collection string // "" for the public state
	Key        string
	Value      []byte // WritePut: the value; WriteMetadata: the entry's value
	MetaKey    string // WriteMetadata only
}

// Client is one connection to a chaincode server with its handshake done.
// Its methods may be called from many goroutines; transactions run
// concurrently on the one stream.
type Client struct {
	conn   *peerside.Conn
	cc     *grpc.ClientConn
	cancel context.CancelFunc
	// TLS is the negotiated TLS state (nil for plaintext).
	TLS *tls.ConnectionState
}

// Execute runs one transaction: TRANSACTION (or INIT) with a signed
// proposal, the chaincode's state requests served until it completes. A
// failed transaction is a *ChaincodeError; a status ≥ 400 is a Result.
func (c *Client) Execute(ctx context.Context, tx Tx) (*Result, error) {
	res, err := c.conn.Execute(ctx, &peerside.Tx{
		ChannelID: tx.ChannelID, Args: tx.Args, Transient: tx.Transient, Decorations: tx.Decorations,
		Init: tx.Init, Commit: tx.Commit, TxID: tx.TxID, Timestamp: tx.Timestamp,
	})
	var ce *peerside.ChaincodeError
	if errors.As(err, &ce) {
		return nil, &ChaincodeError{TxID: ce.TxID, Message: ce.Message, Event: ce.Event}
	}
	if err != nil {
		return nil, fromEngine(err)
	}
	out := &Result{TxID: res.TxID, ChannelID: res.ChannelID, Response: res.Response, Event: res.Event, Committed: res.Committed}
	if res.Update != nil {
		for _, w := range res.Update.Writes {
			out.Writes = append(out.Writes, Write{Kind: WriteKind(w.Kind), Collection: w.Collection, Key: w.Key, Value: w.Value, MetaKey: w.MetaKey})
		}
	}
	return out, nil
}

// Ping sends a KEEPALIVE and returns the time until the chaincode echoed it.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	d, err := c.conn.Ping(ctx)
	return d, fromEngine(err)
}

// CCID is the CCID the chaincode registered with.
func (c *Client) CCID() string { return c.conn.CCID() }

// Done is closed when the stream has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.conn.Done() }

// Err is why the stream ended (io.EOF for an orderly end), nil while up.
func (c *Client) Err() error { return fromEngine(c.conn.Err()) }

// Close ends the stream and the connection and waits for the receive loop.
func (c *Client) Close() error {
	c.cancel()
	<-c.conn.Done()
	return c.cc.Close()
}
