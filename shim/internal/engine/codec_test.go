package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ccserver/ccserver/internal/msgpipe"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// randBytes returns nil, empty or random bytes.
func randBytes(r *rand.Rand, max int) []byte {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	b := make([]byte, r.IntN(max+1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func randString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return ""
	}
	runes := []rune("abcXYZ09-_/é€😀")
	out := make([]rune, r.IntN(70))
	for i := range out {
		out[i] = runes[r.IntN(len(runes))]
	}
	return string(out)
}

// randUnknown returns well-formed fields numbered from first up, which
// the message does not declare.
func randUnknown(r *rand.Rand, first int) []byte {
	var b []byte
	for range r.IntN(3) {
		num := protowire.Number(first + r.IntN(1000))
		switch r.IntN(4) {
		case 0:
			b = protowire.AppendTag(b, num, protowire.VarintType)
			b = protowire.AppendVarint(b, r.Uint64())
		case 1:
			b = protowire.AppendTag(b, num, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, r.Uint32())
		case 2:
			b = protowire.AppendTag(b, num, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, r.Uint64())
		default:
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendBytes(b, randBytes(r, 20))
		}
	}
	return b
}

func withUnknown[M proto.Message](r *rand.Rand, m M, first int) M {
	if u := randUnknown(r, first); u != nil {
		m.ProtoReflect().SetUnknown(u)
	}
	return m
}

func randMessage(r *rand.Rand) *pb.ChaincodeMessage {
	m := &pb.ChaincodeMessage{Payload: randBytes(r, 300), Txid: randString(r), ChannelId: randString(r)}
	switch r.IntN(4) {
	case 0:
	case 1:
		m.Type = pb.ChaincodeMessage_Type(r.Int32() - 1<<30) // negative and unnamed values too
	default:
		m.Type = pb.ChaincodeMessage_Type(r.IntN(25))
	}
	if r.IntN(2) == 0 {
		m.Timestamp = withUnknown(r, &timestamppb.Timestamp{Seconds: r.Int64() - 1<<62, Nanos: r.Int32() - 1<<30}, 3)
	}
	if r.IntN(2) == 0 {
		m.Proposal = withUnknown(r, &pb.SignedProposal{ProposalBytes: randBytes(r, 200), Signature: randBytes(r, 72)}, 3)
	}
	if r.IntN(3) == 0 {
		m.ChaincodeEvent = withUnknown(r, &pb.ChaincodeEvent{ChaincodeId: randString(r), TxId: randString(r), EventName: randString(r), Payload: randBytes(r, 50)}, 5)
	}
	return withUnknown(r, m, 8)
}

// TestCodecDifferential: for random messages, unknown fields included, our
// encoding is byte for byte proto.Marshal's, and each side decodes what
// the other encoded to an equal message.
func TestCodecDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	c := NewCodec()
	for i := range 5000 {
		m := randMessage(r)
		want, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got := AppendMessage(nil, m)
		if !bytes.Equal(got, want) {
			t.Fatalf("#%d: encoding differs\nours  %x\nproto %x", i, got, want)
		}
		if n := SizeMessage(m); n != len(want) {
			t.Fatalf("#%d: size %d, encoded %d", i, n, len(want))
		}
		var theirs pb.ChaincodeMessage
		if err := proto.Unmarshal(got, &theirs); err != nil {
			t.Fatalf("#%d: proto.Unmarshal of ours: %v", i, err)
		}
		var ours pb.ChaincodeMessage
		if err := c.Decode(bytes.Clone(want), &ours); err != nil {
			t.Fatalf("#%d: Decode of proto.Marshal: %v", i, err)
		}
		if !proto.Equal(&ours, &theirs) || !proto.Equal(&ours, m) {
			t.Fatalf("#%d: decoded messages differ\nours   %v\ntheirs %v\nsent   %v", i, &ours, &theirs, m)
		}
	}
}

