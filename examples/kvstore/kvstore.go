// Package kvstore is a small key-value chaincode written the way chaincode
// for github.com/hyperledger/fabric-chaincode-go/v2/shim is written: one
// Invoke that switches on the function name, state calls on the stub,
// composite keys, a paginated range query, an event, the transient map and
// the invocation context. Its source compiles unchanged against that shim
// once the import path is switched back (bench/compat builds it both ways;
// that module, not this one, requires fabric-chaincode-go): moving
// chaincode to ccserver is that one import change.
//
// Functions (arguments after the name):
//
//	put KEY VALUE          write; emits event "put" with the key
//	get KEY                the value, 404-style error if absent
//	del KEY
//	tag COLOR KEY          index KEY under COLOR (composite key "color~key")
//	bycolor COLOR          JSON list of keys tagged COLOR
//	page START END SIZE BOOKMARK
//	                       JSON {"keys":[...],"count":n,"bookmark":"..."}
//	putsecret KEY          write the transient map's "value" (kept out of the
//	                       proposal's arguments, so out of the block)
//	whoami                 JSON {"creator_bytes":n,"tx_time":"RFC 3339"}
package kvstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ccserver/ccserver/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// colorIndex is the object type of the color index's composite keys.
const colorIndex = "color~key"

// KVStore is the chaincode.
type KVStore struct{}

// Init seeds the store with the key/value pairs given as arguments, if any.
func (s *KVStore) Init(stub shim.ChaincodeStubInterface) *peer.Response {
	args := stub.GetStringArgs()
	if len(args) > 0 && args[0] == "init" {
		args = args[1:]
	}
	if len(args)%2 != 0 {
		return shim.Error("Init takes key value pairs")
	}
	for i := 0; i < len(args); i += 2 {
		if err := stub.PutState(args[i], []byte(args[i+1])); err != nil {
			return shim.Error(err.Error())
		}
	}
	return shim.Success(nil)
}

// Invoke dispatches on the function name.
func (s *KVStore) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	fn, args := stub.GetFunctionAndParameters()
	want := map[string]int{"put": 2, "get": 1, "del": 1, "tag": 2, "bycolor": 1, "page": 4, "putsecret": 1, "whoami": 0}
	n, ok := want[fn]
	if !ok {
		return shim.Error(fmt.Sprintf("unknown function %q", fn))
	}
	if len(args) != n {
		return shim.Error(fmt.Sprintf("%s takes %d arguments, got %d", fn, n, len(args)))
	}
	switch fn {
	case "put":
		return put(stub, args[0], []byte(args[1]))
	case "get":
		return get(stub, args[0])
	case "del":
		if err := stub.DelState(args[0]); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	case "tag":
		return tag(stub, args[0], args[1])
	case "bycolor":
		return byColor(stub, args[0])
	case "page":
		return page(stub, args)
	case "putsecret":
		return putSecret(stub, args[0])
	default:
		return whoami(stub)
	}
}

func put(stub shim.ChaincodeStubInterface, key string, value []byte) *peer.Response {
	if err := stub.PutState(key, value); err != nil {
		return shim.Error(err.Error())
	}
	if err := stub.SetEvent("put", []byte(key)); err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(nil)
}

func get(stub shim.ChaincodeStubInterface, key string) *peer.Response {
	v, err := stub.GetState(key)
	if err != nil {
		return shim.Error(err.Error())
	}
	if v == nil {
		return shim.Error(fmt.Sprintf("key %q not found", key))
	}
	return shim.Success(v)
}

func tag(stub shim.ChaincodeStubInterface, color, key string) *peer.Response {
	ck, err := stub.CreateCompositeKey(colorIndex, []string{color, key})
	if err != nil {
		return shim.Error(err.Error())
	}
	// The index entry's value is unused; the key carries everything.
	if err := stub.PutState(ck, []byte{0}); err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(nil)
}

func byColor(stub shim.ChaincodeStubInterface, color string) *peer.Response {
	it, err := stub.GetStateByPartialCompositeKey(colorIndex, []string{color})
	if err != nil {
		return shim.Error(err.Error())
	}
	defer it.Close()
	keys := []string{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return shim.Error(err.Error())
		}
		_, attrs, err := stub.SplitCompositeKey(kv.Key)
		if err != nil {
			return shim.Error(err.Error())
		}
		keys = append(keys, attrs[1])
	}
	return jsonResponse(keys)
}

// Page is the answer of "page".
type Page struct {
	Keys     []string `json:"keys"`
	Count    int32    `json:"count"`
	Bookmark string   `json:"bookmark"`
}

func page(stub shim.ChaincodeStubInterface, args []string) *peer.Response {
	size, err := strconv.ParseInt(args[2], 10, 32)
	if err != nil || size <= 0 {
		return shim.Error(fmt.Sprintf("page size %q must be a positive number", args[2]))
	}
	it, md, err := stub.GetStateByRangeWithPagination(args[0], args[1], int32(size), args[3])
	if err != nil {
		return shim.Error(err.Error())
	}
	defer it.Close()
	p := Page{Keys: []string{}}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return shim.Error(err.Error())
		}
		p.Keys = append(p.Keys, kv.Key)
	}
	if md != nil {
		p.Count, p.Bookmark = md.FetchedRecordsCount, md.Bookmark
	}
	return jsonResponse(p)
}

func putSecret(stub shim.ChaincodeStubInterface, key string) *peer.Response {
	transient, err := stub.GetTransient()
	if err != nil {
		return shim.Error(err.Error())
	}
	v, ok := transient["value"]
	if !ok {
		return shim.Error(`putsecret needs the value in the transient map under "value"`)
	}
	return put(stub, key, v)
}

// Identity is the answer of "whoami".
type Identity struct {
	CreatorBytes int    `json:"creator_bytes"`
	TxTime       string `json:"tx_time"`
}

func whoami(stub shim.ChaincodeStubInterface) *peer.Response {
	creator, err := stub.GetCreator()
	if err != nil {
		return shim.Error(err.Error())
	}
	ts, err := stub.GetTxTimestamp()
	if err != nil {
		return shim.Error(err.Error())
	}
	return jsonResponse(Identity{CreatorBytes: len(creator), TxTime: ts.AsTime().UTC().Format(time.RFC3339)})
}

func jsonResponse(v any) *peer.Response {
	b, err := json.Marshal(v)
	if err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(b)
}
