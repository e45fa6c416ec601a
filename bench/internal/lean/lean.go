// Package lean is the lean protocol bound: the benchmark chaincode served
// straight on /protos.Chaincode/Connect with the same messages and round
// trips as package raw, but nothing a chaincode protocol does not need.
//
//   - One goroutine per stream. Every transaction is a small state machine
//     driven by the receive loop: a TRANSACTION sends its first request, each
//     RESPONSE sends the next one or the COMPLETED. There is no goroutine per
//     transaction, no channel hand-off and no send lock.
//   - A hand-rolled wire codec (protowire) for the hot messages:
//     ChaincodeMessage, ChaincodeInput, GetState, PutState, GetStateByRange,
//     QueryStateNext, QueryResponse, QueryResultBytes, KV and Response.
//     Fields are read in place; only the transaction id of a transaction that
//     waits for a reply becomes a string (its map key).
//   - Reused buffers: a received frame is borrowed from gRPC's buffer pool
//     and given back once handled; requests are built in one scratch buffer
//     per stream and each frame goes out in a pooled buffer.
//
// It still does the work a chaincode must: every result of the range is
// decoded (namespace and key checked as UTF-8, as the generated decoder
// does), the read value is written back, and a missing seed fails the
// transaction, so it passes the same checks as the shims.
//
// RegisterSync serves a second mode, leansync (sync.go): the same codec,
// frames and work checks, but with the structure a synchronous stub API
// forces on any implementation — a worker goroutine per in-flight
// transaction that blocks in each state call, a routing map, a send lock.
// It is the control that tells how much of a shim's cost over lean is that
// structure.
package lean

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/ccserver/ccserver/bench/internal/benchcc"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// ServerOption installs the lean codec on a gRPC server that serves only
// the lean responder.
func ServerOption() grpc.ServerOption { return grpc.ForceServerCodecV2(codec{}) }

// Register adds the Chaincode service, registering as ccid, to s (made
// with ServerOption).
func Register(s *grpc.Server, ccid string) {
	register(s, func(stream grpc.ServerStream) error { return serve(stream, ccid) })
}

// register adds the Chaincode service with handler as its Connect stream.
func register(s *grpc.Server, handler func(grpc.ServerStream) error) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "protos.Chaincode",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{
			StreamName:    "Connect",
			ServerStreams: true,
			ClientStreams: true,
			Handler: func(_ any, stream grpc.ServerStream) error {
				return handler(stream)
			},
		}},
		Metadata: "peer/chaincode_shim.proto",
	}, nil)
}

// poolMin: gRPC pools buffers of at least 1 KiB only.
const poolMin = 1 << 10

// frame is an encoded ChaincodeMessage on its way out, in a pooled buffer
// that gRPC returns to the pool once written.
type frame struct{ buf *[]byte }

// inbound is a received ChaincodeMessage: its fields point into the frame,
// which is held until release.
type inbound struct {
	held                   mem.Buffer
	typ                    peer.ChaincodeMessage_Type
	payload, txid, channel []byte
}

func (in *inbound) release() {
	if in.held != nil {
		in.held.Free()
		in.held = nil
	}
}

// codec moves frames and inbounds; it knows no other message.
type codec struct{}

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*frame)
	if !ok || f.buf == nil {
		return nil, fmt.Errorf("lean codec: cannot marshal %T", v)
	}
	b := mem.NewBuffer(f.buf, mem.DefaultBufferPool())
	f.buf = nil
	return mem.BufferSlice{b}, nil
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	in, ok := v.(*inbound)
	if !ok {
		return fmt.Errorf("lean codec: cannot unmarshal into %T", v)
	}
	// One buffer: a reference, no copy; several: one pooled copy.
	held := data.MaterializeToBuffer(mem.DefaultBufferPool())
	in.typ, in.payload, in.txid, in.channel = 0, nil, nil, nil
	b := held.ReadOnlyData()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			held.Free()
			return protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				held.Free()
				return protowire.ParseError(n)
			}
			in.typ, b = peer.ChaincodeMessage_Type(int32(v)), b[n:]
			continue
		}
		if typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				held.Free()
				return protowire.ParseError(n)
			}
			b = b[n:]
			switch num {
			case 3:
				in.payload = v
			case 4:
				in.txid = v
			case 7:
				in.channel = v
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			held.Free()
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	in.held = held
	return nil
}

// Workloads, as a transaction's state remembers them.
const (
	fnGetPut = iota + 1
	fnRange
)

// tx is a transaction waiting for a reply.
type tx struct {
	fn      int
	putSent bool
	n, size int
}

type session struct {
	stream  grpc.ServerStream
	txs     map[string]*tx
	scratch []byte // the next request's payload
	out     frame
}

