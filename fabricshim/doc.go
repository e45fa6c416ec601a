// Package fabricshim runs chaincode written for
// github.com/hyperledger/fabric-chaincode-go/v2/shim on ccserver, without
// changing its source: a chaincode of your own that implements that
// shim's Chaincode, or a contract-api chaincode
// (github.com/hyperledger/fabric-contract-api-go/v2), whose Init and Invoke
// take the original shim's stub and so cannot be handed to serve.Main as
// they are.
//
//	func main() {
//		cc, err := contractapi.NewChaincode(&AssetContract{})
//		if err != nil {
//			log.Fatal(err)
//		}
//		serve.Main(fabricshim.Wrap(cc)) // instead of cc.Start()
//	}
//
// The chaincode then gets all of ccserver: flags and the environment
// fabric-samples uses, mutual TLS with hot rotation, pinning, CRLs,
// health, Prometheus metrics labelled by function, graceful drain, a
// panic failing one transaction instead of the process. Unit tests run
// the wrapped chaincode through ccserver's shimtest.
//
// Wrap hands the chaincode, for every transaction, ccserver's stub behind
// the original's ChaincodeStubInterface: every method of that interface
// is there, with the original's signatures, so contract-api's transaction
// context, cid.New and statebased work unchanged. Only the methods that
// return iterators need an adapter, and it returns ccserver's iterators
// themselves, since their method sets are the original's.
//
// # Versions
//
// This module requires fabric-chaincode-go/v2 v2.0.0, the lowest version
// that works, so that requiring it raises nobody's copy (contract-api
// v2.2.0 requires v2.0.0 too; v2.2.1 and later require a v2.3.1
// pre-release). The adapter implements the interface of whichever version
// your build selects, up to the current one, whose write batches and
// multi-key reads it passes to ccserver's. The module does not require
// contract-api at all: it recognises contract-api's chaincode by its type.
//
// # What does not carry over
//
//   - A type assertion of the stub to the original *shim.ChaincodeStub, or
//     of an iterator to the original *StateQueryIterator or
//     *HistoryQueryIterator, fails: those are ccserver's types now. Code
//     that needs more than the interface is rare; use the interface.
//   - Calling cc.Start() (contract-api), shim.Start(cc) or a
//     shim.ChaincodeServer of the original package starts the original
//     shim, not ccserver: call serve.Main(fabricshim.Wrap(cc)), or
//     ccserver's shim.Start / shim.ChaincodeServer with the wrapped value.
//     contract-api's Start read CHAINCODE_SERVER_ADDRESS, CHAINCODE_ID and
//     the CHAINCODE_TLS_* variables; serve reads the same names.
//   - The original shim's MockStub (shimtest.NewMockStub) drives the
//     unwrapped chaincode without a peer; ccserver's shimtest drives the
//     wrapped one through the real engine (see shimtest's package doc for
//     the move).
//   - Behaviour changes that are ccserver's, not this package's: a panic
//     in the chaincode fails the transaction with status 500 instead of
//     killing the process; TLS without a client CA must be asked for.
package fabricshim
