package engine

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Codec is the gRPC codec of chaincode streams. ChaincodeMessage — every
// message on the stream — is encoded and decoded by hand on protowire,
// byte for byte as the generated code does (fields in number order,
// unknown fields kept and written last); any other message (a health
// check, a service the embedder registered) goes to the generated code.
//
// It is installed per server (grpc.ForceServerCodecV2) or per call
// (grpc.ForceCodecV2), never registered globally, so the process's other
// gRPC traffic keeps the default codec.
//
// Decoding keeps the received frame as memory the message then owns (a
// frame of at most 1 KiB as gRPC allocated it, a larger one copied once
// out of gRPC's pool): payload, proposal bytes and signature are
// sub-slices of it (capped, so an append by chaincode reallocates instead
// of overwriting the next field), the ids strings over it. A pooled frame
// cannot be borrowed instead, because the payload reaches chaincode (a
// GetState value), which may keep it. Encoding writes into a buffer from gRPC's pool that gRPC returns once the
// frame is written.
type Codec struct {
	// channel is the last channel id decoded: a stream carries one or a
	// few channels, so most messages reuse it instead of a new string.
	channel atomic.Pointer[string]
}

// NewCodec returns a codec; one per server or client is enough (it is safe
// for concurrent use).
func NewCodec() *Codec { return &Codec{} }

// Name is the content subtype, the same as the default codec's: the peer
// sees ordinary application/grpc+proto.
func (*Codec) Name() string { return "proto" }

// poolMin is the smallest buffer asked of the pool: gRPC pools only
// buffers of at least 1 KiB, and a chaincode message is usually smaller.
const poolMin = 1 << 10

// Marshal encodes v.
func (c *Codec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(Frame); ok {
		return mem.BufferSlice{mem.NewBuffer(f.buf, mem.DefaultBufferPool())}, nil
	}
	m, ok := v.(*pb.ChaincodeMessage)
	if !ok {
		pm, ok := v.(proto.Message)
		if !ok {
			return nil, fmt.Errorf("codec: cannot marshal %T: not a protobuf message", v)
		}
		b, err := proto.Marshal(pm)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	n := SizeMessage(m)
	pool := mem.DefaultBufferPool()
	buf := pool.Get(max(n, poolMin))
	b := AppendMessage((*buf)[:0], m)
	if len(b) != n || cap(b) != cap(*buf) {
		pool.Put(buf)
		return nil, fmt.Errorf("codec: ChaincodeMessage encoded to %d bytes, sized %d (changed while sent?)", len(b), n)
	}
	*buf = b
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// Unmarshal decodes data into v.
func (c *Codec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *Inbound:
		return c.decodeInbound(ownedFrame(data), m)
	case *pb.ChaincodeMessage:
		return c.Decode(ownedFrame(data), m)
	}
	pm, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("codec: cannot unmarshal into %T: not a protobuf message", v)
	}
	return proto.Unmarshal(data.Materialize(), pm)
}

// ownedFrame returns the bytes of a received message as memory the decoded
// message may keep. A message that arrived in one gRPC data frame of at
// most 1 KiB is an unpooled mem.SliceBuffer: gRPC allocated it for that
// frame alone, never reuses it, and its Ref and Free do nothing, so it is
// kept as it is (no copy). Anything else lives in gRPC's pool and is freed
// when Unmarshal returns, so it is copied once.
func ownedFrame(data mem.BufferSlice) []byte {
	if len(data) == 1 {
		if b, ok := data[0].(mem.SliceBuffer); ok {
			return b
		}
	}
	return data.Materialize()
}

// Inbound is the engine's receive target. With this codec, an INIT or
// TRANSACTION is decoded straight into the storage of a new transaction
// (Tx) and every other message into ChaincodeMessage; any other codec sees
// an ordinary proto.Message (the embedded ChaincodeMessage) and decodes
// into that.
type Inbound struct {
	*pb.ChaincodeMessage
	e  *Engine
	tx *Tx
	// viaCodec is set when this codec decoded into it: the stream's
	// codec is Codec, so it takes Frames.
	viaCodec bool
}

