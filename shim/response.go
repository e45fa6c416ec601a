package shim

import "github.com/hyperledger/fabric-protos-go-apiv2/peer"

// Status codes of a chaincode response, as the endorser reads them.
const (
	// OK is success; any status below ERRORTHRESHOLD is endorsable.
	OK = 200
	// ERRORTHRESHOLD and above: the endorser refuses to endorse.
	ERRORTHRESHOLD = 400
	// ERROR is the usual failure status; for Init it fails the transaction.
	ERROR = 500
)

// Success returns a status-200 response carrying payload.
func Success(payload []byte) *peer.Response {
	return &peer.Response{Status: OK, Payload: payload}
}

// Error returns a status-500 response carrying msg.
func Error(msg string) *peer.Response {
	return &peer.Response{Status: ERROR, Message: msg}
}
