package shim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// stubCall is one stub method exercised against the in-memory peer: the
// request the peer must receive and what the chaincode must get back.
type stubCall struct {
	name string
	// call runs the method and turns its result into plain Go values
	// (iterators are drained) so results compare with reflect.DeepEqual.
	call func(s ChaincodeStubInterface) (any, error)
	// wantType and wantReq are the request the peer must receive; a zero
	// wantType means the call must be refused before reaching the peer.
	wantType pb.ChaincodeMessage_Type
	wantReq  proto.Message
	// reply is the RESPONSE payload the peer answers with; want is what
	// the chaincode must then get.
	reply []byte
	want  any
	// wantErr is the refusal text for calls that never reach the peer.
	wantErr string
}

const u10FFFF = string(rune(0x10FFFF))

func drainKV(it StateQueryIteratorInterface) ([]string, error) {
	out := []string{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		out = append(out, kv.Key+"="+string(kv.Value))
	}
	return out, it.Close()
}

// iter adapts the iterator-returning methods.
func iter(it StateQueryIteratorInterface, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return drainKV(it)
}

// paged adapts the paginated methods: keys plus the returned metadata.
func paged(it StateQueryIteratorInterface, md *pb.QueryResponseMetadata, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	keys, err := drainKV(it)
	if err != nil {
		return nil, err
	}
	if md == nil {
		return nil, fmt.Errorf("no QueryResponseMetadata returned")
	}
	return []any{keys, md.FetchedRecordsCount, md.Bookmark}, nil
}

func bytesResult(b []byte, err error) (any, error) { return b, err }

func errOnly(err error) (any, error) { return nil, err }

