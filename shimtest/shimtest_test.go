package shimtest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccserver/ccserver/shim"
	"github.com/ccserver/ccserver/shimtest"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// stepClock returns t0, t0+1s, t0+2s, ... one step per call.
func stepClock() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n-1) * time.Second)
	}
}

func fixedClock() time.Time { return t0 }

func ck(t *testing.T, objectType string, attrs ...string) string {
	t.Helper()
	k, err := shim.CreateCompositeKey(objectType, attrs)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestStub drives every stub area through the real engine and the
// in-memory peer. want is the payload of a successful call, or, with an
// "ERR " prefix, a piece of the failure message.
func TestStub(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []shimtest.Option
		setup func(t *testing.T, l *shimtest.Ledger)
		call  shimtest.Call
		want  string
		check func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result)
	}{
		{
			name: "put commits",
			call: shimtest.Call{Args: []string{"put", "k1", "v1", "k2", "v2"}},
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if !r.Committed || string(l.State("k1")) != "v1" || string(l.State("k2")) != "v2" {
					t.Errorf("committed %v, state %q", r.Committed, l.Dump())
				}
			},
		},
		{
			name:  "get reads committed state",
			setup: func(t *testing.T, l *shimtest.Ledger) { l.SetState("k", []byte("seeded")) },
			call:  shimtest.Call{Args: []string{"get", "k"}, Query: true},
			want:  "seeded",
		},
		{
			name:  "a transaction reads committed state, not its own writes",
			setup: func(t *testing.T, l *shimtest.Ledger) { l.SetState("k", []byte("old")) },
			call:  shimtest.Call{Args: []string{"putget", "k", "new"}},
			want:  `read "old"`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if string(l.State("k")) != "new" {
					t.Errorf("state %q", l.State("k"))
				}
			},
		},
		{
			name: "query never commits",
			call: shimtest.Call{Args: []string{"put", "k", "v"}, Query: true},
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if r.Committed || l.State("k") != nil {
					t.Errorf("query committed: %v %q", r.Committed, l.State("k"))
				}
			},
		},
		{
			name:  "delete",
			setup: func(t *testing.T, l *shimtest.Ledger) { l.SetState("k", []byte("v")) },
			call:  shimtest.Call{Args: []string{"del", "k"}},
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if l.State("k") != nil || len(l.Keys()) != 0 {
					t.Errorf("after delete: %q", l.Dump())
				}
			},
		},
		{
			name:  "failed invoke commits nothing",
			call:  shimtest.Call{Args: []string{"putfail", "k", "v"}},
			want:  "ERR refused after writing",
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) { noCommit(t, l, r, "k") },
		},
		{
			name: "multi-get",
			setup: func(t *testing.T, l *shimtest.Ledger) {
				l.SetState("a", []byte("1"))
				l.SetState("c", []byte("3"))
			},
			call: shimtest.Call{Args: []string{"multi", "a", "b", "c"}, Query: true},
			want: `["1",null,"3"]`,
		},
		{
			name: "multi-get on an older peer",
			opts: []shimtest.Option{shimtest.WithOlderPeer()},
			setup: func(t *testing.T, l *shimtest.Ledger) {
				l.SetState("a", []byte("1"))
				l.SetState("c", []byte("3"))
			},
			call: shimtest.Call{Args: []string{"multi", "a", "b", "c"}, Query: true},
			want: `["1",null,"3"]`,
		},
		{
			name:  "range is half-open",
			setup: seed("a", "b", "c", "d"),
			call:  shimtest.Call{Args: []string{"range", "b", "d"}, Query: true},
			want:  "b c",
		},
		{
			name: "open range skips composite keys",
			setup: func(t *testing.T, l *shimtest.Ledger) {
				seed("a", "b")(t, l)
				l.SetState(ck(t, "color", "blue"), []byte("x"))
			},
			call: shimtest.Call{Args: []string{"range", "", ""}, Query: true},
			want: "a b",
		},
		{
			name:  "range first page",
			setup: seed("k1", "k2", "k3", "k4", "k5"),
			call:  shimtest.Call{Args: []string{"rangepage", "", "", "2", ""}, Query: true},
			want:  "k1 k2|k3|2",
		},
		{
			name:  "range page from bookmark",
			setup: seed("k1", "k2", "k3", "k4", "k5"),
			call:  shimtest.Call{Args: []string{"rangepage", "", "", "2", "k3"}, Query: true},
			want:  "k3 k4|k5|2",
		},
		{
			name:  "range last page has no bookmark",
			setup: seed("k1", "k2", "k3", "k4", "k5"),
			call:  shimtest.Call{Args: []string{"rangepage", "", "", "2", "k5"}, Query: true},
			want:  "k5||1",
		},
		{
			name: "composite keys by partial key",
			setup: func(t *testing.T, l *shimtest.Ledger) {
				l.MustInvoke(t, "ckput", "color", "blue", "a1")
				l.MustInvoke(t, "ckput", "color", "red", "a3")
				l.MustInvoke(t, "ckput", "color", "blue", "a2")
				l.MustInvoke(t, "ckput", "size", "5", "a1")
			},
			call: shimtest.Call{Args: []string{"partial", "color", "blue"}, Query: true},
			want: "color/blue/a1 color/blue/a2",
		},
		{
			name: "composite keys paginated",
			setup: func(t *testing.T, l *shimtest.Ledger) {
				for _, a := range []string{"a1", "a2", "a3"} {
					l.MustInvoke(t, "ckput", "color", "blue", a)
				}
			},
			call: shimtest.Call{Args: []string{"partialpage", "color", "2", "", "blue"}, Query: true},
			want: "color/blue/a1 color/blue/a2|\x00color\x00blue\x00a3\x00|2",
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				keys, bookmark, _ := strings.Cut(string(r.Payload), "|")
				bookmark, count, _ := strings.Cut(bookmark, "|")
				if keys != "color/blue/a1 color/blue/a2" || count != "2" || bookmark != ck(t, "color", "blue", "a3") {
					t.Fatalf("first page %q", r.Payload)
				}
				next := l.MustQuery(t, "partialpage", "color", "2", bookmark, "blue")
				if string(next) != "color/blue/a3||1" {
					t.Errorf("second page %q", next)
				}
			},
		},
		{
			name:  "rich query with sort",
			setup: seedJSON,
			call:  shimtest.Call{Args: []string{"rich", `{"selector":{"color":"blue","size":{"$gte":5}},"sort":[{"size":"desc"}]}`}, Query: true},
			want:  "a3 a1",
		},
		{
			name:  "rich query paginated",
			setup: seedJSON,
			call:  shimtest.Call{Args: []string{"richpage", `{"selector":{"color":{"$in":["blue","red"]}}}`, "2", ""}, Query: true},
			want:  "a1 a2|2|2",
		},
		{
			name:  "rich query with a bad selector",
			setup: seedJSON,
			call:  shimtest.Call{Args: []string{"rich", `{"selector":{"size":{"$near":5}}}`}, Query: true},
			want:  "ERR $near",
		},
		{
			name: "history",
			opts: []shimtest.Option{shimtest.WithDeterministicIDs(), shimtest.WithClock(stepClock())},
			setup: func(t *testing.T, l *shimtest.Ledger) {
				l.MustInvoke(t, "put", "h", "1")
				l.MustInvoke(t, "put", "h", "2")
				l.MustInvoke(t, "del", "h")
			},
			call: shimtest.Call{Args: []string{"history", "h"}, Query: true},
			want: fmt.Sprintf("%s=/true@2024-01-02T03:04:07Z %s=2/false@2024-01-02T03:04:06Z %s=1/false@2024-01-02T03:04:05Z",
				shimtest.TxID(3)[:8], shimtest.TxID(2)[:8], shimtest.TxID(1)[:8]),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				h := l.History("h")
				if len(h) != 3 || !h[0].IsDelete || h[0].Value != nil || string(h[1].Value) != "2" || h[2].TxID != shimtest.TxID(1) || !h[2].Timestamp.Equal(t0) {
					t.Errorf("History = %+v", h)
				}
			},
		},
		{
			name: "private data stays out of public state",
			call: shimtest.Call{Args: []string{"pput", "secrets", "k", "s3cret"}},
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if string(l.PrivateState("secrets", "k")) != "s3cret" || l.State("k") != nil || l.PrivateState("other", "k") != nil {
					t.Errorf("private %q public %q", l.PrivateState("secrets", "k"), l.State("k"))
				}
				if got := string(l.MustQuery(t, "pget", "secrets", "k")); got != "s3cret" {
					t.Errorf("pget = %q", got)
				}
			},
		},
		{
			name:  "private data hash",
			setup: func(t *testing.T, l *shimtest.Ledger) { l.SetPrivateState("secrets", "k", []byte("s3cret")) },
			call:  shimtest.Call{Args: []string{"phash", "secrets", "k"}, Query: true},
			want:  hash("s3cret"),
		},
		{
			name: "private multi-get, range and rich query",
			setup: func(t *testing.T, l *shimtest.Ledger) {
				l.SetPrivateState("c", "p1", []byte(`{"v":1}`))
				l.SetPrivateState("c", "p2", []byte(`{"v":2}`))
			},
			call: shimtest.Call{Args: []string{"pmulti", "c", "p2", "p9"}, Query: true},
			want: `["{\"v\":2}",null]`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if got := string(l.MustQuery(t, "prange", "c", "p1", "p9")); got != "p1 p2" {
					t.Errorf("prange = %q", got)
				}
				if got := string(l.MustQuery(t, "prich", "c", `{"selector":{"v":{"$gt":1}}}`)); got != "p2" {
					t.Errorf("prich = %q", got)
				}
			},
		},
		{
			name:  "private delete",
			setup: func(t *testing.T, l *shimtest.Ledger) { l.SetPrivateState("c", "k", []byte("v")) },
			call:  shimtest.Call{Args: []string{"pdel", "c", "k"}},
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if l.PrivateState("c", "k") != nil {
					t.Error("private key still there")
				}
			},
		},
		{
			name:  "purge removes value and hash",
			setup: func(t *testing.T, l *shimtest.Ledger) { l.SetPrivateState("c", "k", []byte("v")) },
			call:  shimtest.Call{Args: []string{"ppurge", "c", "k"}},
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if l.PrivateState("c", "k") != nil {
					t.Error("purged value still there")
				}
				if h := l.MustQuery(t, "phash", "c", "k"); len(h) != 0 {
					t.Errorf("hash after purge %q", h)
				}
			},
		},
		{
			name:  "key-level endorsement policy",
			setup: func(t *testing.T, l *shimtest.Ledger) { l.SetState("k", []byte("v")) },
			call:  shimtest.Call{Args: []string{"setep", "k", "policy-bytes"}},
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if got := string(l.Metadata("k")["VALIDATION_PARAMETER"]); got != "policy-bytes" {
					t.Errorf("metadata %q", l.Metadata("k"))
				}
				if got := string(l.MustQuery(t, "getep", "k")); got != "policy-bytes" {
					t.Errorf("getep = %q", got)
				}
			},
		},
		{
			name:  "private key-level endorsement policy",
			setup: func(t *testing.T, l *shimtest.Ledger) { l.SetPrivateState("c", "k", []byte("v")) },
			call:  shimtest.Call{Args: []string{"psetep", "c", "k", "p"}},
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if got := string(l.PrivateMetadata("c", "k")["VALIDATION_PARAMETER"]); got != "p" {
					t.Errorf("metadata %q", l.PrivateMetadata("c", "k"))
				}
				if got := string(l.MustQuery(t, "pgetep", "c", "k")); got != "p" {
					t.Errorf("pgetep = %q", got)
				}
			},
		},
		{
			name: "event of a committed transaction",
			call: shimtest.Call{Args: []string{"event", "AssetCreated", "a1"}},
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				want := shimtest.Event{TxID: r.TxID, Name: "AssetCreated", Payload: []byte("a1")}
				if r.Event == nil || !sameEvent(*r.Event, want) {
					t.Errorf("Result.Event = %+v", r.Event)
				}
				if ev := l.Events(); len(ev) != 1 || !sameEvent(ev[0], want) {
					t.Errorf("Events = %+v", ev)
				}
			},
		},
		{
			name: "event of a query is not delivered",
			call: shimtest.Call{Args: []string{"event", "E", "p"}, Query: true},
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if r.Event == nil || len(l.Events()) != 0 {
					t.Errorf("Result.Event %+v, Events %+v", r.Event, l.Events())
				}
			},
		},
		{
			name: "transient data",
			call: shimtest.Call{Args: []string{"transient", "price"}, Transient: map[string][]byte{"price": []byte("42")}},
			want: "42",
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if len(l.Keys()) != 0 {
					t.Errorf("transient leaked into state: %q", l.Dump())
				}
			},
		},
		{
			name: "creator",
			opts: []shimtest.Option{shimtest.WithMSPID("Org2MSP"), shimtest.WithAttributes(map[string]string{"role": "auditor"})},
			call: shimtest.Call{Args: []string{"creator"}, Query: true},
			want: `Org2MSP User1@org2.example.com {"attrs":{"role":"auditor"}}`,
		},
		{
			name: "default creator",
			call: shimtest.Call{Args: []string{"creator"}, Query: true},
			want: "Org1MSP User1@org1.example.com -",
		},
		{
			name: "deterministic ID and timestamp",
			opts: []shimtest.Option{shimtest.WithDeterministicIDs(), shimtest.WithClock(fixedClock)},
			call: shimtest.Call{Args: []string{"txinfo"}, Query: true},
			want: shimtest.TxID(1) + " mychannel 2024-01-02T03:04:05Z",
		},
		{
			name: "call overrides ID, channel and time",
			opts: []shimtest.Option{shimtest.WithDeterministicIDs(), shimtest.WithChannel("ch1")},
			call: shimtest.Call{Args: []string{"txinfo"}, TxID: "fixed", Channel: "ch2", Time: t0.Add(time.Millisecond)},
			want: "fixed ch2 2024-01-02T03:04:05.001Z",
		},
		{
			name: "channel option",
			opts: []shimtest.Option{shimtest.WithDeterministicIDs(), shimtest.WithClock(fixedClock), shimtest.WithChannel("ch1")},
			call: shimtest.Call{Args: []string{"txinfo"}},
			want: shimtest.TxID(1) + " ch1 2024-01-02T03:04:05Z",
		},
		{
			name: "InvokeChaincode is not supported locally",
			call: shimtest.Call{Args: []string{"invokecc"}},
			want: "ERR not supported locally",
		},
		{
			name: "a panic becomes status 500 and the chaincode carries on",
			call: shimtest.Call{Args: []string{"panic"}},
			want: "ERR chaincode panicked: chaincode bug",
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if r.Err != nil {
					t.Errorf("a panicking Invoke still completes: Err = %v", r.Err)
				}
				l.MustInvoke(t, "put", "after", "panic")
			},
		},
		{
			name: "unknown function",
			call: shimtest.Call{Args: []string{"nope"}},
			want: `ERR unknown function "nope"`,
		},
		{
			name: "init commits",
			call: shimtest.Call{Args: []string{"a", "b"}, Init: true},
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if string(l.State("initialized")) != "a,b" {
					t.Errorf("state %q", l.Dump())
				}
			},
		},
		{
			name:  "failed init is an ERROR reply",
			call:  shimtest.Call{Args: []string{"fail"}, Init: true},
			want:  "ERR init refused",
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) { failedTx(t, l, r) },
		},
		{
			name:  "private data in Init is refused",
			call:  shimtest.Call{Args: []string{"private"}, Init: true},
			want:  "ERR private data",
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) { failedTx(t, l, r) },
		},
		{
			name:  "with write batches a bad write fails the transaction at the end",
			call:  shimtest.Call{Args: []string{"badput"}},
			want:  "ERR failed send batch: marshal WRITE_BATCH_STATE: string field contains invalid UTF-8",
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) { failedTx(t, l, r) },
		},
		{
			name: "on an older peer a bad write fails at the write",
			opts: []shimtest.Option{shimtest.WithOlderPeer()},
			call: shimtest.Call{Args: []string{"badput"}},
			want: "ERR put refused: marshal PUT_STATE request: string field contains invalid UTF-8",
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if r.Err != nil {
					t.Errorf("Err = %v, want the chaincode's own answer", r.Err)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := shimtest.New(t, storeCC{}, tc.opts...)
			if tc.setup != nil {
				tc.setup(t, l)
			}
			r := l.Do(tc.call)
			if msg, isErr := strings.CutPrefix(tc.want, "ERR "); isErr {
				if r.OK() || r.Status != shim.ERROR || !strings.Contains(r.Message, msg) {
					t.Fatalf("got %s, want status 500 with %q", r, msg)
				}
			} else if !r.OK() || string(r.Payload) != tc.want {
				t.Fatalf("got %s, want payload %q", r, tc.want)
			}
			if tc.check != nil {
				tc.check(t, l, r)
			}
		})
	}
}

