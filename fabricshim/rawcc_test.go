package fabricshim_test

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/statebased"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// rawCC is chaincode written for fabric-chaincode-go/v2's shim, the way
// such chaincode is written: one Invoke switching on the function, the
// original shim's Success and Error, its iterators, cid and statebased.
// It is never changed to run on ccserver; the tests wrap it.
type rawCC struct{}

func (rawCC) Init(stub shim.ChaincodeStubInterface) *peer.Response {
	args := stub.GetStringArgs()
	for i := 0; i+1 < len(args); i += 2 {
		if err := stub.PutState(args[i], []byte(args[i+1])); err != nil {
			return shim.Error(err.Error())
		}
	}
	return shim.Success(nil)
}

func (c rawCC) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	fn, args := stub.GetFunctionAndParameters()
	// Each function and the number of arguments it takes.
	arity := map[string]int{
		"put": 2, "get": 1, "range": 2, "page": 4, "index": 2, "bycolor": 1, "allindexed": 0,
		"rich": 1, "history": 1, "putpriv": 2, "getpriv": 2, "privrange": 3, "privindex": 2,
		"privrich": 2, "whoami": 0, "endorse": 2, "event": 2, "txinfo": 0, "panic": 0,
	}
	n, ok := arity[fn]
	if !ok {
		return shim.Error("unknown function " + fn)
	}
	if len(args) != n {
		return shim.Error(fmt.Sprintf("%s takes %d arguments, got %d", fn, n, len(args)))
	}
	out, err := c.call(stub, fn, args)
	if err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(out)
}

func (rawCC) call(stub shim.ChaincodeStubInterface, fn string, args []string) ([]byte, error) {
	switch fn {
	case "put":
		return nil, stub.PutState(args[0], []byte(args[1]))
	case "get":
		v, err := stub.GetState(args[0])
		if err == nil && v == nil {
			err = fmt.Errorf("%s does not exist", args[0])
		}
		return v, err
	case "range":
		it, err := stub.GetStateByRange(args[0], args[1])
		return keys(it, err)
	case "page":
		size, err := strconv.Atoi(args[2])
		if err != nil {
			return nil, err
		}
		it, md, err := stub.GetStateByRangeWithPagination(args[0], args[1], int32(size), args[3])
		ks, err := collect(it, err)
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"keys": ks, "bookmark": md.GetBookmark(), "count": md.GetFetchedRecordsCount()})
	case "index":
		key, err := stub.CreateCompositeKey("color~key", args)
		if err != nil {
			return nil, err
		}
		return nil, stub.PutState(key, []byte{0})
	case "bycolor":
		it, err := stub.GetStateByPartialCompositeKey("color~key", args)
		return keys(it, err)
	case "allindexed":
		it, md, err := stub.GetStateByPartialCompositeKeyWithPagination("color~key", nil, 10, "")
		ks, err := collect(it, err)
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"keys": len(ks), "count": md.GetFetchedRecordsCount()})
	case "rich":
		it, err := stub.GetQueryResult(args[0])
		return keys(it, err)
	case "history":
		it, err := stub.GetHistoryForKey(args[0])
		if err != nil {
			return nil, err
		}
		defer it.Close()
		var values []string
		for it.HasNext() {
			m, err := it.Next()
			if err != nil {
				return nil, err
			}
			values = append(values, string(m.GetValue()))
		}
		return json.Marshal(values)
	case "putpriv":
		t, err := stub.GetTransient()
		if err != nil {
			return nil, err
		}
		v, ok := t["value"]
		if !ok {
			return nil, fmt.Errorf("the value goes in the transient map, under %q", "value")
		}
		return nil, stub.PutPrivateData(args[0], args[1], v)
	case "getpriv":
		return stub.GetPrivateData(args[0], args[1])
	case "privrange":
		it, err := stub.GetPrivateDataByRange(args[0], args[1], args[2])
		return keys(it, err)
	case "privindex":
		it, err := stub.GetPrivateDataByPartialCompositeKey(args[0], args[1], nil)
		return keys(it, err)
	case "privrich":
		it, err := stub.GetPrivateDataQueryResult(args[0], args[1])
		return keys(it, err)
	case "whoami":
		id, err := cid.New(stub)
		if err != nil {
			return nil, err
		}
		mspid, err := id.GetMSPID()
		if err != nil {
			return nil, err
		}
		return []byte(mspid), nil
	case "endorse":
		ep, err := statebased.NewStateEP(nil)
		if err != nil {
			return nil, err
		}
		if err := ep.AddOrgs(statebased.RoleTypePeer, args[1]); err != nil {
			return nil, err
		}
		policy, err := ep.Policy()
		if err != nil {
			return nil, err
		}
		return nil, stub.SetStateValidationParameter(args[0], policy)
	case "event":
		return nil, stub.SetEvent(args[0], []byte(args[1]))
	case "txinfo":
		sp, err := stub.GetSignedProposal()
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"txid": stub.GetTxID(), "channel": stub.GetChannelID(), "signed": len(sp.GetProposalBytes()) > 0})
	case "panic":
		panic("rawCC was asked to panic")
	}
	return nil, fmt.Errorf("no case for %s", fn)
}

// collect reads a state iterator to the end and closes it.
func collect(it shim.StateQueryIteratorInterface, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer it.Close()
	ks := []string{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		ks = append(ks, kv.GetKey())
	}
	return ks, nil
}

func keys(it shim.StateQueryIteratorInterface, err error) ([]byte, error) {
	ks, err := collect(it, err)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ks)
}
