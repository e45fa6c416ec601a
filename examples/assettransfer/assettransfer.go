// Package assettransfer is the asset-transfer-basic sample chaincode of
// fabric-samples (the chaincode-external variant), written directly against
// the shim instead of the contract API. It is wire-compatible with the
// sample: the same function names and argument order, the same JSON asset,
// the same response payloads and error texts, so the commands users know
// from the Fabric test network work against it unchanged.
//
// Responses follow the contract API's conventions: functions that return
// nothing answer an empty payload, AssetExists answers "true" or "false",
// TransferAsset answers the previous owner as plain text, ReadAsset and
// GetAllAssets answer JSON (GetAllAssets answers an empty payload when the
// ledger holds no assets). Errors are status 500 with the message as text.
package assettransfer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/ccserver/ccserver/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// Asset is the sample's asset. The JSON names are the sample's.
type Asset struct {
	ID             string `json:"ID"`
	Color          string `json:"color"`
	Size           int    `json:"size"`
	Owner          string `json:"owner"`
	AppraisedValue int    `json:"appraisedValue"`
}

// QueryResult is one element of GetAllAssets' answer.
type QueryResult struct {
	Key    string `json:"Key"`
	Record *Asset
}

// contractName is the name the contract API gives the sample's contract;
// callers may prefix functions with it ("SmartContract:ReadAsset").
const contractName = "SmartContract"

// Chaincode is the asset-transfer-basic chaincode.
type Chaincode struct{}

// New returns the asset-transfer-basic chaincode.
func New() shim.Chaincode { return Chaincode{} }

type function struct {
	params int
	run    func(stub shim.ChaincodeStubInterface, args []string) ([]byte, error)
}

var functions = map[string]function{
	"InitLedger":    {0, initLedger},
	"CreateAsset":   {5, createAsset},
	"ReadAsset":     {1, readAsset},
	"UpdateAsset":   {5, updateAsset},
	"DeleteAsset":   {1, deleteAsset},
	"AssetExists":   {1, assetExists},
	"TransferAsset": {2, transferAsset},
	"GetAllAssets":  {0, getAllAssets},
}

// Functions lists the transaction names the chaincode answers, in a fixed
// order; ccserver uses it to label metrics without unbounded cardinality.
func (Chaincode) Functions() []string {
	return []string{"InitLedger", "CreateAsset", "ReadAsset", "UpdateAsset",
		"DeleteAsset", "AssetExists", "TransferAsset", "GetAllAssets"}
}

// Init runs the named function if one is given, as the contract API does
// for a chaincode definition that requires initialisation, and succeeds
// otherwise.
func (c Chaincode) Init(stub shim.ChaincodeStubInterface) *peer.Response {
	if len(stub.GetArgs()) == 0 {
		return shim.Success(nil)
	}
	return c.Invoke(stub)
}

// Invoke runs one transaction.
func (Chaincode) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	name, args := stub.GetFunctionAndParameters()
	name = strings.TrimPrefix(name, contractName+":")
	fn, ok := functions[name]
	if !ok {
		return shim.Error(fmt.Sprintf("Function %s not found in contract %s", name, contractName))
	}
	if len(args) != fn.params {
		return shim.Error(fmt.Sprintf("Incorrect number of params. Expected %d, received %d", fn.params, len(args)))
	}
	payload, err := fn.run(stub, args)
	if err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(payload)
}

var ledgerSeed = []Asset{
	{ID: "asset1", Color: "blue", Size: 5, Owner: "Tomoko", AppraisedValue: 300},
	{ID: "asset2", Color: "red", Size: 5, Owner: "Brad", AppraisedValue: 400},
	{ID: "asset3", Color: "green", Size: 10, Owner: "Jin Soo", AppraisedValue: 500},
	{ID: "asset4", Color: "yellow", Size: 10, Owner: "Max", AppraisedValue: 600},
	{ID: "asset5", Color: "black", Size: 15, Owner: "Adriana", AppraisedValue: 700},
	{ID: "asset6", Color: "white", Size: 15, Owner: "Michel", AppraisedValue: 800},
}

