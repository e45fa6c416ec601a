package stubareas

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccserver/ccserver/shim"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// handler runs one function. It returns the payload of a successful
// answer; an error becomes shim.Error. A handler that needs another status
// returns a response itself (see fail).
type handler func(stub shim.ChaincodeStubInterface, args []string) (*pb.Response, error)

// function is one entry of the dispatch table: its arguments as the
// package doc writes them, how many it takes and what runs it.
type function struct {
	usage    string
	min, max int // max < 0: variadic
	run      handler
}

// chaincode dispatches on the function name. The table lives in the value,
// not in a package variable, so every New starts from the same state.
type chaincode struct {
	fns map[string]function
}

// New returns the stub-areas test chaincode.
func New() shim.Chaincode {
	return &chaincode{fns: map[string]function{
		// world state
		"Put":        {"key value", 2, 2, jsonResult(put)},
		"Get":        {"key", 1, 1, jsonResult(get)},
		"GetRaw":     {"key", 1, 1, getRaw},
		"Delete":     {"key", 1, 1, jsonResult(del)},
		"PutBig":     {"key nbytes", 2, 2, jsonResult(putBig)},
		"GetBigInfo": {"key", 1, 1, jsonResult(getBigInfo)},
		"GetMany":    {"key...", 0, -1, jsonResult(getMany)},
		"Range":      {"start end", 2, 2, jsonResult(rangeAll)},
		"RangePage":  {"start end pageSize bookmark", 4, 4, jsonResult(rangePage)},
		"CountRange": {"prefix", 1, 1, jsonResult(countRange)},
		"PutMany":    {"prefix n size [explicit|implicit|none]", 3, 4, jsonResult(putMany)},
		"DeleteMany": {"prefix n [explicit|implicit|none]", 2, 3, jsonResult(deleteMany)},
		"History":    {"key", 1, 1, jsonResult(history)},
		// composite keys
		"PutComposite":     {"objectType value attr...", 2, -1, jsonResult(putComposite)},
		"Partial":          {"objectType attr...", 1, -1, jsonResult(partial)},
		"PartialPage":      {"objectType pageSize bookmark attr...", 3, -1, jsonResult(partialPage)},
		"AllCompositePage": {"pageSize bookmark", 2, 2, jsonResult(allCompositePage)},
		// private data
		"PutPrivate":          {"collection key (transient \"value\")", 2, 2, jsonResult(putPrivate)},
		"GetPrivate":          {"collection key", 2, 2, jsonResult(getPrivate)},
		"DeletePrivate":       {"collection key", 2, 2, jsonResult(delPrivate)},
		"PurgePrivate":        {"collection key", 2, 2, jsonResult(purgePrivate)},
		"PrivateHash":         {"collection key", 2, 2, jsonResult(privateHash)},
		"PrivateRange":        {"collection start end", 3, 3, jsonResult(privateRange)},
		"GetManyPrivate":      {"collection key...", 1, -1, jsonResult(getManyPrivate)},
		"PutPrivateComposite": {"collection objectType attr... (transient \"value\")", 2, -1, jsonResult(putPrivateComposite)},
		"PrivatePartial":      {"collection objectType attr...", 2, -1, jsonResult(privatePartial)},
		// key-level endorsement
		"SetKeyEP":        {"key mspid...", 2, -1, jsonResult(setKeyEP)},
		"GetKeyEP":        {"key", 1, 1, jsonResult(getKeyEP)},
		"SetPrivateKeyEP": {"collection key mspid...", 3, -1, jsonResult(setPrivateKeyEP)},
		"GetPrivateKeyEP": {"collection key", 2, 2, jsonResult(getPrivateKeyEP)},
		// transaction context
		"Event":  {"name payload", 2, 2, jsonResult(event)},
		"TxInfo": {"", 0, 0, jsonResult(txInfo)},
		"WhoAmI": {"[attribute]", 0, 1, jsonResult(whoAmI)},
		"Call":   {"chaincode channel function arg...", 3, -1, jsonResult(call)},
		"Fail":   {"status message", 2, 2, fail},
		"Panic":  {"message", 1, 1, panicking},
		"Sleep":  {"ms key", 2, 2, jsonResult(sleep)},
		"Steps":  {"op...", 1, -1, jsonResult(steps)},
	}}
}

