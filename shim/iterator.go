package shim

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/ccserver/ccserver/shim/internal/engine"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

type resultType uint8

// The kinds of result an iterator yields.
const (
	StateQueryResult resultType = iota + 1
	HistoryQueryResult
)

// CommonIterator walks the pages of a query result. Results are kept as
// the raw bytes the peer sent and decoded one at a time by Next, so a
// chaincode that stops early pays only for what it read.
type CommonIterator struct {
	tx   *engine.Tx
	id   string
	page page
	pos  int
	// released is set once the peer has said has_more=false: it has freed
	// the iterator already, so Close needs no round trip.
	released bool
	closed   bool
	// kvs is a per-page slab for StateQueryIterator results: one
	// allocation per page instead of one per result.
	kvs []queryresult.KV
	ns  string // last namespace seen, reused to avoid a string per result
}

// StateQueryIterator yields key-value results.
type StateQueryIterator struct {
	*CommonIterator
}

// HistoryQueryIterator yields a key's modifications.
type HistoryQueryIterator struct {
	*CommonIterator
}

// page is a QueryResponse decoded without copying: decodePage checks it
// and counts its results, next reads them in place one at a time.
type page struct {
	raw      []byte // the whole reply; results are sub-slices of it
	rest     []byte // the part of raw after the last result read
	count    int
	hasMore  bool
	id       []byte
	metadata []byte
}

// next returns the next result (nil after the last); decodePage has
// checked the encoding.
func (p *page) next() []byte {
	for len(p.rest) > 0 {
		num, typ, n := protowire.ConsumeTag(p.rest)
		if n < 0 {
			break
		}
		p.rest = p.rest[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(p.rest)
			if n < 0 {
				break
			}
			p.rest = p.rest[n:]
			rb, _ := resultBytes(v)
			return rb
		}
		if n = protowire.ConsumeFieldValue(num, typ, p.rest); n < 0 {
			break
		}
		p.rest = p.rest[n:]
	}
	p.rest = nil
	return nil
}

func decodePage(b []byte) (page, error) {
	p := page{raw: b, rest: b}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return p, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return p, protowire.ParseError(n)
			}
			b = b[n:]
			if _, err := resultBytes(v); err != nil {
				return p, err
			}
			p.count++
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return p, protowire.ParseError(n)
			}
			b = b[n:]
			p.hasMore = v != 0
		case num == 3 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return p, protowire.ParseError(n)
			}
			b = b[n:]
			p.id = v
		case num == 4 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return p, protowire.ParseError(n)
			}
			b = b[n:]
			p.metadata = v
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return p, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return p, nil
}

// resultBytes extracts field 1 of a QueryResultBytes message.
func resultBytes(b []byte) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			out, b = v, b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return out, nil
}

// wellFormed reports whether b parses as protobuf wire format, without
// decoding any field: a cheap check made before the proposal is parsed lazily.
func wellFormed(b []byte) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

// newStateIterator makes the StateQueryIterator and its CommonIterator in
// one allocation.
func newStateIterator(tx *engine.Tx, raw []byte) (*StateQueryIterator, *peer.QueryResponseMetadata, error) {
	both := new(struct {
		StateQueryIterator
		common CommonIterator
	})
	md, err := initIterator(&both.common, tx, raw)
	if err != nil {
		return nil, nil, err
	}
	both.CommonIterator = &both.common
	return &both.StateQueryIterator, md, nil
}

func newIterator(tx *engine.Tx, raw []byte) (*CommonIterator, *peer.QueryResponseMetadata, error) {
	it := new(CommonIterator)
	md, err := initIterator(it, tx, raw)
	if err != nil {
		return nil, nil, err
	}
	return it, md, nil
}

func initIterator(it *CommonIterator, tx *engine.Tx, raw []byte) (*peer.QueryResponseMetadata, error) {
	p, err := decodePage(raw)
	if err != nil {
		return nil, fmt.Errorf("decode query response: %w", err)
	}
	it.tx, it.page, it.released = tx, p, !p.hasMore
	if p.hasMore { // the id is needed only to ask for more, or to close
		it.id = string(p.id)
	}
	var md *peer.QueryResponseMetadata
	if len(p.metadata) > 0 {
		md = &peer.QueryResponseMetadata{}
		if err := proto.Unmarshal(p.metadata, md); err != nil {
			return nil, fmt.Errorf("decode query response metadata: %w", err)
		}
	}
	return md, nil
}

// HasNext reports whether another result is available.
func (it *CommonIterator) HasNext() bool {
	return it.pos < it.page.count || it.page.hasMore
}

