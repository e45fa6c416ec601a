package fabricshim

import (
	"github.com/ccserver/ccserver/shim"
	anchor "github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// Wrap returns cc as a chaincode of ccserver's shim: serve.Main,
// shim.Start, shim.ChaincodeServer and shimtest accept the result. cc is
// anything that implements fabric-chaincode-go/v2's shim.Chaincode: a
// chaincode of your own or what contractapi.NewChaincode returns.
//
// If cc has a Functions() []string method, or is contract-api's
// *ContractChaincode (its function names are read from its metadata once,
// here), the result has a Functions method too, so ccserver's metrics
// label transactions by function name. Wrap panics if cc is nil: that is
// a bug in the caller's main, best found at start.
func Wrap(cc anchor.Chaincode) shim.Chaincode {
	if cc == nil {
		panic("fabricshim.Wrap: nil chaincode")
	}
	w := &chaincode{cc: cc}
	if names, ok := functionNames(cc); ok {
		return &listingChaincode{chaincode: w, names: names}
	}
	return w
}

// chaincode adapts an anchor chaincode to our shim.Chaincode.
type chaincode struct {
	cc anchor.Chaincode
}

func (c *chaincode) Init(stub shim.ChaincodeStubInterface) *peer.Response {
	return c.cc.Init(Stub(stub))
}

func (c *chaincode) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	return c.cc.Invoke(Stub(stub))
}

// listingChaincode is a wrapped chaincode that knows its function names.
// It is a separate type because serve treats any Functions method as the
// complete list: a chaincode without one must not seem to have an empty
// list.
type listingChaincode struct {
	*chaincode
	names []string
}

// Functions returns the names clients send as the first argument.
func (c *listingChaincode) Functions() []string {
	return append([]string(nil), c.names...)
}

// Stub returns s as fabric-chaincode-go/v2's ChaincodeStubInterface. Wrap
// does this for every transaction; call it yourself to hand ccserver's
// stub to code written for the original shim, such as a library shared
// with chaincode that has not moved yet. A nil s gives nil.
func Stub(s shim.ChaincodeStubInterface) anchor.ChaincodeStubInterface {
	if s == nil {
		return nil
	}
	return stub{s}
}

// stub is our stub seen through the original shim's interface. Every
// method but those returning iterators is ours, promoted unchanged: the
// two interfaces share their protobuf types and differ only in the names
// of the iterator interfaces, whose method sets are identical, so an
// iterator of ours is returned as is in the original's interface type (a
// nil one stays nil: converting between interface types keeps nil).
type stub struct {
	shim.ChaincodeStubInterface
}

// The original interface is implemented completely, for the version of
// fabric-chaincode-go the build selects (v2.0.0 or later).
var _ anchor.ChaincodeStubInterface = stub{}

func (s stub) GetStateByRange(startKey, endKey string) (anchor.StateQueryIteratorInterface, error) {
	return s.ChaincodeStubInterface.GetStateByRange(startKey, endKey)
}

func (s stub) GetStateByRangeWithPagination(startKey, endKey string, pageSize int32, bookmark string) (anchor.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.ChaincodeStubInterface.GetStateByRangeWithPagination(startKey, endKey, pageSize, bookmark)
}

func (s stub) GetStateByPartialCompositeKey(objectType string, keys []string) (anchor.StateQueryIteratorInterface, error) {
	return s.ChaincodeStubInterface.GetStateByPartialCompositeKey(objectType, keys)
}

func (s stub) GetStateByPartialCompositeKeyWithPagination(objectType string, keys []string, pageSize int32, bookmark string) (anchor.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.ChaincodeStubInterface.GetStateByPartialCompositeKeyWithPagination(objectType, keys, pageSize, bookmark)
}

func (s stub) GetAllStatesCompositeKeyWithPagination(pageSize int32, bookmark string) (anchor.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.ChaincodeStubInterface.GetAllStatesCompositeKeyWithPagination(pageSize, bookmark)
}

func (s stub) GetQueryResult(query string) (anchor.StateQueryIteratorInterface, error) {
	return s.ChaincodeStubInterface.GetQueryResult(query)
}

func (s stub) GetQueryResultWithPagination(query string, pageSize int32, bookmark string) (anchor.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.ChaincodeStubInterface.GetQueryResultWithPagination(query, pageSize, bookmark)
}

func (s stub) GetHistoryForKey(key string) (anchor.HistoryQueryIteratorInterface, error) {
	return s.ChaincodeStubInterface.GetHistoryForKey(key)
}

func (s stub) GetPrivateDataByRange(collection, startKey, endKey string) (anchor.StateQueryIteratorInterface, error) {
	return s.ChaincodeStubInterface.GetPrivateDataByRange(collection, startKey, endKey)
}

func (s stub) GetPrivateDataByPartialCompositeKey(collection, objectType string, keys []string) (anchor.StateQueryIteratorInterface, error) {
	return s.ChaincodeStubInterface.GetPrivateDataByPartialCompositeKey(collection, objectType, keys)
}

func (s stub) GetPrivateDataQueryResult(collection, query string) (anchor.StateQueryIteratorInterface, error) {
	return s.ChaincodeStubInterface.GetPrivateDataQueryResult(collection, query)
}
