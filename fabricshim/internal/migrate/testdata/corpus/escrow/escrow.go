// Package escrow holds funds for a buyer until the buyer's organisation
// releases them. It uses the v1 shim with pkg/cid (who is calling) and
// pkg/statebased (only the buyer's organisation may endorse changes to an
// escrow).
package escrow

import (
	"encoding/json"
	"fmt"

	"github.com/hyperledger/fabric-chaincode-go/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/pkg/statebased"
	"github.com/hyperledger/fabric-chaincode-go/shim"
	"github.com/hyperledger/fabric-protos-go/peer"
)

// forbidden is the status of a call the caller may not make.
const forbidden = 403

// Escrow is the chaincode.
type Escrow struct{}

// Deal is one escrow.
type Deal struct {
	ID       string `json:"id"`
	Amount   string `json:"amount"`
	BuyerMSP string `json:"buyerMSP"`
	BuyerID  string `json:"buyerID"`
	Released bool   `json:"released"`
}

// Init does nothing.
func (e *Escrow) Init(stub shim.ChaincodeStubInterface) peer.Response {
	return shim.Success(nil)
}

// Invoke dispatches on the function name.
func (e *Escrow) Invoke(stub shim.ChaincodeStubInterface) peer.Response {
	fn, args := stub.GetFunctionAndParameters()
	switch {
	case fn == "open" && len(args) == 2:
		return e.open(stub, args[0], args[1])
	case fn == "release" && len(args) == 1:
		return e.release(stub, args[0])
	case fn == "endorsers" && len(args) == 1:
		return e.endorsers(stub, args[0])
	}
	return shim.Error(fmt.Sprintf("unknown call %s%q", fn, args))
}

// deny answers a call the caller may not make.
func deny(format string, a ...interface{}) peer.Response {
	return peer.Response{Status: forbidden, Message: fmt.Sprintf(format, a...)}
}

func (e *Escrow) open(stub shim.ChaincodeStubInterface, id, amount string) peer.Response {
	role, found, err := cid.GetAttributeValue(stub, "role")
	if err != nil {
		return shim.Error(err.Error())
	}
	if !found || role != "buyer" {
		return deny("only a buyer may open an escrow, not role %q", role)
	}
	client, err := cid.New(stub)
	if err != nil {
		return shim.Error(err.Error())
	}
	mspid, err := client.GetMSPID()
	if err != nil {
		return shim.Error(err.Error())
	}
	buyer, err := client.GetID()
	if err != nil {
		return shim.Error(err.Error())
	}
	b, err := json.Marshal(Deal{ID: id, Amount: amount, BuyerMSP: mspid, BuyerID: buyer})
	if err != nil {
		return shim.Error(err.Error())
	}
	if err := stub.PutState(id, b); err != nil {
		return shim.Error(err.Error())
	}
	ep, err := statebased.NewStateEP(nil)
	if err != nil {
		return shim.Error(err.Error())
	}
	if err := ep.AddOrgs(statebased.RoleTypePeer, mspid); err != nil {
		return shim.Error(err.Error())
	}
	policy, err := ep.Policy()
	if err != nil {
		return shim.Error(err.Error())
	}
	if err := stub.SetStateValidationParameter(id, policy); err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(b)
}

func (e *Escrow) release(stub shim.ChaincodeStubInterface, id string) peer.Response {
	b, err := stub.GetState(id)
	if err != nil || b == nil {
		return shim.Error(fmt.Sprintf("no escrow %s", id))
	}
	var d Deal
	if err := json.Unmarshal(b, &d); err != nil {
		return shim.Error(err.Error())
	}
	mspid, err := cid.GetMSPID(stub)
	if err != nil {
		return shim.Error(err.Error())
	}
	if mspid != d.BuyerMSP {
		return deny("escrow %s belongs to %s", id, d.BuyerMSP)
	}
	d.Released = true
	if b, err = json.Marshal(d); err != nil {
		return shim.Error(err.Error())
	}
	if err := stub.PutState(id, b); err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(b)
}

func (e *Escrow) endorsers(stub shim.ChaincodeStubInterface, id string) peer.Response {
	policy, err := stub.GetStateValidationParameter(id)
	if err != nil {
		return shim.Error(err.Error())
	}
	ep, err := statebased.NewStateEP(policy)
	if err != nil {
		return shim.Error(err.Error())
	}
	b, err := json.Marshal(ep.ListOrgs())
	if err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(b)
}
