package kvstore

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/msgpipe"
	"github.com/ccserver/ccserver/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ledger plays the peer over an in-memory stream: it runs transactions
// through the real shim engine and answers state calls from a map.
type ledger struct {
	t     *testing.T
	end   *msgpipe.End
	state map[string][]byte
	n     int
}

func newLedger(t *testing.T) *ledger {
	ccEnd, peerEnd := msgpipe.New(16)
	done := make(chan error, 1)
	go func() { done <- shim.StartInProc("kvstore", ccEnd, &KVStore{}) }()
	l := &ledger{t: t, end: peerEnd, state: map[string][]byte{}}
	t.Cleanup(func() {
		peerEnd.Close()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("chaincode did not stop")
		}
	})
	if m := l.recv(); m.Type != pb.ChaincodeMessage_REGISTER {
		t.Fatalf("first message %s", m.Type)
	}
	l.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_REGISTERED})
	l.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_READY})
	return l
}

func (l *ledger) recv() *pb.ChaincodeMessage {
	l.t.Helper()
	m, err := l.end.Recv()
	if err != nil {
		l.t.Fatal(err)
	}
	return m
}

func (l *ledger) send(m *pb.ChaincodeMessage) {
	l.t.Helper()
	if err := l.end.Send(m); err != nil {
		l.t.Fatal(err)
	}
}

func (l *ledger) marshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		l.t.Fatal(err)
	}
	return b
}

// rangeQuery answers GET_STATE_BY_RANGE in one page; with pagination the
// bookmark is the key to resume from.
func (l *ledger) rangeQuery(req *pb.GetStateByRange) []byte {
	var md pb.QueryMetadata
	if len(req.Metadata) > 0 {
		if err := proto.Unmarshal(req.Metadata, &md); err != nil {
			l.t.Fatal(err)
		}
	}
	start := req.StartKey
	if md.Bookmark != "" {
		start = md.Bookmark
	}
	keys := make([]string, 0, len(l.state))
	for k := range l.state {
		if k >= start && (req.EndKey == "" || k < req.EndKey) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	qr := &pb.QueryResponse{Id: "q"}
	next := ""
	if md.PageSize > 0 && len(keys) > int(md.PageSize) {
		next, keys = keys[md.PageSize], keys[:md.PageSize]
	}
	for _, k := range keys {
		qr.Results = append(qr.Results, &pb.QueryResultBytes{ResultBytes: l.marshal(&queryresult.KV{Key: k, Value: l.state[k]})})
	}
	if len(req.Metadata) > 0 {
		qr.Metadata = l.marshal(&pb.QueryResponseMetadata{FetchedRecordsCount: int32(len(keys)), Bookmark: next})
	}
	return l.marshal(qr)
}

// invoke runs one transaction; writes are applied when it completes.
func (l *ledger) invoke(prop *pb.SignedProposal, args ...string) (*pb.Response, *pb.ChaincodeEvent) {
	l.t.Helper()
	l.n++
	txid := fmt.Sprint("tx", l.n)
	in := &pb.ChaincodeInput{}
	for _, a := range args {
		in.Args = append(in.Args, []byte(a))
	}
	l.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: txid, ChannelId: "ch", Payload: l.marshal(in), Proposal: prop})
	writes := map[string][]byte{}
	deleted := map[string]bool{}
	for {
		m := l.recv()
		reply := &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: m.Txid, ChannelId: m.ChannelId}
		switch m.Type {
		case pb.ChaincodeMessage_GET_STATE:
			var r pb.GetState
			_ = proto.Unmarshal(m.Payload, &r)
			reply.Payload = l.state[r.Key]
		case pb.ChaincodeMessage_PUT_STATE:
			var r pb.PutState
			_ = proto.Unmarshal(m.Payload, &r)
			writes[r.Key] = r.Value
		case pb.ChaincodeMessage_DEL_STATE:
			var r pb.DelState
			_ = proto.Unmarshal(m.Payload, &r)
			deleted[r.Key] = true
		case pb.ChaincodeMessage_GET_STATE_BY_RANGE:
			var r pb.GetStateByRange
			_ = proto.Unmarshal(m.Payload, &r)
			reply.Payload = l.rangeQuery(&r)
		case pb.ChaincodeMessage_COMPLETED:
			var r pb.Response
			if err := proto.Unmarshal(m.Payload, &r); err != nil {
				l.t.Fatal(err)
			}
			if r.Status < shim.ERRORTHRESHOLD {
				for k, v := range writes {
					l.state[k] = v
				}
				for k := range deleted {
					delete(l.state, k)
				}
			}
			return &r, m.ChaincodeEvent
		default:
			l.t.Fatalf("unexpected %s %q", m.Type, m.Payload)
		}
		l.send(reply)
	}
}