func stubCalls(t *testing.T) []stubCall {
	qmd := func(size int32, bm string) []byte {
		return mustMarshal(t, &pb.QueryMetadata{PageSize: size, Bookmark: bm})
	}
	page := kvPage(t, "it", false, nil, "a", "b")
	pagedReply := kvPage(t, "it", false, &pb.QueryResponseMetadata{FetchedRecordsCount: 2, Bookmark: "next"}, "a", "b")
	pagedWant := []any{[]string{"a=va", "b=vb"}, int32(2), "next"}
	composite := "\x00color\x00blue\x00"
	multi := mustMarshal(t, &pb.GetStateMultipleResult{Values: [][]byte{[]byte("1"), nil, []byte("3")}})
	meta := mustMarshal(t, &pb.StateMetadataResult{Entries: []*pb.StateMetadata{
		{Metakey: "OTHER", Value: []byte("x")}, {Metakey: "VALIDATION_PARAMETER", Value: []byte("policy")}}})
	history := mustMarshal(t, &pb.QueryResponse{Id: "h", Results: []*pb.QueryResultBytes{
		{ResultBytes: mustMarshal(t, &queryresult.KeyModification{TxId: "t1", Value: []byte("v1"), Timestamp: timestamppb.New(time.Unix(10, 0))})},
		{ResultBytes: mustMarshal(t, &queryresult.KeyModification{TxId: "t2", IsDelete: true})},
	}})
	return []stubCall{
		{name: "GetState", call: func(s ChaincodeStubInterface) (any, error) { return bytesResult(s.GetState("k")) },
			wantType: pb.ChaincodeMessage_GET_STATE, wantReq: &pb.GetState{Key: "k"}, reply: []byte("v"), want: []byte("v")},
		{name: "GetState missing key gives nil", call: func(s ChaincodeStubInterface) (any, error) { return bytesResult(s.GetState("k")) },
			wantType: pb.ChaincodeMessage_GET_STATE, wantReq: &pb.GetState{Key: "k"}, reply: nil, want: []byte(nil)},
		{name: "GetMultipleStates", call: func(s ChaincodeStubInterface) (any, error) {
			v, err := s.GetMultipleStates("a", "b", "c")
			return v, err
		},
			wantType: pb.ChaincodeMessage_GET_STATE_MULTIPLE, wantReq: &pb.GetStateMultiple{Keys: []string{"a", "b", "c"}},
			reply: multi, want: [][]byte{[]byte("1"), nil, []byte("3")}},
		{name: "PutState", call: func(s ChaincodeStubInterface) (any, error) { return errOnly(s.PutState("k", []byte("v"))) },
			wantType: pb.ChaincodeMessage_PUT_STATE, wantReq: &pb.PutState{Key: "k", Value: []byte("v")}},
		{name: "PutState empty key", call: func(s ChaincodeStubInterface) (any, error) { return errOnly(s.PutState("", []byte("v"))) },
			wantErr: "key must not be an empty string"},
		{name: "DelState", call: func(s ChaincodeStubInterface) (any, error) { return errOnly(s.DelState("k")) },
			wantType: pb.ChaincodeMessage_DEL_STATE, wantReq: &pb.DelState{Key: "k"}},
		{name: "SetStateValidationParameter", call: func(s ChaincodeStubInterface) (any, error) {
			return errOnly(s.SetStateValidationParameter("k", []byte("policy")))
		},
			wantType: pb.ChaincodeMessage_PUT_STATE_METADATA,
			wantReq:  &pb.PutStateMetadata{Key: "k", Metadata: &pb.StateMetadata{Metakey: "VALIDATION_PARAMETER", Value: []byte("policy")}}},
		{name: "GetStateValidationParameter", call: func(s ChaincodeStubInterface) (any, error) { return bytesResult(s.GetStateValidationParameter("k")) },
			wantType: pb.ChaincodeMessage_GET_STATE_METADATA, wantReq: &pb.GetStateMetadata{Key: "k"}, reply: meta, want: []byte("policy")},
		{name: "GetStateByRange", call: func(s ChaincodeStubInterface) (any, error) { return iter(s.GetStateByRange("a", "c")) },
			wantType: pb.ChaincodeMessage_GET_STATE_BY_RANGE, wantReq: &pb.GetStateByRange{StartKey: "a", EndKey: "c"},
			reply: page, want: []string{"a=va", "b=vb"}},
		{name: "GetStateByRange open start", call: func(s ChaincodeStubInterface) (any, error) { return iter(s.GetStateByRange("", "")) },
			wantType: pb.ChaincodeMessage_GET_STATE_BY_RANGE, wantReq: &pb.GetStateByRange{StartKey: "\x01"},
			reply: page, want: []string{"a=va", "b=vb"}},
		{name: "GetStateByRange composite start rejected", call: func(s ChaincodeStubInterface) (any, error) { return iter(s.GetStateByRange("\x00a", "b")) },
			wantErr: "null character"},
		{name: "GetStateByRange composite end rejected", call: func(s ChaincodeStubInterface) (any, error) { return iter(s.GetStateByRange("a", "\x00b")) },
			wantErr: "null character"},
		{name: "GetStateByRangeWithPagination", call: func(s ChaincodeStubInterface) (any, error) {
			return paged(s.GetStateByRangeWithPagination("a", "c", 2, "bm"))
		},
			wantType: pb.ChaincodeMessage_GET_STATE_BY_RANGE, wantReq: &pb.GetStateByRange{StartKey: "a", EndKey: "c", Metadata: qmd(2, "bm")},
			reply: pagedReply, want: pagedWant},
		{name: "GetStateByRangeWithPagination composite key rejected", call: func(s ChaincodeStubInterface) (any, error) {
			return paged(s.GetStateByRangeWithPagination("\x00", "", 2, ""))
		}, wantErr: "null character"},
		{name: "GetStateByPartialCompositeKey", call: func(s ChaincodeStubInterface) (any, error) {
			return iter(s.GetStateByPartialCompositeKey("color", []string{"blue"}))
		},
			wantType: pb.ChaincodeMessage_GET_STATE_BY_RANGE, wantReq: &pb.GetStateByRange{StartKey: composite, EndKey: composite + u10FFFF},
			reply: page, want: []string{"a=va", "b=vb"}},
		{name: "GetStateByPartialCompositeKey invalid attribute", call: func(s ChaincodeStubInterface) (any, error) {
			return iter(s.GetStateByPartialCompositeKey("color", []string{"a\x00b"}))
		}, wantErr: "not allowed"},
		{name: "GetStateByPartialCompositeKeyWithPagination", call: func(s ChaincodeStubInterface) (any, error) {
			return paged(s.GetStateByPartialCompositeKeyWithPagination("color", []string{"blue"}, 5, ""))
		},
			wantType: pb.ChaincodeMessage_GET_STATE_BY_RANGE,
			wantReq:  &pb.GetStateByRange{StartKey: composite, EndKey: composite + u10FFFF, Metadata: qmd(5, "")},
			reply:    pagedReply, want: pagedWant},
		{name: "GetAllStatesCompositeKeyWithPagination", call: func(s ChaincodeStubInterface) (any, error) {
			return paged(s.GetAllStatesCompositeKeyWithPagination(3, "bm"))
		},
			wantType: pb.ChaincodeMessage_GET_STATE_BY_RANGE,
			wantReq:  &pb.GetStateByRange{StartKey: "\x00", EndKey: "\x00" + u10FFFF, Metadata: qmd(3, "bm")},
			reply:    pagedReply, want: pagedWant},
		{name: "GetQueryResult", call: func(s ChaincodeStubInterface) (any, error) { return iter(s.GetQueryResult(`{"selector":{}}`)) },
			wantType: pb.ChaincodeMessage_GET_QUERY_RESULT, wantReq: &pb.GetQueryResult{Query: `{"selector":{}}`},
			reply: page, want: []string{"a=va", "b=vb"}},
		{name: "GetQueryResultWithPagination", call: func(s ChaincodeStubInterface) (any, error) {
			return paged(s.GetQueryResultWithPagination(`{"selector":{}}`, 2, "bm"))
		},
			wantType: pb.ChaincodeMessage_GET_QUERY_RESULT, wantReq: &pb.GetQueryResult{Query: `{"selector":{}}`, Metadata: qmd(2, "bm")},
			reply: pagedReply, want: pagedWant},
		{name: "GetHistoryForKey", call: func(s ChaincodeStubInterface) (any, error) {
			it, err := s.GetHistoryForKey("k")
			if err != nil {
				return nil, err
			}
			var out []string
			for it.HasNext() {
				km, err := it.Next()
				if err != nil {
					return nil, err
				}
				out = append(out, fmt.Sprintf("%s:%s:%v:%d", km.TxId, km.Value, km.IsDelete, km.GetTimestamp().GetSeconds()))
			}
			return out, it.Close()
		},
			wantType: pb.ChaincodeMessage_GET_HISTORY_FOR_KEY, wantReq: &pb.GetHistoryForKey{Key: "k"},
			reply: history, want: []string{"t1:v1:false:10", "t2::true:0"}},
		{name: "GetPrivateData", call: func(s ChaincodeStubInterface) (any, error) { return bytesResult(s.GetPrivateData("coll", "k")) },
			wantType: pb.ChaincodeMessage_GET_STATE, wantReq: &pb.GetState{Key: "k", Collection: "coll"}, reply: []byte("p"), want: []byte("p")},
		{name: "GetMultiplePrivateData", call: func(s ChaincodeStubInterface) (any, error) {
			v, err := s.GetMultiplePrivateData("coll", "a", "b", "c")
			return v, err
		},
			wantType: pb.ChaincodeMessage_GET_STATE_MULTIPLE, wantReq: &pb.GetStateMultiple{Keys: []string{"a", "b", "c"}, Collection: "coll"},
			reply: multi, want: [][]byte{[]byte("1"), nil, []byte("3")}},
		{name: "GetPrivateDataHash", call: func(s ChaincodeStubInterface) (any, error) { return bytesResult(s.GetPrivateDataHash("coll", "k")) },
			wantType: pb.ChaincodeMessage_GET_PRIVATE_DATA_HASH, wantReq: &pb.GetState{Key: "k", Collection: "coll"}, reply: []byte("hash"), want: []byte("hash")},
		{name: "PutPrivateData", call: func(s ChaincodeStubInterface) (any, error) {
			return errOnly(s.PutPrivateData("coll", "k", []byte("v")))
		},
			wantType: pb.ChaincodeMessage_PUT_STATE, wantReq: &pb.PutState{Key: "k", Value: []byte("v"), Collection: "coll"}},
		{name: "PutPrivateData empty key", call: func(s ChaincodeStubInterface) (any, error) { return errOnly(s.PutPrivateData("coll", "", nil)) },
			wantErr: "key must not be an empty string"},
		{name: "DelPrivateData", call: func(s ChaincodeStubInterface) (any, error) { return errOnly(s.DelPrivateData("coll", "k")) },
			wantType: pb.ChaincodeMessage_DEL_STATE, wantReq: &pb.DelState{Key: "k", Collection: "coll"}},
		{name: "PurgePrivateData", call: func(s ChaincodeStubInterface) (any, error) { return errOnly(s.PurgePrivateData("coll", "k")) },
			wantType: pb.ChaincodeMessage_PURGE_PRIVATE_DATA, wantReq: &pb.DelState{Key: "k", Collection: "coll"}},
		{name: "SetPrivateDataValidationParameter", call: func(s ChaincodeStubInterface) (any, error) {
			return errOnly(s.SetPrivateDataValidationParameter("coll", "k", []byte("policy")))
		},
			wantType: pb.ChaincodeMessage_PUT_STATE_METADATA,
			wantReq:  &pb.PutStateMetadata{Key: "k", Collection: "coll", Metadata: &pb.StateMetadata{Metakey: "VALIDATION_PARAMETER", Value: []byte("policy")}}},
		{name: "GetPrivateDataValidationParameter", call: func(s ChaincodeStubInterface) (any, error) {
			return bytesResult(s.GetPrivateDataValidationParameter("coll", "k"))
		},
			wantType: pb.ChaincodeMessage_GET_STATE_METADATA, wantReq: &pb.GetStateMetadata{Key: "k", Collection: "coll"}, reply: meta, want: []byte("policy")},
		{name: "GetPrivateDataByRange", call: func(s ChaincodeStubInterface) (any, error) { return iter(s.GetPrivateDataByRange("coll", "a", "c")) },
			wantType: pb.ChaincodeMessage_GET_STATE_BY_RANGE, wantReq: &pb.GetStateByRange{StartKey: "a", EndKey: "c", Collection: "coll"},
			reply: page, want: []string{"a=va", "b=vb"}},
		{name: "GetPrivateDataByRange composite key rejected", call: func(s ChaincodeStubInterface) (any, error) {
			return iter(s.GetPrivateDataByRange("coll", "\x00a", ""))
		}, wantErr: "null character"},
		{name: "GetPrivateDataByPartialCompositeKey", call: func(s ChaincodeStubInterface) (any, error) {
			return iter(s.GetPrivateDataByPartialCompositeKey("coll", "color", []string{"blue"}))
		},
			wantType: pb.ChaincodeMessage_GET_STATE_BY_RANGE,
			wantReq:  &pb.GetStateByRange{StartKey: composite, EndKey: composite + u10FFFF, Collection: "coll"},
			reply:    page, want: []string{"a=va", "b=vb"}},
		{name: "GetPrivateDataQueryResult", call: func(s ChaincodeStubInterface) (any, error) {
			return iter(s.GetPrivateDataQueryResult("coll", `{"selector":{"a":1}}`))
		},
			wantType: pb.ChaincodeMessage_GET_QUERY_RESULT, wantReq: &pb.GetQueryResult{Query: `{"selector":{"a":1}}`, Collection: "coll"},
			reply: page, want: []string{"a=va", "b=vb"}},
		// Every private-data call refuses an empty collection.
		{name: "GetPrivateData empty collection", call: func(s ChaincodeStubInterface) (any, error) { return bytesResult(s.GetPrivateData("", "k")) }, wantErr: "collection"},
		{name: "GetMultiplePrivateData empty collection", call: func(s ChaincodeStubInterface) (any, error) {
			v, err := s.GetMultiplePrivateData("", "k")
			return v, err
		}, wantErr: "collection"},
		{name: "GetPrivateDataHash empty collection", call: func(s ChaincodeStubInterface) (any, error) { return bytesResult(s.GetPrivateDataHash("", "k")) }, wantErr: "collection"},
		{name: "PutPrivateData empty collection", call: func(s ChaincodeStubInterface) (any, error) { return errOnly(s.PutPrivateData("", "k", nil)) }, wantErr: "collection"},
		{name: "DelPrivateData empty collection", call: func(s ChaincodeStubInterface) (any, error) { return errOnly(s.DelPrivateData("", "k")) }, wantErr: "collection"},
		{name: "PurgePrivateData empty collection", call: func(s ChaincodeStubInterface) (any, error) { return errOnly(s.PurgePrivateData("", "k")) }, wantErr: "collection"},
		{name: "GetPrivateDataByRange empty collection", call: func(s ChaincodeStubInterface) (any, error) { return iter(s.GetPrivateDataByRange("", "a", "b")) }, wantErr: "collection"},
		{name: "GetPrivateDataByPartialCompositeKey empty collection", call: func(s ChaincodeStubInterface) (any, error) {
			return iter(s.GetPrivateDataByPartialCompositeKey("", "t", nil))
		}, wantErr: "collection"},
		{name: "GetPrivateDataQueryResult empty collection", call: func(s ChaincodeStubInterface) (any, error) { return iter(s.GetPrivateDataQueryResult("", "{}")) }, wantErr: "collection"},
	}
}

