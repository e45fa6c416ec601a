package rental

import (
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// New returns the chaincode: both contracts, equipment the default (the
// first given). Each contract's title and version go into the metadata.
func New() (*contractapi.ContractChaincode, error) {
	cc, err := contractapi.NewChaincode(newEquipmentContract(), newRentalContract())
	if err != nil {
		return nil, fmt.Errorf("rental chaincode: %w", err)
	}
	return cc, nil
}