func (c *Codec) decodeInbound(b []byte, in *Inbound) error {
	in.viaCodec = true
	if in.e == nil {
		return c.Decode(b, in.ChaincodeMessage)
	}
	if t := firstType(b); t == pb.ChaincodeMessage_TRANSACTION || t == pb.ChaincodeMessage_INIT {
		tx := in.e.newTx()
		if err := c.decode(b, &tx.msgBuf, &tx.propBuf); err != nil {
			return err
		}
		if t := tx.msgBuf.Type; t == pb.ChaincodeMessage_TRANSACTION || t == pb.ChaincodeMessage_INIT {
			tx.msg = &tx.msgBuf
			in.tx = tx
			return nil
		}
		// A later type field said otherwise (the last one wins): an
		// ordinary message after all.
	}
	return c.Decode(b, in.ChaincodeMessage)
}

// firstType returns the type of an encoded ChaincodeMessage when it is the
// first field, as every encoder writes it (fields in number order), else
// UNDEFINED. It only picks where to decode; the decoded type decides.
func firstType(b []byte) pb.ChaincodeMessage_Type {
	if len(b) < 2 || b[0] != 0x08 { // field 1, varint
		return pb.ChaincodeMessage_UNDEFINED
	}
	v, n := protowire.ConsumeVarint(b[1:])
	if n < 0 {
		return pb.ChaincodeMessage_UNDEFINED
	}
	return pb.ChaincodeMessage_Type(int32(v))
}

// AliasString is b as a string without a copy, for bytes of a received
// frame: nothing writes to a frame once it is decoded (see Decode), so a
// string over it stays what it was. Decode uses it for the ids, the
// iterator for the keys of a range page.
func AliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// errUTF8 is what proto.Unmarshal reports for a string that is not UTF-8.
var errUTF8 = errors.New("string field contains invalid UTF-8")

// Decode decodes b into m, as proto.Unmarshal does (m is reset first). m
// keeps sub-slices of b, and its Txid and ChannelId are strings over b's
// bytes: b must never change afterwards. (Nothing writes into a frame:
// the byte fields handed on are capped sub-slices, so an append by
// chaincode reallocates, and they never overlap the ids.)
func (c *Codec) Decode(b []byte, m *pb.ChaincodeMessage) error {
	return c.decode(b, m, nil)
}

// decode is Decode with a SignedProposal to decode the proposal into
// instead of allocating one (nil: allocate).
func (c *Codec) decode(b []byte, m *pb.ChaincodeMessage, prop *pb.SignedProposal) error {
	m.Reset()
	var unknown []byte
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			m.Type = pb.ChaincodeMessage_Type(int32(v))
			b = b[n:]
			continue
		case typ == protowire.BytesType && num >= 2 && num <= 7:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			switch num {
			case 2:
				if m.Timestamp == nil {
					m.Timestamp = &timestamppb.Timestamp{}
				}
				if err := decodeTimestamp(v, m.Timestamp); err != nil {
					return err
				}
			case 3:
				m.Payload = v[:len(v):len(v)]
			case 4:
				if !utf8.Valid(v) {
					return errUTF8
				}
				m.Txid = AliasString(v)
			case 5:
				if m.Proposal == nil {
					if prop != nil {
						m.Proposal, prop = prop, nil
					} else {
						m.Proposal = &pb.SignedProposal{}
					}
				}
				if err := decodeSignedProposal(v, m.Proposal); err != nil {
					return err
				}
			case 6:
				if m.ChaincodeEvent == nil {
					m.ChaincodeEvent = &pb.ChaincodeEvent{}
				}
				if err := decodeEvent(v, m.ChaincodeEvent); err != nil {
					return err
				}
			case 7:
				s, err := c.channelID(v)
				if err != nil {
					return err
				}
				m.ChannelId = s
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		unknown = appendUnknown(unknown, num, typ, b[:n])
		b = b[n:]
	}
	if unknown != nil {
		m.ProtoReflect().SetUnknown(unknown)
	}
	return nil
}