func seed(keys ...string) func(*testing.T, *shimtest.Ledger) {
	return func(t *testing.T, l *shimtest.Ledger) {
		for _, k := range keys {
			l.SetState(k, []byte("v-"+k))
		}
	}
}

func seedJSON(t *testing.T, l *shimtest.Ledger) {
	l.SetState("a1", []byte(`{"color":"blue","size":5}`))
	l.SetState("a2", []byte(`{"color":"red","size":7}`))
	l.SetState("a3", []byte(`{"color":"blue","size":9}`))
	l.SetState("a4", []byte(`{"color":"blue","size":1}`))
	l.SetState("a5", []byte(`not json`))
}

func noCommit(t *testing.T, l *shimtest.Ledger, r *shimtest.Result, key string) {
	t.Helper()
	if r.Committed || l.State(key) != nil {
		t.Errorf("a failed transaction committed: %v %q", r.Committed, l.Dump())
	}
}

// failedTx checks a transaction the peer saw as ERROR.
func failedTx(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
	t.Helper()
	if r.Err == nil || r.Err.Error() == "" || r.TxID == "" {
		t.Errorf("Err = %v, TxID %q; want the ERROR reply as Err", r.Err, r.TxID)
	}
	if len(l.Keys()) != 0 {
		t.Errorf("state after a failed transaction: %q", l.Dump())
	}
}

