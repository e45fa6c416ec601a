package stubareas

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/ccserver/ccserver/shim"
)

// step is the outcome of one operation of Steps: what it returned, or the
// error text the stub (usually the peer) gave.
type step struct {
	Step   string `json:"step"`
	OK     bool   `json:"ok"`
	Result string `json:"result"`
	Error  string `json:"error"`
}

// steps runs several stub operations in one transaction and reports each
// outcome instead of stopping at the first error, so a test can see the
// peer's rules that depend on what the transaction did before (writes
// after a paginated query, private-data range queries after a write).
// Each argument is one operation, its fields separated by single spaces
// (an empty field is an empty string): see stepOps for the operations.
func steps(stub shim.ChaincodeStubInterface, args []string) ([]step, error) {
	out := make([]step, 0, len(args))
	for _, a := range args {
		f := strings.Split(a, " ")
		res, err := runStep(stub, f[0], f[1:])
		s := step{Step: a, OK: err == nil, Result: res}
		if err != nil {
			s.Error = err.Error()
		}
		out = append(out, s)
	}
	return out, nil
}

// stepOps lists the operations of Steps with their fields, for the usage.
const stepOps = "put k v | del k | get k | range start end | rangepage start end pageSize bookmark | putpriv coll k v | getpriv coll k | delpriv coll k | privhash coll k | privrange coll start end | setep k mspid | getep k | event name payload"

func runStep(stub shim.ChaincodeStubInterface, op string, f []string) (string, error) {
	need := map[string]int{
		"put": 2, "del": 1, "get": 1, "range": 2, "rangepage": 4, "putpriv": 3, "getpriv": 2,
		"delpriv": 2, "privhash": 2, "privrange": 3, "setep": 2, "getep": 1, "event": 2,
	}
	if n, ok := need[op]; !ok || n != len(f) {
		return "", fmt.Errorf("%q with %d fields; operations: %s", op, len(f), stepOps)
	}
	switch op {
	case "put":
		return "", stub.PutState(f[0], []byte(f[1]))
	case "del":
		return "", stub.DelState(f[0])
	case "get":
		v, err := stub.GetState(f[0])
		return found(v), err
	case "range":
		it, err := stub.GetStateByRange(f[0], f[1])
		if err != nil {
			return "", err
		}
		return drainKeys(it)
	case "rangepage":
		size, err := strconv.Atoi(f[2])
		if err != nil {
			return "", fmt.Errorf("pageSize %q: %w", f[2], err)
		}
		it, md, err := stub.GetStateByRangeWithPagination(f[0], f[1], int32(size), f[3])
		if err != nil {
			return "", err
		}
		keys, err := drainKeys(it)
		return fmt.Sprintf("%s;bookmark=%s;fetched=%d", keys, md.GetBookmark(), md.GetFetchedRecordsCount()), err
	case "putpriv":
		return "", stub.PutPrivateData(f[0], f[1], []byte(f[2]))
	case "getpriv":
		v, err := stub.GetPrivateData(f[0], f[1])
		return found(v), err
	case "delpriv":
		return "", stub.DelPrivateData(f[0], f[1])
	case "privhash":
		h, err := stub.GetPrivateDataHash(f[0], f[1])
		if h == nil {
			return "<nil>", err
		}
		return hex.EncodeToString(h), err
	case "privrange":
		it, err := stub.GetPrivateDataByRange(f[0], f[1], f[2])
		if err != nil {
			return "", err
		}
		return drainKeys(it)
	case "setep":
		policy, err := policyFor([]string{f[1]})
		if err != nil {
			return "", err
		}
		return "", stub.SetStateValidationParameter(f[0], policy)
	case "getep":
		p, err := stub.GetStateValidationParameter(f[0])
		if err != nil {
			return "", err
		}
		orgs, err := orgsOf(p)
		return strings.Join(orgs, ","), err
	default: // event
		return "", stub.SetEvent(f[0], []byte(f[1]))
	}
}

func found(v []byte) string {
	if v == nil {
		return "<nil>"
	}
	return string(v)
}

// drainKeys reads an iterator to its end and closes it, returning the
// keys joined by commas.
func drainKeys(it shim.StateQueryIteratorInterface) (string, error) {
	defer it.Close()
	var keys []string
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return strings.Join(keys, ","), err
		}
		keys = append(keys, kv.Key)
	}
	return strings.Join(keys, ","), nil
}