// runStubCall runs c in one transaction against a fresh peer that answers
// every request with answer, and returns the chaincode's result and the
// requests the peer saw.
//
//lint:ignore ST1008 the chaincode's (value, error) pair comes first, then what the peer saw
func runStubCall(t *testing.T, params *pb.ChaincodeAdditionalParams, call func(ChaincodeStubInterface) (any, error), answer func(*pb.ChaincodeMessage) *pb.ChaincodeMessage) (any, error, []*pb.ChaincodeMessage) {
	t.Helper()
	type result struct {
		v   any
		err error
	}
	got := make(chan result, 1)
	cc := &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
		"call": func(s ChaincodeStubInterface) *pb.Response {
			v, err := call(s)
			got <- result{v, err}
			return Success(nil)
		}}}
	p := startPeer(t, cc, peerOpts{params: params, serve: answer})
	response(t, p.invoke("tx-call", "call"))
	r := <-got
	return r.v, r.err, p.seen()
}

func TestStubRequestsAndResults(t *testing.T) {
	// Multi-key reads go out as GET_STATE_MULTIPLE only when READY said so.
	params := &pb.ChaincodeAdditionalParams{UseGetMultipleKeys: true, MaxSizeGetMultipleKeys: 100}
	for _, tc := range stubCalls(t) {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantType == 0 {
				_, err, seen := runStubCall(t, params, tc.call, func(*pb.ChaincodeMessage) *pb.ChaincodeMessage { return rsp(nil) })
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if len(seen) != 0 {
					t.Fatalf("a refused call still sent %s to the peer", seen[0].Type)
				}
				return
			}
			checkRequest := func(t *testing.T, seen []*pb.ChaincodeMessage) {
				t.Helper()
				if len(seen) != 1 {
					types := make([]string, len(seen))
					for i, m := range seen {
						types[i] = m.Type.String()
					}
					t.Fatalf("peer saw %v, want one %s", types, tc.wantType)
				}
				m := seen[0]
				if m.Type != tc.wantType || m.Txid != "tx-call" || m.ChannelId != "ch" {
					t.Fatalf("request %s for %s/%s, want %s for ch/tx-call", m.Type, m.ChannelId, m.Txid, tc.wantType)
				}
				req := tc.wantReq.ProtoReflect().New().Interface()
				if err := proto.Unmarshal(m.Payload, req); err != nil {
					t.Fatalf("request payload is not a %T: %v", tc.wantReq, err)
				}
				if !proto.Equal(req, tc.wantReq) {
					t.Fatalf("request payload\n got %v\nwant %v", req, tc.wantReq)
				}
			}
			t.Run("RESPONSE", func(t *testing.T) {
				v, err, seen := runStubCall(t, params, tc.call, func(*pb.ChaincodeMessage) *pb.ChaincodeMessage { return rsp(tc.reply) })
				checkRequest(t, seen)
				if err != nil {
					t.Fatalf("error %v on a RESPONSE", err)
				}
				if !reflect.DeepEqual(v, tc.want) {
					t.Fatalf("result %#v, want %#v", v, tc.want)
				}
			})
			t.Run("ERROR", func(t *testing.T) {
				const peerText = "GET_STATE failed: transaction ID: tx-call: ledger is on fire"
				_, err, seen := runStubCall(t, params, tc.call, func(*pb.ChaincodeMessage) *pb.ChaincodeMessage {
					return &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_ERROR, Payload: []byte(peerText)}
				})
				checkRequest(t, seen)
				if err == nil || !strings.Contains(err.Error(), peerText) {
					t.Fatalf("error %v, want the peer's text %q", err, peerText)
				}
			})
		})
	}
}

