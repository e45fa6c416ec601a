package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/e2e/internal/network"
)

// TestPeerParity pins down behaviours of the real peer that our own peer
// side (internal/peerside, behind devpeer and shimtest) must copy; each
// case names the peerside test that checks the copy. docs/real-peer.md
// lists them. The stubareas function Steps runs several stub operations
// in one transaction and reports each outcome, so the rules that depend
// on what the transaction did before become visible.
func TestPeerParity(t *testing.T) {
	needFabric(t)
	ctx := testContext(t, 5*time.Minute)
	collFile := filepath.Join(workDir, "parity-collections.json")
	if err := os.WriteFile(collFile, []byte(collections), 0o644); err != nil {
		t.Fatal(err)
	}
	deployCCaaS(t, ctx, "parity", "stubcc", network.Chaincode{CollectionsConfig: collFile})
	c := userGateway(t).Contract("parity")

	type outcome struct {
		Step   string `json:"step"`
		OK     bool   `json:"ok"`
		Result string `json:"result"`
		Error  string `json:"error"`
	}
	run := func(t *testing.T, submit bool, ops ...string) []outcome {
		t.Helper()
		var out []byte
		var err error
		if submit {
			out, err = c.SubmitTransaction("Steps", ops...)
		} else {
			out, err = c.EvaluateTransaction("Steps", ops...)
		}
		if err != nil {
			t.Fatalf("Steps %q: %s", ops, errorText(err))
		}
		var res []outcome
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		for _, r := range res {
			t.Logf("%-40q ok=%v result=%q error=%q", r.Step, r.OK, r.Result, r.Error)
		}
		return res
	}
	// want checks step i: ok with result, or failed with an error holding each part.
	want := func(t *testing.T, res []outcome, i int, ok bool, resultOrErr ...string) {
		t.Helper()
		r := res[i]
		if r.OK != ok {
			t.Fatalf("step %q: ok=%v (result %q, error %q), want ok=%v", r.Step, r.OK, r.Result, r.Error, ok)
		}
		for _, s := range resultOrErr {
			if ok && r.Result != s {
				t.Fatalf("step %q: result %q, want %q", r.Step, r.Result, s)
			}
			if !ok && !strings.Contains(r.Error, s) {
				t.Fatalf("step %q: error %q, want it to contain %q", r.Step, r.Error, s)
			}
		}
	}

	run(t, true, "put pa1 x")

	// peerside: TestReadOnlyRules
	t.Run("paginated query after a write", func(t *testing.T) {
		for _, submit := range []bool{false, true} {
			res := run(t, submit, "put pa2 y", "rangepage pa pb 10 ", "range pa pb")
			want(t, res, 0, true)
			want(t, res, 1, false, "GET_STATE_BY_RANGE failed: transaction ID: ", "unsuppored transaction. Paginated queries are supported only in a read-only transaction")
			want(t, res, 2, true, "pa1")
		}
	})
	t.Run("writes after a paginated query", func(t *testing.T) {
		res := run(t, false, "rangepage pa pb 10 ", "put pa3 y", "del pa1", "setep pa1 Org1MSP", "putpriv secret pa1 x")
		want(t, res, 0, true, "pa1,pa2;bookmark=;fetched=2")
		want(t, res, 1, false, "PUT_STATE failed: transaction ID: ", "unsuppored transaction. Transaction has already performed a paginated query. Writes are not allowed")
		want(t, res, 2, false, "DEL_STATE failed", "Writes are not allowed")
		want(t, res, 3, false, "PUT_STATE_METADATA failed", "Writes are not allowed")
		want(t, res, 4, false, "Writes are not allowed")
	})
	t.Run("private range query after a write", func(t *testing.T) {
		res := run(t, false, "put pa3 x", "privrange secret a b")
		want(t, res, 1, false, "unsuppored transaction. Queries on pvt data is supported only in a read-only transaction")
	})
	t.Run("writes after a private range query", func(t *testing.T) {
		res := run(t, false, "privrange secret a b", "putpriv secret k x", "put pa3 x", "getpriv secret k", "privhash secret k", "rangepage pa pb 10 ")
		want(t, res, 1, false, "unsuppored transaction. Transaction has already performed queries on pvt data. Writes are not allowed")
		want(t, res, 2, false, "Transaction has already performed queries on pvt data")
		want(t, res, 3, true, "<nil>")
		want(t, res, 4, true, "<nil>")
		want(t, res, 5, true) // a paginated query only needs no writes
	})

	// peerside: TestMetadataWithoutValue
	t.Run("endorsement policy on a key without a value", func(t *testing.T) {
		res := run(t, true, "setep ghost Org1MSP", "put pareal v", "setep pareal Org1MSP", "del pagone", "setep pagone Org1MSP")
		for i := range res {
			want(t, res, i, true)
		}
		res = run(t, false, "getep ghost", "getep pareal", "getep pagone", "get ghost")
		want(t, res, 0, true, "")
		want(t, res, 1, true, "Org1MSP")
		want(t, res, 2, true, "")
		want(t, res, 3, true, "<nil>")
	})

	// peerside: TestEmptyValueIsDelete
	t.Run("empty value is a delete", func(t *testing.T) {
		run(t, true, "put paempty v")
		run(t, true, "put paempty ")
		res := run(t, false, "get paempty")
		want(t, res, 0, true, "<nil>")
		var hist []struct {
			IsDelete bool `json:"is_delete"`
		}
		out, err := c.EvaluateTransaction("History", "paempty")
		if err != nil {
			t.Fatal(errorText(err))
		}
		if err := json.Unmarshal(out, &hist); err != nil || len(hist) != 2 || !hist[0].IsDelete {
			t.Fatalf("History paempty = %s (%v), want 2 entries, the newest a delete", out, err)
		}
	})
	t.Run("delete of a missing key is recorded in history", func(t *testing.T) {
		res := run(t, true, "del panever")
		want(t, res, 0, true)
		out, err := c.EvaluateTransaction("History", "panever")
		if err != nil {
			t.Fatal(errorText(err))
		}
		if !strings.Contains(string(out), `"is_delete":true`) {
			t.Fatalf("History panever = %s, want one delete", out)
		}
	})

	// peerside: TestPrivateDataRules
	t.Run("collection the chaincode has no config for", func(t *testing.T) {
		res := run(t, false, "getpriv nosuch k", "privhash nosuch k", "privrange nosuch a b")
		for i := range res {
			want(t, res, i, false, "nosuch")
		}
		res = run(t, true, "putpriv nosuch k v")
		want(t, res, 0, false, "nosuch")
	})

	// Keys: a key starting with 0x00 is stored (it is in the composite-key
	// namespace, so an unbounded simple range does not return it); a key
	// that is not UTF-8 never leaves the shim (protobuf refuses the string).
	t.Run("keys", func(t *testing.T) {
		res := run(t, true, "put \x00paraw\x00 v", "put pa\xff v")
		want(t, res, 0, true)
		want(t, res, 1, false, "invalid UTF-8")
		res = run(t, false, "get \x00paraw\x00", "range  ")
		want(t, res, 0, true, "v")
		if strings.Contains(res[1].Result, "paraw") {
			t.Fatalf("an unbounded range returned the 0x00 key: %q", res[1].Result)
		}
	})
}