// channelID returns v as a string, reusing the last channel id decoded.
func (c *Codec) channelID(v []byte) (string, error) {
	if c != nil {
		if last := c.channel.Load(); last != nil && *last == string(v) {
			return *last, nil
		}
	}
	if !utf8.Valid(v) {
		return "", errUTF8
	}
	s := AliasString(v)
	if c != nil && s != "" {
		c.channel.Store(&s)
	}
	return s, nil
}

// appendUnknown collects unknown fields into a slice of their own, so a
// message's unknown bytes never alias the frame. The tag is re-encoded
// minimally, as the generated code does.
func appendUnknown(dst []byte, num protowire.Number, typ protowire.Type, value []byte) []byte {
	dst = protowire.AppendTag(dst, num, typ)
	return append(dst, value...)
}

func decodeTimestamp(b []byte, t *timestamppb.Timestamp) error {
	var unknown []byte
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ == protowire.VarintType && (num == 1 || num == 2) {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			if num == 1 {
				t.Seconds = int64(v)
			} else {
				t.Nanos = int32(v)
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		unknown = appendUnknown(unknown, num, typ, b[:n])
		b = b[n:]
	}
	if unknown != nil {
		addUnknown(t, unknown)
	}
	return nil
}

func decodeSignedProposal(b []byte, p *pb.SignedProposal) error {
	var unknown []byte
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ == protowire.BytesType && (num == 1 || num == 2) {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			if num == 1 {
				p.ProposalBytes = v[:len(v):len(v)]
			} else {
				p.Signature = v[:len(v):len(v)]
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		unknown = appendUnknown(unknown, num, typ, b[:n])
		b = b[n:]
	}
	if unknown != nil {
		addUnknown(p, unknown)
	}
	return nil
}

func decodeEvent(b []byte, e *pb.ChaincodeEvent) error {
	var unknown []byte
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ == protowire.BytesType && num >= 1 && num <= 4 {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			if num == 4 {
				e.Payload = v[:len(v):len(v)]
				continue
			}
			if !utf8.Valid(v) {
				return errUTF8
			}
			switch num {
			case 1:
				e.ChaincodeId = string(v)
			case 2:
				e.TxId = string(v)
			case 3:
				e.EventName = string(v)
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		unknown = appendUnknown(unknown, num, typ, b[:n])
		b = b[n:]
	}
	if unknown != nil {
		addUnknown(e, unknown)
	}
	return nil
}

// addUnknown appends to m's unknown fields (a repeated sub-message merges).
func addUnknown(m proto.Message, unknown []byte) {
	r := m.ProtoReflect()
	r.SetUnknown(append(r.GetUnknown(), unknown...))
}

// consumeTag is protowire.ConsumeTag that also refuses field numbers above
// the maximum, as proto.Unmarshal does.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, -1
	}
	return num, typ, n
}

// ---- encoding ----

func sizeBytes(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

// SizeMessage is the encoded size of m.
func SizeMessage(m *pb.ChaincodeMessage) int {
	n := 0
	if m.Type != 0 {
		n += 1 + protowire.SizeVarint(uint64(int64(m.Type)))
	}
	if m.Timestamp != nil {
		n += sizeBytes(2, sizeTimestamp(m.Timestamp))
	}
	if len(m.Payload) > 0 {
		n += sizeBytes(3, len(m.Payload))
	}
	if m.Txid != "" {
		n += sizeBytes(4, len(m.Txid))
	}
	if m.Proposal != nil {
		n += sizeBytes(5, sizeSignedProposal(m.Proposal))
	}
	if m.ChaincodeEvent != nil {
		n += sizeBytes(6, sizeEvent(m.ChaincodeEvent))
	}
	if m.ChannelId != "" {
		n += sizeBytes(7, len(m.ChannelId))
	}
	return n + len(m.ProtoReflect().GetUnknown())
}

// AppendMessage appends the encoding of m to b, the bytes proto.Marshal
// produces.
func AppendMessage(b []byte, m *pb.ChaincodeMessage) []byte {
	if m.Type != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(m.Type)))
	}
	if t := m.Timestamp; t != nil {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeTimestamp(t)))
		b = appendTimestamp(b, t)
	}
	b = appendBytes(b, 3, m.Payload)
	b = appendString(b, 4, m.Txid)
	if p := m.Proposal; p != nil {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeSignedProposal(p)))
		b = appendBytes(b, 1, p.ProposalBytes)
		b = appendBytes(b, 2, p.Signature)
		b = append(b, p.ProtoReflect().GetUnknown()...)
	}
	if e := m.ChaincodeEvent; e != nil {
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeEvent(e)))
		b = appendString(b, 1, e.ChaincodeId)
		b = appendString(b, 2, e.TxId)
		b = appendString(b, 3, e.EventName)
		b = appendBytes(b, 4, e.Payload)
		b = append(b, e.ProtoReflect().GetUnknown()...)
	}
	b = appendString(b, 7, m.ChannelId)
	return append(b, m.ProtoReflect().GetUnknown()...)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendString(b []byte, num protowire.Number, v string) []byte {
	if v == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, v)
}

