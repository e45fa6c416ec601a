package stubareas

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/ccserver/ccserver/shim"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// Limits that keep one call well below the peer's 100 MiB gRPC message
// bound, so an oversized request fails here with a clear message instead
// of somewhere in the transport.
const (
	maxValueBytes = 64 << 20
	maxManyKeys   = 1_000_000
)

// lookup is the answer to a read: Found tells a missing key from an empty
// value.
type lookup struct {
	Key   string `json:"key"`
	Found bool   `json:"found"`
	Value string `json:"value"`
}

type kv struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// compositeKV is a composite-key result together with its parts, as
// SplitCompositeKey returns them.
type compositeKV struct {
	Key        string   `json:"key"`
	ObjectType string   `json:"object_type"`
	Attributes []string `json:"attributes"`
	Value      string   `json:"value"`
}

type kvList[T any] struct {
	KVs []T `json:"kvs"`
}

// page is one page of a paginated query with what the peer says about it.
type page[T any] struct {
	KVs      []T    `json:"kvs"`
	Bookmark string `json:"bookmark"`
	Fetched  int32  `json:"fetched"`
}

type keyResult struct {
	Key string `json:"key"`
}

func put(stub shim.ChaincodeStubInterface, args []string) (keyResult, error) {
	return keyResult{args[0]}, stub.PutState(args[0], []byte(args[1]))
}

func get(stub shim.ChaincodeStubInterface, args []string) (lookup, error) {
	v, err := stub.GetState(args[0])
	return lookup{Key: args[0], Found: v != nil, Value: string(v)}, err
}

// getRaw answers the value itself, for values that are not text.
func getRaw(stub shim.ChaincodeStubInterface, args []string) (*pb.Response, error) {
	v, err := stub.GetState(args[0])
	if err != nil {
		return nil, err
	}
	return shim.Success(v), nil
}

func del(stub shim.ChaincodeStubInterface, args []string) (keyResult, error) {
	return keyResult{args[0]}, stub.DelState(args[0])
}

type bigInfo struct {
	Key    string `json:"key"`
	Found  bool   `json:"found"`
	Len    int    `json:"len"`
	SHA256 string `json:"sha256"`
}

func infoOf(key string, v []byte) bigInfo {
	sum := sha256.Sum256(v)
	return bigInfo{Key: key, Found: v != nil, Len: len(v), SHA256: hex.EncodeToString(sum[:])}
}

// putBig writes a value made here rather than sent in the proposal, so a
// test can store several megabytes without a request of that size.
func putBig(stub shim.ChaincodeStubInterface, args []string) (bigInfo, error) {
	n, err := atoi("nbytes", args[1], maxValueBytes)
	if err != nil {
		return bigInfo{}, err
	}
	if n == 0 {
		return bigInfo{}, errors.New("nbytes must be at least 1: the peer takes an empty value for a delete")
	}
	v := BigValue(args[0], n)
	return infoOf(args[0], v), stub.PutState(args[0], v)
}

// BigValue is the content PutBig writes: SHA-256(key || uint64 big-endian
// block number) for blocks 0, 1, …, concatenated and cut to n bytes. It is
// deterministic, so every endorser writes the same bytes.
func BigValue(key string, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	buf := make([]byte, len(key)+8)
	copy(buf, key)
	for block := uint64(0); len(out) < n; block++ {
		binary.BigEndian.PutUint64(buf[len(key):], block)
		sum := sha256.Sum256(buf)
		out = append(out, sum[:]...)
	}
	return out[:n]
}

func getBigInfo(stub shim.ChaincodeStubInterface, args []string) (bigInfo, error) {
	v, err := stub.GetState(args[0])
	return infoOf(args[0], v), err
}

func getMany(stub shim.ChaincodeStubInterface, keys []string) ([]lookup, error) {
	vals, err := stub.GetMultipleStates(keys...)
	if err != nil {
		return nil, err
	}
	return lookups(keys, vals)
}

func lookups(keys []string, vals [][]byte) ([]lookup, error) {
	if len(vals) != len(keys) {
		return nil, fmt.Errorf("asked for %d keys, got %d values", len(keys), len(vals))
	}
	out := make([]lookup, len(keys))
	for i, k := range keys {
		out[i] = lookup{Key: k, Found: vals[i] != nil, Value: string(vals[i])}
	}
	return out, nil
}

func rangeAll(stub shim.ChaincodeStubInterface, args []string) (kvList[kv], error) {
	it, err := stub.GetStateByRange(args[0], args[1])
	if err != nil {
		return kvList[kv]{}, err
	}
	kvs, err := collect(it, plainKV)
	return kvList[kv]{kvs}, err
}

// rangePage must run as a query (evaluate): the peer refuses paginated
// queries in a transaction that writes.
func rangePage(stub shim.ChaincodeStubInterface, args []string) (page[kv], error) {
	size, err := pageSize(args[2])
	if err != nil {
		return page[kv]{}, err
	}
	it, md, err := stub.GetStateByRangeWithPagination(args[0], args[1], size, args[3])
	if err != nil {
		return page[kv]{}, err
	}
	return pageOf(it, md, plainKV)
}