// Functions lists the function names, so ccserver's metrics label each
// of them instead of lumping them together as "other".
func (c *chaincode) Functions() []string {
	names := make([]string, 0, len(c.fns))
	for name := range c.fns {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Init records that it ran, so a test of --init-required can see that
// the peer called it exactly where the definition asked for it. It does
// not dispatch: with --init-required the peer, not this chaincode, refuses
// every Invoke that comes before Init.
func (c *chaincode) Init(stub shim.ChaincodeStubInterface) *pb.Response {
	if err := stub.PutState(InitializedKey, []byte(stub.GetTxID())); err != nil {
		return shim.Error(fmt.Sprintf("Init: put %s: %v", InitializedKey, err))
	}
	return resultOf(map[string]string{"initialized": stub.GetTxID()})
}

// InitializedKey is the key Init writes; its value is Init's transaction ID.
const InitializedKey = "initialized"

// Invoke dispatches on the function name and checks the argument count
// before running it, so every misuse answers with the function's usage.
func (c *chaincode) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {
	name, args := stub.GetFunctionAndParameters()
	fn, ok := c.fns[name]
	if !ok {
		return shim.Error(fmt.Sprintf("unknown function %q; this chaincode has %s", name, strings.Join(c.Functions(), ", ")))
	}
	if len(args) < fn.min || (fn.max >= 0 && len(args) > fn.max) {
		return shim.Error(fmt.Sprintf("%s: wrong number of arguments (%d); usage: %s %s", name, len(args), name, fn.usage))
	}
	resp, err := fn.run(stub, args)
	if err != nil {
		return shim.Error(fmt.Sprintf("%s: %v", name, err))
	}
	return resp
}

// jsonResult adapts a function whose result is a value to marshal as the
// JSON payload.
func jsonResult[T any](f func(stub shim.ChaincodeStubInterface, args []string) (T, error)) handler {
	return func(stub shim.ChaincodeStubInterface, args []string) (*pb.Response, error) {
		v, err := f(stub, args)
		if err != nil {
			return nil, err
		}
		return resultOf(v), nil
	}
}

func resultOf(v any) *pb.Response {
	b, err := json.Marshal(v)
	if err != nil {
		return shim.Error(fmt.Sprintf("marshal result: %v", err))
	}
	return shim.Success(b)
}

// fail answers the status and message it is given, so a test can check
// that both reach the client unchanged.
func fail(_ shim.ChaincodeStubInterface, args []string) (*pb.Response, error) {
	status, err := strconv.ParseInt(args[0], 10, 32)
	if err != nil {
		return nil, fmt.Errorf("status %q is not an integer", args[0])
	}
	return &pb.Response{Status: int32(status), Message: args[1]}, nil
}

// panicking panics, to show that the shim answers status 500 and keeps
// serving instead of taking the process down.
func panicking(_ shim.ChaincodeStubInterface, args []string) (*pb.Response, error) {
	panic("stubareas: " + args[0])
}

// sleep waits ms milliseconds, then writes key: a transaction long enough
// to be in flight when the server is told to stop.
func sleep(stub shim.ChaincodeStubInterface, args []string) (any, error) {
	ms, err := atoi("ms", args[0], 60_000)
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Duration(ms) * time.Millisecond)
	if err := stub.PutState(args[1], []byte(args[0])); err != nil {
		return nil, err
	}
	return map[string]string{"key": args[1], "slept": args[0] + "ms"}, nil
}

// atoi parses a non-negative integer argument named what, up to limit.
func atoi(what, s string, limit int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative integer, got %q", what, s)
	}
	if n > limit {
		return 0, fmt.Errorf("%s %d is more than the limit %d", what, n, limit)
	}
	return n, nil
}
