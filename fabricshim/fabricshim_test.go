package fabricshim_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/fabricshim"
	"github.com/ccserver/ccserver/serve"
	ours "github.com/ccserver/ccserver/shim"
	"github.com/ccserver/ccserver/shimtest"
	anchor "github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestWrappedRawChaincode runs chaincode written for the original shim,
// unchanged, through ccserver's engine: every stub area it uses, the
// iterators in particular, answers as it would on the original shim.
func TestWrappedRawChaincode(t *testing.T) {
	l := shimtest.New(t, fabricshim.Wrap(rawCC{}), shimtest.WithDeterministicIDs())
	l.MustInit(t, "a", "1", "b", "2")
	for _, kv := range [][2]string{{"j1", `{"color":"blue"}`}, {"j2", `{"color":"red"}`}, {"h", "one"}} {
		l.MustInvoke(t, "put", kv[0], kv[1])
	}
	l.MustInvoke(t, "put", "h", "two")
	secret := map[string][]byte{"value": []byte("s3cret")}

	steps := []struct {
		name       string
		call       shimtest.Call
		wantStatus int32
		want       string // the payload, or a part of the message on an error
	}{
		{"put", shimtest.Call{Args: []string{"put", "c", "3"}}, 200, ""},
		{"get", shimtest.Call{Args: []string{"get", "c"}, Query: true}, 200, "3"},
		{"get missing", shimtest.Call{Args: []string{"get", "nosuch"}, Query: true}, 500, "nosuch does not exist"},
		{"range", shimtest.Call{Args: []string{"range", "a", "d"}, Query: true}, 200, `["a","b","c"]`},
		{"page", shimtest.Call{Args: []string{"page", "a", "d", "2", ""}, Query: true}, 200, `{"bookmark":"c","count":2,"keys":["a","b"]}`},
		{"index blue a", shimtest.Call{Args: []string{"index", "blue", "a"}}, 200, ""},
		{"index blue b", shimtest.Call{Args: []string{"index", "blue", "b"}}, 200, ""},
		{"index red c", shimtest.Call{Args: []string{"index", "red", "c"}}, 200, ""},
		{"partial composite", shimtest.Call{Args: []string{"bycolor", "blue"}, Query: true}, 200, `["\u0000color~key\u0000blue\u0000a\u0000","\u0000color~key\u0000blue\u0000b\u0000"]`},
		{"partial composite paginated", shimtest.Call{Args: []string{"allindexed"}, Query: true}, 200, `{"count":3,"keys":3}`},
		{"rich query", shimtest.Call{Args: []string{"rich", `{"selector":{"color":"blue"}}`}, Query: true}, 200, `["j1"]`},
		{"history", shimtest.Call{Args: []string{"history", "h"}, Query: true}, 200, `["two","one"]`},
		{"private put", shimtest.Call{Args: []string{"putpriv", "secrets", "p1"}, Transient: secret}, 200, ""},
		{"private put without transient", shimtest.Call{Args: []string{"putpriv", "secrets", "p2"}}, 500, "transient map"},
		{"private get", shimtest.Call{Args: []string{"getpriv", "secrets", "p1"}, Query: true}, 200, "s3cret"},
		{"private range", shimtest.Call{Args: []string{"privrange", "secrets", "", ""}, Query: true}, 200, `["p1"]`},
		{"private composite", shimtest.Call{Args: []string{"privindex", "secrets", "color~key"}, Query: true}, 200, `[]`},
		{"private rich query", shimtest.Call{Args: []string{"privrich", "secrets", `{"selector":{"color":"blue"}}`}, Query: true}, 200, `[]`},
		{"cid", shimtest.Call{Args: []string{"whoami"}, Query: true}, 200, "Org1MSP"},
		{"statebased", shimtest.Call{Args: []string{"endorse", "c", "Org1MSP"}}, 200, ""},
		{"event", shimtest.Call{Args: []string{"event", "moved", "c"}}, 200, ""},
		{"signed proposal", shimtest.Call{Args: []string{"txinfo"}, Query: true, TxID: "tx-info"}, 200, `{"channel":"mychannel","signed":true,"txid":"tx-info"}`},
		{"panic fails one transaction", shimtest.Call{Args: []string{"panic"}}, 500, "panic"},
		{"still serving after the panic", shimtest.Call{Args: []string{"get", "a"}, Query: true}, 200, "1"},
		{"unknown function", shimtest.Call{Args: []string{"nosuch"}}, 500, "unknown function nosuch"},
	}
	for _, st := range steps {
		res := l.Do(st.call)
		if res.Err != nil {
			t.Fatalf("%s: %v", st.name, res.Err)
		}
		if res.Status != st.wantStatus {
			t.Errorf("%s: status %d (%s), want %d", st.name, res.Status, res.Message, st.wantStatus)
			continue
		}
		if st.wantStatus >= ours.ERRORTHRESHOLD {
			if !strings.Contains(res.Message, st.want) {
				t.Errorf("%s: message %q, want it to contain %q", st.name, res.Message, st.want)
			}
		} else if string(res.Payload) != st.want {
			t.Errorf("%s: payload %s, want %s", st.name, res.Payload, st.want)
		}
		if st.name == "event" && (res.Event == nil || res.Event.Name != "moved" || string(res.Event.Payload) != "c") {
			t.Errorf("event: %+v", res.Event)
		}
	}
	if got := l.PrivateState("secrets", "p1"); string(got) != "s3cret" {
		t.Errorf("private state p1 = %q", got)
	}
	if ep := l.Metadata("c")["VALIDATION_PARAMETER"]; len(ep) == 0 {
		t.Error("statebased: no validation parameter on c")
	}
}

