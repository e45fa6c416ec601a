// Package journal is a Fabric 1.4-era chaincode: the shim and protos come
// from Fabric itself, the peer package is imported as sc, a helper has a
// named result of type sc.Response, a field keeps the last response of
// another chaincode, and the transaction time is golang/protobuf's
// Timestamp.
package journal

import (
	"fmt"
	"strings"
	"time"

	"github.com/golang/protobuf/ptypes/timestamp"
	"github.com/hyperledger/fabric/core/chaincode/shim"
	"github.com/hyperledger/fabric/protos/ledger/queryresult"
	sc "github.com/hyperledger/fabric/protos/peer"
)

// Journal records entries and relays reads to another chaincode.
type Journal struct {
	// lastRelay is what the last relayed call answered.
	lastRelay sc.Response
}

// Init does nothing.
func (j *Journal) Init(stub shim.ChaincodeStubInterface) sc.Response {
	return shim.Success(nil)
}

// Invoke dispatches on the function name.
func (j *Journal) Invoke(stub shim.ChaincodeStubInterface) sc.Response {
	fn, args := stub.GetFunctionAndParameters()
	switch fn {
	case "record":
		if len(args) != 2 {
			return shim.Error("record takes a key and a text")
		}
		if err := stub.PutState(args[0], []byte(args[1])); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	case "list":
		return j.list(stub)
	case "stamp":
		return j.stamp(stub)
	case "relay":
		if len(args) != 1 {
			return shim.Error("relay takes a chaincode name")
		}
		return j.relay(stub, args[0])
	}
	return shim.Error("unknown function " + fn)
}

func entry(kv *queryresult.KV) string {
	return kv.Key + "=" + string(kv.Value)
}

func (j *Journal) list(stub shim.ChaincodeStubInterface) sc.Response {
	it, err := stub.GetStateByRange("", "")
	if err != nil {
		return shim.Error(err.Error())
	}
	defer it.Close()
	var entries []string
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return shim.Error(err.Error())
		}
		entries = append(entries, entry(kv))
	}
	return shim.Success([]byte(strings.Join(entries, ";")))
}

func when(ts *timestamp.Timestamp) string {
	return time.Unix(ts.Seconds, int64(ts.Nanos)).UTC().Format(time.RFC3339)
}

// stamp answers the transaction's time.
func (j *Journal) stamp(stub shim.ChaincodeStubInterface) (res sc.Response) {
	ts, err := stub.GetTxTimestamp()
	if err != nil {
		res.Status = shim.ERROR
		res.Message = err.Error()
		return
	}
	res.Status = shim.OK
	res.Payload = []byte(when(ts))
	return
}

func (j *Journal) relay(stub shim.ChaincodeStubInterface, name string) sc.Response {
	resp := stub.InvokeChaincode(name, [][]byte{[]byte("get")}, "")
	if resp.Status != shim.OK {
		return shim.Error(fmt.Sprintf("%s answered %d: %s", name, resp.Status, resp.Message))
	}
	j.lastRelay = resp
	return resp
}
