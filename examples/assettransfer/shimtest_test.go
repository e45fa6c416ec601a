package assettransfer_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/examples/assettransfer"
	"github.com/ccserver/ccserver/shimtest"
)

// TestOnShimtest runs the sample end to end on the real shim engine and an
// in-memory peer: the commands of the Fabric test network's tutorial, in
// order, each checked against the committed world state.
func TestOnShimtest(t *testing.T) {
	l := shimtest.New(t, assettransfer.New(), shimtest.WithName("basic"), shimtest.WithDeterministicIDs())
	read := func(id string) assettransfer.Asset {
		t.Helper()
		var a assettransfer.Asset
		if err := json.Unmarshal(l.MustQuery(t, "ReadAsset", id), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}

	for _, step := range []struct {
		name string
		args []string
		want string // payload, or "ERR " and a part of the message
	}{
		{"empty ledger", []string{"GetAllAssets"}, ""},
		{"init ledger", []string{"InitLedger"}, ""},
		{"exists", []string{"AssetExists", "asset1"}, "true"},
		{"does not exist", []string{"AssetExists", "asset9"}, "false"},
		{"create", []string{"CreateAsset", "asset7", "purple", "20", "Ann", "900"}, ""},
		{"create twice", []string{"CreateAsset", "asset7", "purple", "20", "Ann", "900"}, "ERR the asset asset7 already exists"},
		{"bad size", []string{"CreateAsset", "asset8", "red", "big", "Ann", "1"}, "ERR cannot convert passed value big to int"},
		{"contract prefix", []string{"SmartContract:AssetExists", "asset7"}, "true"},
		{"transfer", []string{"TransferAsset", "asset6", "Christopher"}, "Michel"},
		{"update", []string{"UpdateAsset", "asset1", "blue", "6", "Tomoko", "350"}, ""},
		{"update missing", []string{"UpdateAsset", "asset9", "blue", "6", "X", "1"}, "ERR the asset asset9 does not exist"},
		{"delete", []string{"DeleteAsset", "asset2"}, ""},
		{"read deleted", []string{"ReadAsset", "asset2"}, "ERR the asset asset2 does not exist"},
		{"wrong arity", []string{"ReadAsset"}, "ERR Incorrect number of params. Expected 1, received 0"},
		{"unknown", []string{"Burn"}, "ERR Function Burn not found in contract SmartContract"},
	} {
		r := l.Invoke(step.args...)
		if msg, isErr := strings.CutPrefix(step.want, "ERR "); isErr {
			if r.OK() || !strings.Contains(r.Message, msg) {
				t.Errorf("%s: got %s, want an error with %q", step.name, r, msg)
			}
			continue
		}
		if !r.OK() || string(r.Payload) != step.want {
			t.Errorf("%s: got %s, want %q", step.name, r, step.want)
		}
	}

	if a := read("asset6"); a.Owner != "Christopher" || a.Color != "white" {
		t.Errorf("asset6 after transfer: %+v", a)
	}
	if a := read("asset1"); a.Size != 6 || a.AppraisedValue != 350 {
		t.Errorf("asset1 after update: %+v", a)
	}
	var all []assettransfer.QueryResult
	if err := json.Unmarshal(l.MustQuery(t, "GetAllAssets"), &all); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range all {
		ids = append(ids, r.Key)
	}
	if got := strings.Join(ids, " "); got != "asset1 asset3 asset4 asset5 asset6 asset7" {
		t.Errorf("GetAllAssets keys: %s", got)
	}
	if got := strings.Join(l.Keys(), " "); got != "asset1 asset3 asset4 asset5 asset6 asset7" {
		t.Errorf("world state keys: %s", got)
	}
	// Every change went through a committed transaction: asset1 was
	// written by InitLedger (transaction 2) and UpdateAsset (transaction 10).
	h := l.History("asset1")
	if len(h) != 2 || h[0].TxID != shimtest.TxID(10) || h[1].TxID != shimtest.TxID(2) {
		t.Errorf("asset1 history: %+v", h)
	}
	if h := l.History("asset2"); len(h) != 2 || !h[0].IsDelete {
		t.Errorf("asset2 history: %+v", h)
	}
}

// Init with a function name runs it, as with the contract API's --isInit.
func TestInitOnShimtest(t *testing.T) {
	l := shimtest.New(t, assettransfer.New())
	l.MustInit(t, "InitLedger")
	if len(l.Keys()) != 6 {
		t.Fatalf("after Init: %q", l.Keys())
	}
	if r := l.Init("Nope"); r.Err == nil || !strings.Contains(r.Message, "Function Nope not found") {
		t.Errorf("failing Init: %s (Err %v)", r, r.Err)
	}
}
