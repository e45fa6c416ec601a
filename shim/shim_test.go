package shim

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHandshakeRegistersWithCCIDAndDecodesReady(t *testing.T) {
	tests := []struct {
		name        string
		params      *pb.ChaincodeAdditionalParams
		wantBatch   bool
		wantMulti   bool
		wantBatchSz uint32
	}{
		{"older peer, empty READY", nil, false, false, 0},
		{"batching with small sizes raised to 100", &pb.ChaincodeAdditionalParams{UseWriteBatch: true, MaxSizeWriteBatch: 5, UseGetMultipleKeys: true, MaxSizeGetMultipleKeys: 7}, true, true, 100},
		{"large sizes kept", &pb.ChaincodeAdditionalParams{UseWriteBatch: true, MaxSizeWriteBatch: 1000}, true, false, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan [3]any, 1)
			cc := &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
				"params": func(s ChaincodeStubInterface) *pb.Response {
					p := s.(*ChaincodeStub).tx.Params()
					got <- [3]any{p.UseWriteBatch, p.UseGetMultipleKeys, p.MaxSizeWriteBatch}
					return Success(nil)
				}}}
			p := startPeer(t, cc, peerOpts{params: tc.params})
			if id := <-p.ccid; id != "test:1" {
				t.Fatalf("REGISTER name %q, want test:1", id)
			}
			response(t, p.invoke("tx1", "params"))
			g := <-got
			if g[0] != tc.wantBatch || g[1] != tc.wantMulti || (tc.wantBatch && g[2] != tc.wantBatchSz) {
				t.Fatalf("params %v, want batch=%v multi=%v size=%d", g, tc.wantBatch, tc.wantMulti, tc.wantBatchSz)
			}
		})
	}
}

func TestReplyRules(t *testing.T) {
	cc := &funcCC{
		init: func(s ChaincodeStubInterface) *pb.Response {
			_ = s.SetEvent("ev", []byte("x"))
			if string(s.GetArgs()[0]) == "fail" {
				return Error("init failed")
			}
			return Success([]byte("init ok"))
		},
		funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
			"ok":   func(ChaincodeStubInterface) *pb.Response { return Success([]byte("fine")) },
			"err":  func(ChaincodeStubInterface) *pb.Response { return Error("bad input") },
			"warn": func(ChaincodeStubInterface) *pb.Response { return &pb.Response{Status: 400, Message: "no"} },
			"event": func(s ChaincodeStubInterface) *pb.Response {
				_ = s.SetEvent("a", nil)
				_ = s.SetEvent("b", []byte("p"))
				return Success(nil)
			},
			"nil": func(ChaincodeStubInterface) *pb.Response { return nil },
		},
	}
	p := startPeer(t, cc, peerOpts{})
	tests := []struct {
		name       string
		typ        pb.ChaincodeMessage_Type
		args       []string
		wantType   pb.ChaincodeMessage_Type
		wantStatus int32
		wantText   string
		wantEvent  string
	}{
		{"init ok → COMPLETED", pb.ChaincodeMessage_INIT, []string{"go"}, pb.ChaincodeMessage_COMPLETED, 200, "", "ev"},
		{"init error → ERROR with message and event", pb.ChaincodeMessage_INIT, []string{"fail"}, pb.ChaincodeMessage_ERROR, 0, "init failed", "ev"},
		{"invoke ok → COMPLETED", pb.ChaincodeMessage_TRANSACTION, []string{"ok"}, pb.ChaincodeMessage_COMPLETED, 200, "", ""},
		{"invoke 500 → still COMPLETED", pb.ChaincodeMessage_TRANSACTION, []string{"err"}, pb.ChaincodeMessage_COMPLETED, 500, "bad input", ""},
		{"invoke 400 → COMPLETED", pb.ChaincodeMessage_TRANSACTION, []string{"warn"}, pb.ChaincodeMessage_COMPLETED, 400, "no", ""},
		{"last SetEvent wins", pb.ChaincodeMessage_TRANSACTION, []string{"event"}, pb.ChaincodeMessage_COMPLETED, 200, "", "b"},
		{"nil response → 500", pb.ChaincodeMessage_TRANSACTION, []string{"nil"}, pb.ChaincodeMessage_COMPLETED, 500, "nil response", ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			txid := fmt.Sprintf("rules-%d", i)
			p.start(tc.typ, "mychannel", txid, tc.args...)
			m := p.result("mychannel", txid)
			if m.Type != tc.wantType {
				t.Fatalf("reply %s (%q), want %s", m.Type, m.Payload, tc.wantType)
			}
			if m.Txid != txid || m.ChannelId != "mychannel" {
				t.Fatalf("reply carries %s/%s", m.ChannelId, m.Txid)
			}
			if tc.wantType == pb.ChaincodeMessage_ERROR {
				if string(m.Payload) != tc.wantText {
					t.Fatalf("ERROR text %q, want %q", m.Payload, tc.wantText)
				}
			} else {
				r := response(t, m)
				if r.Status != tc.wantStatus || !strings.Contains(r.Message, tc.wantText) {
					t.Fatalf("response %d %q, want %d %q", r.Status, r.Message, tc.wantStatus, tc.wantText)
				}
			}
			gotEvent := m.GetChaincodeEvent().GetEventName()
			if gotEvent != tc.wantEvent {
				t.Fatalf("event %q, want %q", gotEvent, tc.wantEvent)
			}
		})
	}
}