func serve(stream grpc.ServerStream, ccid string) error {
	ss := &session{stream: stream, txs: make(map[string]*tx), scratch: make([]byte, 0, 256)}
	if err := ss.send(peer.ChaincodeMessage_REGISTER, nil, registration(ccid)); err != nil {
		return err
	}
	var in inbound
	for {
		if err := stream.RecvMsg(&in); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		err := ss.handle(&in)
		in.release()
		if err != nil {
			return err
		}
	}
}

func (ss *session) handle(in *inbound) error {
	switch in.typ {
	case peer.ChaincodeMessage_REGISTERED, peer.ChaincodeMessage_READY:
		return nil
	case peer.ChaincodeMessage_KEEPALIVE:
		return ss.send(in.typ, in, in.payload)
	case peer.ChaincodeMessage_TRANSACTION, peer.ChaincodeMessage_INIT:
		fn, err := firstArg(in.payload)
		if err != nil {
			return fmt.Errorf("decode input of %s: %w", in.txid, err)
		}
		switch string(fn) {
		case "noop":
			return ss.complete(in, 200, "", nil)
		case "getput":
			ss.txs[string(in.txid)] = &tx{fn: fnGetPut}
			return ss.request(in, peer.ChaincodeMessage_GET_STATE, 1, []byte(benchcc.GetPutKey), 0, nil, nil)
		case "range":
			ss.txs[string(in.txid)] = &tx{fn: fnRange}
			return ss.request(in, peer.ChaincodeMessage_GET_STATE_BY_RANGE, 1, []byte(benchcc.RangeStart), 2, []byte(benchcc.RangeEnd), nil)
		}
		return ss.complete(in, 500, unknownFunction(fn), nil)
	case peer.ChaincodeMessage_RESPONSE, peer.ChaincodeMessage_ERROR:
		t := ss.txs[string(in.txid)]
		if t == nil {
			return nil // a stray reply
		}
		if in.typ == peer.ChaincodeMessage_ERROR {
			delete(ss.txs, string(in.txid))
			return ss.send(peer.ChaincodeMessage_ERROR, in, in.payload)
		}
		return ss.advance(in, t)
	}
	return fmt.Errorf("unexpected %s message from the peer", in.typ)
}

// advance takes a transaction past the reply in: the next request, or the
// end.
func (ss *session) advance(in *inbound, t *tx) error {
	switch t.fn {
	case fnGetPut:
		if t.putSent {
			return ss.finish(in, 200, "", nil)
		}
		if len(in.payload) == 0 {
			return ss.finish(in, 500, notSeeded, nil)
		}
		t.putSent = true
		return ss.request(in, peer.ChaincodeMessage_PUT_STATE, 1, []byte(benchcc.GetPutKey), 2, nil, in.payload)
	case fnRange:
		hasMore, id, err := t.page(in.payload)
		if err != nil {
			return ss.finishError(in, fmt.Sprintf("decode range page: %v", err))
		}
		if hasMore {
			return ss.request(in, peer.ChaincodeMessage_QUERY_STATE_NEXT, 1, id, 0, nil, nil)
		}
		var num [20]byte
		status, msg, payload := t.rangeOutcome(&num)
		return ss.finish(in, status, msg, payload)
	}
	return nil
}

func (ss *session) finish(in *inbound, status int32, msg string, payload []byte) error {
	delete(ss.txs, string(in.txid))
	return ss.complete(in, status, msg, payload)
}

func (ss *session) finishError(in *inbound, text string) error {
	delete(ss.txs, string(in.txid))
	return ss.send(peer.ChaincodeMessage_ERROR, in, []byte(text))
}

// complete sends COMPLETED carrying Response{status, message, payload}.
func (ss *session) complete(in *inbound, status int32, msg string, payload []byte) error {
	ss.scratch = appendResponse(ss.scratch[:0], status, msg, payload)
	return ss.send(peer.ChaincodeMessage_COMPLETED, in, ss.scratch)
}

// request sends a state request (see appendRequest).
func (ss *session) request(in *inbound, typ peer.ChaincodeMessage_Type, n1 protowire.Number, s1 []byte, n2 protowire.Number, s2, value []byte) error {
	ss.scratch = appendRequest(ss.scratch[:0], n1, s1, n2, s2, value)
	return ss.send(typ, in, ss.scratch)
}

// send writes one ChaincodeMessage {type, payload, txid and channel of in}
// into a pooled buffer and sends it.
func (ss *session) send(typ peer.ChaincodeMessage_Type, in *inbound, payload []byte) error {
	ss.out.buf = encodeFrame(typ, in, payload)
	return ss.stream.SendMsg(&ss.out)
}

