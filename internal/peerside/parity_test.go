package peerside_test

import (
	"strings"
	"testing"

	"github.com/ccserver/ccserver/internal/peerside"
	"github.com/ccserver/ccserver/internal/peerside/rawcc"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// seqCC adds "seq" to the demo chaincode: each argument is one request,
// fields separated by spaces, sent in order in one transaction; the
// payload is "ok" or the error text for each, joined by " | ". The same
// rules are pinned on the real peer by e2e/parity_test.go.
func seqCC() rawcc.Chaincode {
	cc := rawcc.Demo()
	cc["seq"] = func(tx *rawcc.Tx) (*peer.Response, error) {
		var out []string
		for _, a := range tx.Args[1:] {
			f := strings.Split(string(a), " ")
			var typ peer.ChaincodeMessage_Type
			var m proto.Message
			switch f[0] {
			case "put":
				typ, m = peer.ChaincodeMessage_PUT_STATE, &peer.PutState{Key: f[1], Value: []byte(f[2])}
			case "del":
				typ, m = peer.ChaincodeMessage_DEL_STATE, &peer.DelState{Key: f[1]}
			case "putpriv":
				typ, m = peer.ChaincodeMessage_PUT_STATE, &peer.PutState{Collection: f[1], Key: f[2], Value: []byte(f[3])}
			case "getpriv":
				typ, m = peer.ChaincodeMessage_GET_STATE, &peer.GetState{Collection: f[1], Key: f[2]}
			case "hash":
				typ, m = peer.ChaincodeMessage_GET_PRIVATE_DATA_HASH, &peer.GetState{Collection: f[1], Key: f[2]}
			case "meta":
				typ, m = peer.ChaincodeMessage_PUT_STATE_METADATA, &peer.PutStateMetadata{Key: f[1], Metadata: &peer.StateMetadata{Metakey: "VALIDATION_PARAMETER", Value: []byte("ep")}}
			case "paged":
				md, _ := proto.Marshal(&peer.QueryMetadata{PageSize: 10})
				typ, m = peer.ChaincodeMessage_GET_STATE_BY_RANGE, &peer.GetStateByRange{StartKey: f[1], EndKey: f[2], Metadata: md}
			case "range":
				typ, m = peer.ChaincodeMessage_GET_STATE_BY_RANGE, &peer.GetStateByRange{StartKey: f[1], EndKey: f[2]}
			case "rangepriv":
				typ, m = peer.ChaincodeMessage_GET_STATE_BY_RANGE, &peer.GetStateByRange{Collection: f[1], StartKey: f[2], EndKey: f[3]}
			case "batchput":
				typ, m = peer.ChaincodeMessage_WRITE_BATCH_STATE, &peer.WriteBatchState{Rec: []*peer.WriteRecord{{Key: f[1], Value: []byte(f[2]), Type: peer.WriteRecord_PUT_STATE}}}
			}
			if _, err := tx.Call(typ, m); err != nil {
				out = append(out, err.Error())
			} else {
				out = append(out, "ok")
			}
		}
		return &peer.Response{Status: 200, Payload: []byte(strings.Join(out, " | "))}, nil
	}
	return cc
}

// checkSeq runs seq and compares each outcome: "ok", or a part of the error.
func checkSeq(t *testing.T, h *harness, commit bool, ops []string, want []string) {
	t.Helper()
	res := h.run(t, commit, append([]string{"seq"}, ops...)...)
	got := strings.Split(string(res.Response.Payload), " | ")
	if len(got) != len(want) {
		t.Fatalf("%q: %d outcomes, want %d: %s", ops, len(got), len(want), res.Response.Payload)
	}
	for i := range want {
		if (want[i] == "ok") != (got[i] == "ok") || !strings.Contains(got[i], want[i]) {
			t.Errorf("%q: outcome %q, want %q", ops[i], got[i], want[i])
		}
	}
}

// TestReadOnlyRules: the peer's simulator allows a paginated query or a
// private-data range query only in a transaction that has not written, and
// refuses every write after one (tx_simulator.go, both 2.5 and 3.1).
func TestReadOnlyRules(t *testing.T) {
	const (
		pagedAfterWrite = "GET_STATE_BY_RANGE failed: transaction ID: "
		pagedText       = "unsuppored transaction. Paginated queries are supported only in a read-only transaction"
		writeAfterPaged = "unsuppored transaction. Transaction has already performed a paginated query. Writes are not allowed"
		privAfterWrite  = "unsuppored transaction. Queries on pvt data is supported only in a read-only transaction"
		writeAfterPriv  = "unsuppored transaction. Transaction has already performed queries on pvt data. Writes are not allowed"
	)
	for _, tc := range []struct {
		name string
		ops  []string
		want []string
	}{
		{"paged after a write", []string{"put a 1", "paged a z", "range a z"}, []string{"ok", pagedText, "ok"}},
		{"paged after a delete", []string{"del a", "paged a z"}, []string{"ok", pagedAfterWrite}},
		{"paged after metadata", []string{"meta a", "paged a z"}, []string{"ok", pagedText}},
		{"writes after paged", []string{"paged a z", "put a 1", "del a", "meta a", "putpriv c k v", "batchput a 1"},
			[]string{"ok", writeAfterPaged, writeAfterPaged, writeAfterPaged, writeAfterPaged, writeAfterPaged}},
		{"private range after a write", []string{"put a 1", "rangepriv c a z"}, []string{"ok", privAfterWrite}},
		{"private range after a private write", []string{"putpriv c a 1", "rangepriv c a z"}, []string{"ok", privAfterWrite}},
		{"writes after a private range", []string{"rangepriv c a z", "putpriv c k v", "put a 1", "batchput a 1", "getpriv c k", "hash c k", "paged a z"},
			[]string{"ok", writeAfterPriv, writeAfterPriv, writeAfterPriv, "ok", "ok", "ok"}},
		{"reads and unpaged ranges do not count", []string{"range a z", "getpriv c k", "put a 1", "range a z"}, []string{"ok", "ok", "ok", "ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, seqCC())
			checkSeq(t, h, false, tc.ops, tc.want)
		})
	}
}

// TestMetadataWithoutValue: the committer drops a metadata write (a
// key-level endorsement policy) on a key that has no value after the
// transaction (prepareTxOps in the peer's validation).
func TestMetadataWithoutValue(t *testing.T) {
	for _, tc := range []struct {
		name     string
		seed     []string // puts committed first
		ops      []string
		key      string
		wantMeta bool
	}{
		{"missing key", nil, []string{"meta k"}, "k", false},
		{"existing key", []string{"put k v"}, []string{"meta k"}, "k", true},
		{"put in the same transaction", nil, []string{"put k v", "meta k"}, "k", true},
		{"metadata then put", nil, []string{"meta k", "put k v"}, "k", true},
		{"deleted in the same transaction", []string{"put k v"}, []string{"del k", "meta k"}, "k", false},
		{"empty value is a delete", []string{"put k v"}, []string{"meta k", "put k "}, "k", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, seqCC())
			if len(tc.seed) > 0 {
				h.run(t, true, append([]string{"seq"}, tc.seed...)...)
			}
			res := h.run(t, true, append([]string{"seq"}, tc.ops...)...)
			if strings.Contains(string(res.Response.Payload), "failed") {
				t.Fatalf("seq: %s", res.Response.Payload)
			}
			md, err := h.store.Metadata("", tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if got := md["VALIDATION_PARAMETER"] != nil; got != tc.wantMeta {
				t.Errorf("metadata kept = %v, want %v (write set %+v)", got, tc.wantMeta, res.Update.Writes)
			}
		})
	}
}