func (l *ledger) ok(args ...string) []byte {
	l.t.Helper()
	r, _ := l.invoke(nil, args...)
	if r.Status != shim.OK {
		l.t.Fatalf("%v: %d %s", args, r.Status, r.Message)
	}
	return r.Payload
}

func TestKVStore(t *testing.T) {
	l := newLedger(t)
	r, ev := l.invoke(nil, "put", "apple", "red")
	if r.Status != shim.OK || ev.GetEventName() != "put" || string(ev.GetPayload()) != "apple" {
		t.Fatalf("put: %v event %v", r, ev)
	}
	if v := l.ok("get", "apple"); string(v) != "red" {
		t.Fatalf("get: %q", v)
	}
	for _, k := range []string{"banana", "cherry", "date", "elder"} {
		l.ok("put", k, "v-"+k)
	}
	l.ok("tag", "red", "apple")
	l.ok("tag", "red", "cherry")
	l.ok("tag", "yellow", "banana")
	var keys []string
	if err := json.Unmarshal(l.ok("bycolor", "red"), &keys); err != nil || !reflect.DeepEqual(keys, []string{"apple", "cherry"}) {
		t.Fatalf("bycolor red: %v %v", keys, err)
	}
	// Pages of two over plain keys: the composite index stays out of ranges.
	var all []string
	bookmark := ""
	for i := 0; ; i++ {
		var p Page
		if err := json.Unmarshal(l.ok("page", "", "", "2", bookmark), &p); err != nil {
			t.Fatal(err)
		}
		if int(p.Count) != len(p.Keys) {
			t.Fatalf("page %d: count %d for %v", i, p.Count, p.Keys)
		}
		all = append(all, p.Keys...)
		if p.Bookmark == "" {
			break
		}
		bookmark = p.Bookmark
	}
	if !reflect.DeepEqual(all, []string{"apple", "banana", "cherry", "date", "elder"}) {
		t.Fatalf("paged keys %v", all)
	}
	l.ok("del", "apple")
	if r, _ := l.invoke(nil, "get", "apple"); r.Status != shim.ERROR || !strings.Contains(r.Message, "not found") {
		t.Fatalf("get deleted: %v", r)
	}
	for _, bad := range [][]string{{"nope"}, {"put", "k"}, {"page", "a", "b", "zero", ""}} {
		if r, _ := l.invoke(nil, bad...); r.Status != shim.ERROR {
			t.Fatalf("%v accepted: %v", bad, r)
		}
	}
}

func TestKVStoreTransientAndIdentity(t *testing.T) {
	l := newLedger(t)
	when := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	marshal := l.marshal
	chdr := marshal(&common.ChannelHeader{Type: int32(common.HeaderType_ENDORSER_TRANSACTION), Timestamp: timestamppb.New(when)})
	shdr := marshal(&common.SignatureHeader{Creator: []byte("creator-identity"), Nonce: []byte("n")})
	prop := &pb.SignedProposal{ProposalBytes: marshal(&pb.Proposal{
		Header:  marshal(&common.Header{ChannelHeader: chdr, SignatureHeader: shdr}),
		Payload: marshal(&pb.ChaincodeProposalPayload{TransientMap: map[string][]byte{"value": []byte("hidden")}}),
	})}
	if r, _ := l.invoke(prop, "putsecret", "s"); r.Status != shim.OK {
		t.Fatalf("putsecret: %v", r)
	}
	if string(l.state["s"]) != "hidden" {
		t.Fatalf("stored %q", l.state["s"])
	}
	r, _ := l.invoke(prop, "whoami")
	var id Identity
	if err := json.Unmarshal(r.Payload, &id); err != nil || id.CreatorBytes != len("creator-identity") || id.TxTime != "2025-01-02T03:04:05Z" {
		t.Fatalf("whoami: %s %v", r.Payload, err)
	}
	if r, _ := l.invoke(nil, "putsecret", "s"); r.Status != shim.ERROR || !strings.Contains(r.Message, "transient") {
		t.Fatalf("putsecret without transient: %v", r)
	}
}
