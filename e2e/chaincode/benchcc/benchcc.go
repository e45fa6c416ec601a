// Package benchcc is the chaincode of the end-to-end benchmark
// (cmd/peerbench), written once against the stub methods both shims
// share, so that our shim and fabric-chaincode-go v2.3.0 run exactly the
// same code behind the real peer. Ours and Anchor adapt it to each shim's
// Chaincode interface.
//
//	function  args       does                                                     client call
//	seed      –          PutState of SeedKeys keys k000…k099 (SeedValue)          submit, once
//	get       –          GetState(GetKey), which must exist; answers its value    evaluate
//	put       key value  GetState(key) (missing the first time), PutState         submit
//	range     –          GetStateByRange(RangeStart, RangeEnd), all SeedKeys      evaluate
//	                     results read, Close; answers the count
//
// A failed state call, a missing seed or a short range is status 500, so
// a chaincode that was not seeded shows up as errors, not as fast empty
// reads. Init does nothing (the definition is not --init-required).
package benchcc

import (
	"fmt"
	"strconv"

	ours "github.com/ccserver/ccserver/shim"
	anchor "github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// The seeded state: SeedKeys keys from RangeStart (inclusive) to RangeEnd
// (exclusive); get reads GetKey, one of them.
const (
	SeedKeys   = 100
	RangeStart = "k000"
	RangeEnd   = "k100"
	GetKey     = "k042"
)

// SeedKey is the i-th seeded key.
func SeedKey(i int) string { return fmt.Sprintf("k%03d", i) }

// SeedValue is the value of the i-th seeded key: a small JSON document,
// as an asset chaincode would hold (the same shape as bench's).
func SeedValue(i int) []byte {
	return fmt.Appendf(nil, `{"id":%q,"owner":"org1-user-%d","value":%d}`, SeedKey(i), i%7, i*10)
}

// Iterator is the part of a state query iterator the chaincode uses.
type Iterator interface {
	HasNext() bool
	Next() (*queryresult.KV, error)
	Close() error
}

// Stub is the part of ChaincodeStubInterface the chaincode uses; both
// shims' stubs satisfy it, each with its own iterator type I.
type Stub[I Iterator] interface {
	GetFunctionAndParameters() (string, []string)
	GetState(key string) ([]byte, error)
	PutState(key string, value []byte) error
	GetStateByRange(startKey, endKey string) (I, error)
}

// Invoke runs one transaction.
func Invoke[I Iterator, S Stub[I]](stub S) *peer.Response {
	fn, args := stub.GetFunctionAndParameters()
	switch fn {
	case "get":
		v, err := stub.GetState(GetKey)
		if err != nil {
			return fail(err.Error())
		}
		if v == nil {
			return fail(GetKey + " is not in the state: run seed first")
		}
		return &peer.Response{Status: 200, Payload: v}
	case "put":
		if len(args) != 2 {
			return fail("put wants 2 arguments, key and value")
		}
		if _, err := stub.GetState(args[0]); err != nil {
			return fail(err.Error())
		}
		if err := stub.PutState(args[0], []byte(args[1])); err != nil {
			return fail(err.Error())
		}
		return &peer.Response{Status: 200}
	case "range":
		it, err := stub.GetStateByRange(RangeStart, RangeEnd)
		if err != nil {
			return fail(err.Error())
		}
		n := 0
		for it.HasNext() {
			if _, err := it.Next(); err != nil {
				it.Close()
				return fail(err.Error())
			}
			n++
		}
		if err := it.Close(); err != nil {
			return fail(err.Error())
		}
		if n != SeedKeys {
			return fail(fmt.Sprintf("range read %d keys, want %d: run seed first", n, SeedKeys))
		}
		return &peer.Response{Status: 200, Payload: strconv.AppendInt(nil, int64(n), 10)}
	case "seed":
		for i := range SeedKeys {
			if err := stub.PutState(SeedKey(i), SeedValue(i)); err != nil {
				return fail(err.Error())
			}
		}
		return &peer.Response{Status: 200, Payload: strconv.AppendInt(nil, SeedKeys, 10)}
	}
	return fail(fmt.Sprintf("unknown function %q (want seed, get, put or range)", fn))
}

func fail(msg string) *peer.Response { return &peer.Response{Status: 500, Message: msg} }

// Ours is the chaincode for github.com/ccserver/ccserver/shim.
type Ours struct{}

// Init does nothing.
func (Ours) Init(ours.ChaincodeStubInterface) *peer.Response { return &peer.Response{Status: 200} }

// Invoke runs Invoke on our stub.
func (Ours) Invoke(stub ours.ChaincodeStubInterface) *peer.Response {
	return Invoke[ours.StateQueryIteratorInterface](stub)
}

// Anchor is the chaincode for github.com/hyperledger/fabric-chaincode-go/v2/shim.
type Anchor struct{}

// Init does nothing.
func (Anchor) Init(anchor.ChaincodeStubInterface) *peer.Response {
	return &peer.Response{Status: 200}
}

// Invoke runs Invoke on the anchor's stub.
func (Anchor) Invoke(stub anchor.ChaincodeStubInterface) *peer.Response {
	return Invoke[anchor.StateQueryIteratorInterface](stub)
}
