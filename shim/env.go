package shim

import (
	"errors"
	"os"
)

// GetMSPID returns the local MSP id from CORE_PEER_LOCALMSPID, as the peer
// sets it for chaincode it launches. With Start's CORE_* variables it is the
// only environment a library package of ours reads (the anchor's contract).
func GetMSPID() (string, error) {
	mspid := os.Getenv("CORE_PEER_LOCALMSPID")
	if mspid == "" {
		return "", errors.New("'CORE_PEER_LOCALMSPID' is not set")
	}
	return mspid, nil
}