func sizeTimestamp(t *timestamppb.Timestamp) int {
	n := 0
	if t.Seconds != 0 {
		n += 1 + protowire.SizeVarint(uint64(t.Seconds))
	}
	if t.Nanos != 0 {
		n += 1 + protowire.SizeVarint(uint64(int64(t.Nanos)))
	}
	return n + len(t.ProtoReflect().GetUnknown())
}

func appendTimestamp(b []byte, t *timestamppb.Timestamp) []byte {
	if t.Seconds != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(t.Seconds))
	}
	if t.Nanos != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(t.Nanos)))
	}
	return append(b, t.ProtoReflect().GetUnknown()...)
}

func sizeSignedProposal(p *pb.SignedProposal) int {
	n := 0
	if len(p.ProposalBytes) > 0 {
		n += sizeBytes(1, len(p.ProposalBytes))
	}
	if len(p.Signature) > 0 {
		n += sizeBytes(2, len(p.Signature))
	}
	return n + len(p.ProtoReflect().GetUnknown())
}

func sizeEvent(e *pb.ChaincodeEvent) int {
	n := 0
	for _, s := range [...]string{e.ChaincodeId, e.TxId, e.EventName} {
		if s != "" {
			n += sizeBytes(1, len(s))
		}
	}
	if len(e.Payload) > 0 {
		n += sizeBytes(4, len(e.Payload))
	}
	return n + len(e.ProtoReflect().GetUnknown())
}

// ---- the other hot messages ----

// AppendResponse appends the encoding of r (as proto.Marshal would) to b.
func AppendResponse(b []byte, r *pb.Response) []byte {
	if r.Status != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(r.Status)))
	}
	b = appendString(b, 2, r.Message)
	b = appendBytes(b, 3, r.Payload)
	return append(b, r.ProtoReflect().GetUnknown()...)
}

// SizeResponse is the encoded size of r.
func SizeResponse(r *pb.Response) int {
	n := 0
	if r.Status != 0 {
		n += 1 + protowire.SizeVarint(uint64(int64(r.Status)))
	}
	if r.Message != "" {
		n += sizeBytes(2, len(r.Message))
	}
	if len(r.Payload) > 0 {
		n += sizeBytes(3, len(r.Payload))
	}
	return n + len(r.ProtoReflect().GetUnknown())
}

