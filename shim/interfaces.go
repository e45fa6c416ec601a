package shim

import (
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Chaincode is the contract every chaincode implements. The peer calls Init
// when a chaincode definition requires initialisation, and Invoke for every
// other proposal.
type Chaincode interface {
	// Init initialises the chaincode's state. A status of ERROR (500) or
	// more fails the transaction.
	Init(stub ChaincodeStubInterface) *peer.Response
	// Invoke runs one transaction or query. Writes become visible only
	// when the transaction is endorsed, ordered and committed.
	Invoke(stub ChaincodeStubInterface) *peer.Response
}

// ChaincodeStubInterface is what a chaincode uses during one transaction:
// the invocation's arguments and context, and the calls that read and write
// the ledger through the peer.
type ChaincodeStubInterface interface {
	// GetArgs returns the invocation arguments as byte slices.
	GetArgs() [][]byte
	// GetStringArgs returns the invocation arguments as strings.
	GetStringArgs() []string
	// GetFunctionAndParameters splits the arguments into the first, taken as
	// a function name, and the rest.
	GetFunctionAndParameters() (string, []string)
	// GetArgsSlice returns all arguments concatenated.
	GetArgsSlice() ([]byte, error)
	// GetTxID returns the transaction id, unique per channel.
	GetTxID() string
	// GetChannelID returns the channel the proposal is for.
	GetChannelID() string
	// InvokeChaincode calls another chaincode with this transaction's
	// context. On the same channel its writes join this transaction; on
	// another channel only its response is used. channel "" means this one.
	InvokeChaincode(chaincodeName string, args [][]byte, channel string) *peer.Response
	// GetState returns the committed value of key, or nil if it does not
	// exist. It does not see this transaction's own uncommitted writes.
	GetState(key string) ([]byte, error)
	// GetMultipleStates returns the committed values of keys in order; a
	// missing key gives nil. Peers that support it answer in one round trip.
	GetMultipleStates(keys ...string) ([][]byte, error)
	// PutState records a write of value to key in the transaction's write
	// set. Keys must be non-empty and should not start with 0x00, which is
	// reserved for composite keys.
	PutState(key string, value []byte) error
	// DelState records the deletion of key.
	DelState(key string) error
	// SetStateValidationParameter sets the key-level endorsement policy of key.
	SetStateValidationParameter(key string, ep []byte) error
	// GetStateValidationParameter returns the key-level endorsement policy of key.
	GetStateValidationParameter(key string) ([]byte, error)
	// GetStateByRange iterates over keys in [startKey, endKey). Empty bounds
	// are open. Close the iterator when done.
	GetStateByRange(startKey, endKey string) (StateQueryIteratorInterface, error)
	// GetStateByRangeWithPagination is GetStateByRange one page at a time;
	// pass the returned bookmark to get the next page. Read-only use only.
	GetStateByRangeWithPagination(startKey, endKey string, pageSize int32,
		bookmark string) (StateQueryIteratorInterface, *peer.QueryResponseMetadata, error)
	// GetStateByPartialCompositeKey iterates over composite keys that start
	// with objectType and the given leading attributes.
	GetStateByPartialCompositeKey(objectType string, keys []string) (StateQueryIteratorInterface, error)
	// GetStateByPartialCompositeKeyWithPagination is the paginated form of
	// GetStateByPartialCompositeKey.
	GetStateByPartialCompositeKeyWithPagination(objectType string, keys []string,
		pageSize int32, bookmark string) (StateQueryIteratorInterface, *peer.QueryResponseMetadata, error)
	// GetAllStatesCompositeKeyWithPagination pages through every composite key.
	GetAllStatesCompositeKeyWithPagination(pageSize int32,
		bookmark string) (StateQueryIteratorInterface, *peer.QueryResponseMetadata, error)
	// CreateCompositeKey joins objectType and attributes into one key.
	CreateCompositeKey(objectType string, attributes []string) (string, error)
	// SplitCompositeKey splits a composite key into objectType and
	// attributes; a key that is not composite is an error.
	SplitCompositeKey(compositeKey string) (string, []string, error)
	// GetQueryResult runs a rich query (CouchDB state databases only).
	GetQueryResult(query string) (StateQueryIteratorInterface, error)
	// GetQueryResultWithPagination is the paginated form of GetQueryResult.
	GetQueryResultWithPagination(query string, pageSize int32,
		bookmark string) (StateQueryIteratorInterface, *peer.QueryResponseMetadata, error)
	// GetHistoryForKey iterates over the committed history of key, newest
	// first (needs the peer's history database).
	GetHistoryForKey(key string) (HistoryQueryIteratorInterface, error)
	// GetPrivateData returns the value of key in a private collection.
	GetPrivateData(collection, key string) ([]byte, error)
	// GetMultiplePrivateData returns several values from a collection.
	GetMultiplePrivateData(collection string, keys ...string) ([][]byte, error)
	// GetPrivateDataHash returns the hash of a private value; it works on
	// peers that are not members of the collection too.
	GetPrivateDataHash(collection, key string) ([]byte, error)
	// PutPrivateData records a private write; only its hash goes to the
	// ordering service.
	PutPrivateData(collection string, key string, value []byte) error
	// DelPrivateData records the deletion of a private key.
	DelPrivateData(collection, key string) error
	// PurgePrivateData deletes a private key and its history from the
	// private store of every member peer.
	PurgePrivateData(collection, key string) error
	// SetPrivateDataValidationParameter sets the key-level endorsement
	// policy of a private key.
	SetPrivateDataValidationParameter(collection, key string, ep []byte) error
	// GetPrivateDataValidationParameter returns it.
	GetPrivateDataValidationParameter(collection, key string) ([]byte, error)
	// GetPrivateDataByRange iterates over private keys in [startKey, endKey).
	GetPrivateDataByRange(collection, startKey, endKey string) (StateQueryIteratorInterface, error)
	// GetPrivateDataByPartialCompositeKey iterates over private composite keys.
	GetPrivateDataByPartialCompositeKey(collection, objectType string, keys []string) (StateQueryIteratorInterface, error)
	// GetPrivateDataQueryResult runs a rich query on a private collection.
	GetPrivateDataQueryResult(collection, query string) (StateQueryIteratorInterface, error)
	// GetCreator returns the serialized identity of the proposal's submitter.
	GetCreator() ([]byte, error)
	// GetTransient returns the proposal's transient map: data that reaches
	// the chaincode but is not written to the ledger.
	GetTransient() (map[string][]byte, error)
	// GetBinding returns the hash that binds the proposal to its nonce,
	// creator and epoch, for application-level replay protection.
	GetBinding() ([]byte, error)
	// GetDecorations returns data the peer attached to the proposal.
	GetDecorations() map[string][]byte
	// GetSignedProposal returns the full signed proposal.
	GetSignedProposal() (*peer.SignedProposal, error)
	// GetTxTimestamp returns the timestamp the client put in the proposal;
	// the same on every endorser, so usable deterministically.
	GetTxTimestamp() (*timestamppb.Timestamp, error)
	// SetEvent sets the event delivered with the committed block; only the
	// last call in a transaction counts.
	SetEvent(name string, payload []byte) error
	// StartWriteBatch buffers the following writes and sends them in as few
	// messages as possible, when the peer supports it.
	StartWriteBatch()
	// FinishWriteBatch sends the buffered writes. It runs by itself when
	// Invoke returns, so calling it is optional.
	FinishWriteBatch() error
}

// CommonIteratorInterface is the part shared by the state and history
// iterators.
type CommonIteratorInterface interface {
	// HasNext reports whether Next will return another result.
	HasNext() bool
	// Close releases the iterator on the peer.
	Close() error
}

// StateQueryIteratorInterface iterates over key-value results.
type StateQueryIteratorInterface interface {
	CommonIteratorInterface
	// Next returns the next key and value.
	Next() (*queryresult.KV, error)
}

// HistoryQueryIteratorInterface iterates over a key's history.
type HistoryQueryIteratorInterface interface {
	CommonIteratorInterface
	// Next returns the next modification of the key.
	Next() (*queryresult.KeyModification, error)
}