func TestStubPagedIteratorFetchesNextAndCloses(t *testing.T) {
	// A range whose first page says has_more: the iterator asks for the
	// next page with the peer's iterator id, and an early Close sends
	// QUERY_STATE_CLOSE with that id.
	answer := func(m *pb.ChaincodeMessage) *pb.ChaincodeMessage {
		switch m.Type {
		case pb.ChaincodeMessage_GET_STATE_BY_RANGE:
			return rsp(kvPage(t, "iter-7", true, nil, "a"))
		case pb.ChaincodeMessage_QUERY_STATE_NEXT:
			return rsp(kvPage(t, "iter-7", true, nil, "b"))
		case pb.ChaincodeMessage_QUERY_STATE_CLOSE:
			return rsp(mustMarshal(t, &pb.QueryResponse{Id: "iter-7"}))
		}
		return nil
	}
	v, err, seen := runStubCall(t, nil, func(s ChaincodeStubInterface) (any, error) {
		it, err := s.GetStateByRange("a", "z")
		if err != nil {
			return nil, err
		}
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		return kv.Key, it.Close()
	}, answer)
	if err != nil || v != "a" {
		t.Fatalf("got %v %v", v, err)
	}
	want := []struct {
		typ pb.ChaincodeMessage_Type
		req proto.Message
	}{
		{pb.ChaincodeMessage_GET_STATE_BY_RANGE, &pb.GetStateByRange{StartKey: "a", EndKey: "z"}},
		{pb.ChaincodeMessage_QUERY_STATE_NEXT, &pb.QueryStateNext{Id: "iter-7"}},
		{pb.ChaincodeMessage_QUERY_STATE_CLOSE, &pb.QueryStateClose{Id: "iter-7"}},
	}
	if len(seen) != len(want) {
		t.Fatalf("peer saw %d requests, want %d", len(seen), len(want))
	}
	for i, w := range want {
		req := w.req.ProtoReflect().New().Interface()
		if seen[i].Type != w.typ || proto.Unmarshal(seen[i].Payload, req) != nil || !proto.Equal(req, w.req) {
			t.Errorf("request %d: %s %x, want %s %v", i, seen[i].Type, seen[i].Payload, w.typ, w.req)
		}
	}
}