// TestPrivateDataRules: unknown collections (with WithCollections), the
// hash without a collection config check order, Init.
func TestPrivateDataRules(t *testing.T) {
	h := start(t, seqCC(), peerside.WithCollections("c"), peerside.WithNamespace("demo"))
	checkSeq(t, h, false,
		[]string{"getpriv nosuch k", "hash nosuch k", "rangepriv nosuch a z", "putpriv nosuch k v", "getpriv c k", "hash c k"},
		[]string{"GET_STATE failed: transaction ID: ", "collection [nosuch] not defined in the collection config for chaincode [demo]",
			"collection mychannel/demo/nosuch could not be found", "PUT_STATE failed", "ok", "ok"})
	checkSeq(t, h, false, []string{"getpriv nosuch k"}, []string{"collection mychannel/demo/nosuch could not be found"})

	open := start(t, seqCC()) // no WithCollections: every collection exists
	checkSeq(t, open, false, []string{"getpriv nosuch k", "putpriv other k v"}, []string{"ok", "ok"})
}

// TestPeerTexts: requests and replies the peer answers in its own words.
func TestPeerTexts(t *testing.T) {
	h := start(t, seqCC())
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"purge of public data", []string{"purge", "", "k"}, "only applicable for private data"},
		{"batch record of an unknown type", []string{"batch", "bogus", "k"}, "unknown operation type"},
	} {
		res := h.run(t, false, tc.args...)
		if !strings.Contains(res.Response.Message, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, res.Response.Message, tc.want)
		}
	}
	// The endorser drops the event of a response it does not endorse.
	if res := h.run(t, false, "event", "e", "p"); res.Event == nil {
		t.Error("no event on status 200")
	}
	cc := seqCC()
	cc["eventfail"] = func(tx *rawcc.Tx) (*peer.Response, error) {
		tx.Event = &peer.ChaincodeEvent{EventName: "e"}
		return &peer.Response{Status: 400, Message: "no"}, nil
	}
	h2 := start(t, cc)
	if res := h2.run(t, false, "eventfail"); res.Event != nil {
		t.Errorf("event %v on status 400", res.Event)
	}
}