func sameEvent(a, b shimtest.Event) bool {
	return a.TxID == b.TxID && a.Name == b.Name && bytes.Equal(a.Payload, b.Payload)
}

// TestPeerFeatures checks what the shim sends: write batches and multi-key
// reads from a Fabric 3.1 peer, single messages from an older one.
func TestPeerFeatures(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []shimtest.Option
		want map[pb.ChaincodeMessage_Type]int
	}{
		{"Fabric 3.1 peer", nil, map[pb.ChaincodeMessage_Type]int{
			pb.ChaincodeMessage_WRITE_BATCH_STATE: 1, pb.ChaincodeMessage_GET_STATE_MULTIPLE: 1,
		}},
		{"older peer", []shimtest.Option{shimtest.WithOlderPeer()}, map[pb.ChaincodeMessage_Type]int{
			pb.ChaincodeMessage_PUT_STATE: 3, pb.ChaincodeMessage_GET_STATE: 2,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[pb.ChaincodeMessage_Type]int{}
			counting := false
			tap := shimtest.WithTap(func(m *pb.ChaincodeMessage) {
				mu.Lock()
				defer mu.Unlock()
				if counting {
					seen[m.Type]++
				}
			})
			l := shimtest.New(t, storeCC{}, append(tc.opts, tap)...)
			mu.Lock()
			counting = true
			mu.Unlock()
			l.MustInvoke(t, "bput", "a", "1", "b", "2", "c", "3")
			if got := string(l.MustQuery(t, "multi", "a", "c")); got != `["1","3"]` {
				t.Errorf("multi = %s", got)
			}
			mu.Lock()
			defer mu.Unlock()
			delete(seen, pb.ChaincodeMessage_COMPLETED)
			if fmt.Sprint(seen) != fmt.Sprint(tc.want) {
				t.Errorf("chaincode sent %v, want %v", seen, tc.want)
			}
		})
	}
}

