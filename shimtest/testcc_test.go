package shimtest_test

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ccserver/ccserver/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// storeCC exercises every area of the stub; each function answers
// something a test can compare as text.
type storeCC struct{}

func (storeCC) Init(stub shim.ChaincodeStubInterface) *pb.Response {
	args := stub.GetStringArgs()
	if len(args) > 0 && args[0] == "fail" {
		return shim.Error("init refused")
	}
	if len(args) > 0 && args[0] == "private" {
		if err := stub.PutPrivateData("c", "k", []byte("v")); err != nil {
			return shim.Error(err.Error())
		}
	}
	if err := stub.PutState("initialized", []byte(strings.Join(args, ","))); err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(nil)
}

func (storeCC) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {
	fn, args := stub.GetFunctionAndParameters()
	out, err := run(stub, fn, args)
	if err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(out)
}

func run(stub shim.ChaincodeStubInterface, fn string, a []string) ([]byte, error) {
	switch fn {
	case "bput": // put in a write batch, if the peer supports them
		stub.StartWriteBatch()
		return run(stub, "put", a)
	case "put": // key value [key value...]
		for i := 0; i+1 < len(a); i += 2 {
			if err := stub.PutState(a[i], []byte(a[i+1])); err != nil {
				return nil, err
			}
		}
		return nil, nil
	case "get":
		return stub.GetState(a[0])
	case "putget": // key value: what a read after a write in the same transaction sees
		if err := stub.PutState(a[0], []byte(a[1])); err != nil {
			return nil, err
		}
		v, err := stub.GetState(a[0])
		return fmt.Appendf(nil, "read %q", v), err
	case "del":
		return nil, stub.DelState(a[0])
	case "multi":
		vs, err := stub.GetMultipleStates(a...)
		return values(vs, err)
	case "range": // start end
		it, err := stub.GetStateByRange(a[0], a[1])
		return keys(it, nil, err)
	case "rangepage": // start end size bookmark
		it, md, err := stub.GetStateByRangeWithPagination(a[0], a[1], atoi32(a[2]), a[3])
		return keys(it, md, err)
	case "ckput": // objectType attrs...
		k, err := stub.CreateCompositeKey(a[0], a[1:])
		if err != nil {
			return nil, err
		}
		return nil, stub.PutState(k, []byte("v"))
	case "partial": // objectType attrs...
		it, err := stub.GetStateByPartialCompositeKey(a[0], a[1:])
		return splitKeys(stub, it, nil, err)
	case "partialpage": // objectType size bookmark attrs...
		it, md, err := stub.GetStateByPartialCompositeKeyWithPagination(a[0], a[3:], atoi32(a[1]), a[2])
		return splitKeys(stub, it, md, err)
	case "rich":
		it, err := stub.GetQueryResult(a[0])
		return keys(it, nil, err)
	case "richpage": // query size bookmark
		it, md, err := stub.GetQueryResultWithPagination(a[0], atoi32(a[1]), a[2])
		return keys(it, md, err)
	case "history":
		it, err := stub.GetHistoryForKey(a[0])
		if err != nil {
			return nil, err
		}
		defer it.Close()
		var out []string
		for it.HasNext() {
			m, err := it.Next()
			if err != nil {
				return nil, err
			}
			out = append(out, fmt.Sprintf("%s=%s/%v@%s", short(m.TxId), m.Value, m.IsDelete, m.Timestamp.AsTime().UTC().Format(time.RFC3339)))
		}
		return []byte(strings.Join(out, " ")), nil
	case "pput": // collection key value
		return nil, stub.PutPrivateData(a[0], a[1], []byte(a[2]))
	case "pget":
		return stub.GetPrivateData(a[0], a[1])
	case "pmulti":
		vs, err := stub.GetMultiplePrivateData(a[0], a[1:]...)
		return values(vs, err)
	case "phash":
		h, err := stub.GetPrivateDataHash(a[0], a[1])
		return []byte(hex.EncodeToString(h)), err
	case "pdel":
		return nil, stub.DelPrivateData(a[0], a[1])
	case "ppurge":
		return nil, stub.PurgePrivateData(a[0], a[1])
	case "prange":
		it, err := stub.GetPrivateDataByRange(a[0], a[1], a[2])
		return keys(it, nil, err)
	case "prich":
		it, err := stub.GetPrivateDataQueryResult(a[0], a[1])
		return keys(it, nil, err)
	case "setep": // key policy
		return nil, stub.SetStateValidationParameter(a[0], []byte(a[1]))
	case "getep":
		return stub.GetStateValidationParameter(a[0])
	case "psetep": // collection key policy
		return nil, stub.SetPrivateDataValidationParameter(a[0], a[1], []byte(a[2]))
	case "pgetep":
		return stub.GetPrivateDataValidationParameter(a[0], a[1])
	case "event": // name payload
		return nil, stub.SetEvent(a[0], []byte(a[1]))
	case "transient":
		m, err := stub.GetTransient()
		if err != nil {
			return nil, err
		}
		v, ok := m[a[0]]
		if !ok {
			return nil, fmt.Errorf("no transient %q", a[0])
		}
		return v, nil
	case "creator":
		return creator(stub)
	case "txinfo":
		ts, err := stub.GetTxTimestamp()
		if err != nil {
			return nil, err
		}
		return fmt.Appendf(nil, "%s %s %s", stub.GetTxID(), stub.GetChannelID(), ts.AsTime().UTC().Format(time.RFC3339Nano)), nil
	case "invokecc":
		r := stub.InvokeChaincode("other", [][]byte{[]byte("f")}, "")
		return nil, fmt.Errorf("status %d: %s", r.Status, r.Payload)
	case "panic":
		panic("chaincode bug")
	case "putfail": // writes, then fails: nothing may commit
		if err := stub.PutState(a[0], []byte(a[1])); err != nil {
			return nil, err
		}
		return nil, errors.New("refused after writing")
	case "badput": // a key that cannot be sent (not UTF-8), in a write batch
		stub.StartWriteBatch()
		if err := stub.PutState("\xff", []byte("v")); err != nil {
			return nil, fmt.Errorf("put refused: %w", err)
		}
		return []byte("put accepted"), nil
	}
	return nil, fmt.Errorf("unknown function %q", fn)
}