func pageSize(s string) (int32, error) {
	n, err := atoi("pageSize", s, 1<<31-1)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errors.New("pageSize must be at least 1")
	}
	return int32(n), nil
}

// prefixEnd is the exclusive end of the keys that start with prefix: the
// largest rune, because range bounds travel in protobuf strings and must
// stay valid UTF-8.
func prefixEnd(prefix string) string { return prefix + string(utf8.MaxRune) }

type countResult struct {
	Prefix string `json:"prefix"`
	Count  int    `json:"count"`
}

func countRange(stub shim.ChaincodeStubInterface, args []string) (_ countResult, err error) {
	it, err := stub.GetStateByRange(args[0], prefixEnd(args[0]))
	if err != nil {
		return countResult{}, err
	}
	defer closeInto(it, &err)
	n := 0
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			return countResult{}, err
		}
		n++
	}
	return countResult{args[0], n}, nil
}

// The ways PutMany and DeleteMany send their writes.
const (
	batchExplicit = "explicit" // StartWriteBatch … FinishWriteBatch
	batchImplicit = "implicit" // StartWriteBatch; the shim finishes it when Invoke returns
	batchNone     = "none"     // one message per write
)

type manyResult struct {
	Prefix  string `json:"prefix"`
	Written int    `json:"written"`
	Mode    string `json:"mode"`
}

// ManyKey is the i-th key PutMany and DeleteMany touch: the prefix and i
// in six or more digits, so the keys sort in order.
func ManyKey(prefix string, i int) string { return fmt.Sprintf("%s%06d", prefix, i) }

// ManyValue is the value PutMany writes under the i-th key: size bytes of
// the letters a to z, starting at the i-th.
func ManyValue(i, size int) []byte {
	v := make([]byte, size)
	for j := range v {
		v[j] = 'a' + byte((i+j)%26)
	}
	return v
}

// putMany writes n keys in one transaction; with n above the peer's batch
// limit the shim has to split the batch.
func putMany(stub shim.ChaincodeStubInterface, args []string) (manyResult, error) {
	n, err := atoi("n", args[1], maxManyKeys)
	if err != nil {
		return manyResult{}, err
	}
	size, err := atoi("size", args[2], maxValueBytes)
	if err != nil {
		return manyResult{}, err
	}
	if n*size > maxValueBytes {
		return manyResult{}, fmt.Errorf("n×size = %d bytes is more than the limit %d", n*size, maxValueBytes)
	}
	mode, err := batchMode(args[3:])
	if err != nil {
		return manyResult{}, err
	}
	err = writeMany(stub, mode, n, func(i int) error { return stub.PutState(ManyKey(args[0], i), ManyValue(i, size)) })
	return manyResult{args[0], n, mode}, err
}

func deleteMany(stub shim.ChaincodeStubInterface, args []string) (manyResult, error) {
	n, err := atoi("n", args[1], maxManyKeys)
	if err != nil {
		return manyResult{}, err
	}
	mode, err := batchMode(args[2:])
	if err != nil {
		return manyResult{}, err
	}
	err = writeMany(stub, mode, n, func(i int) error { return stub.DelState(ManyKey(args[0], i)) })
	return manyResult{args[0], n, mode}, err
}

func batchMode(args []string) (string, error) {
	if len(args) == 0 {
		return batchExplicit, nil
	}
	switch args[0] {
	case batchExplicit, batchImplicit, batchNone:
		return args[0], nil
	}
	return "", fmt.Errorf("mode %q: want %s, %s or %s", args[0], batchExplicit, batchImplicit, batchNone)
}

func writeMany(stub shim.ChaincodeStubInterface, mode string, n int, write func(i int) error) error {
	if mode != batchNone {
		stub.StartWriteBatch()
	}
	for i := range n {
		if err := write(i); err != nil {
			return err
		}
	}
	if mode == batchExplicit {
		if err := stub.FinishWriteBatch(); err != nil {
			return fmt.Errorf("FinishWriteBatch: %w", err)
		}
	}
	return nil
}

type modification struct {
	TxID      string `json:"tx_id"`
	Value     string `json:"value"`
	IsDelete  bool   `json:"is_delete"`
	Timestamp string `json:"timestamp"`
}

func history(stub shim.ChaincodeStubInterface, args []string) (_ []modification, err error) {
	it, err := stub.GetHistoryForKey(args[0])
	if err != nil {
		return nil, err
	}
	defer closeInto(it, &err)
	out := []modification{}
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return nil, err
		}
		out = append(out, modification{
			TxID: m.GetTxId(), Value: string(m.GetValue()), IsDelete: m.GetIsDelete(),
			Timestamp: m.GetTimestamp().AsTime().UTC().Format(time.RFC3339Nano),
		})
	}
	return out, nil
}
