package peerside

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Tx describes one transaction to run.
type Tx struct {
	ChannelID   string
	Args        [][]byte          // function name first
	Transient   map[string][]byte // goes into the proposal payload, as a client sends it
	Decorations map[string][]byte
	// Init sends INIT (with is_init) instead of TRANSACTION.
	Init bool
	// Commit applies the write set to the store when the chaincode returns
	// a status below 400 (an endorsable response). Leave false for queries.
	Commit bool
	// TxID, if set, is used instead of hex(SHA-256(nonce ‖ creator)).
	TxID string
	// Timestamp, if set, is the proposal timestamp (else the Conn's clock).
	Timestamp time.Time
	// Creator, if set, is the serialized msp.SerializedIdentity of this
	// proposal's creator instead of the Conn's identity; Signer, if not
	// nil, signs the proposal for it.
	Creator []byte
	Signer  crypto.Signer
}

// Result is what the chaincode answered, with the transaction's writes.
type Result struct {
	TxID      string
	ChannelID string
	Response  *peer.Response
	// Event is the chaincode event, with chaincode_id and tx_id filled in
	// as the peer does; nil when the chaincode set none.
	Event *peer.ChaincodeEvent
	// Update is the write set (possibly empty).
	Update *Update
	// Committed says whether Update was applied to the store.
	Committed bool
}

type txState struct {
	channel, txid string
	isInit        bool
	ts            time.Time
	reqs          chan *peer.ChaincodeMessage
	final         chan *peer.ChaincodeMessage
	violation     chan error
	busy          atomic.Bool
	writes        writeSet
	iters         map[string]*iterator
	// The simulator's read-only rules (tx_simulator.go): a paginated query
	// or a private-data range/rich query needs a transaction that has not
	// written, and no write may follow one.
	wrote, pagedQuery, privateQuery bool
}

// The peer's texts, typo included, so that a chaincode that matches on
// them behaves the same under devpeer.
const (
	errPagedAfterWrite   = "txid [%s]: unsuppored transaction. Paginated queries are supported only in a read-only transaction"
	errWriteAfterPaged   = "txid [%s]: unsuppored transaction. Transaction has already performed a paginated query. Writes are not allowed"
	errPrivateAfterWrite = "txid [%s]: unsuppored transaction. Queries on pvt data is supported only in a read-only transaction"
	errWriteAfterPrivate = "txid [%s]: unsuppored transaction. Transaction has already performed queries on pvt data. Writes are not allowed"
)

// checkWrite applies the read-only rules to a write, in the peer's order.
func (t *txState) checkWrite() error {
	switch {
	case t.privateQuery:
		return fmt.Errorf(errWriteAfterPrivate, t.txid)
	case t.pagedQuery:
		return fmt.Errorf(errWriteAfterPaged, t.txid)
	}
	t.wrote = true
	return nil
}

// beforeQuery applies the read-only rules to a paginated public query
// (private false) or a private-data range or rich query (private true).
func (t *txState) beforeQuery(private bool) error {
	if t.wrote {
		if private {
			return fmt.Errorf(errPrivateAfterWrite, t.txid)
		}
		return fmt.Errorf(errPagedAfterWrite, t.txid)
	}
	if private {
		t.privateQuery = true
	} else {
		t.pagedQuery = true
	}
	return nil
}

func (t *txState) violate(err error) {
	select {
	case t.violation <- err:
	default:
	}
}

func (c *Conn) identity() (*identity, error) {
	c.idOnce.Do(func() { c.id, c.idErr = newIdentity(&c.o) })
	return c.id, c.idErr
}

