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

// PeerOrg returns the organisation of the peer that is executing this
// transaction, as the chaincode server admitted it over mTLS: the org of
// the per-org allow list (tlsconfig.ServerSpec.Orgs or OrgsDir; ccserver
// --allow, --allow-dir) that the peer's client certificate matched. It is
// false when the server has no allow list, in client mode, and for a stub
// that is not ours. This is an addition of ccserver, not part of
// fabric-chaincode-go: a chaincode can use it, for example, to refuse a
// transaction that only one org's peers may endorse. GetMSPID, by
// contrast, reads the server process's own environment.
func PeerOrg(stub ChaincodeStubInterface) (string, bool) {
	if s, ok := stub.(interface{ PeerOrg() (string, bool) }); ok {
		return s.PeerOrg()
	}
	return "", false
}

// PeerOrg is shim.PeerOrg for this stub.
func (s *ChaincodeStub) PeerOrg() (string, bool) { return s.peerOrg, s.peerOrg != "" }
