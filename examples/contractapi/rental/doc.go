// Package rental is an equipment-rental chaincode written with
// fabric-contract-api-go/v2, the way most Go chaincode is written, and
// served by ccserver through fabricshim.Wrap (see cmd/rentalcc):
//
//	cc, err := rental.New()
//	...
//	serve.Main(fabricshim.Wrap(cc))
//
// Nothing in it knows about ccserver: the same chaincode runs on the
// original shim with cc.Start().
//
// Two contracts share one custom transaction context (Context), whose
// before-transaction hook records the caller's MSP:
//
//	equipment (the default contract; a client may leave out "equipment:")
//	  Register ID KIND OWNER   submit; the caller's MSP becomes the owning org
//	  Get ID                   evaluate; error if there is no such equipment
//	  List                     evaluate; everything registered, by ID
//	  Transfer ID NEWOWNER     submit; event EquipmentTransferred
//	rental
//	  SetRate ID               submit; the daily rate comes in the transient
//	                           map under "rate" and is kept in the private
//	                           collection "rates": it never reaches a block
//	  Rate ID                  evaluate; the private rate
//	  Rent ID RENTER DAYS      submit; needs a rate; event EquipmentRented
//	  Return ID                submit; event EquipmentReturned
//
// and contract-api's own org.hyperledger.fabric:GetMetadata describes
// them all.
//
// # Why a module of its own
//
// This directory is a Go module (github.com/ccserver/ccserver/examples/contractapi)
// rather than a package of the core module or of fabricshim, because it
// requires contract-api, and contract-api v2.2.2 requires a v2.3.1
// pre-release of fabric-chaincode-go. Had the core module or fabricshim
// required them, minimal version selection would have raised every
// user's copies to these versions, chaincode that does not use
// contract-api included. A module of its own keeps those requirements
// here, and shows what a user's chaincode module looks like: it requires
// ccserver, fabricshim and contract-api, nothing more.
package rental