// Execute runs one transaction: it sends TRANSACTION (or INIT) with a
// signed proposal, serves the chaincode's requests for it until COMPLETED
// or ERROR, and returns the response and write set. An ERROR reply gives a
// *ChaincodeError. Execute may be called from many goroutines at once;
// transactions run concurrently on the one stream.
func (c *Conn) Execute(ctx context.Context, tx *Tx) (*Result, error) {
	select {
	case <-c.registered:
	default:
		return nil, errors.New("peerside: Execute before a successful Handshake")
	}
	if c.regErr != nil {
		return nil, c.regErr
	}
	if c.Err() != nil {
		return nil, fmt.Errorf("%w: %v", ErrStreamTerminated, c.Err())
	}
	id, err := c.identity()
	if err != nil {
		return nil, err
	}
	if tx.Creator != nil {
		id = &identity{creator: tx.Creator, signer: tx.Signer}
	}
	spec := *tx
	if spec.Timestamp.IsZero() {
		spec.Timestamp = c.o.clock()
	}
	input := &peer.ChaincodeInput{Args: spec.Args, Decorations: spec.Decorations, IsInit: spec.Init}
	payload, err := proto.Marshal(input)
	if err != nil {
		return nil, err
	}
	sp, txid, err := signedProposal(id, c.o.rand, c.o.namespace, &spec, input)
	if err != nil {
		return nil, err
	}
	st := &txState{
		channel: spec.ChannelID, txid: txid, isInit: spec.Init, ts: spec.Timestamp,
		reqs: make(chan *peer.ChaincodeMessage, 1), final: make(chan *peer.ChaincodeMessage, 1),
		violation: make(chan error, 1), iters: map[string]*iterator{},
	}
	key := txKey(spec.ChannelID, txid)
	c.mu.Lock()
	if _, dup := c.txs[key]; dup {
		c.mu.Unlock()
		return nil, fmt.Errorf("duplicate transaction ID %s on channel %q: a transaction with this ID is running", txid, spec.ChannelID)
	}
	c.txs[key] = st
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.txs, key)
		c.mu.Unlock()
	}()

	typ := peer.ChaincodeMessage_TRANSACTION
	if spec.Init {
		typ = peer.ChaincodeMessage_INIT
	}
	if _, ok := ctx.Deadline(); !ok && c.o.executeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.executeTimeout)
		defer cancel()
	}
	if err := c.send(&peer.ChaincodeMessage{Type: typ, Payload: payload, Txid: txid, ChannelId: spec.ChannelID, Proposal: sp}); err != nil {
		return nil, fmt.Errorf("send %s: %w", typ, err)
	}
	for {
		select {
		case req := <-st.reqs:
			reply := c.serve(st, req)
			st.busy.Store(false) // before the reply: the next request may follow at once
			if err := c.send(reply); err != nil {
				return nil, fmt.Errorf("send reply to %s: %w", req.Type, err)
			}
		case m := <-st.final:
			select { // a violation seen before the final message wins
			case err := <-st.violation:
				return nil, err
			default:
			}
			return c.finish(st, &spec, m)
		case err := <-st.violation:
			return nil, err
		case <-c.done:
			// A final message may have been routed just before the end.
			select {
			case m := <-st.final:
				return c.finish(st, &spec, m)
			default:
			}
			return nil, fmt.Errorf("%w: %v", ErrStreamTerminated, c.err)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w %s: %w", ErrTimeout, txid, ctx.Err())
			}
			return nil, ctx.Err()
		}
	}
}

func (c *Conn) finish(st *txState, spec *Tx, m *peer.ChaincodeMessage) (*Result, error) {
	ev := m.ChaincodeEvent
	if ev != nil {
		ev = proto.CloneOf(ev)
		ev.ChaincodeId = c.o.namespace
		ev.TxId = st.txid
	}
	if m.Type == peer.ChaincodeMessage_ERROR {
		return nil, &ChaincodeError{TxID: st.txid, Message: string(m.Payload), Event: ev}
	}
	resp := &peer.Response{}
	if err := proto.Unmarshal(m.Payload, resp); err != nil {
		return nil, fmt.Errorf("%w: COMPLETED payload for %s is not a Response: %v", ErrProtocol, st.txid, err)
	}
	if resp.Status >= 400 {
		ev = nil // the endorser drops the event of a response it will not endorse
	}
	res := &Result{
		TxID: st.txid, ChannelID: st.channel, Response: resp, Event: ev,
		Update: &Update{TxID: st.txid, Timestamp: st.ts, Writes: st.writes.list()},
	}
	if spec.Commit && resp.Status < 400 && len(res.Update.Writes) > 0 {
		u, err := c.committable(res.Update)
		if err != nil {
			return res, fmt.Errorf("commit %s: %w", st.txid, err)
		}
		if err := c.o.store.Commit(u); err != nil {
			return res, fmt.Errorf("commit %s: %w", st.txid, err)
		}
		res.Committed = true
	}
	return res, nil
}

// writeSet keeps the last write per (collection, key) for data and per
// (collection, key, metakey) for metadata, in first-write order.
type writeSet struct {
	idx    map[writeKey]int
	writes []Write
}

type writeKey struct {
	coll, key, metakey string
	meta               bool
}

func (w *writeSet) add(wr Write) {
	k := writeKey{coll: wr.Collection, key: wr.Key, meta: wr.Kind == WriteMetadata}
	if k.meta {
		k.metakey = wr.MetaKey
	}
	if w.idx == nil {
		w.idx = map[writeKey]int{}
	}
	if i, ok := w.idx[k]; ok {
		w.writes[i] = wr
		return
	}
	w.idx[k] = len(w.writes)
	w.writes = append(w.writes, wr)
}

func (w *writeSet) list() []Write { return append([]Write(nil), w.writes...) }

// committable returns the update the peer's committer would apply: a
// metadata write (a key-level endorsement policy) on a key that has no
// value once the transaction is applied is dropped, as prepareTxOps in
// the peer's validation does, instead of creating metadata for a key
// that does not exist.
func (c *Conn) committable(u *Update) (*Update, error) {
	type ck struct{ coll, key string }
	final := map[ck]WriteKind{} // the last data write of each key
	for _, w := range u.Writes {
		if w.Kind != WriteMetadata {
			final[ck{w.Collection, w.Key}] = w.Kind
		}
	}
	out := &Update{TxID: u.TxID, Timestamp: u.Timestamp}
	for _, w := range u.Writes {
		if w.Kind == WriteMetadata {
			switch final[ck{w.Collection, w.Key}] {
			case WriteDelete, WritePurge:
				continue
			case 0: // metadata only: keep it if the key has a committed value
				v, err := c.o.store.Get(w.Collection, w.Key)
				if err != nil {
					return nil, err
				}
				if v == nil {
					continue
				}
			}
		}
		out.Writes = append(out.Writes, w)
	}
	return out, nil
}