// nextBytes returns the next raw result, fetching the next page from the
// peer after the current one is consumed, as the original shim does.
func (it *CommonIterator) nextBytes() ([]byte, error) {
	if it.pos >= it.page.count {
		if !it.page.hasMore {
			return nil, errors.New("no such key")
		}
		if err := it.fetch(); err != nil {
			return nil, err
		}
		if it.page.count == 0 {
			return nil, errors.New("no such key")
		}
	}
	b := it.page.next()
	it.pos++
	if it.pos == it.page.count && it.page.hasMore {
		// Prefetch so HasNext is exact and errors surface here.
		if err := it.fetch(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (it *CommonIterator) fetch() error {
	r := engine.QueryStateNextRequest(it.id)
	if err := r.Validate(); err != nil {
		return err
	}
	raw, err := it.tx.CallRequest(peer.ChaincodeMessage_QUERY_STATE_NEXT, r)
	if err != nil {
		return err
	}
	p, err := decodePage(raw)
	if err != nil {
		return fmt.Errorf("decode QUERY_STATE_NEXT reply: %w", err)
	}
	it.page, it.pos = p, 0
	it.kvs = nil
	it.released = !p.hasMore
	return nil
}

func (it *CommonIterator) call(typ peer.ChaincodeMessage_Type, m proto.Message) ([]byte, error) {
	payload, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return it.tx.Call(typ, payload)
}

// Close releases the iterator on the peer. When the peer has already
// released it (the last page said has_more=false) no message is sent.
func (it *CommonIterator) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	if it.released {
		return nil
	}
	_, err := it.call(peer.ChaincodeMessage_QUERY_STATE_CLOSE, &peer.QueryStateClose{Id: it.id})
	return err
}

// Next returns the next key-value result. The value shares memory with the
// page the peer sent; it stays valid for as long as the caller keeps it.
func (it *StateQueryIterator) Next() (*queryresult.KV, error) {
	if it.pos < it.page.count && it.kvs == nil {
		it.kvs = make([]queryresult.KV, it.page.count)
	}
	slot := it.pos
	var kv *queryresult.KV
	if slot < len(it.kvs) {
		kv = &it.kvs[slot]
	}
	b, err := it.nextBytes()
	if err != nil {
		return nil, err
	}
	if kv == nil { // the result came from a page fetched by this call
		it.kvs = make([]queryresult.KV, it.page.count)
		kv = &it.kvs[it.pos-1]
	}
	if err := it.decodeKV(b, kv); err != nil {
		return nil, fmt.Errorf("error unmarshaling result from bytes: %w", err)
	}
	return kv, nil
}

// decodeKV fills kv from the wire bytes of a queryresult.KV without the
// reflection-based decoder: same result, fewer allocations.
func (it *CommonIterator) decodeKV(b []byte, kv *queryresult.KV) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ == protowire.BytesType && num >= 1 && num <= 3 {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			switch num {
			case 1:
				if string(v) != it.ns {
					if !utf8.Valid(v) {
						return errors.New("namespace is not valid UTF-8")
					}
					it.ns = string(v)
				}
				kv.Namespace = it.ns
			case 2:
				if !utf8.Valid(v) {
					return errors.New("key is not valid UTF-8")
				}
				// No copy per key: the page is the frame's own, and chaincode
				// holds only values, capped sub-slices that do not overlap keys.
				kv.Key = engine.AliasString(v)
			case 3:
				kv.Value = v[:len(v):len(v)] // an append must not overwrite the next result
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

// Next returns the next modification.
func (it *HistoryQueryIterator) Next() (*queryresult.KeyModification, error) {
	b, err := it.nextBytes()
	if err != nil {
		return nil, err
	}
	km := &queryresult.KeyModification{}
	if err := proto.Unmarshal(b, km); err != nil {
		return nil, fmt.Errorf("error unmarshaling result from bytes: %w", err)
	}
	return km, nil
}

// ---- query calls on the stub ----

func (s *ChaincodeStub) rangeQuery(collection, start, end string, metadata []byte) (*StateQueryIterator, *peer.QueryResponseMetadata, error) {
	raw, err := s.callRequest(peer.ChaincodeMessage_GET_STATE_BY_RANGE, engine.GetStateByRangeRequest(start, end, collection, metadata))
	if err != nil {
		return nil, nil, err
	}
	return newStateIterator(s.tx, raw)
}

func (s *ChaincodeStub) richQuery(collection, query string, metadata []byte) (*StateQueryIterator, *peer.QueryResponseMetadata, error) {
	raw, err := s.call(peer.ChaincodeMessage_GET_QUERY_RESULT, &peer.GetQueryResult{Query: query, Collection: collection, Metadata: metadata})
	if err != nil {
		return nil, nil, err
	}
	return newStateIterator(s.tx, raw)
}

func queryMetadata(pageSize int32, bookmark string) ([]byte, error) {
	return proto.Marshal(&peer.QueryMetadata{PageSize: pageSize, Bookmark: bookmark})
}

func simpleRange(start, end string) (string, string, error) {
	if start == "" {
		start = emptyKeySubstitute
	}
	return start, end, validateSimpleKeys(start, end)
}

// GetStateByRange iterates over [startKey, endKey).
func (s *ChaincodeStub) GetStateByRange(startKey, endKey string) (StateQueryIteratorInterface, error) {
	start, end, err := simpleRange(startKey, endKey)
	if err != nil {
		return nil, err
	}
	return iterOnly(s.rangeQuery("", start, end, nil))
}

// GetStateByRangeWithPagination iterates over one page of [startKey, endKey).
func (s *ChaincodeStub) GetStateByRangeWithPagination(startKey, endKey string, pageSize int32,
	bookmark string) (StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	start, end, err := simpleRange(startKey, endKey)
	if err != nil {
		return nil, nil, err
	}
	md, err := queryMetadata(pageSize, bookmark)
	if err != nil {
		return nil, nil, err
	}
	return nonNil(s.rangeQuery("", start, end, md))
}

// GetStateByPartialCompositeKey iterates over matching composite keys.
func (s *ChaincodeStub) GetStateByPartialCompositeKey(objectType string, attributes []string) (StateQueryIteratorInterface, error) {
	start, end, err := partialCompositeKeyRange(objectType, attributes)
	if err != nil {
		return nil, err
	}
	return iterOnly(s.rangeQuery("", start, end, nil))
}

// GetStateByPartialCompositeKeyWithPagination pages over matching composite keys.
func (s *ChaincodeStub) GetStateByPartialCompositeKeyWithPagination(objectType string, keys []string,
	pageSize int32, bookmark string) (StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	md, err := queryMetadata(pageSize, bookmark)
	if err != nil {
		return nil, nil, err
	}
	start, end, err := partialCompositeKeyRange(objectType, keys)
	if err != nil {
		return nil, nil, err
	}
	return nonNil(s.rangeQuery("", start, end, md))
}

// GetAllStatesCompositeKeyWithPagination pages over every composite key.
func (s *ChaincodeStub) GetAllStatesCompositeKeyWithPagination(pageSize int32,
	bookmark string) (StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	md, err := queryMetadata(pageSize, bookmark)
	if err != nil {
		return nil, nil, err
	}
	return nonNil(s.rangeQuery("", compositeKeyNamespace, compositeKeyNamespace+string(rune(maxUnicodeRune)), md))
}

// GetQueryResult runs a rich query.
func (s *ChaincodeStub) GetQueryResult(query string) (StateQueryIteratorInterface, error) {
	return iterOnly(s.richQuery("", query, nil))
}

// GetQueryResultWithPagination runs one page of a rich query.
func (s *ChaincodeStub) GetQueryResultWithPagination(query string, pageSize int32,
	bookmark string) (StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	md, err := queryMetadata(pageSize, bookmark)
	if err != nil {
		return nil, nil, err
	}
	return nonNil(s.richQuery("", query, md))
}

// GetHistoryForKey iterates over a key's history.
func (s *ChaincodeStub) GetHistoryForKey(key string) (HistoryQueryIteratorInterface, error) {
	raw, err := s.call(peer.ChaincodeMessage_GET_HISTORY_FOR_KEY, &peer.GetHistoryForKey{Key: key})
	if err != nil {
		return nil, err
	}
	it, _, err := newIterator(s.tx, raw)
	if err != nil {
		return nil, err
	}
	return &HistoryQueryIterator{it}, nil
}

// GetPrivateDataByRange iterates over private keys in [startKey, endKey).
func (s *ChaincodeStub) GetPrivateDataByRange(collection, startKey, endKey string) (StateQueryIteratorInterface, error) {
	if collection == "" {
		return nil, errNoCollection
	}
	start, end, err := simpleRange(startKey, endKey)
	if err != nil {
		return nil, err
	}
	return iterOnly(s.rangeQuery(collection, start, end, nil))
}

// GetPrivateDataByPartialCompositeKey iterates over private composite keys.
func (s *ChaincodeStub) GetPrivateDataByPartialCompositeKey(collection, objectType string, attributes []string) (StateQueryIteratorInterface, error) {
	if collection == "" {
		return nil, errNoCollection
	}
	start, end, err := partialCompositeKeyRange(objectType, attributes)
	if err != nil {
		return nil, err
	}
	return iterOnly(s.rangeQuery(collection, start, end, nil))
}

// GetPrivateDataQueryResult runs a rich query on a collection.
func (s *ChaincodeStub) GetPrivateDataQueryResult(collection, query string) (StateQueryIteratorInterface, error) {
	if collection == "" {
		return nil, errNoCollection
	}
	return iterOnly(s.richQuery(collection, query, nil))
}

// iterOnly is nonNil for the calls that return no pagination metadata.
func iterOnly(it *StateQueryIterator, _ *peer.QueryResponseMetadata, err error) (StateQueryIteratorInterface, error) {
	if err != nil {
		return nil, err
	}
	return it, nil
}

// nonNil converts a typed nil iterator into a nil interface on error.
func nonNil(it *StateQueryIterator, md *peer.QueryResponseMetadata, err error) (StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	if err != nil {
		return nil, nil, err
	}
	return it, md, nil
}