func atoi32(s string) int32 {
	n, _ := strconv.Atoi(s)
	return int32(n)
}

func short(txid string) string { return txid[:min(8, len(txid))] }

func values(vs [][]byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*string, len(vs))
	for i, v := range vs {
		if v != nil {
			s := string(v)
			out[i] = &s
		}
	}
	return json.Marshal(out)
}

// keys lists the keys of a query, then "|bookmark|count" for a page.
func keys(it shim.StateQueryIteratorInterface, md *pb.QueryResponseMetadata, err error) ([]byte, error) {
	return collect(it, md, err, func(k string) (string, error) { return k, nil })
}

func splitKeys(stub shim.ChaincodeStubInterface, it shim.StateQueryIteratorInterface, md *pb.QueryResponseMetadata, err error) ([]byte, error) {
	return collect(it, md, err, func(k string) (string, error) {
		typ, attrs, err := stub.SplitCompositeKey(k)
		return strings.Join(append([]string{typ}, attrs...), "/"), err
	})
}

func collect(it shim.StateQueryIteratorInterface, md *pb.QueryResponseMetadata, err error, name func(string) (string, error)) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []string
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		n, err := name(kv.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	s := strings.Join(out, " ")
	if md != nil {
		s += fmt.Sprintf("|%s|%d", md.Bookmark, md.FetchedRecordsCount)
	}
	return []byte(s), nil
}

// creator answers "<mspid> <common name> <attributes extension>", read the
// way client-identity code reads it.
func creator(stub shim.ChaincodeStubInterface) ([]byte, error) {
	raw, err := stub.GetCreator()
	if err != nil {
		return nil, err
	}
	var id msp.SerializedIdentity
	if err := proto.Unmarshal(raw, &id); err != nil {
		return nil, err
	}
	block, _ := pem.Decode(id.IdBytes)
	if block == nil {
		return nil, errors.New("creator is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	attrs := "-"
	for _, e := range cert.Extensions {
		if e.Id.String() == "1.2.3.4.5.6.7.8.1" {
			attrs = string(e.Value)
		}
	}
	return fmt.Appendf(nil, "%s %s %s", id.Mspid, cert.Subject.CommonName, attrs), nil
}
