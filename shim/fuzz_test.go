package shim

import (
	"bytes"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ccserver/ccserver/internal/msgpipe"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The fuzz input is a compact script of what a (possibly hostile) peer
// sends:
//
//	byte 0: flags: bit 0 = do the handshake first, bit 1 = READY enables
//	        write batches and multi-key reads
//	then per message:
//	  type byte   low 5 bits: message type (values past the enum too);
//	              bit 7: payload is a ChaincodeInput naming a chaincode
//	              function (so transactions really run) instead of raw bytes
//	  key byte    low 2 bits: txid, bit 2: channel
//	  len byte    payload length (raw) or function index
//	  payload     raw payload bytes
const (
	fuzzHandshake = 1 << iota
	fuzzFeatures
)

const (
	fuzzMaxMessages = 32
	fuzzInput       = 0x80
)

var (
	fuzzTxIDs    = []string{"", "t1", "t2", "t3"}
	fuzzChannels = []string{"", "ch"}
	fuzzFuncs    = []string{"get", "put", "range", "multi", "history", "invoke", "batch", "ctx", "panic", "event", "hold", "none"}
)

type fuzzMsg struct {
	typ     byte // with fuzzInput set, fn indexes fuzzFuncs
	key     byte
	fn      byte
	payload []byte
}

func encodeFuzz(flags byte, msgs ...fuzzMsg) []byte {
	out := []byte{flags}
	for _, m := range msgs {
		if m.typ&fuzzInput != 0 {
			out = append(out, m.typ, m.key, m.fn)
			continue
		}
		out = append(out, m.typ, m.key, byte(len(m.payload)))
		out = append(out, m.payload...)
	}
	return out
}

func decodeFuzz(data []byte) (flags byte, msgs []*pb.ChaincodeMessage) {
	if len(data) == 0 {
		return 0, nil
	}
	flags, data = data[0], data[1:]
	for len(data) >= 3 && len(msgs) < fuzzMaxMessages {
		typ, key, n := data[0], data[1], data[2]
		data = data[3:]
		m := &pb.ChaincodeMessage{
			Type:      pb.ChaincodeMessage_Type(typ & 0x1f),
			Txid:      fuzzTxIDs[key&3],
			ChannelId: fuzzChannels[(key>>2)&1],
		}
		if typ&fuzzInput != 0 {
			fn := fuzzFuncs[int(n)%len(fuzzFuncs)]
			m.Payload, _ = proto.Marshal(&pb.ChaincodeInput{Args: [][]byte{[]byte(fn), []byte("k")}})
			if key&8 != 0 {
				m.Proposal = &pb.SignedProposal{ProposalBytes: data[:min(len(data), int(key>>4))]}
			}
		} else {
			l := min(int(n), len(data))
			m.Payload, data = data[:l], data[l:]
		}
		msgs = append(msgs, m)
	}
	return flags, msgs
}

// fuzzCC makes every kind of stub call, so replies the fuzzer sends land
// in real waiting calls.
func fuzzCC() Chaincode {
	call := func(s ChaincodeStubInterface) *pb.Response {
		fn, _ := s.GetFunctionAndParameters()
		var err error
		switch fn {
		case "get":
			_, err = s.GetState("k")
		case "put":
			err = s.PutState("k", []byte("v"))
		case "range":
			var it StateQueryIteratorInterface
			if it, err = s.GetStateByRange("a", "z"); err == nil {
				for it.HasNext() {
					if _, err = it.Next(); err != nil {
						break
					}
				}
				_ = it.Close()
			}
		case "multi":
			_, err = s.GetMultipleStates("a", "b")
		case "history":
			var it HistoryQueryIteratorInterface
			if it, err = s.GetHistoryForKey("k"); err == nil {
				for it.HasNext() {
					if _, err = it.Next(); err != nil {
						break
					}
				}
				_ = it.Close()
			}
		case "invoke":
			return s.InvokeChaincode("other", [][]byte{[]byte("x")}, "")
		case "batch":
			s.StartWriteBatch()
			_ = s.PutState("k", []byte("v"))
			_ = s.DelState("j")
		case "ctx":
			_, _ = s.GetCreator()
			_, _ = s.GetTransient()
			_, _ = s.GetBinding()
			_, err = s.GetTxTimestamp()
		case "panic":
			panic("fuzz panic")
		case "event":
			err = s.SetEvent("e", []byte("p"))
		case "hold":
			_, err = s.GetPrivateDataHash("c", "k")
		}
		if err != nil {
			return Error(err.Error())
		}
		return Success(nil)
	}
	return &funcCC{init: call, funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
		"get": call, "put": call, "range": call, "multi": call, "history": call, "invoke": call,
		"batch": call, "ctx": call, "panic": call, "event": call, "hold": call,
	}}
}