// MarshalResponse encodes r into a buffer of exactly its size; nil encodes
// as empty, as with proto.Marshal.
func MarshalResponse(r *pb.Response) []byte {
	if r == nil {
		return nil
	}
	return AppendResponse(make([]byte, 0, SizeResponse(r)), r)
}

// DecodeInput decodes a ChaincodeInput. The arguments are sub-slices of b
// (capped: an append reallocates), held in buf when they fit in its
// capacity; only the rarely present decorations and is_init, or unknown
// fields, send it to the generated decoder.
func DecodeInput(b []byte, buf [][]byte) (args [][]byte, decorations map[string][]byte, err error) {
	rest := b
	for len(rest) > 0 {
		num, typ, n := consumeTag(rest)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		rest = rest[n:]
		if num != 1 || typ != protowire.BytesType {
			var in pb.ChaincodeInput
			if err := proto.Unmarshal(b, &in); err != nil {
				return nil, nil, err
			}
			return in.Args, in.Decorations, nil
		}
		v, n := protowire.ConsumeBytes(rest)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		rest = rest[n:]
		if args == nil {
			if n := countArgs(rest) + 1; n <= cap(buf) {
				args = buf[:0:n]
			} else {
				args = make([][]byte, 0, n)
			}
		}
		args = append(args, v[:len(v):len(v)])
	}
	return args, nil, nil
}

// countArgs counts the fields left in b, to size the argument slice once.
func countArgs(b []byte) int {
	n := 0
	for len(b) > 0 {
		num, typ, k := consumeTag(b)
		if k < 0 {
			return n
		}
		b = b[k:]
		k = protowire.ConsumeFieldValue(num, typ, b)
		if k < 0 {
			return n
		}
		b = b[k:]
		n++
	}
	return n
}

// Request is one of the state requests a transaction sends most
// (GetState, PutState, GetStateByRange, QueryStateNext): up to four string
// or bytes fields in number order. It is encoded as proto.Marshal does,
// straight into the frame when the stream takes Frames; a string that is
// not UTF-8 fails Validate as it fails proto.Marshal. It is a value of
// fixed size, so building one allocates nothing.
type Request struct {
	f [4]struct {
		num protowire.Number
		s   string
		b   []byte
	}
}

// GetStateRequest is a GetState.
func GetStateRequest(key, collection string) Request {
	var r Request
	r.f[0].num, r.f[0].s = 1, key
	r.f[1].num, r.f[1].s = 2, collection
	return r
}

// PutStateRequest is a PutState.
func PutStateRequest(key string, value []byte, collection string) Request {
	var r Request
	r.f[0].num, r.f[0].s = 1, key
	r.f[1].num, r.f[1].b = 2, value
	r.f[2].num, r.f[2].s = 3, collection
	return r
}

// GetStateByRangeRequest is a GetStateByRange.
func GetStateByRangeRequest(start, end, collection string, metadata []byte) Request {
	var r Request
	r.f[0].num, r.f[0].s = 1, start
	r.f[1].num, r.f[1].s = 2, end
	r.f[2].num, r.f[2].s = 3, collection
	r.f[3].num, r.f[3].b = 4, metadata
	return r
}

// QueryStateNextRequest is a QueryStateNext.
func QueryStateNextRequest(id string) Request {
	var r Request
	r.f[0].num, r.f[0].s = 1, id
	return r
}

// Validate fails for a string field that is not UTF-8.
func (r *Request) Validate() error {
	for _, f := range r.f {
		if f.s != "" && !utf8.ValidString(f.s) {
			return errUTF8
		}
	}
	return nil
}

func (r *Request) size() int {
	n := 0
	for _, f := range r.f {
		if f.s != "" {
			n += sizeBytes(f.num, len(f.s))
		}
		if len(f.b) > 0 {
			n += sizeBytes(f.num, len(f.b))
		}
	}
	return n
}

func (r *Request) appendTo(b []byte) []byte {
	for _, f := range r.f {
		if f.num != 0 {
			b = appendString(b, f.num, f.s)
			b = appendBytes(b, f.num, f.b)
		}
	}
	return b
}

