package rental

import (
	"encoding/json"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
)

// equipmentType is the object type of equipment's composite keys.
const equipmentType = "equipment"

// Equipment is one item that can be rented.
type Equipment struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Owner    string `json:"owner"`
	OwnerMSP string `json:"ownerMSP"`
	// Renter is set while the equipment is rented out.
	Renter string `json:"renter,omitempty" metadata:",optional"`
}

// Transferred is the payload of the EquipmentTransferred event.
type Transferred struct {
	ID   string `json:"id"`
	From string `json:"from"`
	To   string `json:"to"`
}

// EquipmentContract registers equipment and moves it between owners.
type EquipmentContract struct {
	contractapi.Contract
}

func newEquipmentContract() *EquipmentContract {
	return &EquipmentContract{Contract: contractapi.Contract{
		Name:                      "equipment",
		Info:                      metadata.InfoMetadata{Title: "Equipment register", Version: "1.0.0"},
		TransactionContextHandler: new(Context),
		BeforeTransaction:         recordCaller,
	}}
}

// GetEvaluateTransactions marks the read-only functions in the metadata.
func (c *EquipmentContract) GetEvaluateTransactions() []string {
	return []string{"Get", "List"}
}

// Register adds equipment, owned by owner in the caller's organisation.
func (c *EquipmentContract) Register(ctx *Context, id, kind, owner string) error {
	if _, err := ctx.Equipment(id); err == nil {
		return fmt.Errorf("equipment %s is already registered", id)
	}
	if kind == "" || owner == "" {
		return fmt.Errorf("equipment %s needs a kind and an owner", id)
	}
	return ctx.putEquipment(&Equipment{ID: id, Kind: kind, Owner: owner, OwnerMSP: ctx.CallerMSP()})
}

// Get returns equipment id.
func (c *EquipmentContract) Get(ctx *Context, id string) (*Equipment, error) {
	return ctx.Equipment(id)
}

// List returns all equipment, ordered by ID.
func (c *EquipmentContract) List(ctx *Context) ([]*Equipment, error) {
	it, err := ctx.GetStub().GetStateByPartialCompositeKey(equipmentType, nil)
	if err != nil {
		return nil, fmt.Errorf("list equipment: %w", err)
	}
	defer it.Close()
	all := []*Equipment{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("list equipment: %w", err)
		}
		var e Equipment
		if err := json.Unmarshal(kv.GetValue(), &e); err != nil {
			return nil, fmt.Errorf("list equipment: %s: %w", kv.GetKey(), err)
		}
		all = append(all, &e)
	}
	return all, nil
}

// Transfer gives equipment id to newOwner. Only the owning organisation
// may, and not while it is rented out.
func (c *EquipmentContract) Transfer(ctx *Context, id, newOwner string) error {
	e, err := ctx.Equipment(id)
	if err != nil {
		return err
	}
	if e.OwnerMSP != ctx.CallerMSP() {
		return fmt.Errorf("equipment %s belongs to %s, not to %s", id, e.OwnerMSP, ctx.CallerMSP())
	}
	if e.Renter != "" {
		return fmt.Errorf("equipment %s is rented to %s", id, e.Renter)
	}
	ev := Transferred{ID: id, From: e.Owner, To: newOwner}
	e.Owner = newOwner
	if err := ctx.putEquipment(e); err != nil {
		return err
	}
	return ctx.emit("EquipmentTransferred", ev)
}
