package stubareas_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccserver/ccserver/e2e/chaincode/stubareas"
	"github.com/ccserver/ccserver/serve"
	"github.com/ccserver/ccserver/shim"
	"github.com/ccserver/ccserver/shimtest"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/statebased"
)

// t0 is the tests' reference time: nanoseconds set, to see that they
// survive in timestamps.
func t0() time.Time { return time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.UTC) }

// stepClock returns t0, t0+1s, … one step per call, so history entries
// of consecutive transactions have distinct timestamps.
func stepClock() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0().Add(time.Duration(n-1) * time.Second)
	}
}

const coll = "collectionA"

func inv(args ...string) shimtest.Call   { return shimtest.Call{Args: args} }
func query(args ...string) shimtest.Call { return shimtest.Call{Args: args, Query: true} }

// private is a submitted call whose private value travels in the
// transient map, as the e2e test sends it.
func private(value string, args ...string) shimtest.Call {
	return shimtest.Call{Args: args, Transient: map[string][]byte{stubareas.TransientValueKey: []byte(value)}}
}

// seed commits the calls in order, failing the test if one fails.
func seed(calls ...shimtest.Call) func(*testing.T, *shimtest.Ledger) {
	return func(t *testing.T, l *shimtest.Ledger) {
		t.Helper()
		for _, c := range calls {
			if r := l.Do(c); !r.OK() {
				t.Fatalf("seed %q: %s", c.Args, r)
			}
		}
	}
}

