package stubareas

import (
	"github.com/ccserver/ccserver/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

func putComposite(stub shim.ChaincodeStubInterface, args []string) (keyResult, error) {
	key, err := stub.CreateCompositeKey(args[0], args[2:])
	if err != nil {
		return keyResult{}, err
	}
	return keyResult{key}, stub.PutState(key, []byte(args[1]))
}

func partial(stub shim.ChaincodeStubInterface, args []string) (kvList[compositeKV], error) {
	it, err := stub.GetStateByPartialCompositeKey(args[0], args[1:])
	if err != nil {
		return kvList[compositeKV]{}, err
	}
	kvs, err := collect(it, splitter(stub))
	return kvList[compositeKV]{kvs}, err
}

// partialPage must run as a query, like rangePage.
func partialPage(stub shim.ChaincodeStubInterface, args []string) (page[compositeKV], error) {
	size, err := pageSize(args[1])
	if err != nil {
		return page[compositeKV]{}, err
	}
	it, md, err := stub.GetStateByPartialCompositeKeyWithPagination(args[0], args[3:], size, args[2])
	if err != nil {
		return page[compositeKV]{}, err
	}
	return pageOf(it, md, splitter(stub))
}

func allCompositePage(stub shim.ChaincodeStubInterface, args []string) (page[compositeKV], error) {
	size, err := pageSize(args[0])
	if err != nil {
		return page[compositeKV]{}, err
	}
	it, md, err := stub.GetAllStatesCompositeKeyWithPagination(size, args[1])
	if err != nil {
		return page[compositeKV]{}, err
	}
	return pageOf(it, md, splitter(stub))
}

func plainKV(r *queryresult.KV) (kv, error) {
	return kv{Key: r.GetKey(), Value: string(r.GetValue())}, nil
}

// splitter converts results whose keys are composite, splitting each key
// with the stub as a chaincode would.
func splitter(stub shim.ChaincodeStubInterface) func(*queryresult.KV) (compositeKV, error) {
	return func(r *queryresult.KV) (compositeKV, error) {
		objectType, attrs, err := stub.SplitCompositeKey(r.GetKey())
		if err != nil {
			return compositeKV{}, err
		}
		if attrs == nil {
			attrs = []string{}
		}
		return compositeKV{Key: r.GetKey(), ObjectType: objectType, Attributes: attrs, Value: string(r.GetValue())}, nil
	}
}

// collect drains and closes a state iterator. The list is never nil, so
// an empty result is [] in JSON.
func collect[T any](it shim.StateQueryIteratorInterface, conv func(*queryresult.KV) (T, error)) (_ []T, err error) {
	defer closeInto(it, &err)
	out := []T{}
	for it.HasNext() {
		r, err := it.Next()
		if err != nil {
			return nil, err
		}
		v, err := conv(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func pageOf[T any](it shim.StateQueryIteratorInterface, md *pb.QueryResponseMetadata, conv func(*queryresult.KV) (T, error)) (page[T], error) {
	kvs, err := collect(it, conv)
	if err != nil {
		return page[T]{}, err
	}
	return page[T]{KVs: kvs, Bookmark: md.GetBookmark(), Fetched: md.GetFetchedRecordsCount()}, nil
}

// closeInto closes it and reports a close failure through *err unless an
// earlier error is already there: a failed close means the peer did not
// release the iterator, which a test should hear about.
func closeInto(it shim.CommonIteratorInterface, err *error) {
	if cerr := it.Close(); *err == nil {
		*err = cerr
	}
}
