package fabricshim

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/ccserver/ccserver/shim"
	anchor "github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// Where contract-api keeps its chaincode type and its system contract. We
// recognise the type by name rather than import the package, so that this
// module does not require contract-api and raise its users' version of it.
const (
	contractAPIPackage = "github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	contractAPIType    = "ContractChaincode"
	// GetMetadataFunction is the function of contract-api's system contract
	// that returns the chaincode's metadata (JSON).
	GetMetadataFunction = "org.hyperledger.fabric:GetMetadata"
)

// functionNames returns the function names of cc and whether it has a
// list: its own Functions method, or contract-api's metadata.
func functionNames(cc anchor.Chaincode) ([]string, bool) {
	if l, ok := cc.(interface{ Functions() []string }); ok {
		return slices.Clone(l.Functions()), true
	}
	if !isContractAPI(cc) {
		return nil, false
	}
	names, err := contractFunctions(cc)
	if err != nil {
		// Without a list, serve labels the first names it sees; a
		// chaincode that cannot describe itself still serves.
		return nil, false
	}
	return names, true
}

func isContractAPI(cc anchor.Chaincode) bool {
	t := reflect.TypeOf(cc)
	return t.Kind() == reflect.Pointer && t.Elem().PkgPath() == contractAPIPackage && t.Elem().Name() == contractAPIType
}

// contractFunctions asks a contract-api chaincode for its metadata, as a
// client calling GetMetadata would, and lists the names a client may
// send: "contract:Transaction" for every contract, and the bare
// transaction name for the default contract's. The call happens outside
// any transaction, so the stub it gets has arguments and nothing else;
// contract-api's system contract needs no more.
func contractFunctions(cc anchor.Chaincode) (names []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s panicked: %v", GetMetadataFunction, r)
		}
	}()
	res := cc.Invoke(Stub(argsOnlyStub{args: [][]byte{[]byte(GetMetadataFunction)}}))
	if res == nil {
		return nil, fmt.Errorf("%s returned no response", GetMetadataFunction)
	}
	if res.Status >= shim.ERRORTHRESHOLD {
		return nil, fmt.Errorf("%s: status %d: %s", GetMetadataFunction, res.Status, res.Message)
	}
	return parseMetadata(res.Payload)
}

// contractMetadata is the part of contract-api's metadata JSON we read.
type contractMetadata struct {
	Contracts map[string]struct {
		Default      bool `json:"default"`
		Transactions []struct {
			Name string `json:"name"`
		} `json:"transactions"`
	} `json:"contracts"`
}

func parseMetadata(b []byte) ([]string, error) {
	var md contractMetadata
	if err := json.Unmarshal(b, &md); err != nil {
		return nil, fmt.Errorf("contract metadata: %w", err)
	}
	if len(md.Contracts) == 0 {
		return nil, errors.New("contract metadata lists no contracts")
	}
	var names []string
	for contract, c := range md.Contracts {
		for _, tx := range c.Transactions {
			if tx.Name == "" {
				continue
			}
			names = append(names, contract+":"+tx.Name)
			if c.Default {
				names = append(names, tx.Name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// argsOnlyStub carries the probe's arguments. Methods it does not define
// belong to the nil embedded interface and panic, which the probe
// recovers from: only the calls contract-api makes before its system
// contract runs are answered.
type argsOnlyStub struct {
	shim.ChaincodeStubInterface
	args [][]byte
}

func (s argsOnlyStub) GetArgs() [][]byte { return s.args }

func (s argsOnlyStub) GetStringArgs() []string {
	out := make([]string, len(s.args))
	for i, a := range s.args {
		out[i] = string(a)
	}
	return out
}

func (s argsOnlyStub) GetFunctionAndParameters() (string, []string) {
	args := s.GetStringArgs()
	if len(args) == 0 {
		return "", nil
	}
	return args[0], args[1:]
}

// errNotInTransaction answers the stub calls that need a transaction.
func errNotInTransaction() error {
	return errors.New("fabricshim: no transaction: the chaincode is being asked for its metadata")
}

func (s argsOnlyStub) GetTxID() string                          { return "" }
func (s argsOnlyStub) GetChannelID() string                     { return "" }
func (s argsOnlyStub) GetCreator() ([]byte, error)              { return nil, errNotInTransaction() }
func (s argsOnlyStub) GetTransient() (map[string][]byte, error) { return nil, errNotInTransaction() }
func (s argsOnlyStub) GetDecorations() map[string][]byte        { return nil }