// Two ledgers with the same options see the same IDs and timestamps.
func TestDeterministicRuns(t *testing.T) {
	run := func() string {
		l := shimtest.New(t, storeCC{}, shimtest.WithDeterministicIDs(), shimtest.WithClock(stepClock()))
		var out []string
		for range 3 {
			out = append(out, string(l.MustInvoke(t, "txinfo")))
		}
		return strings.Join(out, "\n")
	}
	a, b := run(), run()
	if a != b {
		t.Fatalf("runs differ:\n%s\n---\n%s", a, b)
	}
	if !strings.HasPrefix(a, shimtest.TxID(1)+" mychannel 2024-01-02T03:04:05Z\n"+shimtest.TxID(2)+" mychannel 2024-01-02T03:04:06Z") {
		t.Errorf("ids and times:\n%s", a)
	}
	// Without the option, IDs are fresh each time.
	l := shimtest.New(t, storeCC{})
	if x, y := l.MustQuery(t, "txinfo"), l.MustQuery(t, "txinfo"); bytes.Equal(x, y) {
		t.Errorf("random IDs repeat: %s", x)
	}
}

// The creator the chaincode sees is the Ledger's identity, or the Call's.
func TestIdentities(t *testing.T) {
	l := shimtest.New(t, creatorCC{}, shimtest.WithMSPID("BankMSP"))
	def := l.Identity()
	if got := l.MustQuery(t); !bytes.Equal(got, def.Serialized()) {
		t.Fatal("GetCreator differs from Ledger.Identity")
	}
	if def.MSPID() != "BankMSP" || def.Certificate().Subject.CommonName != "User1@bank.example.com" {
		t.Errorf("MSPID %q, certificate %v", def.MSPID(), def.Certificate().Subject)
	}
	for _, tc := range []struct{ mspid, name, cn string }{
		{"BankMSP", "Auditor", "Auditor@bank.example.com"},
		{"Org2MSP", "User2", "User2@org2.example.com"},
	} {
		id, err := l.NewIdentity(tc.mspid, tc.name, map[string]string{"role": "x"})
		if err != nil {
			t.Fatal(err)
		}
		r := l.Do(shimtest.Call{Args: []string{}, As: id, Query: true})
		if !r.OK() || !bytes.Equal(r.Payload, id.Serialized()) {
			t.Errorf("%s: GetCreator %s differs from the Call's identity", tc.cn, r)
		}
		cert := id.Certificate()
		if id.MSPID() != tc.mspid || cert.Subject.CommonName != tc.cn {
			t.Errorf("identity %s %v", id.MSPID(), cert.Subject)
		}
		// One CA per MSP: client-identity code tells users of one org apart
		// by subject, and orgs by issuer.
		sameOrg := tc.mspid == "BankMSP"
		if err := cert.CheckSignatureFrom(def.Certificate()); err == nil {
			t.Error("a client certificate signed another")
		}
		if got := bytes.Equal(cert.RawIssuer, def.Certificate().RawIssuer); got != sameOrg {
			t.Errorf("%s: same issuer as User1 = %v, want %v", tc.cn, got, sameOrg)
		}
	}
	if _, err := l.NewIdentity("", "x", nil); err == nil || !strings.Contains(err.Error(), "MSP ID and a name") {
		t.Errorf("NewIdentity without MSP ID: %v", err)
	}
	// The next call without As is User1 again.
	if got := l.MustQuery(t); !bytes.Equal(got, def.Serialized()) {
		t.Error("the default identity changed")
	}
}