// TestCodecGRPC goes through the gRPC-facing methods: a pooled buffer on
// the way out, and a frame split across buffers on the way in.
func TestCodecGRPC(t *testing.T) {
	c := NewCodec()
	m := &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_GET_STATE, Payload: []byte("payload"), Txid: "tx1", ChannelId: "ch"}
	out, err := c.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	b := out.Materialize()
	out.Free()
	want, _ := proto.Marshal(m)
	if !bytes.Equal(b, want) {
		t.Fatalf("Marshal %x, want %x", b, want)
	}
	in := mem.BufferSlice{mem.SliceBuffer(b[:5]), mem.SliceBuffer(b[5:])}
	var got pb.ChaincodeMessage
	if err := c.Unmarshal(in, &got); err != nil || !proto.Equal(&got, m) {
		t.Fatalf("Unmarshal: %v, %v", err, &got)
	}
	// An append to the payload must not overwrite the fields after it.
	_ = append(got.Payload, "XXXXXXXX"...)
	if got.Txid != "tx1" || got.ChannelId != "ch" {
		t.Fatalf("append to the payload changed the message: %v", &got)
	}
	// Other messages go to the generated code.
	other := &pb.ChaincodeID{Name: "cc"}
	out, err = c.Marshal(other)
	if err != nil {
		t.Fatal(err)
	}
	var id pb.ChaincodeID
	if err := c.Unmarshal(out, &id); err != nil || id.Name != "cc" {
		t.Fatalf("ChaincodeID round trip: %v %v", err, &id)
	}
	if _, err := c.Marshal(42); err == nil {
		t.Fatal("marshalled an int")
	}
}

func TestResponseAndInput(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		resp := withUnknown(r, &pb.Response{Status: r.Int32N(1000) - 10, Message: randString(r), Payload: randBytes(r, 100)}, 4)
		want, _ := proto.Marshal(resp)
		if got := MarshalResponse(resp); !bytes.Equal(got, want) {
			t.Fatalf("#%d: Response %x, want %x", i, got, want)
		}
		in := &pb.ChaincodeInput{}
		for range r.IntN(5) {
			in.Args = append(in.Args, randBytes(r, 30))
		}
		if r.IntN(5) == 0 {
			in.Decorations = map[string][]byte{randString(r): randBytes(r, 10)}
		}
		if r.IntN(5) == 0 {
			in.IsInit = true
		}
		b, _ := proto.Marshal(in)
		args, dec, err := DecodeInput(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&pb.ChaincodeInput{Args: args, Decorations: dec, IsInit: in.IsInit}, in) {
			t.Fatalf("#%d: DecodeInput %q %v, want %v", i, args, dec, in)
		}
	}
}

// FuzzCodec: on any input our decoder fails exactly when proto.Unmarshal
// does, decodes to an equal message, and re-encodes to proto.Marshal's
// bytes; the same for DecodeInput against ChaincodeInput.
func FuzzCodec(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		b, _ := proto.Marshal(randMessage(r))
		f.Add(b)
	}
	in, _ := proto.Marshal(&pb.ChaincodeInput{Args: [][]byte{[]byte("fn"), {}, []byte("x")}, Decorations: map[string][]byte{"k": []byte("v")}})
	f.Add(in)
	f.Add([]byte{0x0a, 0x80})                   // truncated length
	f.Add([]byte{0x22, 0x02, 0xff, 0xfe})       // txid not UTF-8
	f.Add([]byte{0x2a, 0x03, 0x0a, 0x01, 0x00}) // proposal sub-message
	f.Add([]byte{0x0b, 0x0c})                   // group
	c := NewCodec()
	eng := New(nil, Config{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var theirs pb.ChaincodeMessage
		errTheirs := proto.Unmarshal(b, &theirs)
		var ours pb.ChaincodeMessage
		errOurs := c.Decode(bytes.Clone(b), &ours)
		if (errOurs == nil) != (errTheirs == nil) {
			t.Fatalf("ours: %v, proto: %v", errOurs, errTheirs)
		}
		if errOurs == nil {
			if !proto.Equal(&ours, &theirs) {
				t.Fatalf("decoded differently\nours   %v\ntheirs %v", &ours, &theirs)
			}
			want, err := proto.Marshal(&theirs)
			if err != nil {
				t.Fatal(err)
			}
			if got := AppendMessage(nil, &ours); !bytes.Equal(got, want) {
				t.Fatalf("re-encoded %x, proto %x", got, want)
			}
		}
		// The receive target decodes the same, wherever it puts it.
		target := &Inbound{ChaincodeMessage: new(pb.ChaincodeMessage), e: eng}
		errInbound := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(bytes.Clone(b))}, target)
		if (errInbound == nil) != (errTheirs == nil) {
			t.Fatalf("inbound: %v, proto: %v", errInbound, errTheirs)
		}
		if errInbound == nil {
			got := target.ChaincodeMessage
			if target.tx != nil {
				got = target.tx.msg
			}
			if !proto.Equal(got, &theirs) {
				t.Fatalf("inbound decoded differently\nours   %v\ntheirs %v", got, &theirs)
			}
		}
		var input pb.ChaincodeInput
		errTheirs = proto.Unmarshal(b, &input)
		args, dec, errOurs := DecodeInput(b, nil)
		if (errOurs == nil) != (errTheirs == nil) {
			t.Fatalf("input: ours %v, proto %v", errOurs, errTheirs)
		}
		if errOurs == nil {
			got := &pb.ChaincodeInput{Args: args, Decorations: dec, IsInit: input.IsInit}
			input.ProtoReflect().SetUnknown(nil)
			if !proto.Equal(got, &input) {
				t.Fatalf("input decoded differently: %v, proto %v", got, &input)
			}
		}
	})
}

