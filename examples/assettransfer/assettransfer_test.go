package assettransfer

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memStub is an in-memory ledger behind the few stub calls the chaincode
// makes; every other method panics through the nil embedded interface, so
// an unexpected call fails the test loudly.
type memStub struct {
	shim.ChaincodeStubInterface
	args    []string
	state   map[string][]byte
	failGet error
}

func newMemStub() *memStub { return &memStub{state: map[string][]byte{}} }

func (s *memStub) GetArgs() [][]byte {
	out := make([][]byte, len(s.args))
	for i, a := range s.args {
		out[i] = []byte(a)
	}
	return out
}

func (s *memStub) GetFunctionAndParameters() (string, []string) {
	if len(s.args) == 0 {
		return "", nil
	}
	return s.args[0], s.args[1:]
}

func (s *memStub) GetState(key string) ([]byte, error) {
	if s.failGet != nil {
		return nil, s.failGet
	}
	return s.state[key], nil
}

func (s *memStub) PutState(key string, value []byte) error {
	s.state[key] = slices.Clone(value)
	return nil
}

func (s *memStub) DelState(key string) error {
	delete(s.state, key)
	return nil
}

func (s *memStub) GetStateByRange(start, end string) (shim.StateQueryIteratorInterface, error) {
	keys := make([]string, 0, len(s.state))
	for k := range s.state {
		if (start == "" || k >= start) && (end == "" || k < end) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	it := &memIterator{}
	for _, k := range keys {
		it.kvs = append(it.kvs, &queryresult.KV{Key: k, Value: s.state[k]})
	}
	return it, nil
}

type memIterator struct {
	shim.StateQueryIteratorInterface
	kvs    []*queryresult.KV
	closed bool
}

func (it *memIterator) HasNext() bool { return len(it.kvs) > 0 }
func (it *memIterator) Close() error  { it.closed = true; return nil }
func (it *memIterator) Next() (*queryresult.KV, error) {
	if len(it.kvs) == 0 {
		return nil, errors.New("no more results")
	}
	kv := it.kvs[0]
	it.kvs = it.kvs[1:]
	return kv, nil
}

func (s *memStub) call(t *testing.T, args ...string) (status int32, payload, message string) {
	t.Helper()
	s.args = args
	r := New().Invoke(s)
	return r.Status, string(r.Payload), r.Message
}

func TestInvoke(t *testing.T) {
	type step struct {
		args    []string
		status  int32
		payload string // exact payload on success
		message string // substring of the error message
	}
	asset1 := `{"ID":"asset1","color":"blue","size":5,"owner":"Tomoko","appraisedValue":300}`
	tests := []struct {
		name  string
		steps []step
	}{
		{"init ledger then read", []step{
			{args: []string{"InitLedger"}, status: 200},
			{args: []string{"ReadAsset", "asset1"}, status: 200, payload: asset1},
			{args: []string{"SmartContract:ReadAsset", "asset1"}, status: 200, payload: asset1},
		}},
		{"create, exists, duplicate", []step{
			{args: []string{"AssetExists", "asset7"}, status: 200, payload: "false"},
			{args: []string{"CreateAsset", "asset7", "yellow", "5", "Tom", "1300"}, status: 200},
			{args: []string{"AssetExists", "asset7"}, status: 200, payload: "true"},
			{args: []string{"ReadAsset", "asset7"}, status: 200,
				payload: `{"ID":"asset7","color":"yellow","size":5,"owner":"Tom","appraisedValue":1300}`},
			{args: []string{"CreateAsset", "asset7", "red", "1", "Ann", "1"}, status: 500, message: "the asset asset7 already exists"},
		}},
		{"update", []step{
			{args: []string{"UpdateAsset", "asset9", "red", "1", "Ann", "1"}, status: 500, message: "the asset asset9 does not exist"},
			{args: []string{"CreateAsset", "asset9", "red", "1", "Ann", "1"}, status: 200},
			{args: []string{"UpdateAsset", "asset9", "blue", "2", "Bob", "20"}, status: 200},
			{args: []string{"ReadAsset", "asset9"}, status: 200,
				payload: `{"ID":"asset9","color":"blue","size":2,"owner":"Bob","appraisedValue":20}`},
		}},
		{"transfer answers the old owner", []step{
			{args: []string{"InitLedger"}, status: 200},
			{args: []string{"TransferAsset", "asset1", "Christopher"}, status: 200, payload: "Tomoko"},
			{args: []string{"TransferAsset", "asset1", "Dana"}, status: 200, payload: "Christopher"},
			{args: []string{"TransferAsset", "nope", "Dana"}, status: 500, message: "the asset nope does not exist"},
		}},
		{"delete", []step{
			{args: []string{"DeleteAsset", "asset1"}, status: 500, message: "the asset asset1 does not exist"},
			{args: []string{"InitLedger"}, status: 200},
			{args: []string{"DeleteAsset", "asset1"}, status: 200},
			{args: []string{"AssetExists", "asset1"}, status: 200, payload: "false"},
			{args: []string{"ReadAsset", "asset1"}, status: 500, message: "the asset asset1 does not exist"},
		}},
		{"get all on an empty ledger answers nothing", []step{
			{args: []string{"GetAllAssets"}, status: 200, payload: ""},
		}},
		{"bad calls", []step{
			{args: []string{"Nope"}, status: 500, message: "Function Nope not found in contract SmartContract"},
			{args: []string{"ReadAsset"}, status: 500, message: "Incorrect number of params. Expected 1, received 0"},
			{args: []string{"CreateAsset", "a", "red", "big", "Ann", "1"}, status: 500, message: "cannot convert passed value big to int"},
			{args: []string{"UpdateAsset", "a", "red", "1", "Ann", "lots"}, status: 500, message: "cannot convert passed value lots to int"},
			{args: []string{}, status: 500, message: "Function  not found"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stub := newMemStub()
			for i, st := range tt.steps {
				status, payload, message := stub.call(t, st.args...)
				if status != st.status {
					t.Fatalf("step %d %v: status %d (%q), want %d", i, st.args, status, message, st.status)
				}
				if st.status == 200 && payload != st.payload {
					t.Fatalf("step %d %v: payload %q, want %q", i, st.args, payload, st.payload)
				}
				if !strings.Contains(message, st.message) {
					t.Fatalf("step %d %v: message %q, want it to contain %q", i, st.args, message, st.message)
				}
			}
		})
	}
}

func TestGetAllAssets(t *testing.T) {
	stub := newMemStub()
	if status, _, msg := stub.call(t, "InitLedger"); status != 200 {
		t.Fatalf("InitLedger: %d %s", status, msg)
	}
	status, payload, msg := stub.call(t, "GetAllAssets")
	if status != 200 {
		t.Fatalf("GetAllAssets: %d %s", status, msg)
	}
	var got []QueryResult
	if err := json.Unmarshal([]byte(payload), &got); err != nil {
		t.Fatalf("GetAllAssets payload %q: %v", payload, err)
	}
	if len(got) != len(ledgerSeed) {
		t.Fatalf("got %d assets, want %d", len(got), len(ledgerSeed))
	}
	for i, r := range got {
		if r.Key != ledgerSeed[i].ID || *r.Record != ledgerSeed[i] {
			t.Errorf("result %d = %+v %+v, want %+v", i, r.Key, *r.Record, ledgerSeed[i])
		}
	}
	if !strings.HasPrefix(payload, `[{"Key":"asset1","Record":{"ID":"asset1","color":"blue"`) {
		t.Errorf("payload shape %q differs from the sample's", payload)
	}
}

func TestLedgerReadErrorsAreReported(t *testing.T) {
	stub := newMemStub()
	stub.failGet = errors.New("peer went away")
	for _, fn := range [][]string{{"ReadAsset", "a"}, {"AssetExists", "a"}, {"DeleteAsset", "a"}, {"CreateAsset", "a", "b", "1", "c", "2"}} {
		status, _, msg := stub.call(t, fn...)
		if status != 500 || !strings.Contains(msg, "failed to read from world state. peer went away") {
			t.Errorf("%v: %d %q", fn, status, msg)
		}
	}
}

func TestInit(t *testing.T) {
	stub := newMemStub()
	if r := New().Init(stub); r.Status != 200 {
		t.Fatalf("Init without arguments: %d %s", r.Status, r.Message)
	}
	stub.args = []string{"InitLedger"}
	if r := New().Init(stub); r.Status != 200 || len(stub.state) != len(ledgerSeed) {
		t.Fatalf("Init InitLedger: %d %s, %d keys", r.Status, r.Message, len(stub.state))
	}
}

func TestFunctionsListsEveryFunction(t *testing.T) {
	listed := Chaincode{}.Functions()
	if len(listed) != len(functions) {
		t.Fatalf("Functions() has %d names, the dispatch table %d", len(listed), len(functions))
	}
	for _, name := range listed {
		if _, ok := functions[name]; !ok {
			t.Errorf("Functions() names %q, which Invoke does not know", name)
		}
	}
}

func Example() {
	stub := newMemStub()
	cc := New()
	stub.args = []string{"CreateAsset", "asset7", "yellow", "5", "Tom", "1300"}
	cc.Invoke(stub)
	stub.args = []string{"TransferAsset", "asset7", "Ann"}
	r := cc.Invoke(stub)
	fmt.Println(string(r.Payload)) // the old owner, as the sample answers
	// Output: Tom
}
