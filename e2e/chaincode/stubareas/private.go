package stubareas

import (
	"encoding/hex"
	"fmt"

	"github.com/ccserver/ccserver/shim"
)

// TransientValueKey is the transient-map entry that carries the value of a
// private write. Private values come through the transient map so that
// they never appear in the proposal's arguments, which go to the orderer.
const TransientValueKey = "value"

type privateKey struct {
	Collection string `json:"collection"`
	Key        string `json:"key"`
	Len        int    `json:"len,omitempty"`
}

func transientValue(stub shim.ChaincodeStubInterface) ([]byte, error) {
	tm, err := stub.GetTransient()
	if err != nil {
		return nil, fmt.Errorf("read the transient map: %w", err)
	}
	v, ok := tm[TransientValueKey]
	if !ok {
		return nil, fmt.Errorf("the transient map has no %q entry; pass the private value there", TransientValueKey)
	}
	return v, nil
}

func putPrivate(stub shim.ChaincodeStubInterface, args []string) (privateKey, error) {
	v, err := transientValue(stub)
	if err != nil {
		return privateKey{}, err
	}
	return privateKey{args[0], args[1], len(v)}, stub.PutPrivateData(args[0], args[1], v)
}

func putPrivateComposite(stub shim.ChaincodeStubInterface, args []string) (privateKey, error) {
	v, err := transientValue(stub)
	if err != nil {
		return privateKey{}, err
	}
	key, err := stub.CreateCompositeKey(args[1], args[2:])
	if err != nil {
		return privateKey{}, err
	}
	return privateKey{args[0], key, len(v)}, stub.PutPrivateData(args[0], key, v)
}

func getPrivate(stub shim.ChaincodeStubInterface, args []string) (lookup, error) {
	v, err := stub.GetPrivateData(args[0], args[1])
	return lookup{Key: args[1], Found: v != nil, Value: string(v)}, err
}

func delPrivate(stub shim.ChaincodeStubInterface, args []string) (privateKey, error) {
	return privateKey{Collection: args[0], Key: args[1]}, stub.DelPrivateData(args[0], args[1])
}

// purgePrivate removes the key, and its past values, from the private
// store of every member peer (Fabric 2.5 and later), unlike a delete,
// which leaves the history in place.
func purgePrivate(stub shim.ChaincodeStubInterface, args []string) (privateKey, error) {
	return privateKey{Collection: args[0], Key: args[1]}, stub.PurgePrivateData(args[0], args[1])
}

type hashResult struct {
	Collection string `json:"collection"`
	Key        string `json:"key"`
	Found      bool   `json:"found"`
	Hash       string `json:"hash"`
}

// privateHash works on peers outside the collection too, which is what a
// test of collection membership needs.
func privateHash(stub shim.ChaincodeStubInterface, args []string) (hashResult, error) {
	h, err := stub.GetPrivateDataHash(args[0], args[1])
	return hashResult{args[0], args[1], h != nil, hex.EncodeToString(h)}, err
}

// privateRange and privatePartial may run in a submitted transaction, but
// the peer then refuses any write after them in that transaction; they
// write nothing.
func privateRange(stub shim.ChaincodeStubInterface, args []string) (kvList[kv], error) {
	it, err := stub.GetPrivateDataByRange(args[0], args[1], args[2])
	if err != nil {
		return kvList[kv]{}, err
	}
	kvs, err := collect(it, plainKV)
	return kvList[kv]{kvs}, err
}

func privatePartial(stub shim.ChaincodeStubInterface, args []string) (kvList[compositeKV], error) {
	it, err := stub.GetPrivateDataByPartialCompositeKey(args[0], args[1], args[2:])
	if err != nil {
		return kvList[compositeKV]{}, err
	}
	kvs, err := collect(it, splitter(stub))
	return kvList[compositeKV]{kvs}, err
}

func getManyPrivate(stub shim.ChaincodeStubInterface, args []string) ([]lookup, error) {
	vals, err := stub.GetMultiplePrivateData(args[0], args[1:]...)
	if err != nil {
		return nil, err
	}
	return lookups(args[1:], vals)
}