func TestKeepaliveIsEchoed(t *testing.T) {
	p := startPeer(t, &funcCC{}, peerOpts{})
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_KEEPALIVE, Txid: "ka"})
	select {
	case m := <-p.alive:
		if m.Txid != "ka" {
			t.Fatalf("echo txid %q", m.Txid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("KEEPALIVE not echoed")
	}
}

func TestPanicFailsOnlyThatTransaction(t *testing.T) {
	release := make(chan struct{})
	cc := &funcCC{
		init: func(ChaincodeStubInterface) *pb.Response { panic("init boom") },
		funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
			//lint:ignore SA5000 a runtime panic on purpose
			"boom": func(ChaincodeStubInterface) *pb.Response { var m map[string]int; m["x"] = 1; return nil },
			"slow": func(ChaincodeStubInterface) *pb.Response { <-release; return Success([]byte("slow done")) },
		}}
	p := startPeer(t, cc, peerOpts{})
	p.start(pb.ChaincodeMessage_TRANSACTION, "ch", "slow", "slow")
	r := response(t, p.invoke("boom", "boom"))
	if r.Status != 500 || !strings.Contains(r.Message, "panicked") {
		t.Fatalf("panic gave %d %q, want 500 chaincode panicked", r.Status, r.Message)
	}
	p.start(pb.ChaincodeMessage_INIT, "ch", "initboom", "x")
	if m := p.result("ch", "initboom"); m.Type != pb.ChaincodeMessage_ERROR || !strings.Contains(string(m.Payload), "init boom") {
		t.Fatalf("Init panic gave %s %q, want ERROR", m.Type, m.Payload)
	}
	close(release)
	if r := response(t, p.result("ch", "slow")); string(r.Payload) != "slow done" {
		t.Fatalf("concurrent tx got %q", r.Payload)
	}
	if r := response(t, p.invoke("after", "boom")); r.Status != 500 {
		t.Fatal("stream did not carry on after a panic")
	}
}