func TestStubIteratorNextPageError(t *testing.T) {
	v, err, _ := runStubCall(t, nil, func(s ChaincodeStubInterface) (any, error) {
		it, err := s.GetStateByRange("a", "z")
		if err != nil {
			return nil, err
		}
		// The first page's last result triggers the prefetch, which fails.
		_, err = it.Next()
		return nil, err
	}, func(m *pb.ChaincodeMessage) *pb.ChaincodeMessage {
		if m.Type == pb.ChaincodeMessage_QUERY_STATE_NEXT {
			return &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_ERROR, Payload: []byte("iterator gone")}
		}
		return rsp(kvPage(t, "i", true, nil, "a"))
	})
	if err == nil || !strings.Contains(err.Error(), "iterator gone") {
		t.Fatalf("got %v %v, want the peer's QUERY_STATE_NEXT error", v, err)
	}
}

func TestStubInvokeChaincode(t *testing.T) {
	completed := mustMarshal(t, &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_COMPLETED,
		Payload: mustMarshal(t, &pb.Response{Status: 201, Message: "callee ok", Payload: []byte("out")})})
	calleeError := mustMarshal(t, &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_ERROR, Payload: []byte("callee init failed")})
	tests := []struct {
		name, cc, channel string
		wantName          string
		reply             *pb.ChaincodeMessage
		want              *pb.Response
	}{
		{"same channel, callee COMPLETED", "other", "", "other", rsp(completed),
			&pb.Response{Status: 201, Message: "callee ok", Payload: []byte("out")}},
		{"other channel", "other", "ch2", "other/ch2", rsp(completed),
			&pb.Response{Status: 201, Message: "callee ok", Payload: []byte("out")}},
		{"callee ERROR: 500 carrying the nested message", "other", "", "other", rsp(calleeError),
			&pb.Response{Status: 500, Payload: calleeError}},
		{"peer ERROR: 500 carrying the peer's text", "other", "", "other",
			&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_ERROR, Payload: []byte("no such chaincode")},
			&pb.Response{Status: 500, Payload: []byte("no such chaincode")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _, seen := runStubCall(t, nil, func(s ChaincodeStubInterface) (any, error) {
				return s.InvokeChaincode(tc.cc, [][]byte{[]byte("get"), []byte("k")}, tc.channel), nil
			}, func(*pb.ChaincodeMessage) *pb.ChaincodeMessage { return tc.reply })
			if len(seen) != 1 || seen[0].Type != pb.ChaincodeMessage_INVOKE_CHAINCODE {
				t.Fatalf("peer saw %v", seen)
			}
			var spec pb.ChaincodeSpec
			if err := proto.Unmarshal(seen[0].Payload, &spec); err != nil {
				t.Fatal(err)
			}
			wantSpec := &pb.ChaincodeSpec{ChaincodeId: &pb.ChaincodeID{Name: tc.wantName},
				Input: &pb.ChaincodeInput{Args: [][]byte{[]byte("get"), []byte("k")}}}
			if !proto.Equal(&spec, wantSpec) {
				t.Fatalf("spec %v, want %v", &spec, wantSpec)
			}
			if got := v.(*pb.Response); !proto.Equal(got, tc.want) {
				t.Fatalf("response %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStubSetEventTravelsWithCompleted(t *testing.T) {
	cc := &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
		"ev": func(s ChaincodeStubInterface) *pb.Response {
			if err := s.SetEvent("", nil); err == nil {
				return Error("empty event name accepted")
			}
			_ = s.SetEvent("Transfer", []byte(`{"id":1}`))
			return Success(nil)
		}}}
	p := startPeer(t, cc, peerOpts{})
	m := p.invoke("ev", "ev")
	response(t, m)
	if ev := m.GetChaincodeEvent(); ev.GetEventName() != "Transfer" || string(ev.GetPayload()) != `{"id":1}` {
		t.Fatalf("event %v", ev)
	}
}

// signedProposal builds a proposal the way a client SDK does.
func signedProposal(t *testing.T, typ common.HeaderType, creator, nonce []byte, epoch uint64, ts *timestamppb.Timestamp,
	transient map[string][]byte) *pb.SignedProposal {
	chdr := mustMarshal(t, &common.ChannelHeader{Type: int32(typ), ChannelId: "ch", TxId: "ctx", Timestamp: ts, Epoch: epoch})
	shdr := mustMarshal(t, &common.SignatureHeader{Creator: creator, Nonce: nonce})
	prop := &pb.Proposal{
		Header:  mustMarshal(t, &common.Header{ChannelHeader: chdr, SignatureHeader: shdr}),
		Payload: mustMarshal(t, &pb.ChaincodeProposalPayload{TransientMap: transient}),
	}
	return &pb.SignedProposal{ProposalBytes: mustMarshal(t, prop), Signature: []byte("sig")}
}

func TestStubInvocationContext(t *testing.T) {
	creator := []byte("\n\aOrg1MSP\x12\x05-----cert")
	nonce := []byte("nonce-123")
	const epoch = 0x0102030405060708
	ts := timestamppb.New(time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC))
	transient := map[string][]byte{"secret": []byte("s3cr3t")}
	sp := signedProposal(t, common.HeaderType_ENDORSER_TRANSACTION, creator, nonce, epoch, ts, transient)

	h := sha256.New()
	h.Write(nonce)
	h.Write(creator)
	var le [8]byte
	binary.LittleEndian.PutUint64(le[:], epoch)
	h.Write(le[:])
	wantBinding := h.Sum(nil)

	type ctxResult struct {
		creator, binding, argsSlice []byte
		transient, decorations      map[string][]byte
		ts                          *timestamppb.Timestamp
		sp                          *pb.SignedProposal
		strArgs                     []string
		fn                          string
		params                      []string
		txid, channel               string
		errs                        []error
	}
	got := make(chan ctxResult, 1)
	cc := &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
		"ctx": func(s ChaincodeStubInterface) *pb.Response {
			var r ctxResult
			var err1, err2, err3, err4, err5, err6 error
			r.creator, err1 = s.GetCreator()
			r.transient, err2 = s.GetTransient()
			r.binding, err3 = s.GetBinding()
			r.ts, err4 = s.GetTxTimestamp()
			r.sp, err5 = s.GetSignedProposal()
			r.argsSlice, err6 = s.GetArgsSlice()
			r.errs = []error{err1, err2, err3, err4, err5, err6}
			r.decorations = s.GetDecorations()
			r.strArgs = s.GetStringArgs()
			r.fn, r.params = s.GetFunctionAndParameters()
			r.txid, r.channel = s.GetTxID(), s.GetChannelID()
			got <- r
			return Success(nil)
		}}}
	p := startPeer(t, cc, peerOpts{})
	in := &pb.ChaincodeInput{Args: [][]byte{[]byte("ctx"), []byte("a1"), []byte("a2")}, Decorations: map[string][]byte{"deco": []byte("rated")}}
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "ctx-tx", ChannelId: "ch", Payload: mustMarshal(t, in), Proposal: sp})
	response(t, p.result("ch", "ctx-tx"))
	r := <-got
	for i, err := range r.errs {
		if err != nil {
			t.Fatalf("context call %d: %v", i, err)
		}
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"creator", r.creator, creator},
		{"transient", r.transient, transient},
		{"binding", r.binding, wantBinding},
		{"timestamp", r.ts.AsTime(), ts.AsTime()},
		{"decorations", r.decorations, map[string][]byte{"deco": []byte("rated")}},
		{"args slice", r.argsSlice, []byte("ctxa1a2")},
		{"string args", r.strArgs, []string{"ctx", "a1", "a2"}},
		{"function", r.fn, "ctx"},
		{"params", r.params, []string{"a1", "a2"}},
		{"txid", r.txid, "ctx-tx"},
		{"channel", r.channel, "ch"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if !proto.Equal(r.sp, sp) {
		t.Errorf("signed proposal %v, want %v", r.sp, sp)
	}
}

