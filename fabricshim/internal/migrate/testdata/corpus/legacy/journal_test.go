package journal

import (
	"testing"

	"github.com/golang/protobuf/ptypes/timestamp"
	"github.com/hyperledger/fabric/core/chaincode/shim"
	"github.com/hyperledger/fabric/protos/ledger/queryresult"
	sc "github.com/hyperledger/fabric/protos/peer"
)

type fakeIterator struct {
	kvs []*queryresult.KV
}

func (it *fakeIterator) HasNext() bool { return len(it.kvs) > 0 }
func (it *fakeIterator) Close() error  { return nil }
func (it *fakeIterator) Next() (*queryresult.KV, error) {
	kv := it.kvs[0]
	it.kvs = it.kvs[1:]
	return kv, nil
}

type fakeStub struct {
	shim.ChaincodeStubInterface
	args  []string
	state map[string][]byte
	// answer is what InvokeChaincode returns.
	answer sc.Response
}

func (s *fakeStub) GetFunctionAndParameters() (string, []string) { return s.args[0], s.args[1:] }
func (s *fakeStub) PutState(key string, value []byte) error {
	s.state[key] = value
	return nil
}
func (s *fakeStub) GetStateByRange(start, end string) (shim.StateQueryIteratorInterface, error) {
	return &fakeIterator{kvs: []*queryresult.KV{{Key: "a", Value: s.state["a"]}, {Key: "b", Value: s.state["b"]}}}, nil
}
func (s *fakeStub) GetTxTimestamp() (*timestamp.Timestamp, error) {
	return &timestamp.Timestamp{Seconds: 1700000000}, nil
}
func (s *fakeStub) InvokeChaincode(name string, args [][]byte, channel string) sc.Response {
	return s.answer
}

func TestJournal(t *testing.T) {
	j := new(Journal)
	stub := &fakeStub{state: map[string][]byte{}}
	tests := []struct {
		args   []string
		answer sc.Response
		status int32
		want   string
	}{
		{[]string{"record", "a", "one"}, sc.Response{}, shim.OK, ""},
		{[]string{"record", "b", "two"}, sc.Response{}, shim.OK, ""},
		{[]string{"list"}, sc.Response{}, shim.OK, "a=one;b=two"},
		{[]string{"stamp"}, sc.Response{}, shim.OK, "2023-11-14T22:13:20Z"},
		{[]string{"relay", "other"}, sc.Response{Status: shim.OK, Payload: []byte("fine")}, shim.OK, "fine"},
		{[]string{"relay", "other"}, sc.Response{Status: 404, Message: "gone"}, shim.ERROR, "other answered 404: gone"},
		{[]string{"record"}, sc.Response{}, shim.ERROR, "record takes a key and a text"},
	}
	for _, tc := range tests {
		stub.args, stub.answer = tc.args, tc.answer
		res := j.Invoke(stub)
		got := string(res.Payload)
		if res.Status >= shim.ERRORTHRESHOLD {
			got = res.Message
		}
		if res.Status != tc.status || got != tc.want {
			t.Errorf("%v: %d %q, want %d %q", tc.args, res.Status, got, tc.status, tc.want)
		}
	}
	if string(j.lastRelay.Payload) != "fine" {
		t.Errorf("last relay %q, want the last successful answer", j.lastRelay.Payload)
	}
}