func TestStreamDeathReleasesWaitingCalls(t *testing.T) {
	const n = 8
	errs := make(chan error, n)
	var asked atomic.Int32
	cc := &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
		"get": func(s ChaincodeStubInterface) *pb.Response {
			_, err := s.GetState("k")
			errs <- err
			return Success(nil)
		}}}
	p := startPeer(t, cc, peerOpts{serve: func(*pb.ChaincodeMessage) *pb.ChaincodeMessage {
		asked.Add(1)
		return nil // never answer
	}})
	for i := range n {
		p.start(pb.ChaincodeMessage_TRANSACTION, "ch", fmt.Sprint("tx", i), "get")
	}
	deadline := time.Now().Add(10 * time.Second)
	for asked.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.end.Close()
	for range n {
		select {
		case err := <-errs:
			if err == nil || !strings.Contains(err.Error(), "stream closed") {
				t.Fatalf("waiting call returned %v, want stream closed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a waiting state call was not released when the stream died")
		}
	}
	select {
	case <-p.ran:
		p.ran <- nil // for Cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("engine did not return")
	}
}

func TestUnknownResponseIsDroppedNotFatal(t *testing.T) {
	p := startPeer(t, &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
		"ok": func(ChaincodeStubInterface) *pb.Response { return Success([]byte("ok")) }}}, peerOpts{})
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: "zzz", ChannelId: "ch"})
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_ERROR, Txid: "zzz", ChannelId: "ch"})
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_REGISTERED})
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_GET_STATE, Txid: "odd"})
	if r := response(t, p.invoke("next", "ok")); string(r.Payload) != "ok" {
		t.Fatalf("got %q", r.Payload)
	}
}

func TestDuplicateTxIDRefusedOriginalCompletesOnce(t *testing.T) {
	release := make(chan struct{})
	var runs atomic.Int32
	cc := &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
		"hold": func(ChaincodeStubInterface) *pb.Response { runs.Add(1); <-release; return Success([]byte("original")) },
		"ok":   func(ChaincodeStubInterface) *pb.Response { return Success(nil) }}}
	p := startPeer(t, cc, peerOpts{})
	p.start(pb.ChaincodeMessage_TRANSACTION, "ch", "dup", "hold")
	waitFor(t, func() bool { return runs.Load() == 1 })
	p.start(pb.ChaincodeMessage_TRANSACTION, "ch", "dup", "hold")
	// Same txid on another channel is a different transaction.
	response(t, p.invoke("dup-other", "ok"))
	p.start(pb.ChaincodeMessage_TRANSACTION, "other", "dup", "ok")
	response(t, p.result("other", "dup"))
	close(release)
	if r := response(t, p.result("ch", "dup")); string(r.Payload) != "original" {
		t.Fatalf("original got %q", r.Payload)
	}
	// A marker transaction after the original proves no second reply came.
	response(t, p.invoke("marker", "ok"))
	select {
	case m := <-p.resultChan("ch/dup"):
		t.Fatalf("second reply for the duplicate txid: %s", m.Type)
	default:
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("duplicate ran the chaincode: %d runs", n)
	}
}

func TestMalformedPayloadFailsOneTransaction(t *testing.T) {
	p := startPeer(t, &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
		"ok": func(ChaincodeStubInterface) *pb.Response { return Success(nil) },
		"creator": func(s ChaincodeStubInterface) *pb.Response {
			if _, err := s.GetCreator(); err != nil {
				return Error(err.Error())
			}
			return Success(nil)
		}}}, peerOpts{})
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "bad", ChannelId: "ch", Payload: []byte{0xff, 0xff, 0xff}})
	m := p.result("ch", "bad")
	if m.Type != pb.ChaincodeMessage_ERROR || !strings.Contains(string(m.Payload), "ChaincodeInput") {
		t.Fatalf("undecodable input: %s %q", m.Type, m.Payload)
	}
	in := mustMarshal(t, &pb.ChaincodeInput{Args: [][]byte{[]byte("ok")}})
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "badprop", ChannelId: "ch", Payload: in,
		Proposal: &pb.SignedProposal{ProposalBytes: []byte{0x0a, 0xff}}})
	m = p.result("ch", "badprop")
	if m.Type != pb.ChaincodeMessage_ERROR || !strings.Contains(string(m.Payload), "signed proposal") {
		t.Fatalf("bad proposal: %s %q", m.Type, m.Payload)
	}
	// Well-formed wire bytes but not a usable proposal: the context call fails.
	in = mustMarshal(t, &pb.ChaincodeInput{Args: [][]byte{[]byte("creator")}})
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "nohdr", ChannelId: "ch", Payload: in,
		Proposal: &pb.SignedProposal{ProposalBytes: mustMarshal(t, &pb.Proposal{})}})
	if r := response(t, p.result("ch", "nohdr")); r.Status != 500 || !strings.Contains(r.Message, "header") {
		t.Fatalf("proposal without header: %d %q", r.Status, r.Message)
	}
	response(t, p.invoke("good", "ok"))
}

