package rental

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
)

const (
	// RatesCollection is the private data collection holding daily rates;
	// the chaincode definition must declare it.
	RatesCollection = "rates"
	// RateTransientKey is where SetRate finds the rate in the transient map.
	RateTransientKey = "rate"
)

// Rental is a rental in progress.
type Rental struct {
	EquipmentID string `json:"equipmentID"`
	Renter      string `json:"renter"`
	Days        int    `json:"days"`
	TxID        string `json:"txID"`
}

// RentalContract prices and rents out registered equipment.
type RentalContract struct {
	contractapi.Contract
}

func newRentalContract() *RentalContract {
	return &RentalContract{Contract: contractapi.Contract{
		Name:                      "rental",
		Info:                      metadata.InfoMetadata{Title: "Equipment rentals", Version: "1.0.0"},
		TransactionContextHandler: new(Context),
		BeforeTransaction:         recordCaller,
	}}
}

// GetEvaluateTransactions marks the read-only functions in the metadata.
func (c *RentalContract) GetEvaluateTransactions() []string {
	return []string{"Rate"}
}

// SetRate sets the daily rate of equipment id from the transient map, so
// that the rate stays off the ledger's blocks. Only the owning
// organisation may.
func (c *RentalContract) SetRate(ctx *Context, id string) error {
	e, err := ctx.Equipment(id)
	if err != nil {
		return err
	}
	if e.OwnerMSP != ctx.CallerMSP() {
		return fmt.Errorf("only %s may price equipment %s", e.OwnerMSP, id)
	}
	transient, err := ctx.GetStub().GetTransient()
	if err != nil {
		return fmt.Errorf("transient data: %w", err)
	}
	raw, ok := transient[RateTransientKey]
	if !ok {
		return fmt.Errorf("send the rate in the transient map under %q", RateTransientKey)
	}
	rate, err := strconv.Atoi(string(raw))
	if err != nil || rate <= 0 {
		return fmt.Errorf("rate %q is not a positive whole number", raw)
	}
	return ctx.GetStub().PutPrivateData(RatesCollection, id, []byte(strconv.Itoa(rate)))
}

// Rate returns the daily rate of equipment id.
func (c *RentalContract) Rate(ctx *Context, id string) (int, error) {
	b, err := ctx.GetStub().GetPrivateData(RatesCollection, id)
	if err != nil {
		return 0, fmt.Errorf("rate of %s: %w", id, err)
	}
	if b == nil {
		return 0, fmt.Errorf("equipment %s has no rate", id)
	}
	return strconv.Atoi(string(b))
}

// Rent rents equipment id to renter for days days. It must have a rate
// and not be rented already.
func (c *RentalContract) Rent(ctx *Context, id, renter string, days int) (*Rental, error) {
	e, err := ctx.Equipment(id)
	if err != nil {
		return nil, err
	}
	if e.Renter != "" {
		return nil, fmt.Errorf("equipment %s is already rented to %s", id, e.Renter)
	}
	if renter == "" || days <= 0 {
		return nil, fmt.Errorf("a rental needs a renter and at least one day")
	}
	if _, err := c.Rate(ctx, id); err != nil {
		return nil, err
	}
	e.Renter = renter
	if err := ctx.putEquipment(e); err != nil {
		return nil, err
	}
	r := &Rental{EquipmentID: id, Renter: renter, Days: days, TxID: ctx.GetStub().GetTxID()}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	key, err := ctx.GetStub().CreateCompositeKey("rental", []string{id})
	if err != nil {
		return nil, err
	}
	if err := ctx.GetStub().PutState(key, b); err != nil {
		return nil, err
	}
	return r, ctx.emit("EquipmentRented", r)
}

// Return ends the rental of equipment id.
func (c *RentalContract) Return(ctx *Context, id string) error {
	e, err := ctx.Equipment(id)
	if err != nil {
		return err
	}
	if e.Renter == "" {
		return fmt.Errorf("equipment %s is not rented", id)
	}
	renter := e.Renter
	e.Renter = ""
	if err := ctx.putEquipment(e); err != nil {
		return err
	}
	key, err := ctx.GetStub().CreateCompositeKey("rental", []string{id})
	if err != nil {
		return err
	}
	if err := ctx.GetStub().DelState(key); err != nil {
		return err
	}
	return ctx.emit("EquipmentReturned", map[string]string{"id": id, "renter": renter})
}