// TestStubMethodSet compares, by reflection, the stub the wrapped
// chaincode receives with the original interface: every method is there
// with the original's signature. (The assertion in fabricshim.go makes
// the same promise at compile time; this names what differs.)
func TestStubMethodSet(t *testing.T) {
	iface := reflect.TypeOf((*anchor.ChaincodeStubInterface)(nil)).Elem()
	if iface.NumMethod() < 38 {
		t.Fatalf("the original interface has %d methods; v2.0.0 has 38", iface.NumMethod())
	}
	got := reflect.TypeOf(fabricshim.Stub(nopStub{}))
	for m := range iface.Methods() {
		gm, ok := got.MethodByName(m.Name)
		if !ok {
			t.Errorf("%s: missing", m.Name)
			continue
		}
		// gm.Type has the receiver first; m.Type, of an interface, has none.
		in := make([]reflect.Type, 0, gm.Type.NumIn()-1)
		for i := 1; i < gm.Type.NumIn(); i++ {
			in = append(in, gm.Type.In(i))
		}
		out := make([]reflect.Type, 0, gm.Type.NumOut())
		for i := range gm.Type.NumOut() {
			out = append(out, gm.Type.Out(i))
		}
		if ft := reflect.FuncOf(in, out, gm.Type.IsVariadic()); ft != m.Type {
			t.Errorf("%s: %s, the original has %s", m.Name, ft, m.Type)
		}
	}
	// The ones ccserver's interface declares with its own iterator types
	// are exactly the ones the adapter redeclares.
	ourIface := reflect.TypeOf((*ours.ChaincodeStubInterface)(nil)).Elem()
	var differ []string
	for m := range iface.Methods() {
		if om, ok := ourIface.MethodByName(m.Name); !ok || om.Type != m.Type {
			differ = append(differ, m.Name)
		}
	}
	if len(differ) == 0 || len(differ) > 10 {
		t.Errorf("methods whose signatures differ between the two shims: %v; want the iterator-returning ones (at most 10)", differ)
	}
	for _, name := range differ {
		if !strings.HasPrefix(name, "Get") || (!strings.Contains(name, "Range") && !strings.Contains(name, "Query") &&
			!strings.Contains(name, "CompositeKey") && name != "GetHistoryForKey") {
			t.Errorf("%s differs between the two shims but does not return an iterator", name)
		}
	}
}