type creatorCC struct{}

func (creatorCC) Init(shim.ChaincodeStubInterface) *pb.Response { return shim.Success(nil) }
func (creatorCC) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {
	c, err := stub.GetCreator()
	if err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(c)
}

// Transactions run concurrently on one stream; every write commits.
func TestConcurrentInvokes(t *testing.T) {
	l := shimtest.New(t, storeCC{})
	const n = 32
	var wg sync.WaitGroup
	results := make([]*shimtest.Result, n)
	for i := range n {
		wg.Go(func() { results[i] = l.Invoke("put", fmt.Sprint("k", i), fmt.Sprint(i)) })
	}
	wg.Wait()
	for i, r := range results {
		if !r.OK() || string(l.State(fmt.Sprint("k", i))) != fmt.Sprint(i) {
			t.Errorf("call %d: %s, state %q", i, r, l.State(fmt.Sprint("k", i)))
		}
	}
	if len(l.Keys()) != n {
		t.Errorf("%d keys, want %d", len(l.Keys()), n)
	}
}

func TestClose(t *testing.T) {
	l, err := shimtest.Start(storeCC{})
	if err != nil {
		t.Fatal(err)
	}
	l.MustInvoke(t, "put", "k", "v")
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	r := l.Invoke("get", "k")
	if !errors.Is(r.Err, shimtest.ErrClosed) || r.Status != shim.ERROR {
		t.Errorf("after Close: %s, Err %v", r, r.Err)
	}
	if string(l.State("k")) != "v" {
		t.Errorf("state is readable after Close: %q", l.State("k"))
	}
}