func TestBoundedConcurrencyQueuesThenRefuses(t *testing.T) {
	release := make(chan struct{})
	var running, peak atomic.Int32
	cc := &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
		"hold": func(ChaincodeStubInterface) *pb.Response {
			n := running.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			<-release
			running.Add(-1)
			return Success(nil)
		}}}
	// 2 executing + 8 queued (default queue = 4×max); the 11th is refused.
	p := startPeer(t, cc, peerOpts{maxTx: 2})
	for i := range 10 {
		p.start(pb.ChaincodeMessage_TRANSACTION, "ch", fmt.Sprint("q", i), "hold")
	}
	waitFor(t, func() bool { return running.Load() == 2 })
	p.start(pb.ChaincodeMessage_TRANSACTION, "ch", "over", "hold")
	m := p.result("ch", "over")
	if m.Type != pb.ChaincodeMessage_ERROR || !strings.Contains(string(m.Payload), "busy") {
		t.Fatalf("over the bound: %s %q", m.Type, m.Payload)
	}
	close(release)
	for i := range 10 {
		response(t, p.result("ch", fmt.Sprint("q", i)))
	}
	if peak.Load() != 2 {
		t.Fatalf("peak concurrency %d, want 2", peak.Load())
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSplitCompositeKey(t *testing.T) {
	ck, err := CreateCompositeKey("asset", []string{"blue", "5"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key     string
		typ     string
		attrs   []string
		wantErr bool
	}{
		{ck, "asset", []string{"blue", "5"}, false},
		{"\x00asset\x00", "asset", []string{}, false},
		{"plain", "", nil, true},
		{"", "", nil, true},
		{"\x00", "", nil, true},
		{"\x00noterm", "", nil, true},
	}
	stub := &ChaincodeStub{}
	for _, tc := range tests {
		typ, attrs, err := stub.SplitCompositeKey(tc.key)
		if tc.wantErr {
			if !errors.Is(err, ErrNotCompositeKey) {
				t.Errorf("Split(%q) err %v, want ErrNotCompositeKey", tc.key, err)
			}
			continue
		}
		if err != nil || typ != tc.typ || fmt.Sprint(attrs) != fmt.Sprint(tc.attrs) {
			t.Errorf("Split(%q) = %q %q %v", tc.key, typ, attrs, err)
		}
	}
	for _, bad := range []string{"a\x00b", string(rune(maxUnicodeRune)), "\xff"} {
		if _, err := CreateCompositeKey("t", []string{bad}); err == nil {
			t.Errorf("CreateCompositeKey accepted %q", bad)
		}
	}
}

// kvPage builds a QueryResponse of KV results.
func kvPage(t testing.TB, id string, hasMore bool, md *pb.QueryResponseMetadata, keys ...string) []byte {
	qr := &pb.QueryResponse{Id: id, HasMore: hasMore}
	for _, k := range keys {
		qr.Results = append(qr.Results, &pb.QueryResultBytes{ResultBytes: mustMarshal(t, &queryresult.KV{Namespace: "cc", Key: k, Value: []byte("v" + k)})})
	}
	if md != nil {
		qr.Metadata = mustMarshal(t, md)
	}
	return mustMarshal(t, qr)
}

func collect(t testing.TB, it StateQueryIteratorInterface) []string {
	var keys []string
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		keys = append(keys, kv.Key)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return keys
}

func TestIteratorsPagesPrefetchAndClose(t *testing.T) {
	var mu sync.Mutex
	var got [][]string
	cc := &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
		"range": func(s ChaincodeStubInterface) *pb.Response {
			it, err := s.GetStateByRange("", "z")
			if err != nil {
				return Error(err.Error())
			}
			mu.Lock()
			got = append(got, collect(t, it))
			mu.Unlock()
			return Success(nil)
		},
		"early": func(s ChaincodeStubInterface) *pb.Response {
			it, err := s.GetStateByRange("a", "z")
			if err != nil {
				return Error(err.Error())
			}
			if _, err := it.Next(); err != nil {
				return Error(err.Error())
			}
			if err := it.Close(); err != nil {
				return Error(err.Error())
			}
			return Success(nil)
		}}}
	p := startPeer(t, cc, peerOpts{serve: func(m *pb.ChaincodeMessage) *pb.ChaincodeMessage {
		switch m.Type {
		case pb.ChaincodeMessage_GET_STATE_BY_RANGE:
			var r pb.GetStateByRange
			_ = proto.Unmarshal(m.Payload, &r)
			if m.Txid == "r1" && r.StartKey != emptyKeySubstitute {
				return &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_ERROR, Payload: []byte("start key not substituted")}
			}
			return rsp(kvPage(t, "it1", true, nil, "a", "b"))
		case pb.ChaincodeMessage_QUERY_STATE_NEXT:
			return rsp(kvPage(t, "it1", false, nil, "c"))
		case pb.ChaincodeMessage_QUERY_STATE_CLOSE:
			return rsp(mustMarshal(t, &pb.QueryResponse{Id: "it1"}))
		}
		return nil
	}})
	response(t, p.invoke("r1", "range"))
	if fmt.Sprint(got) != "[[a b c]]" {
		t.Fatalf("iterated %v", got)
	}
	count := func(typ pb.ChaincodeMessage_Type, txid string) int {
		n := 0
		for _, m := range p.seen() {
			if m.Type == typ && m.Txid == txid {
				n++
			}
		}
		return n
	}
	if n := count(pb.ChaincodeMessage_QUERY_STATE_CLOSE, "r1"); n != 0 {
		t.Fatalf("sent %d QUERY_STATE_CLOSE for an iterator the peer had released", n)
	}
	if r := response(t, p.invoke("r2", "early")); r.Status != 200 {
		t.Fatalf("early close: %s", r.Message)
	}
	if n := count(pb.ChaincodeMessage_QUERY_STATE_CLOSE, "r2"); n != 1 {
		t.Fatalf("sent %d QUERY_STATE_CLOSE for an open iterator, want 1", n)
	}
}