func initLedger(stub shim.ChaincodeStubInterface, _ []string) ([]byte, error) {
	for _, a := range ledgerSeed {
		if err := putAsset(stub, a); err != nil {
			return nil, fmt.Errorf("failed to put to world state: %w", err)
		}
	}
	return nil, nil
}

// assetArgs parses CreateAsset's and UpdateAsset's arguments:
// id, color, size, owner, appraisedValue.
func assetArgs(args []string) (Asset, error) {
	size, err := intParam(args, 2)
	if err != nil {
		return Asset{}, err
	}
	value, err := intParam(args, 4)
	if err != nil {
		return Asset{}, err
	}
	return Asset{ID: args[0], Color: args[1], Size: size, Owner: args[3], AppraisedValue: value}, nil
}

func intParam(args []string, i int) (int, error) {
	n, err := strconv.Atoi(args[i])
	if err != nil {
		//lint:ignore ST1005 the text of fabric-samples' asset-transfer, which clients match
		return 0, fmt.Errorf("Error managing parameter param%d. conversion error. cannot convert passed value %s to int", i, args[i])
	}
	return n, nil
}

func createAsset(stub shim.ChaincodeStubInterface, args []string) ([]byte, error) {
	return nil, writeAsset(stub, args, false)
}

func readAsset(stub shim.ChaincodeStubInterface, args []string) ([]byte, error) {
	a, err := getAsset(stub, args[0])
	if err != nil {
		return nil, err
	}
	return json.Marshal(a)
}

func updateAsset(stub shim.ChaincodeStubInterface, args []string) ([]byte, error) {
	return nil, writeAsset(stub, args, true)
}

// writeAsset stores the asset described by args, which must already exist
// (UpdateAsset) or must not (CreateAsset).
func writeAsset(stub shim.ChaincodeStubInterface, args []string, mustExist bool) error {
	a, err := assetArgs(args)
	if err != nil {
		return err
	}
	exists, err := exists(stub, a.ID)
	switch {
	case err != nil:
		return err
	case exists && !mustExist:
		return fmt.Errorf("the asset %s already exists", a.ID)
	case !exists && mustExist:
		return fmt.Errorf("the asset %s does not exist", a.ID)
	}
	return putAsset(stub, a)
}

func deleteAsset(stub shim.ChaincodeStubInterface, args []string) ([]byte, error) {
	id := args[0]
	exists, err := exists(stub, id)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("the asset %s does not exist", id)
	}
	return nil, stub.DelState(id)
}

func assetExists(stub shim.ChaincodeStubInterface, args []string) ([]byte, error) {
	ok, err := exists(stub, args[0])
	if err != nil {
		return nil, err
	}
	return []byte(strconv.FormatBool(ok)), nil
}

func transferAsset(stub shim.ChaincodeStubInterface, args []string) ([]byte, error) {
	a, err := getAsset(stub, args[0])
	if err != nil {
		return nil, err
	}
	oldOwner := a.Owner
	a.Owner = args[1]
	if err := putAsset(stub, a); err != nil {
		return nil, err
	}
	return []byte(oldOwner), nil
}

func getAllAssets(stub shim.ChaincodeStubInterface, _ []string) ([]byte, error) {
	it, err := stub.GetStateByRange("", "")
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var results []QueryResult
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		var a Asset
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			return nil, err
		}
		results = append(results, QueryResult{Key: kv.Key, Record: &a})
	}
	if results == nil {
		return nil, nil
	}
	return json.Marshal(results)
}

func exists(stub shim.ChaincodeStubInterface, id string) (bool, error) {
	v, err := stub.GetState(id)
	if err != nil {
		return false, fmt.Errorf("failed to read from world state. %w", err)
	}
	return v != nil, nil
}

func getAsset(stub shim.ChaincodeStubInterface, id string) (Asset, error) {
	v, err := stub.GetState(id)
	if err != nil {
		return Asset{}, fmt.Errorf("failed to read from world state. %w", err)
	}
	if v == nil {
		return Asset{}, fmt.Errorf("the asset %s does not exist", id)
	}
	var a Asset
	if err := json.Unmarshal(v, &a); err != nil {
		return Asset{}, err
	}
	return a, nil
}

func putAsset(stub shim.ChaincodeStubInterface, a Asset) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return stub.PutState(a.ID, v)
}
