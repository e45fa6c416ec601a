// Package benchcc is the benchmark chaincode, written once against the
// stub methods both shims share, so our shim and fabric-chaincode-go run
// exactly the same code: noop, getput (read one key, write it back) and
// range (read a 100-key range to the end).
package benchcc

import (
	"fmt"
	"strconv"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// The state the benchmark needs: RangeKeys keys from RangeStart (inclusive)
// to RangeEnd (exclusive); getput reads and writes GetPutKey, one of them.
const (
	RangeKeys  = 100
	RangeStart = "k000"
	RangeEnd   = "k100"
	GetPutKey  = "k042"
)

// Functions are the benchmark's workloads, in the order they are reported.
var Functions = []string{"noop", "getput", "range"}

// Seed returns the world state to load before a run: RangeKeys keys with
// small JSON values, as an asset chaincode would hold.
func Seed() map[string][]byte {
	m := make(map[string][]byte, RangeKeys)
	for i := range RangeKeys {
		k := fmt.Sprintf("k%03d", i)
		m[k] = fmt.Appendf(nil, `{"id":%q,"owner":"org1-user-%d","value":%d}`, k, i%7, i*10)
	}
	return m
}

// Iterator is the part of a state query iterator the chaincode uses.
type Iterator interface {
	HasNext() bool
	Next() (*queryresult.KV, error)
	Close() error
}

// Stub is the part of ChaincodeStubInterface the chaincode uses; both
// shims' stubs satisfy it with their own iterator type I.
type Stub[I Iterator] interface {
	GetFunctionAndParameters() (string, []string)
	GetState(key string) ([]byte, error)
	PutState(key string, value []byte) error
	GetStateByRange(startKey, endKey string) (I, error)
}

// Invoke runs one transaction. A failed state call or a range that does
// not hold RangeKeys keys is an error response, so a missing seed shows up
// as benchmark errors instead of fast empty reads.
func Invoke[I Iterator, S Stub[I]](stub S) *peer.Response {
	fn, _ := stub.GetFunctionAndParameters()
	switch fn {
	case "noop":
		return &peer.Response{Status: 200}
	case "getput":
		v, err := stub.GetState(GetPutKey)
		if err != nil {
			return errorResponse(err.Error())
		}
		if v == nil {
			return errorResponse(GetPutKey + " is not in the state: seed it")
		}
		if err := stub.PutState(GetPutKey, v); err != nil {
			return errorResponse(err.Error())
		}
		return &peer.Response{Status: 200}
	case "range":
		it, err := stub.GetStateByRange(RangeStart, RangeEnd)
		if err != nil {
			return errorResponse(err.Error())
		}
		n, size := 0, 0
		for it.HasNext() {
			kv, err := it.Next()
			if err != nil {
				it.Close()
				return errorResponse(err.Error())
			}
			n++
			size += len(kv.Key) + len(kv.Value)
		}
		if err := it.Close(); err != nil {
			return errorResponse(err.Error())
		}
		if n != RangeKeys {
			return errorResponse(fmt.Sprintf("range read %d keys, want %d: seed the state", n, RangeKeys))
		}
		return &peer.Response{Status: 200, Payload: strconv.AppendInt(nil, int64(size), 10)}
	}
	return errorResponse(fmt.Sprintf("unknown function %q (want noop, getput or range)", fn))
}

func errorResponse(msg string) *peer.Response {
	return &peer.Response{Status: 500, Message: msg}
}
