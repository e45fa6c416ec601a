package shimtest

import pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"

// WithTap shows a test every message the chaincode sends to the peer.
func WithTap(f func(*pb.ChaincodeMessage)) Option { return func(o *options) { o.tap = f } }