// What both modes answer, from the same checks.
const notSeeded = benchcc.GetPutKey + " is not in the state: seed it"

func unknownFunction(fn []byte) string {
	return fmt.Sprintf("unknown function %q (want noop, getput or range)", fn)
}

// rangeOutcome is the reply to a range read to the end: the payload size,
// or a failure if the state did not hold every key. The payload is
// written into num.
func (t *tx) rangeOutcome(num *[20]byte) (status int32, msg string, payload []byte) {
	if t.n != benchcc.RangeKeys {
		return 500, fmt.Sprintf("range read %d keys, want %d: seed the state", t.n, benchcc.RangeKeys), nil
	}
	return 200, "", strconv.AppendInt(num[:0], int64(t.size), 10)
}

// registration is the REGISTER payload: ChaincodeID{name: ccid}.
func registration(ccid string) []byte {
	return protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), ccid)
}

// appendResponse appends Response{status, message, payload} to b.
func appendResponse(b []byte, status int32, msg string, payload []byte) []byte {
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(int64(status)))
	if msg != "" {
		b = protowire.AppendString(protowire.AppendTag(b, 2, protowire.BytesType), msg)
	}
	if len(payload) > 0 {
		b = protowire.AppendBytes(protowire.AppendTag(b, 3, protowire.BytesType), payload)
	}
	return b
}

// appendRequest appends a state request of up to two string fields and one
// bytes field (the shape of GetState, PutState, GetStateByRange,
// QueryStateNext) to b.
func appendRequest(b []byte, n1 protowire.Number, s1 []byte, n2 protowire.Number, s2, value []byte) []byte {
	if len(s1) > 0 {
		b = protowire.AppendBytes(protowire.AppendTag(b, n1, protowire.BytesType), s1)
	}
	if len(s2) > 0 {
		b = protowire.AppendBytes(protowire.AppendTag(b, n2, protowire.BytesType), s2)
	}
	if len(value) > 0 {
		b = protowire.AppendBytes(protowire.AppendTag(b, n2, protowire.BytesType), value)
	}
	return b
}

// encodeFrame encodes ChaincodeMessage {type, payload, txid and channel of
// in} into a pooled buffer.
func encodeFrame(typ peer.ChaincodeMessage_Type, in *inbound, payload []byte) *[]byte {
	var txid, channel []byte
	if in != nil {
		txid, channel = in.txid, in.channel
	}
	n := 1 + protowire.SizeVarint(uint64(typ))
	for _, f := range [...][]byte{payload, txid, channel} {
		if len(f) > 0 {
			n += 1 + protowire.SizeBytes(len(f))
		}
	}
	buf := mem.DefaultBufferPool().Get(max(n, poolMin))
	b := protowire.AppendVarint(protowire.AppendTag((*buf)[:0], 1, protowire.VarintType), uint64(typ))
	for _, f := range [...]struct {
		num protowire.Number
		v   []byte
	}{{3, payload}, {4, txid}, {7, channel}} {
		if len(f.v) > 0 {
			b = protowire.AppendBytes(protowire.AppendTag(b, f.num, protowire.BytesType), f.v)
		}
	}
	*buf = b
	return buf
}

// firstArg returns args[0] of a ChaincodeInput, checking the whole message
// is well-formed.
func firstArg(b []byte) ([]byte, error) {
	var first []byte
	seen := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType && !seen {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			first, seen, b = v, true, b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return first, nil
}

// page decodes one QueryResponse, counting its results into t; it returns
// has_more and the iterator id.
func (t *tx) page(b []byte) (hasMore bool, id []byte, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false, nil, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false, nil, protowire.ParseError(n)
			}
			hasMore, b = v != 0, b[n:]
		case typ == protowire.BytesType && (num == 1 || num == 3):
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false, nil, protowire.ParseError(n)
			}
			b = b[n:]
			if num == 3 {
				id = v
				continue
			}
			kv, err := field1(v) // QueryResultBytes.resultBytes
			if err != nil {
				return false, nil, err
			}
			if err := t.kv(kv); err != nil {
				return false, nil, err
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return false, nil, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return hasMore, id, nil
}

// kv decodes one KV {namespace, key, value} in place.
func (t *tx) kv(b []byte) error {
	key, value := 0, 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ == protowire.BytesType && num >= 1 && num <= 3 {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			switch num {
			case 1, 2:
				if !utf8.Valid(v) {
					return errors.New("KV string field is not UTF-8")
				}
				if num == 2 {
					key = len(v)
				}
			case 3:
				value = len(v)
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	t.n++
	t.size += key + value
	return nil
}

// field1 returns field 1 (bytes) of a message.
func field1(b []byte) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			out, b = v, b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return out, nil
}