func TestWriteBatchDedupesAndFlushesAfterInvoke(t *testing.T) {
	var batches [][]*pb.WriteRecord
	var mu sync.Mutex
	cc := &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
		"w": func(s ChaincodeStubInterface) *pb.Response {
			s.StartWriteBatch()
			for i := range 150 {
				_ = s.PutState(fmt.Sprint("k", i), []byte("1"))
			}
			_ = s.PutState("k0", []byte("2"))
			_ = s.DelState("k1")
			_ = s.SetStateValidationParameter("k0", []byte("ep"))
			_ = s.PurgePrivateData("coll", "p")
			return Success(nil)
		}}}
	p := startPeer(t, cc, peerOpts{params: &pb.ChaincodeAdditionalParams{UseWriteBatch: true, MaxSizeWriteBatch: 100},
		serve: func(m *pb.ChaincodeMessage) *pb.ChaincodeMessage {
			if m.Type == pb.ChaincodeMessage_WRITE_BATCH_STATE {
				var wb pb.WriteBatchState
				_ = proto.Unmarshal(m.Payload, &wb)
				mu.Lock()
				batches = append(batches, wb.Rec)
				mu.Unlock()
			}
			return rsp(nil)
		}})
	response(t, p.invoke("b", "w"))
	mu.Lock()
	defer mu.Unlock()
	if len(batches) != 2 || len(batches[0]) != 100 || len(batches[1]) != 52 {
		t.Fatalf("batches of %d messages (%v)", len(batches), func() []int {
			var n []int
			for _, b := range batches {
				n = append(n, len(b))
			}
			return n
		}())
	}
	first := batches[0]
	if string(first[0].Value) != "2" || first[1].Type != pb.WriteRecord_DEL_STATE {
		t.Fatalf("dedupe: k0=%q type(k1)=%s", first[0].Value, first[1].Type)
	}
	last := batches[1]
	if last[50].Type != pb.WriteRecord_PUT_STATE_METADATA || last[51].Type != pb.WriteRecord_PURGE_PRIVATE_DATA {
		t.Fatalf("metadata/purge records: %s %s", last[50].Type, last[51].Type)
	}
	for _, m := range p.seen() {
		if m.Type == pb.ChaincodeMessage_PUT_STATE {
			t.Fatal("a PUT_STATE went out while batching")
		}
	}
}