// runFuzzScript plays the script against a real engine over msgpipe and
// checks the engine's side of the conversation.
func runFuzzScript(t *testing.T, data []byte) {
	ignore := goleak.IgnoreCurrent()
	flags, msgs := decodeFuzz(data)
	ccEnd, peerEnd := msgpipe.New(2 * (fuzzMaxMessages + 2))
	h := newHandler(ccEnd, fuzzCC(), runOptions{ccid: "fuzz:1", maxConcurrentTx: 2})
	ran := make(chan error, 1)
	go func() { ran <- h.eng.Run() }()

	var mu sync.Mutex
	var sent []*pb.ChaincodeMessage
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			m, err := peerEnd.Recv()
			if err != nil {
				return
			}
			mu.Lock()
			sent = append(sent, m)
			mu.Unlock()
		}
	}()

	var script []*pb.ChaincodeMessage
	if flags&fuzzHandshake != 0 {
		var ready []byte
		if flags&fuzzFeatures != 0 {
			ready, _ = proto.Marshal(&pb.ChaincodeAdditionalParams{UseWriteBatch: true, UseGetMultipleKeys: true})
		}
		script = append(script, &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_REGISTERED},
			&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_READY, Payload: ready})
	}
	script = append(script, msgs...)
	// A KEEPALIVE marker last: the engine echoes it from its receive loop,
	// so its echo means the whole script has been handled.
	script = append(script, &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_KEEPALIVE, Txid: "fuzz-end"})
	// The buffer holds the whole script, so sending never blocks even if
	// the engine has already given up on the stream.
	for _, m := range script {
		if err := peerEnd.Send(m); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	// Let the engine work through the script (and transactions that need
	// no reply finish) before the pipe closes: most paths need a live stream.
	seen := func(marker string) bool {
		mu.Lock()
		defer mu.Unlock()
		for i := len(sent) - 1; i >= 0; i-- {
			if sent[i].Type == pb.ChaincodeMessage_KEEPALIVE && sent[i].Txid == marker {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(5 * time.Second)
	settle := time.Time{}
	ended := false
	for time.Now().Before(deadline) {
		if !ended {
			select {
			case err := <-ran:
				ran <- err
				ended = true
				// Nothing else sends on the chaincode end now: a marker
				// behind the engine's last message tells when the reader
				// has it all (closing the pipe may drop what is unread).
				if err := ccEnd.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_KEEPALIVE, Txid: "fuzz-flush"}); err != nil {
					t.Fatalf("flush marker: %v", err)
				}
			default:
			}
		}
		if ended {
			if seen("fuzz-flush") {
				break
			}
		} else if seen("fuzz-end") {
			if settle.IsZero() {
				settle = time.Now().Add(20 * time.Millisecond)
			}
			if running, queued := h.eng.InFlight(); running+queued == 0 || time.Now().After(settle) {
				break
			}
		}
		time.Sleep(50 * time.Microsecond)
	}
	peerEnd.Close()
	select {
	case <-ran:
	case <-time.After(20 * time.Second):
		t.Fatal("the engine did not end after the stream closed")
	}
	<-drained

	// The engine's side of the conversation must make sense.
	if len(sent) == 0 || sent[0].Type != pb.ChaincodeMessage_REGISTER {
		t.Fatalf("first message %v, want REGISTER", sent)
	}
	started := map[string]int{}
	for _, m := range script {
		if m.Type == pb.ChaincodeMessage_TRANSACTION || m.Type == pb.ChaincodeMessage_INIT {
			started[m.ChannelId+"/"+m.Txid]++
		}
	}
	completed := map[string]int{}
	for _, m := range sent[1:] {
		switch m.Type {
		case pb.ChaincodeMessage_REGISTER:
			t.Fatal("a second REGISTER")
		case pb.ChaincodeMessage_COMPLETED:
			key := m.ChannelId + "/" + m.Txid
			completed[key]++
			if completed[key] > started[key] {
				t.Fatalf("%d COMPLETED for %s, which the peer started %d times", completed[key], key, started[key])
			}
			var r pb.Response
			if err := proto.Unmarshal(m.Payload, &r); err != nil {
				t.Fatalf("COMPLETED payload is not a Response: %v", err)
			}
		}
	}
	goleak.VerifyNone(t, ignore)
}

func FuzzEngine(f *testing.F) {
	tx := func(fn int, key byte) fuzzMsg {
		return fuzzMsg{typ: fuzzInput | byte(pb.ChaincodeMessage_TRANSACTION), key: key, fn: byte(fn)}
	}
	resp := func(key byte, payload []byte) fuzzMsg {
		return fuzzMsg{typ: byte(pb.ChaincodeMessage_RESPONSE), key: key, payload: payload}
	}
	page, _ := proto.Marshal(&pb.QueryResponse{HasMore: true, Id: "i", Results: []*pb.QueryResultBytes{{ResultBytes: []byte{0x0a, 0x01, 'k'}}}})
	nested, _ := proto.Marshal(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_COMPLETED, Payload: []byte{0x08, 0xc8, 0x01}})
	seeds := [][]byte{
		// A transaction that reads a key, answered.
		encodeFuzz(fuzzHandshake, tx(0, 1|4), resp(1|4, []byte("value"))),
		// Writes, ranges with a next page, multi-get with features on.
		encodeFuzz(fuzzHandshake|fuzzFeatures, tx(1, 1|4), resp(1|4, nil), tx(2, 2|4), resp(2|4, page), resp(2|4, page),
			tx(3, 3|4), resp(3|4, []byte{0x0a, 0x00})),
		// Stray responses and errors for unknown transactions, keepalive.
		encodeFuzz(fuzzHandshake, resp(2, nil), fuzzMsg{typ: byte(pb.ChaincodeMessage_ERROR), key: 3, payload: []byte("x")},
			fuzzMsg{typ: byte(pb.ChaincodeMessage_KEEPALIVE)}, fuzzMsg{typ: byte(pb.ChaincodeMessage_GET_STATE), key: 1}),
		// Duplicate txid, a panic, an INIT, InvokeChaincode with a nested reply.
		encodeFuzz(fuzzHandshake, tx(0, 1|4), tx(0, 1|4), tx(8, 2|4),
			fuzzMsg{typ: fuzzInput | byte(pb.ChaincodeMessage_INIT), key: 3 | 4, fn: 9}, tx(5, 0), resp(0, nested)),
		// Bad input and a malformed proposal.
		encodeFuzz(fuzzHandshake, fuzzMsg{typ: byte(pb.ChaincodeMessage_TRANSACTION), key: 1, payload: []byte{0xff, 0xff}},
			fuzzMsg{typ: fuzzInput | byte(pb.ChaincodeMessage_TRANSACTION), key: 2 | 8 | 0x30, fn: 7}),
		// Handshake violations: a transaction before REGISTERED, READY twice.
		encodeFuzz(0, tx(0, 1)),
		encodeFuzz(0, fuzzMsg{typ: byte(pb.ChaincodeMessage_REGISTERED)}, fuzzMsg{typ: byte(pb.ChaincodeMessage_TRANSACTION)}),
		encodeFuzz(fuzzHandshake, fuzzMsg{typ: byte(pb.ChaincodeMessage_READY), payload: []byte{0xff}}),
		// Garbage.
		{0xff, 0x13, 0x37, 0x00, 0xde, 0xad, 0xbe, 0xef},
		{},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(runFuzzScript)
}

// FuzzDecodePage checks the zero-copy QueryResponse decoder against the
// generated protobuf code.
func FuzzDecodePage(f *testing.F) {
	add := func(m proto.Message) {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	add(&pb.QueryResponse{})
	add(&pb.QueryResponse{Id: "it", HasMore: true, Results: []*pb.QueryResultBytes{{ResultBytes: []byte("a")}, {ResultBytes: nil}}})
	add(&pb.QueryResponse{Id: "x", Metadata: []byte{0x08, 0x02, 0x12, 0x02, 'b', 'm'}, Results: []*pb.QueryResultBytes{{ResultBytes: bytes.Repeat([]byte("v"), 300)}}})
	f.Add([]byte{0x0a, 0x02, 0x0a, 0xff}) // truncated nested bytes
	f.Add([]byte{0x10, 0x80})             // truncated varint
	f.Add([]byte{0x1a, 0x01, 0xff})       // invalid UTF-8 id
	f.Add([]byte{0x2a, 0x00, 0x0a, 0x00}) // unknown field then an empty result
	f.Add([]byte{0x0b, 0x0c})             // a group
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePage(b)
		var want pb.QueryResponse
		wantErr := proto.Unmarshal(b, &want)
		switch {
		case wantErr != nil && err == nil:
			// The decoder is lenient where it does not matter: it skips
			// the UTF-8 check of the id, which the shim only echoes back,
			// and field numbers past the protobuf maximum, which it skips
			// like any unknown field.
			if strictPage(b) {
				t.Fatalf("decodePage accepted what proto rejects (%v): %x", wantErr, b)
			}
			return
		case wantErr == nil && err != nil:
			t.Fatalf("decodePage rejected a valid QueryResponse: %v (%x)", err, b)
		case err != nil:
			return
		}
		if string(p.id) != want.Id || p.hasMore != want.HasMore || !bytes.Equal(p.metadata, want.Metadata) || p.count != len(want.Results) {
			t.Fatalf("decoded id=%q more=%v md=%x n=%d, proto id=%q more=%v md=%x n=%d",
				p.id, p.hasMore, p.metadata, p.count, want.Id, want.HasMore, want.Metadata, len(want.Results))
		}
		for i, r := range want.Results {
			if got := p.next(); !bytes.Equal(got, r.ResultBytes) {
				t.Fatalf("result %d: %x, proto %x", i, got, r.ResultBytes)
			}
		}
	})
}

// strictPage reports whether b has only valid field numbers (in the page
// and in its results) and a UTF-8 id: the checks decodePage leaves out.
func strictPage(b []byte) bool {
	return walkFields(b, func(num protowire.Number, v []byte) bool {
		switch num {
		case 1:
			return walkFields(v, func(protowire.Number, []byte) bool { return true })
		case 3:
			return utf8.Valid(v)
		}
		return true
	})
}

// walkFields calls f with the contents of each length-delimited field and
// reports false on a field number protobuf does not allow or bad framing.
func walkFields(b []byte, f func(protowire.Number, []byte) bool) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return false
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !f(num, v) {
				return false
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}