func TestStubInvocationContextErrors(t *testing.T) {
	tests := []struct {
		name    string
		prop    *pb.SignedProposal
		wantErr string
	}{
		{"wrong header type", signedProposal(t, common.HeaderType_MESSAGE, []byte("c"), []byte("n"), 0, timestamppb.Now(), nil), "invalid channel header type"},
		{"no header", &pb.SignedProposal{ProposalBytes: mustMarshal(t, &pb.Proposal{Payload: []byte{}})}, "header"},
		{"undecodable channel header", &pb.SignedProposal{ProposalBytes: mustMarshal(t, &pb.Proposal{
			Header: mustMarshal(t, &common.Header{ChannelHeader: []byte{0x0a, 0x05}})})}, "channel header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan []error, 1)
			cc := &funcCC{funcs: map[string]func(ChaincodeStubInterface) *pb.Response{
				"ctx": func(s ChaincodeStubInterface) *pb.Response {
					_, e1 := s.GetCreator()
					_, e2 := s.GetTransient()
					_, e3 := s.GetBinding()
					_, e4 := s.GetTxTimestamp()
					got <- []error{e1, e2, e3, e4}
					return Success(nil)
				}}}
			p := startPeer(t, cc, peerOpts{})
			in := mustMarshal(t, &pb.ChaincodeInput{Args: [][]byte{[]byte("ctx")}})
			p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "bad", ChannelId: "ch", Payload: in, Proposal: tc.prop})
			response(t, p.result("ch", "bad"))
			for i, err := range <-got {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("call %d: error %v, want one containing %q", i, err, tc.wantErr)
				}
			}
		})
	}
}

func TestStubWithoutProposal(t *testing.T) {
	// Without a signed proposal (system calls) the context is empty and the
	// timestamp is an error, not a nil dereference.
	v, err, _ := runStubCall(t, nil, func(s ChaincodeStubInterface) (any, error) {
		c, err := s.GetCreator()
		if err != nil || c != nil {
			return nil, fmt.Errorf("creator %q %v", c, err)
		}
		sp, _ := s.GetSignedProposal()
		if sp != nil {
			return nil, fmt.Errorf("signed proposal %v", sp)
		}
		_, err = s.GetTxTimestamp()
		return nil, err
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "no signed proposal") {
		t.Fatalf("got %v %v", v, err)
	}
}

func TestGetMSPID(t *testing.T) {
	t.Setenv("CORE_PEER_LOCALMSPID", "")
	if _, err := GetMSPID(); err == nil || !strings.Contains(err.Error(), "CORE_PEER_LOCALMSPID") {
		t.Fatalf("unset: %v", err)
	}
	t.Setenv("CORE_PEER_LOCALMSPID", "Org1MSP")
	if id, err := GetMSPID(); err != nil || id != "Org1MSP" {
		t.Fatalf("got %q %v", id, err)
	}
}
