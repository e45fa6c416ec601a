package fabricshim_test

import (
	"fmt"
	"testing"

	"github.com/ccserver/ccserver/fabricshim"
	ours "github.com/ccserver/ccserver/shim"
	"github.com/ccserver/ccserver/shimtest"
	anchor "github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// benchIter and benchStub are what the benchmark chaincode uses of either
// shim, so that the native and the wrapped chaincode run the same code.
type benchIter interface {
	HasNext() bool
	Next() (*queryresult.KV, error)
	Close() error
}

type benchStub[I benchIter] interface {
	GetFunctionAndParameters() (string, []string)
	GetState(string) ([]byte, error)
	PutState(string, []byte) error
	GetStateByRange(string, string) (I, error)
}

// benchInvoke: noop; getput reads a key and writes it back; range reads
// ten keys.
func benchInvoke[I benchIter, S benchStub[I]](stub S) *peer.Response {
	fn, _ := stub.GetFunctionAndParameters()
	switch fn {
	case "noop":
		return &peer.Response{Status: 200}
	case "getput":
		v, err := stub.GetState("k05")
		if err == nil {
			err = stub.PutState("k05", v)
		}
		if err != nil {
			return &peer.Response{Status: 500, Message: err.Error()}
		}
		return &peer.Response{Status: 200}
	case "range":
		it, err := stub.GetStateByRange("k00", "k10")
		if err != nil {
			return &peer.Response{Status: 500, Message: err.Error()}
		}
		defer it.Close()
		n := 0
		for it.HasNext() {
			if _, err := it.Next(); err != nil {
				return &peer.Response{Status: 500, Message: err.Error()}
			}
			n++
		}
		if n != 10 {
			return &peer.Response{Status: 500, Message: fmt.Sprintf("%d keys", n)}
		}
		return &peer.Response{Status: 200}
	}
	return &peer.Response{Status: 500, Message: "unknown " + fn}
}

type nativeBench struct{}

func (nativeBench) Init(ours.ChaincodeStubInterface) *peer.Response {
	return &peer.Response{Status: 200}
}
func (nativeBench) Invoke(s ours.ChaincodeStubInterface) *peer.Response {
	return benchInvoke[ours.StateQueryIteratorInterface](s)
}

type anchorBench struct{}

func (anchorBench) Init(anchor.ChaincodeStubInterface) *peer.Response {
	return &peer.Response{Status: 200}
}
func (anchorBench) Invoke(s anchor.ChaincodeStubInterface) *peer.Response {
	return benchInvoke[anchor.StateQueryIteratorInterface](s)
}

// BenchmarkWrap compares, through shimtest's in-memory peer, a chaincode
// on ccserver's shim with the same chaincode written for the original
// shim and wrapped: the difference is the adapter's cost per transaction.
// The peer side runs in the same process, so ns/op is the whole round
// trip, not the chaincode's share of it.
func BenchmarkWrap(b *testing.B) {
	ccs := []struct {
		name string
		cc   ours.Chaincode
	}{
		{"native", nativeBench{}},
		{"wrapped", fabricshim.Wrap(anchorBench{})},
	}
	for _, fn := range []string{"noop", "getput", "range"} {
		for _, c := range ccs {
			b.Run(fn+"/"+c.name, func(b *testing.B) {
				l := shimtest.New(b, c.cc)
				for i := range 10 {
					l.SetState(fmt.Sprintf("k%02d", i), []byte(`{"v":1}`))
				}
				b.ReportAllocs()
				for b.Loop() {
					if r := l.Invoke(fn); !r.OK() {
						b.Fatalf("%s: %d %s %v", fn, r.Status, r.Message, r.Err)
					}
				}
			})
		}
	}
}