func ck(t *testing.T, objectType string, attrs ...string) string {
	t.Helper()
	k, err := shim.CreateCompositeKey(objectType, attrs)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// js marshals v for a want field, so expected values with composite keys
// or computed hashes need no hand escaping.
func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonEqual compares JSON by value, not by layout.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("payload is not JSON: %v: %q", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("payload\n got %s\nwant %s", got, want)
	}
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

type creator []byte

func (c creator) GetCreator() ([]byte, error) { return c, nil }

// cidID is what the client-identity library makes of id, to compare
// WhoAmI's answer with.
func cidID(t *testing.T, id *shimtest.Identity) string {
	t.Helper()
	c, err := cid.New(creator(id.Serialized()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.GetID()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type page struct {
	KVs []struct {
		Key        string   `json:"key"`
		ObjectType string   `json:"object_type"`
		Attributes []string `json:"attributes"`
		Value      string   `json:"value"`
	} `json:"kvs"`
	Bookmark string `json:"bookmark"`
	Fetched  int    `json:"fetched"`
}

func (p page) keys() string {
	var ks []string
	for _, kv := range p.KVs {
		ks = append(ks, strings.Join(append([]string{kv.ObjectType}, kv.Attributes...), "/")+"="+kv.Value)
	}
	return strings.Join(ks, " ")
}

func countKeys(t *testing.T, l *shimtest.Ledger, prefix string) int {
	t.Helper()
	return decode[struct {
		Count int `json:"count"`
	}](t, l.MustQuery(t, "CountRange", prefix)).Count
}

func checkMany(t *testing.T, l *shimtest.Ledger, prefix string, n, size int) {
	t.Helper()
	if got := countKeys(t, l, prefix); got != n {
		t.Errorf("CountRange %s = %d, want %d", prefix, got, n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if got := l.State(stubareas.ManyKey(prefix, i)); string(got) != string(stubareas.ManyValue(i, size)) {
			t.Errorf("key %d = %q", i, got)
		}
	}
}

type testCase struct {
	name  string
	opts  []shimtest.Option
	setup func(t *testing.T, l *shimtest.Ledger)
	call  shimtest.Call
	// want is the JSON payload (compared by value) unless it starts with
	// "ERR ", then a part of the status-500 message; "" checks nothing.
	want  string
	check func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result)
}

func cases(t *testing.T) []testCase {
	big := 5<<20 + 7 // several MiB, not a multiple of the SHA-256 block
	return []testCase{
		// Init and dispatch
		{
			name: "Init records initialized",
			call: shimtest.Call{Init: true, Args: []string{"Init"}},
			want: js(t, map[string]string{"initialized": shimtest.TxID(1)}),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if got := string(l.State(stubareas.InitializedKey)); got != r.TxID {
					t.Errorf("initialized = %q, want the tx ID %q", got, r.TxID)
				}
			},
		},
		{name: "unknown function", call: inv("Nope"), want: `ERR unknown function "Nope"; this chaincode has AllCompositePage,`},
		{name: "wrong argument count", call: inv("Get"), want: "ERR Get: wrong number of arguments (0); usage: Get key"},
		{name: "too many arguments", call: inv("TxInfo", "x"), want: "ERR TxInfo: wrong number of arguments (1)"},

		// world state
		{
			name: "Put commits",
			call: inv("Put", "k1", "v1"),
			want: `{"key":"k1"}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if !r.Committed || string(l.State("k1")) != "v1" {
					t.Errorf("committed %v, state %q", r.Committed, l.State("k1"))
				}
			},
		},
		{name: "Get", setup: seed(inv("Put", "k", "hello")), call: query("Get", "k"), want: `{"key":"k","found":true,"value":"hello"}`},
		{name: "Get missing", call: query("Get", "nope"), want: `{"key":"nope","found":false,"value":""}`},
		{
			name:  "GetRaw",
			setup: func(t *testing.T, l *shimtest.Ledger) { l.SetState("bin", []byte{0, 1, 0xff}) },
			call:  query("GetRaw", "bin"),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if string(r.Payload) != "\x00\x01\xff" {
					t.Errorf("payload %q", r.Payload)
				}
			},
		},
		{
			name: "GetRaw missing",
			call: query("GetRaw", "nope"),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if len(r.Payload) != 0 {
					t.Errorf("payload %q", r.Payload)
				}
			},
		},
		{
			name:  "Delete",
			setup: seed(inv("Put", "k", "v")),
			call:  inv("Delete", "k"),
			want:  `{"key":"k"}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if l.State("k") != nil {
					t.Errorf("still there: %q", l.State("k"))
				}
			},
		},
		{
			name: "PutBig writes several MiB made in the chaincode",
			call: inv("PutBig", "big", fmt.Sprint(big)),
			want: js(t, map[string]any{"key": "big", "found": true, "len": big, "sha256": sha(stubareas.BigValue("big", big))}),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				v := l.State("big")
				if len(v) != big || string(v) != string(stubareas.BigValue("big", big)) {
					t.Fatalf("stored %d bytes", len(v))
				}
				jsonEqual(t, l.MustQuery(t, "GetBigInfo", "big"), string(r.Payload))
			},
		},
		{name: "PutBig of nothing", call: inv("PutBig", "big", "0"), want: "ERR PutBig: nbytes must be at least 1"},
		{name: "PutBig over the limit", call: inv("PutBig", "big", fmt.Sprint(65<<20)), want: "ERR PutBig: nbytes 68157440 is more than the limit"},
		{name: "PutBig bad size", call: inv("PutBig", "big", "-1"), want: `ERR PutBig: nbytes must be a non-negative integer, got "-1"`},
		{name: "GetBigInfo missing", call: query("GetBigInfo", "nope"), want: js(t, map[string]any{"key": "nope", "found": false, "len": 0, "sha256": sha(nil)})},
		{
			name:  "GetMany in order",
			setup: seed(inv("Put", "a", "1"), inv("Put", "c", "3")),
			call:  query("GetMany", "c", "b", "a"),
			want:  `[{"key":"c","found":true,"value":"3"},{"key":"b","found":false,"value":""},{"key":"a","found":true,"value":"1"}]`,
		},
		{
			name:  "GetMany on an older peer",
			opts:  []shimtest.Option{shimtest.WithOlderPeer()},
			setup: seed(inv("Put", "a", "1")),
			call:  query("GetMany", "a", "b"),
			want:  `[{"key":"a","found":true,"value":"1"},{"key":"b","found":false,"value":""}]`,
		},
		{name: "GetMany of no keys", call: query("GetMany"), want: `[]`},
		{
			name:  "Range is half-open and skips composite keys",
			setup: seed(inv("Put", "a", "1"), inv("Put", "b", "2"), inv("Put", "c", "3"), inv("PutComposite", "color", "x", "blue")),
			call:  query("Range", "", "c"),
			want:  `{"kvs":[{"key":"a","value":"1"},{"key":"b","value":"2"}]}`,
		},
		{name: "Range empty", call: query("Range", "a", "z"), want: `{"kvs":[]}`},
		{
			name:  "RangePage first page",
			setup: seed(inv("Put", "k1", "1"), inv("Put", "k2", "2"), inv("Put", "k3", "3")),
			call:  query("RangePage", "k", "l", "2", ""),
			want:  `{"kvs":[{"key":"k1","value":"1"},{"key":"k2","value":"2"}],"bookmark":"k3","fetched":2}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				next := l.MustQuery(t, "RangePage", "k", "l", "2", decode[page](t, r.Payload).Bookmark)
				jsonEqual(t, next, `{"kvs":[{"key":"k3","value":"3"}],"bookmark":"","fetched":1}`)
			},
		},
		{name: "RangePage bad page size", call: query("RangePage", "", "", "0", ""), want: "ERR RangePage: pageSize must be at least 1"},
		{
			name:  "CountRange counts one prefix",
			setup: seed(inv("Put", "p1", "x"), inv("Put", "p2", "x"), inv("Put", "q1", "x")),
			call:  query("CountRange", "p"),
			want:  `{"prefix":"p","count":2}`,
		},
		{
			name: "PutMany in an explicit batch larger than the peer's limit",
			call: inv("PutMany", "m", "2500", "16"),
			want: `{"prefix":"m","written":2500,"mode":"explicit"}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				checkMany(t, l, "m", 2500, 16)
			},
		},
		{
			name: "PutMany in an implicit batch",
			call: inv("PutMany", "m", "1200", "3", "implicit"),
			want: `{"prefix":"m","written":1200,"mode":"implicit"}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				checkMany(t, l, "m", 1200, 3)
			},
		},
		{
			name: "PutMany without a batch",
			call: inv("PutMany", "m", "50", "8", "none"),
			want: `{"prefix":"m","written":50,"mode":"none"}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				checkMany(t, l, "m", 50, 8)
			},
		},
		{
			name: "PutMany on an older peer falls back to single writes",
			opts: []shimtest.Option{shimtest.WithOlderPeer()},
			call: inv("PutMany", "m", "2500", "4"),
			want: `{"prefix":"m","written":2500,"mode":"explicit"}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				checkMany(t, l, "m", 2500, 4)
			},
		},
		{name: "PutMany bad mode", call: inv("PutMany", "m", "1", "1", "sometimes"), want: `ERR PutMany: mode "sometimes": want explicit, implicit or none`},
		{name: "PutMany too much", call: inv("PutMany", "m", "1000", "100000"), want: "ERR PutMany: n×size = 100000000 bytes is more than the limit"},
		{
			name:  "DeleteMany",
			setup: seed(inv("PutMany", "m", "1500", "2"), inv("Put", "n", "kept")),
			call:  inv("DeleteMany", "m", "1500", "implicit"),
			want:  `{"prefix":"m","written":1500,"mode":"implicit"}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if n := countKeys(t, l, "m"); n != 0 {
					t.Errorf("%d keys left", n)
				}
				if string(l.State("n")) != "kept" {
					t.Error("deleted a key outside the prefix")
				}
			},
		},
		{
			name:  "History newest first",
			opts:  []shimtest.Option{shimtest.WithClock(stepClock())},
			setup: seed(inv("Put", "h", "one"), inv("Put", "h", "two"), inv("Delete", "h")),
			call:  query("History", "h"),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				type mod struct {
					TxID      string `json:"tx_id"`
					Value     string `json:"value"`
					IsDelete  bool   `json:"is_delete"`
					Timestamp string `json:"timestamp"`
				}
				got := decode[[]mod](t, r.Payload)
				want := l.History("h")
				if len(got) != 3 || len(want) != 3 {
					t.Fatalf("history %s, ledger %v", r.Payload, want)
				}
				for i, w := range want {
					if got[i] != (mod{w.TxID, string(w.Value), w.IsDelete, w.Timestamp.UTC().Format(time.RFC3339Nano)}) {
						t.Errorf("entry %d: %+v, ledger %+v", i, got[i], w)
					}
				}
				if got[0].TxID != shimtest.TxID(3) || !got[0].IsDelete || got[1].Value != "two" || got[2].Value != "one" {
					t.Errorf("history %s", r.Payload)
				}
				if ts, err := time.Parse(time.RFC3339Nano, got[2].Timestamp); err != nil || ts.Before(t0()) {
					t.Errorf("timestamp %q: %v", got[2].Timestamp, err)
				}
			},
		},
		{name: "History of a missing key", call: query("History", "nope"), want: `[]`},

		// composite keys
		{
			name: "PutComposite",
			call: inv("PutComposite", "color", "v", "blue", "a1"),
			want: js(t, map[string]string{"key": ck(t, "color", "blue", "a1")}),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if string(l.State(ck(t, "color", "blue", "a1"))) != "v" {
					t.Errorf("state %q", l.Dump())
				}
			},
		},
		{
			name: "Partial splits the keys",
			setup: seed(inv("PutComposite", "color", "1", "blue", "a1"), inv("PutComposite", "color", "2", "red", "a2"),
				inv("PutComposite", "color", "3", "blue", "a3"), inv("PutComposite", "size", "4", "blue")),
			call: query("Partial", "color", "blue"),
			want: js(t, map[string]any{"kvs": []map[string]any{
				{"key": ck(t, "color", "blue", "a1"), "object_type": "color", "attributes": []string{"blue", "a1"}, "value": "1"},
				{"key": ck(t, "color", "blue", "a3"), "object_type": "color", "attributes": []string{"blue", "a3"}, "value": "3"},
			}}),
		},
		{
			name:  "Partial by object type only",
			setup: seed(inv("PutComposite", "color", "1", "blue"), inv("PutComposite", "size", "2", "5")),
			call:  query("Partial", "size"),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if got := decode[page](t, r.Payload).keys(); got != "size/5=2" {
					t.Errorf("got %s", got)
				}
			},
		},
		{
			name: "PartialPage with bookmark",
			setup: seed(inv("PutComposite", "color", "1", "blue", "a1"), inv("PutComposite", "color", "2", "blue", "a2"),
				inv("PutComposite", "color", "3", "blue", "a3"), inv("PutComposite", "color", "4", "red", "a4")),
			call: query("PartialPage", "color", "2", "", "blue"),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				p := decode[page](t, r.Payload)
				if p.keys() != "color/blue/a1=1 color/blue/a2=2" || p.Fetched != 2 || p.Bookmark != ck(t, "color", "blue", "a3") {
					t.Fatalf("first page %s", r.Payload)
				}
				p = decode[page](t, l.MustQuery(t, "PartialPage", "color", "2", p.Bookmark, "blue"))
				if p.keys() != "color/blue/a3=3" || p.Fetched != 1 || p.Bookmark != "" {
					t.Errorf("second page %+v", p)
				}
			},
		},
		{
			name: "AllCompositePage",
			setup: seed(inv("Put", "plain", "x"), inv("PutComposite", "color", "1", "blue"),
				inv("PutComposite", "size", "2", "5"), inv("PutComposite", "owner", "3", "tom")),
			call: query("AllCompositePage", "2", ""),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				p := decode[page](t, r.Payload)
				if p.keys() != "color/blue=1 owner/tom=3" || p.Fetched != 2 || p.Bookmark == "" {
					t.Fatalf("first page %s", r.Payload)
				}
				p = decode[page](t, l.MustQuery(t, "AllCompositePage", "2", p.Bookmark))
				if p.keys() != "size/5=2" || p.Bookmark != "" {
					t.Errorf("second page %+v", p)
				}
			},
		},

		// private data
		{
			name: "PutPrivate takes the value from the transient map",
			call: private("secret", "PutPrivate", coll, "p1"),
			want: `{"collection":"collectionA","key":"p1","len":6}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if string(l.PrivateState(coll, "p1")) != "secret" {
					t.Errorf("private state %q", l.PrivateState(coll, "p1"))
				}
			},
		},
		{name: "PutPrivate without transient value", call: inv("PutPrivate", coll, "p1"), want: `ERR PutPrivate: the transient map has no "value" entry`},
		{name: "GetPrivate", setup: seed(private("secret", "PutPrivate", coll, "p1")), call: query("GetPrivate", coll, "p1"), want: `{"key":"p1","found":true,"value":"secret"}`},
		{name: "GetPrivate missing", call: query("GetPrivate", coll, "p1"), want: `{"key":"p1","found":false,"value":""}`},
		{
			name:  "DeletePrivate",
			setup: seed(private("secret", "PutPrivate", coll, "p1")),
			call:  inv("DeletePrivate", coll, "p1"),
			want:  `{"collection":"collectionA","key":"p1"}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if l.PrivateState(coll, "p1") != nil {
					t.Error("still there")
				}
			},
		},
		{
			name:  "PurgePrivate",
			setup: seed(private("secret", "PutPrivate", coll, "p1")),
			call:  inv("PurgePrivate", coll, "p1"),
			want:  `{"collection":"collectionA","key":"p1"}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if l.PrivateState(coll, "p1") != nil {
					t.Error("still there")
				}
				jsonEqual(t, l.MustQuery(t, "PrivateHash", coll, "p1"), `{"collection":"collectionA","key":"p1","found":false,"hash":""}`)
			},
		},
		{
			name:  "PrivateHash",
			setup: seed(private("secret", "PutPrivate", coll, "p1")),
			call:  query("PrivateHash", coll, "p1"),
			want:  js(t, map[string]any{"collection": coll, "key": "p1", "found": true, "hash": sha([]byte("secret"))}),
		},
		{
			name:  "PrivateRange",
			setup: seed(private("1", "PutPrivate", coll, "a"), private("2", "PutPrivate", coll, "b"), private("3", "PutPrivate", coll, "c"), private("x", "PutPrivate", "other", "b")),
			call:  query("PrivateRange", coll, "b", ""),
			want:  `{"kvs":[{"key":"b","value":"2"},{"key":"c","value":"3"}]}`,
		},
		{
			name:  "GetManyPrivate in order",
			setup: seed(private("1", "PutPrivate", coll, "a"), private("3", "PutPrivate", coll, "c")),
			call:  query("GetManyPrivate", coll, "c", "b", "a"),
			want:  `[{"key":"c","found":true,"value":"3"},{"key":"b","found":false,"value":""},{"key":"a","found":true,"value":"1"}]`,
		},
		{
			name:  "GetManyPrivate on an older peer",
			opts:  []shimtest.Option{shimtest.WithOlderPeer()},
			setup: seed(private("1", "PutPrivate", coll, "a")),
			call:  query("GetManyPrivate", coll, "a", "b"),
			want:  `[{"key":"a","found":true,"value":"1"},{"key":"b","found":false,"value":""}]`,
		},
		{
			name: "PutPrivateComposite",
			call: private("v", "PutPrivateComposite", coll, "color", "blue", "a1"),
			want: js(t, map[string]any{"collection": coll, "key": ck(t, "color", "blue", "a1"), "len": 1}),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if string(l.PrivateState(coll, ck(t, "color", "blue", "a1"))) != "v" {
					t.Error("not written")
				}
			},
		},
		{
			name: "PrivatePartial",
			setup: seed(private("1", "PutPrivateComposite", coll, "color", "blue", "a1"), private("2", "PutPrivateComposite", coll, "color", "red", "a2"),
				private("3", "PutPrivateComposite", coll, "color", "blue", "a3")),
			call: query("PrivatePartial", coll, "color", "blue"),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if got := decode[page](t, r.Payload).keys(); got != "color/blue/a1=1 color/blue/a3=3" {
					t.Errorf("got %s", got)
				}
			},
		},

		// key-level endorsement
		{
			name:  "SetKeyEP",
			setup: seed(inv("Put", "k", "v")),
			call:  inv("SetKeyEP", "k", "Org2MSP", "Org1MSP"),
			want:  `{"key":"k","set":true,"orgs":["Org1MSP","Org2MSP"]}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				ep, err := statebased.NewStateEP(l.Metadata("k")["VALIDATION_PARAMETER"])
				if err != nil {
					t.Fatal(err)
				}
				if orgs := ep.ListOrgs(); len(orgs) != 2 {
					t.Errorf("policy orgs %v", orgs)
				}
				jsonEqual(t, l.MustQuery(t, "GetKeyEP", "k"), string(r.Payload))
			},
		},
		{name: "SetKeyEP of a missing key", call: inv("SetKeyEP", "nope", "Org2MSP"), want: `ERR SetKeyEP: key "nope" does not exist`},
		{name: "GetKeyEP without a policy", setup: seed(inv("Put", "k", "v")), call: query("GetKeyEP", "k"), want: `{"key":"k","set":false,"orgs":[]}`},
		{
			name:  "SetPrivateKeyEP",
			setup: seed(private("s", "PutPrivate", coll, "p")),
			call:  inv("SetPrivateKeyEP", coll, "p", "Org2MSP"),
			want:  `{"collection":"collectionA","key":"p","set":true,"orgs":["Org2MSP"]}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if l.PrivateMetadata(coll, "p")["VALIDATION_PARAMETER"] == nil {
					t.Error("no policy stored")
				}
				jsonEqual(t, l.MustQuery(t, "GetPrivateKeyEP", coll, "p"), string(r.Payload))
			},
		},
		{name: "SetPrivateKeyEP of a missing key", call: inv("SetPrivateKeyEP", coll, "nope", "Org2MSP"), want: `ERR SetPrivateKeyEP: private key "nope" does not exist in collectionA`},
		{name: "GetPrivateKeyEP without a policy", call: query("GetPrivateKeyEP", coll, "p"), want: `{"collection":"collectionA","key":"p","set":false,"orgs":[]}`},

		// transaction context
		{
			name: "Event",
			call: inv("Event", "Transferred", `{"id":"a1"}`),
			want: `{"name":"Transferred","payload":"{\"id\":\"a1\"}"}`,
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				ev := l.Events()
				if r.Event == nil || len(ev) != 1 || ev[0].Name != "Transferred" || string(ev[0].Payload) != `{"id":"a1"}` || ev[0].TxID != r.TxID {
					t.Errorf("result event %+v, events %+v", r.Event, ev)
				}
			},
		},
		{
			name: "TxInfo",
			call: shimtest.Call{Args: []string{"TxInfo"}, Query: true, TxID: "tx-42", Channel: "otherchannel", Time: t0()},
			want: `{"tx_id":"tx-42","channel_id":"otherchannel","timestamp":"2025-06-07T08:09:10.123456789Z"}`,
		},
		{
			name: "WhoAmI",
			opts: []shimtest.Option{shimtest.WithAttributes(map[string]string{"role": "auditor", "hf.EnrollmentID": "User1"})},
			call: query("WhoAmI", "role"),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				type who struct {
					MSPID     string `json:"msp_id"`
					ID        string `json:"id"`
					Subject   string `json:"subject"`
					Attribute *struct {
						Name, Value string
						Found       bool
					} `json:"attribute"`
					Attributes     map[string]string `json:"attributes"`
					SignedProposal bool              `json:"signed_proposal"`
					Binding        string            `json:"binding"`
					Decorations    map[string][]byte `json:"decorations"`
				}
				w := decode[who](t, r.Payload)
				if w.MSPID != "Org1MSP" || w.ID != cidID(t, l.Identity()) || !strings.Contains(w.Subject, "User1@org1.example.com") {
					t.Errorf("identity %s", r.Payload)
				}
				if w.Attribute == nil || w.Attribute.Name != "role" || w.Attribute.Value != "auditor" || !w.Attribute.Found {
					t.Errorf("attribute %s", r.Payload)
				}
				if !reflect.DeepEqual(w.Attributes, map[string]string{"role": "auditor", "hf.EnrollmentID": "User1"}) {
					t.Errorf("attributes %v", w.Attributes)
				}
				if b, err := hex.DecodeString(w.Binding); err != nil || len(b) != sha256.Size || !w.SignedProposal || w.Decorations == nil {
					t.Errorf("proposal fields %s", r.Payload)
				}
			},
		},
		{
			name: "WhoAmI as another organisation, attribute missing",
			call: query("WhoAmI", "role"),
			check: func(t *testing.T, l *shimtest.Ledger, _ *shimtest.Result) {
				id, err := l.NewIdentity("Org2MSP", "Admin", nil)
				if err != nil {
					t.Fatal(err)
				}
				r := l.Do(shimtest.Call{Args: []string{"WhoAmI", "role"}, Query: true, As: id})
				if !r.OK() {
					t.Fatal(r)
				}
				w := decode[map[string]any](t, r.Payload)
				if w["msp_id"] != "Org2MSP" || w["id"] != cidID(t, id) {
					t.Errorf("identity %s", r.Payload)
				}
				if fmt.Sprint(w["attribute"]) != "map[found:false name:role value:]" || fmt.Sprint(w["attributes"]) != "map[]" {
					t.Errorf("attributes %s", r.Payload)
				}
			},
		},
		{
			name: "WhoAmI without attribute leaves it out",
			call: query("WhoAmI"),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if _, ok := decode[map[string]any](t, r.Payload)["attribute"]; ok {
					t.Errorf("payload %s", r.Payload)
				}
			},
		},
		{
			// shimtest's peer serves one chaincode; a real peer answers
			// the called chaincode's response in the same JSON.
			name: "Call reports the called chaincode's answer",
			call: inv("Call", "basic", "-", "ReadAsset", "asset1"),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				c := decode[struct {
					Status  int32  `json:"status"`
					Message string `json:"message"`
					Payload string `json:"payload"`
				}](t, r.Payload)
				// A call the peer refuses comes back, as from
				// fabric-chaincode-go, as status 500 with the error
				// text in the payload.
				if c.Status != 500 || c.Message != "" || !strings.Contains(c.Payload, "not supported locally") || !strings.Contains(c.Payload, `"basic"`) {
					t.Errorf("call %s", r.Payload)
				}
			},
		},
		{name: "Call without a name", call: inv("Call", "", "", "ReadAsset"), want: "ERR Call: the chaincode name is empty"},
		{
			name: "Fail answers the status and message asked for",
			call: inv("Fail", "403", "no entry"),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if r.Status != 403 || r.Message != "no entry" || r.Committed {
					t.Errorf("result %+v", r)
				}
			},
		},
		{name: "Fail bad status", call: inv("Fail", "teapot", "x"), want: `ERR Fail: status "teapot" is not an integer`},
		{
			name: "Panic answers 500 and the chaincode keeps serving",
			call: inv("Panic", "boom"),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				if r.Status != 500 || !strings.Contains(r.Message, "boom") {
					t.Errorf("result %+v", r)
				}
				l.MustInvoke(t, "Put", "after", "panic")
			},
		},
		{name: "Sleep", call: inv("Sleep", "20", "slow"), want: `{"key":"slow","slept":"20ms"}`},
		{name: "Sleep too long", call: inv("Sleep", "60001", "slow"), want: "ERR Sleep: ms 60001 is more than the limit 60000"},

		// Steps: the peer's rules that depend on what the transaction did
		// before; the same steps run on the real peer in e2e/parity_test.go.
		{
			name:  "Steps refuses a paginated query after a write",
			setup: seed(inv("Put", "a1", "x")),
			call:  inv("Steps", "put a2 y", "rangepage a b 10 ", "range a b"),
			check: wantSteps(stepWant{ok: true}, stepWant{err: "Paginated queries are supported only in a read-only transaction"}, stepWant{ok: true, result: "a1"}),
		},
		{
			name:  "Steps refuses writes after a paginated query",
			setup: seed(inv("Put", "a1", "x")),
			call:  inv("Steps", "rangepage a b 10 ", "put a2 y", "del a1", "setep a1 Org1MSP"),
			check: wantSteps(stepWant{ok: true, result: "a1;bookmark=;fetched=1"},
				stepWant{err: "Transaction has already performed a paginated query. Writes are not allowed"},
				stepWant{err: "Writes are not allowed"}, stepWant{err: "Writes are not allowed"}),
		},
		{
			name:  "Steps refuses a private range query after a write",
			call:  inv("Steps", "put a1 x", "privrange "+coll+" a b"),
			check: wantSteps(stepWant{ok: true}, stepWant{err: "Queries on pvt data is supported only in a read-only transaction"}),
		},
		{
			name:  "Steps refuses writes after a private range query",
			call:  inv("Steps", "privrange "+coll+" a b", "putpriv "+coll+" a1 x", "put a1 x", "getpriv "+coll+" a1"),
			check: wantSteps(stepWant{ok: true}, stepWant{err: "Transaction has already performed queries on pvt data. Writes are not allowed"}, stepWant{err: "Writes are not allowed"}, stepWant{ok: true, result: "<nil>"}),
		},
		{
			name: "Steps: a policy on a key without a value is dropped at commit",
			call: inv("Steps", "setep ghost Org1MSP", "put real v", "setep real Org1MSP"),
			check: func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
				wantSteps(stepWant{ok: true}, stepWant{ok: true}, stepWant{ok: true})(t, l, r)
				wantSteps(stepWant{ok: true, result: ""}, stepWant{ok: true, result: "Org1MSP"})(t, l, l.Do(query("Steps", "getep ghost", "getep real")))
			},
		},
		{name: "Steps bad operation", call: inv("Steps", "jump k"), check: wantSteps(stepWant{err: `"jump" with 1 fields`})},
	}
}

// stepWant is what one step of Steps should give: ok with result, or an
// error containing err.
type stepWant struct {
	ok          bool
	result, err string
}

func wantSteps(want ...stepWant) func(*testing.T, *shimtest.Ledger, *shimtest.Result) {
	return func(t *testing.T, l *shimtest.Ledger, r *shimtest.Result) {
		t.Helper()
		if !r.OK() {
			t.Fatal(r)
		}
		got := decode[[]struct {
			Step   string `json:"step"`
			OK     bool   `json:"ok"`
			Result string `json:"result"`
			Error  string `json:"error"`
		}](t, r.Payload)
		if len(got) != len(want) {
			t.Fatalf("%d steps, want %d: %s", len(got), len(want), r.Payload)
		}
		for i, w := range want {
			g := got[i]
			if g.OK != w.ok || (w.ok && g.Result != w.result) || (!w.ok && !strings.Contains(g.Error, w.err)) {
				t.Errorf("step %q: ok %v result %q error %q; want ok %v result %q error containing %q", g.Step, g.OK, g.Result, g.Error, w.ok, w.result, w.err)
			}
		}
	}
}

func TestFunctions(t *testing.T) {
	for _, tc := range cases(t) {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]shimtest.Option{shimtest.WithDeterministicIDs()}, tc.opts...)
			l := shimtest.New(t, stubareas.New(), opts...)
			if tc.setup != nil {
				tc.setup(t, l)
			}
			r := l.Do(tc.call)
			if msg, isErr := strings.CutPrefix(tc.want, "ERR "); isErr {
				if r.Status != shim.ERROR || !strings.Contains(r.Message, msg) || r.Committed {
					t.Fatalf("got %s, want status 500 with %q", r, msg)
				}
				return
			}
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if tc.want != "" {
				if !r.OK() {
					t.Fatal(r)
				}
				jsonEqual(t, r.Payload, tc.want)
			}
			if tc.check != nil {
				tc.check(t, l, r)
			}
		})
	}
}

// TestEveryFunctionCovered keeps the table above, the package doc and
// the dispatch table in step: every function is tested and documented.
func TestEveryFunctionCovered(t *testing.T) {
	lister, ok := stubareas.New().(serve.FunctionLister)
	if !ok {
		t.Fatal("the chaincode does not list its functions for ccserver's metrics")
	}
	tested := map[string]bool{}
	for _, tc := range cases(t) {
		if len(tc.call.Args) > 0 {
			tested[tc.call.Args[0]] = true
		}
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range lister.Functions() {
		if !tested[name] {
			t.Errorf("%s has no test case", name)
		}
		if !strings.Contains(string(doc), "//\t"+name+" ") {
			t.Errorf("%s is not in the package doc's table", name)
		}
	}
}