func TestRequests(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	check := func(got []byte, err error, m proto.Message) {
		t.Helper()
		want, werr := proto.Marshal(m)
		if (err == nil) != (werr == nil) || (err == nil && !bytes.Equal(got, want)) {
			t.Fatalf("%T: %x, %v; proto %x, %v", m, got, err, want, werr)
		}
	}
	for range 500 {
		k, c, v := randString(r), randString(r), randBytes(r, 40)
		if r.IntN(10) == 0 {
			k += "\xff"
		}
		b, err := MarshalGetState(k, c)
		check(b, err, &pb.GetState{Key: k, Collection: c})
		b, err = MarshalPutState(k, v, c)
		check(b, err, &pb.PutState{Key: k, Value: v, Collection: c})
		e := randString(r)
		b, err = MarshalGetStateByRange(k, e, c, v)
		check(b, err, &pb.GetStateByRange{StartKey: k, EndKey: e, Collection: c, Metadata: v})
		b, err = MarshalQueryStateNext(k)
		check(b, err, &pb.QueryStateNext{Id: k})
	}
}

// TestFrames: the frames the engine encodes itself are proto.Marshal's
// bytes of the same message, and go through Codec.Marshal unchanged.
func TestFrames(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	c := NewCodec()
	for range 300 {
		key := txKey{channel: randString(r), txid: randString(r)}
		req := PutStateRequest(randString(r), randBytes(r, 2000), randString(r))
		payload, _ := req.Marshal()
		buf, ok := requestFrame(pb.ChaincodeMessage_PUT_STATE, key, nil, &req)
		want, _ := proto.Marshal(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_PUT_STATE, Payload: payload, Txid: key.txid, ChannelId: key.channel})
		if !ok || !bytes.Equal(*buf, want) {
			t.Fatalf("request frame %x, want %x", *buf, want)
		}
		out, err := c.Marshal(Frame{buf})
		if err != nil || !bytes.Equal(out.Materialize(), want) {
			t.Fatalf("Marshal(Frame): %v", err)
		}
		out.Free()
		buf, _ = requestFrame(pb.ChaincodeMessage_GET_STATE, key, payload, nil)
		want, _ = proto.Marshal(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_GET_STATE, Payload: payload, Txid: key.txid, ChannelId: key.channel})
		if !bytes.Equal(*buf, want) {
			t.Fatalf("payload frame %x, want %x", *buf, want)
		}
		resp := &pb.Response{Status: r.Int32N(600), Message: randString(r), Payload: randBytes(r, 100)}
		buf, ok = completedFrame(key, resp)
		want, _ = proto.Marshal(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_COMPLETED, Payload: MarshalResponse(resp), Txid: key.txid, ChannelId: key.channel})
		if !ok || !bytes.Equal(*buf, want) {
			t.Fatalf("completed frame %x, want %x", *buf, want)
		}
	}
}

// otherCodecStream is a gRPC-like stream whose codec is not ours: RecvMsg
// decodes as gRPC's proto codec does (into the proto.Message it is
// given), SendMsg counts what it was asked to send and refuses frames, as
// a gRPC stream with another codec would (ending the stream).
type otherCodecStream struct {
	Stream
	frames int
}

func (s *otherCodecStream) RecvMsg(m any) error {
	got, err := s.Recv()
	if err != nil {
		return err
	}
	b, err := proto.Marshal(got)
	if err != nil {
		return err
	}
	return proto.Unmarshal(b, m.(proto.Message))
}

func (s *otherCodecStream) SendMsg(m any) error {
	if _, ok := m.(Frame); ok {
		s.frames++
		return errors.New("codec: cannot marshal a Frame")
	}
	return s.Send(m.(*pb.ChaincodeMessage))
}

