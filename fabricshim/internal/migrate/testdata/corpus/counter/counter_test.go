package main

import (
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/shim"
	pb "github.com/hyperledger/fabric-protos-go/peer"
)

// fakeStub is an in-memory stub: the methods the chaincode calls, over a
// map. The embedded interface stands in for the rest.
type fakeStub struct {
	shim.ChaincodeStubInterface
	args  []string
	state map[string][]byte
}

func (s *fakeStub) GetStringArgs() []string { return s.args }

func (s *fakeStub) GetFunctionAndParameters() (string, []string) { return s.args[0], s.args[1:] }

func (s *fakeStub) GetState(key string) ([]byte, error) { return s.state[key], nil }

func (s *fakeStub) PutState(key string, value []byte) error {
	s.state[key] = value
	return nil
}

func TestCounter(t *testing.T) {
	cc := new(Counter)
	stub := &fakeStub{state: map[string][]byte{}}
	stub.args = []string{"a", "b"}
	if res := cc.Init(stub); res.Status != shim.OK {
		t.Fatalf("Init: %d %s", res.Status, res.Message)
	}
	tests := []struct {
		args []string
		want pb.Response
	}{
		{[]string{"incr", "a"}, pb.Response{Status: shim.OK, Payload: []byte("1")}},
		{[]string{"incr", "a"}, pb.Response{Status: shim.OK, Payload: []byte("2")}},
		{[]string{"get", "a"}, pb.Response{Status: shim.OK, Payload: []byte("2")}},
		{[]string{"get", "zz"}, pb.Response{Status: notFound, Message: "no counter zz"}},
		{[]string{"many", "a", "b"}, pb.Response{Status: shim.OK, Payload: []byte("2")}},
		{[]string{"many", "b", "zz"}, pb.Response{Status: notFound, Message: "no counter zz"}},
		{[]string{"reset", "a"}, pb.Response{Status: shim.OK, Payload: []byte("0")}},
		{[]string{"incr"}, pb.Response{Status: shim.ERROR, Message: "incr needs a counter name"}},
		{[]string{"nope", "a"}, pb.Response{Status: shim.ERROR, Message: "unknown function nope"}},
	}
	for _, tc := range tests {
		stub.args = tc.args
		got := cc.Invoke(stub)
		if got.Status != tc.want.Status || got.Message != tc.want.Message || string(got.Payload) != string(tc.want.Payload) {
			t.Errorf("%v: got %d %q %q, want %d %q %q", tc.args, got.Status, got.Message, got.Payload,
				tc.want.Status, tc.want.Message, tc.want.Payload)
		}
	}
	if string(stub.state["b"]) != "2" {
		t.Errorf("b = %s after two increments", stub.state["b"])
	}
}
