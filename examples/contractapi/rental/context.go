package rental

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Context is the transaction context both contracts use: contract-api's,
// with the caller's organisation and the ledger helpers the contracts
// share.
type Context struct {
	contractapi.TransactionContext
	callerMSP string
}

// recordCaller is both contracts' before-transaction hook: the caller's
// MSP ID decides who owns what.
func recordCaller(ctx *Context) error {
	id := ctx.GetClientIdentity()
	if id == nil {
		return errors.New("no client identity in the proposal")
	}
	mspid, err := id.GetMSPID()
	if err != nil {
		return fmt.Errorf("caller's MSP: %w", err)
	}
	ctx.callerMSP = mspid
	return nil
}

// CallerMSP is the MSP ID of the client that sent the proposal.
func (ctx *Context) CallerMSP() string { return ctx.callerMSP }

// equipmentKey is the state key of equipment id: a composite key, so that
// List can find all equipment with one partial-key query.
func (ctx *Context) equipmentKey(id string) (string, error) {
	if id == "" {
		return "", errors.New("the equipment ID is empty")
	}
	return ctx.GetStub().CreateCompositeKey(equipmentType, []string{id})
}

// Equipment reads equipment id; it is an error if there is none.
func (ctx *Context) Equipment(id string) (*Equipment, error) {
	key, err := ctx.equipmentKey(id)
	if err != nil {
		return nil, err
	}
	b, err := ctx.GetStub().GetState(key)
	if err != nil {
		return nil, fmt.Errorf("read equipment %s: %w", id, err)
	}
	if b == nil {
		return nil, fmt.Errorf("equipment %s does not exist", id)
	}
	var e Equipment
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("equipment %s: %w", id, err)
	}
	return &e, nil
}

// putEquipment writes e.
func (ctx *Context) putEquipment(e *Equipment) error {
	key, err := ctx.equipmentKey(e.ID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return ctx.GetStub().PutState(key, b)
}

// emit sets the transaction's chaincode event, with v as JSON.
func (ctx *Context) emit(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return ctx.GetStub().SetEvent(name, b)
}