func TestGetMultipleStatesChunksAndFallsBack(t *testing.T) {
	keys := make([]string, 250)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
	}
	serve := func(m *pb.ChaincodeMessage) *pb.ChaincodeMessage {
		switch m.Type {
		case pb.ChaincodeMessage_GET_STATE_MULTIPLE:
			var req pb.GetStateMultiple
			_ = proto.Unmarshal(m.Payload, &req)
			res := &pb.GetStateMultipleResult{}
			for _, k := range req.Keys {
				v := []byte("v" + k)
				if k == "k7" {
					v = nil
				}
				res.Values = append(res.Values, v)
			}
			return rsp(mustMarshal(t, res))
		case pb.ChaincodeMessage_GET_STATE:
			var req pb.GetState
			_ = proto.Unmarshal(m.Payload, &req)
			if req.Key == "k7" {
				return rsp(nil)
			}
			return rsp([]byte("v" + req.Key))
		}
		return nil
	}
	for _, tc := range []struct {
		name      string
		params    *pb.ChaincodeAdditionalParams
		wantType  pb.ChaincodeMessage_Type
		wantCalls int
	}{
		{"batched", &pb.ChaincodeAdditionalParams{UseGetMultipleKeys: true, MaxSizeGetMultipleKeys: 100}, pb.ChaincodeMessage_GET_STATE_MULTIPLE, 3},
		{"fallback", nil, pb.ChaincodeMessage_GET_STATE, 250},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
				"m": func(s ChaincodeStubInterface) *pb.Response {
					vals, err := s.GetMultipleStates(keys...)
					if err != nil {
						return Error(err.Error())
					}
					for i, v := range vals {
						want := []byte("v" + keys[i])
						if i == 7 {
							want = nil
						}
						if !bytes.Equal(v, want) || (want == nil) != (v == nil) {
							return Error(fmt.Sprintf("value %d = %q", i, v))
						}
					}
					return Success(nil)
				}}}
			p := startPeer(t, cc, peerOpts{params: tc.params, serve: serve})
			if r := response(t, p.invoke("m", "m")); r.Status != 200 {
				t.Fatal(r.Message)
			}
			n := 0
			for _, m := range p.seen() {
				if m.Type == tc.wantType {
					n++
				}
			}
			if n != tc.wantCalls {
				t.Fatalf("%d %s messages, want %d", n, tc.wantType, tc.wantCalls)
			}
		})
	}
}