// nopStub is a stub of ours whose methods are never called.
type nopStub struct{ ours.ChaincodeStubInterface }

// iterStub answers every iterator call with it, md and err.
type iterStub struct {
	ours.ChaincodeStubInterface
	it  ours.StateQueryIteratorInterface
	hit ours.HistoryQueryIteratorInterface
	md  *peer.QueryResponseMetadata
	err error
}

func (s iterStub) GetStateByRange(string, string) (ours.StateQueryIteratorInterface, error) {
	return s.it, s.err
}
func (s iterStub) GetStateByRangeWithPagination(string, string, int32, string) (ours.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.it, s.md, s.err
}
func (s iterStub) GetStateByPartialCompositeKey(string, []string) (ours.StateQueryIteratorInterface, error) {
	return s.it, s.err
}
func (s iterStub) GetStateByPartialCompositeKeyWithPagination(string, []string, int32, string) (ours.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.it, s.md, s.err
}
func (s iterStub) GetAllStatesCompositeKeyWithPagination(int32, string) (ours.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.it, s.md, s.err
}
func (s iterStub) GetQueryResult(string) (ours.StateQueryIteratorInterface, error) {
	return s.it, s.err
}
func (s iterStub) GetQueryResultWithPagination(string, int32, string) (ours.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.it, s.md, s.err
}
func (s iterStub) GetHistoryForKey(string) (ours.HistoryQueryIteratorInterface, error) {
	return s.hit, s.err
}
func (s iterStub) GetPrivateDataByRange(string, string, string) (ours.StateQueryIteratorInterface, error) {
	return s.it, s.err
}
func (s iterStub) GetPrivateDataByPartialCompositeKey(string, string, []string) (ours.StateQueryIteratorInterface, error) {
	return s.it, s.err
}
func (s iterStub) GetPrivateDataQueryResult(string, string) (ours.StateQueryIteratorInterface, error) {
	return s.it, s.err
}

// fakeIter and fakeHist are iterators of ours that the adapter must hand
// back as they are.
type (
	fakeIter struct{}
	fakeHist struct{}
)

func (fakeIter) HasNext() bool                               { return false }
func (fakeIter) Close() error                                { return nil }
func (fakeIter) Next() (*queryresult.KV, error)              { return nil, nil }
func (fakeHist) HasNext() bool                               { return false }
func (fakeHist) Close() error                                { return nil }
func (fakeHist) Next() (*queryresult.KeyModification, error) { return nil, nil }

