// Package raw serves the benchmark chaincode straight on the chaincode
// protocol with no shim: the fewest messages, decodes and goroutines that
// the same transactions can take over /protos.Chaincode/Connect. It is the
// protocol bound the shims are measured against, and is kept lean but
// real: transactions run concurrently on a stream, replies are matched to
// transactions by channel and transaction id, every request and result is
// encoded and decoded as a chaincode must.
package raw

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/ccserver/ccserver/bench/internal/benchcc"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Server implements peer.ChaincodeServer for the benchmark chaincode.
type Server struct {
	CCID string
	peer.UnimplementedChaincodeServer
}

// errStreamEnded is returned to transactions still waiting when the
// stream goes away.
var errStreamEnded = errors.New("stream ended")

// txKey identifies a transaction on a stream, as the peer does.
type txKey struct{ channel, txid string }

type session struct {
	stream  peer.Chaincode_ConnectServer
	sendMu  sync.Mutex
	mu      sync.Mutex
	waiting map[txKey]chan *peer.ChaincodeMessage
	ended   bool
	wg      sync.WaitGroup
}

// Connect registers as s.CCID and serves transactions until the peer ends
// the stream.
func (s *Server) Connect(stream peer.Chaincode_ConnectServer) error {
	ss := &session{stream: stream, waiting: make(map[txKey]chan *peer.ChaincodeMessage)}
	defer ss.wg.Wait()
	defer ss.end()
	id, err := proto.Marshal(&peer.ChaincodeID{Name: s.CCID})
	if err != nil {
		return err
	}
	if err := ss.send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_REGISTER, Payload: id}); err != nil {
		return err
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch m.Type {
		case peer.ChaincodeMessage_REGISTERED, peer.ChaincodeMessage_READY:
		case peer.ChaincodeMessage_KEEPALIVE:
			if err := ss.send(m); err != nil {
				return err
			}
		case peer.ChaincodeMessage_RESPONSE, peer.ChaincodeMessage_ERROR:
			ss.mu.Lock()
			ch := ss.waiting[txKey{m.ChannelId, m.Txid}]
			ss.mu.Unlock()
			if ch != nil {
				ch <- m // one request outstanding per transaction: never blocks
			}
		case peer.ChaincodeMessage_TRANSACTION, peer.ChaincodeMessage_INIT:
			var in peer.ChaincodeInput
			if err := proto.Unmarshal(m.Payload, &in); err != nil {
				return fmt.Errorf("decode input of %s: %w", m.Txid, err)
			}
			key := txKey{m.ChannelId, m.Txid}
			ch := make(chan *peer.ChaincodeMessage, 1)
			ss.mu.Lock()
			ss.waiting[key] = ch
			ss.mu.Unlock()
			ss.wg.Add(1)
			go ss.run(key, ch, in.Args)
		default:
			return fmt.Errorf("unexpected %s message from the peer", m.Type)
		}
	}
}

// end wakes every waiting transaction with errStreamEnded.
func (ss *session) end() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.ended = true
	for k, ch := range ss.waiting {
		close(ch)
		delete(ss.waiting, k)
	}
}

func (ss *session) send(m *peer.ChaincodeMessage) error {
	ss.sendMu.Lock()
	defer ss.sendMu.Unlock()
	return ss.stream.Send(m)
}

func (ss *session) run(key txKey, ch chan *peer.ChaincodeMessage, args [][]byte) {
	defer ss.wg.Done()
	t := &tx{ss: ss, key: key, reply: ch}
	resp, err := t.invoke(args)
	ss.mu.Lock()
	if !ss.ended {
		delete(ss.waiting, key)
	}
	ss.mu.Unlock()
	out := &peer.ChaincodeMessage{Type: peer.ChaincodeMessage_COMPLETED, Txid: key.txid, ChannelId: key.channel}
	if err != nil {
		out.Type, out.Payload = peer.ChaincodeMessage_ERROR, []byte(err.Error())
	} else if out.Payload, err = proto.Marshal(resp); err != nil {
		out.Type, out.Payload = peer.ChaincodeMessage_ERROR, []byte(err.Error())
	}
	_ = ss.send(out)
}

type tx struct {
	ss    *session
	key   txKey
	reply chan *peer.ChaincodeMessage
}

// call sends one request and waits for its answer.
func (t *tx) call(typ peer.ChaincodeMessage_Type, req proto.Message) ([]byte, error) {
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	if err := t.ss.send(&peer.ChaincodeMessage{Type: typ, Payload: b, Txid: t.key.txid, ChannelId: t.key.channel}); err != nil {
		return nil, err
	}
	m, ok := <-t.reply
	switch {
	case !ok:
		return nil, errStreamEnded
	case m.Type == peer.ChaincodeMessage_ERROR:
		return nil, fmt.Errorf("%s: %s", typ, m.Payload)
	}
	return m.Payload, nil
}

func (t *tx) invoke(args [][]byte) (*peer.Response, error) {
	fn := ""
	if len(args) > 0 {
		fn = string(args[0])
	}
	switch fn {
	case "noop":
		return &peer.Response{Status: 200}, nil
	case "getput":
		v, err := t.call(peer.ChaincodeMessage_GET_STATE, &peer.GetState{Key: benchcc.GetPutKey})
		if err != nil {
			return nil, err
		}
		if len(v) == 0 {
			return &peer.Response{Status: 500, Message: benchcc.GetPutKey + " is not in the state: seed it"}, nil
		}
		if _, err := t.call(peer.ChaincodeMessage_PUT_STATE, &peer.PutState{Key: benchcc.GetPutKey, Value: v}); err != nil {
			return nil, err
		}
		return &peer.Response{Status: 200}, nil
	case "range":
		return t.rangeRead()
	}
	return &peer.Response{Status: 500, Message: fmt.Sprintf("unknown function %q (want noop, getput or range)", fn)}, nil
}

// rangeRead reads the range page by page, decoding every result as a
// chaincode reading it would; the peer closes an iterator that has no more
// results, so there is nothing to close.
func (t *tx) rangeRead() (*peer.Response, error) {
	b, err := t.call(peer.ChaincodeMessage_GET_STATE_BY_RANGE, &peer.GetStateByRange{StartKey: benchcc.RangeStart, EndKey: benchcc.RangeEnd})
	if err != nil {
		return nil, err
	}
	n, size := 0, 0
	for {
		var qr peer.QueryResponse
		if err := proto.Unmarshal(b, &qr); err != nil {
			return nil, fmt.Errorf("decode range page: %w", err)
		}
		kvs := make([]queryresult.KV, len(qr.Results))
		for i, r := range qr.Results {
			if err := proto.Unmarshal(r.ResultBytes, &kvs[i]); err != nil {
				return nil, fmt.Errorf("decode range result: %w", err)
			}
			n++
			size += len(kvs[i].Key) + len(kvs[i].Value)
		}
		if !qr.HasMore {
			break
		}
		if b, err = t.call(peer.ChaincodeMessage_QUERY_STATE_NEXT, &peer.QueryStateNext{Id: qr.Id}); err != nil {
			return nil, err
		}
	}
	if n != benchcc.RangeKeys {
		return &peer.Response{Status: 500, Message: fmt.Sprintf("range read %d keys, want %d: seed the state", n, benchcc.RangeKeys)}, nil
	}
	return &peer.Response{Status: 200, Payload: strconv.AppendInt(nil, int64(size), 10)}, nil
}