// TestFramesOnlyThroughCodec: on a stream whose codec is another one, the
// engine never offers a frame (it would end a gRPC stream) and serves
// with messages; its receive target decodes as an ordinary message.
func TestFramesOnlyThroughCodec(t *testing.T) {
	ccEnd, peerEnd := msgpipe.New(32)
	rs := &otherCodecStream{Stream: ccEnd}
	eng := New(rs, Config{CCID: "cc:1", Frames: true, Handler: func(tx *Tx) Outcome {
		v, err := tx.CallRequest(pb.ChaincodeMessage_GET_STATE, GetStateRequest("k", ""))
		if err != nil {
			return Outcome{Failed: true, ErrText: err.Error()}
		}
		return Outcome{Response: &pb.Response{Status: 200, Payload: v}}
	}})
	ran := make(chan error, 1)
	go func() { ran <- eng.Run() }()
	defer func() { peerEnd.Close(); <-ran }()
	recv := func() *pb.ChaincodeMessage {
		m, err := peerEnd.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	recv() // REGISTER
	for _, m := range []*pb.ChaincodeMessage{{Type: pb.ChaincodeMessage_REGISTERED}, {Type: pb.ChaincodeMessage_READY}} {
		if err := peerEnd.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		in, _ := proto.Marshal(&pb.ChaincodeInput{Args: [][]byte{[]byte("get")}})
		txid := fmt.Sprint("tx", i)
		_ = peerEnd.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: txid, ChannelId: "ch", Payload: in})
		get := recv()
		var gs pb.GetState
		if get.Type != pb.ChaincodeMessage_GET_STATE || proto.Unmarshal(get.Payload, &gs) != nil || gs.Key != "k" || get.Txid != txid {
			t.Fatalf("request %v", get)
		}
		_ = peerEnd.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: txid, ChannelId: "ch", Payload: []byte("v")})
		done := recv()
		var resp pb.Response
		if done.Type != pb.ChaincodeMessage_COMPLETED || proto.Unmarshal(done.Payload, &resp) != nil || string(resp.Payload) != "v" {
			t.Fatalf("reply %v", done)
		}
	}
	if rs.frames != 0 {
		t.Fatalf("%d frames offered to a stream with another codec, want none", rs.frames)
	}
}

// TestInbound: an INIT or TRANSACTION is decoded into a new transaction's
// own storage, everything else into the receive target's message; where
// it goes never changes what is decoded, whatever the field order.
func TestInbound(t *testing.T) {
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	typeField := func(v pb.ChaincodeMessage_Type) []byte {
		return protowire.AppendVarint(tag(1, protowire.VarintType), uint64(v))
	}
	txid := protowire.AppendString(tag(4, protowire.BytesType), "t1")
	prop := protowire.AppendBytes(tag(5, protowire.BytesType), protowire.AppendBytes(tag(1, protowire.BytesType), []byte("proposal")))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name   string
		b      []byte
		intoTx bool
	}{
		{"transaction", cat(typeField(pb.ChaincodeMessage_TRANSACTION), txid, prop), true},
		{"init", cat(typeField(pb.ChaincodeMessage_INIT), txid), true},
		{"response", cat(typeField(pb.ChaincodeMessage_RESPONSE), txid), false},
		{"a later type wins", cat(typeField(pb.ChaincodeMessage_TRANSACTION), txid, typeField(pb.ChaincodeMessage_RESPONSE)), false},
		{"type not first", cat(txid, typeField(pb.ChaincodeMessage_TRANSACTION), prop), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want pb.ChaincodeMessage
			if err := proto.Unmarshal(tc.b, &want); err != nil {
				t.Fatal(err)
			}
			in := &Inbound{ChaincodeMessage: new(pb.ChaincodeMessage), e: New(nil, Config{})}
			if err := NewCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(bytes.Clone(tc.b))}, in); err != nil {
				t.Fatal(err)
			}
			got := in.ChaincodeMessage
			if tc.intoTx {
				if in.tx == nil || in.tx.msg != &in.tx.msgBuf {
					t.Fatal("not decoded into a transaction's storage")
				}
				got = in.tx.msg
				if got.Proposal != nil && got.Proposal != &in.tx.propBuf {
					t.Fatal("the proposal was allocated apart from the transaction")
				}
			} else if in.tx != nil {
				t.Fatal("decoded into a transaction's storage")
			}
			if !in.viaCodec || !proto.Equal(got, &want) {
				t.Fatalf("decoded %v, want %v", got, &want)
			}
		})
	}
}