// TestStubIterators checks each redeclared method: the iterator of ours
// comes back itself, the metadata and error unchanged, and no iterator
// stays nil (not an interface holding a nil pointer).
func TestStubIterators(t *testing.T) {
	md := &peer.QueryResponseMetadata{Bookmark: "next", FetchedRecordsCount: 7}
	boom := errors.New("boom")
	type result struct {
		it  any
		md  *peer.QueryResponseMetadata
		err error
	}
	calls := []struct {
		name string
		call func(anchor.ChaincodeStubInterface) result
	}{
		{"GetStateByRange", func(s anchor.ChaincodeStubInterface) result {
			it, err := s.GetStateByRange("a", "b")
			return result{it, nil, err}
		}},
		{"GetStateByRangeWithPagination", func(s anchor.ChaincodeStubInterface) result {
			it, md, err := s.GetStateByRangeWithPagination("a", "b", 1, "")
			return result{it, md, err}
		}},
		{"GetStateByPartialCompositeKey", func(s anchor.ChaincodeStubInterface) result {
			it, err := s.GetStateByPartialCompositeKey("t", nil)
			return result{it, nil, err}
		}},
		{"GetStateByPartialCompositeKeyWithPagination", func(s anchor.ChaincodeStubInterface) result {
			it, md, err := s.GetStateByPartialCompositeKeyWithPagination("t", nil, 1, "")
			return result{it, md, err}
		}},
		{"GetQueryResult", func(s anchor.ChaincodeStubInterface) result {
			it, err := s.GetQueryResult("{}")
			return result{it, nil, err}
		}},
		{"GetQueryResultWithPagination", func(s anchor.ChaincodeStubInterface) result {
			it, md, err := s.GetQueryResultWithPagination("{}", 1, "")
			return result{it, md, err}
		}},
		{"GetHistoryForKey", func(s anchor.ChaincodeStubInterface) result {
			it, err := s.GetHistoryForKey("k")
			return result{it, nil, err}
		}},
		{"GetPrivateDataByRange", func(s anchor.ChaincodeStubInterface) result {
			it, err := s.GetPrivateDataByRange("c", "a", "b")
			return result{it, nil, err}
		}},
		{"GetPrivateDataByPartialCompositeKey", func(s anchor.ChaincodeStubInterface) result {
			it, err := s.GetPrivateDataByPartialCompositeKey("c", "t", nil)
			return result{it, nil, err}
		}},
		{"GetPrivateDataQueryResult", func(s anchor.ChaincodeStubInterface) result {
			it, err := s.GetPrivateDataQueryResult("c", "{}")
			return result{it, nil, err}
		}},
		// Not in v2.0.0's interface, but in later ones: call it on the
		// adapter type itself.
		{"GetAllStatesCompositeKeyWithPagination", func(s anchor.ChaincodeStubInterface) result {
			all := s.(interface {
				GetAllStatesCompositeKeyWithPagination(int32, string) (anchor.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error)
			})
			it, md, err := all.GetAllStatesCompositeKeyWithPagination(1, "")
			return result{it, md, err}
		}},
	}
	paginated := func(name string) bool { return strings.HasSuffix(name, "WithPagination") }
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			var it, hit = fakeIter{}, fakeHist{}
			got := c.call(fabricshim.Stub(iterStub{it: it, hit: hit, md: md}))
			want := any(it)
			if c.name == "GetHistoryForKey" {
				want = hit
			}
			if got.it != want || got.err != nil {
				t.Errorf("got %#v, %v; want our iterator %#v", got.it, got.err, want)
			}
			if paginated(c.name) && got.md != md {
				t.Errorf("metadata %v, want %v", got.md, md)
			}
			got = c.call(fabricshim.Stub(iterStub{err: boom}))
			if !errors.Is(got.err, boom) {
				t.Errorf("error %v, want %v", got.err, boom)
			}
			if got.it != nil {
				t.Errorf("a nil iterator came back as %#v", got.it)
			}
		})
	}
	if len(calls) != 11 {
		t.Fatalf("%d calls; the shim has 11 iterator-returning methods", len(calls))
	}
}

// listing is a raw chaincode that names its functions.
type listing struct {
	rawCC
	names []string
}

func (l listing) Functions() []string { return l.names }

func TestWrapFunctions(t *testing.T) {
	tests := []struct {
		name     string
		cc       anchor.Chaincode
		want     []string
		wantList bool
	}{
		{"no Functions method", rawCC{}, nil, false},
		{"Functions passed through", listing{names: []string{"get", "put"}}, []string{"get", "put"}, true},
		{"an empty list stays a list", listing{names: []string{}}, []string{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := fabricshim.Wrap(tc.cc)
			l, ok := w.(serve.FunctionLister)
			if ok != tc.wantList {
				t.Fatalf("wrapped chaincode is a FunctionLister: %v, want %v", ok, tc.wantList)
			}
			if !ok {
				return
			}
			got := l.Functions()
			if !slices.Equal(got, tc.want) {
				t.Errorf("Functions() = %q, want %q", got, tc.want)
			}
			if len(got) > 0 {
				got[0] = "changed"
				if l.Functions()[0] == "changed" {
					t.Error("Functions returns its own slice; a caller can change it")
				}
			}
		})
	}
}

func TestWrapNil(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "nil chaincode") {
			t.Errorf("Wrap(nil): recovered %v, want a panic naming the nil chaincode", r)
		}
	}()
	fabricshim.Wrap(nil)
}

func TestStubNil(t *testing.T) {
	if s := fabricshim.Stub(nil); s != nil {
		t.Errorf("Stub(nil) = %#v, want nil", s)
	}
}