// Marshal encodes r into a buffer of exactly its size.
func (r *Request) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r.appendTo(make([]byte, 0, r.size())), nil
}

// MarshalGetState encodes a GetState request.
func MarshalGetState(key, collection string) ([]byte, error) {
	r := GetStateRequest(key, collection)
	return r.Marshal()
}

// MarshalPutState encodes a PutState request.
func MarshalPutState(key string, value []byte, collection string) ([]byte, error) {
	r := PutStateRequest(key, value, collection)
	return r.Marshal()
}

// MarshalGetStateByRange encodes a GetStateByRange request.
func MarshalGetStateByRange(start, end, collection string, metadata []byte) ([]byte, error) {
	r := GetStateByRangeRequest(start, end, collection, metadata)
	return r.Marshal()
}

// MarshalQueryStateNext encodes a QueryStateNext request.
func MarshalQueryStateNext(id string) ([]byte, error) {
	r := QueryStateNextRequest(id)
	return r.Marshal()
}

// ---- frames ----

// Frame is a ChaincodeMessage the engine encoded itself into a buffer from
// gRPC's pool; Codec.Marshal hands the buffer to gRPC, which returns it to
// the pool once written. It saves the message, its payload and a copy per
// send. It holds a single pointer, so passing it as an interface
// allocates nothing.
type Frame struct{ buf *[]byte }

// frameSize is the size of ChaincodeMessage{type, payload of n bytes,
// txid, channel_id}.
func frameSize(typ pb.ChaincodeMessage_Type, n int, key txKey) int {
	s := 0
	if typ != 0 {
		s += 1 + protowire.SizeVarint(uint64(int64(typ)))
	}
	if n > 0 {
		s += sizeBytes(3, n)
	}
	if key.txid != "" {
		s += sizeBytes(4, len(key.txid))
	}
	if key.channel != "" {
		s += sizeBytes(7, len(key.channel))
	}
	return s
}

// newFrame returns a pooled buffer for a frame of size n, and its head
// (type and payload tag) written for a payload of payloadLen bytes.
func newFrame(n int, typ pb.ChaincodeMessage_Type, payloadLen int) (*[]byte, []byte) {
	buf := mem.DefaultBufferPool().Get(max(n, poolMin))
	b := (*buf)[:0]
	if typ != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(typ)))
	}
	if payloadLen > 0 {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(payloadLen))
	}
	return buf, b
}

// finishFrame writes the ids after the payload; false if the frame did
// not come out at size n (then it is not sent).
func finishFrame(buf *[]byte, b []byte, key txKey, n int) bool {
	b = appendString(b, 4, key.txid)
	b = appendString(b, 7, key.channel)
	if len(b) != n || cap(b) != cap(*buf) {
		return false
	}
	*buf = b
	return true
}

// requestFrame encodes ChaincodeMessage{typ, payload or r, key}.
func requestFrame(typ pb.ChaincodeMessage_Type, key txKey, payload []byte, r *Request) (*[]byte, bool) {
	pn := len(payload)
	if r != nil {
		pn = r.size()
	}
	n := frameSize(typ, pn, key)
	buf, b := newFrame(n, typ, pn)
	if r != nil {
		b = r.appendTo(b)
	} else {
		b = append(b, payload...)
	}
	return buf, finishFrame(buf, b, key, n)
}

// completedFrame encodes ChaincodeMessage{COMPLETED, resp, key}.
func completedFrame(key txKey, resp *pb.Response) (*[]byte, bool) {
	pn := 0
	if resp != nil {
		pn = SizeResponse(resp)
	}
	n := frameSize(pb.ChaincodeMessage_COMPLETED, pn, key)
	buf, b := newFrame(n, pb.ChaincodeMessage_COMPLETED, pn)
	if resp != nil {
		b = AppendResponse(b, resp)
	}
	return buf, finishFrame(buf, b, key, n)
}