// A transaction that is stuck when the test ends does not hang Close.
func TestCloseWhileRunning(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	l, err := shimtest.Start(blockingCC{entered, release})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *shimtest.Result, 1)
	go func() { done <- l.Invoke("block") }()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	close(release)
	select {
	case <-done: // it may have completed or failed, depending on when the stream ended
	case <-time.After(20 * time.Second):
		t.Fatal("the transaction did not end")
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}

type blockingCC struct{ entered, release chan struct{} }

func (blockingCC) Init(shim.ChaincodeStubInterface) *pb.Response { return shim.Success(nil) }
func (c blockingCC) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {
	close(c.entered)
	<-c.release
	if _, err := stub.GetState("k"); err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(nil)
}

func TestStartErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cc   shim.Chaincode
		opts []shimtest.Option
		want string
	}{
		{"nil chaincode", nil, nil, "chaincode is nil"},
		{"bad name", storeCC{}, []shimtest.Option{shimtest.WithName("a:b")}, `name "a:b"`},
		{"empty channel", storeCC{}, []shimtest.Option{shimtest.WithChannel("")}, "channel name is empty"},
		{"empty MSP ID", storeCC{}, []shimtest.Option{shimtest.WithMSPID("")}, "MSP ID is empty"},
		{"nil clock", storeCC{}, []shimtest.Option{shimtest.WithClock(nil)}, "WithClock(nil)"},
		{"bad timeout", storeCC{}, []shimtest.Option{shimtest.WithTimeout(0)}, "timeout 0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := shimtest.Start(tc.cc, tc.opts...)
			if err == nil {
				l.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	l := shimtest.New(t, blockingCC{entered, release}, shimtest.WithTimeout(50*time.Millisecond))
	r := l.Invoke("block")
	close(release)
	if r.Err == nil || !strings.Contains(r.Message, "timeout") {
		t.Errorf("got %s, want a timeout", r)
	}
}

// recorder stands in for the test so a failing Must helper can be seen.
type recorder struct {
	testing.TB
	failure string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failure = fmt.Sprintf(format, args...)
}

func TestMustHelpers(t *testing.T) {
	l := shimtest.New(t, storeCC{})
	for _, tc := range []struct {
		name string
		call func(testing.TB) []byte
		want string // the failure, "" for none
	}{
		{"MustInit ok", func(tb testing.TB) []byte { return l.MustInit(tb, "x") }, ""},
		{"MustInit fails", func(tb testing.TB) []byte { return l.MustInit(tb, "fail") }, "Init fail: status 500: init refused"},
		{"MustInvoke ok", func(tb testing.TB) []byte { return l.MustInvoke(tb, "put", "k", "v") }, ""},
		{"MustInvoke fails", func(tb testing.TB) []byte { return l.MustInvoke(tb, "nope", "a") }, `Invoke nope a: status 500: unknown function "nope"`},
		{"MustQuery ok", func(tb testing.TB) []byte { return l.MustQuery(tb, "get", "k") }, ""},
		{"MustQuery fails", func(tb testing.TB) []byte { return l.MustQuery(tb, "panic") }, "Query panic: status 500: chaincode panicked: chaincode bug"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			tc.call(rec)
			if rec.failure != tc.want {
				t.Errorf("failure %q, want %q", rec.failure, tc.want)
			}
		})
	}
	if got := string(l.MustQuery(t, "get", "k")); got != "v" {
		t.Errorf("MustQuery payload %q", got)
	}
}

// BenchmarkInvoke measures one committed transaction with one write, end
// to end through the engine, the in-memory stream and the peer.
func BenchmarkInvoke(b *testing.B) {
	l, err := shimtest.Start(storeCC{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := l.Invoke("put", "k", "v"); !r.OK() {
				b.Fatal(r)
			}
		}
	})
}
