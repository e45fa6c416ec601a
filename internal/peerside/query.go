package peerside

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// iterator holds the results of one range, rich or history query, already
// collected from committed state and serialized, handed out in pages.
type iterator struct {
	results [][]byte
	pos     int
	meta    *peer.QueryResponseMetadata // paginated queries: the whole page goes in one response with it
}

func (c *Conn) handleQuery(st *txState, req *peer.ChaincodeMessage) ([]byte, error) {
	switch req.Type {
	case peer.ChaincodeMessage_QUERY_STATE_NEXT:
		m := &peer.QueryStateNext{}
		if err := proto.Unmarshal(req.Payload, m); err != nil {
			return nil, fmt.Errorf("unmarshal QUERY_STATE_NEXT payload: %w", err)
		}
		it := st.iters[m.Id]
		if it == nil {
			return nil, errors.New("query iterator not found")
		}
		return c.page(st, m.Id, it)
	case peer.ChaincodeMessage_QUERY_STATE_CLOSE:
		m := &peer.QueryStateClose{}
		if err := proto.Unmarshal(req.Payload, m); err != nil {
			return nil, fmt.Errorf("unmarshal QUERY_STATE_CLOSE payload: %w", err)
		}
		delete(st.iters, m.Id) // closing an unknown or released iterator is a plain success
		return proto.Marshal(&peer.QueryResponse{HasMore: false, Id: m.Id})
	}

	var it *iterator
	var err error
	switch req.Type {
	case peer.ChaincodeMessage_GET_STATE_BY_RANGE:
		m := &peer.GetStateByRange{}
		if err := c.decode(st, req, m, m.GetCollection); err != nil {
			return nil, err
		}
		it, err = c.rangeQuery(st, m)
	case peer.ChaincodeMessage_GET_QUERY_RESULT:
		m := &peer.GetQueryResult{}
		if err := c.decode(st, req, m, m.GetCollection); err != nil {
			return nil, err
		}
		it, err = c.richQuery(st, m)
	case peer.ChaincodeMessage_GET_HISTORY_FOR_KEY:
		m := &peer.GetHistoryForKey{}
		if err := c.decode(st, req, m, nil); err != nil {
			return nil, err
		}
		it, err = c.historyQuery(m.Key)
	}
	if err != nil {
		return nil, err
	}
	id := strconv.FormatUint(c.iterSeq.Add(1), 10)
	st.iters[id] = it
	return c.page(st, id, it)
}

// page returns the next response of an iterator, as the peer's
// BuildQueryResponse does: an unpaginated query comes in batches of at
// most MaxResultsPerPage, has_more=true only when another result is
// known to follow; a paginated query's whole page comes in one response
// with its metadata. The iterator is released as soon as a response
// reports has_more=false.
func (c *Conn) page(st *txState, id string, it *iterator) ([]byte, error) {
	left := len(it.results) - it.pos
	n := min(left, MaxResultsPerPage)
	if it.meta != nil {
		n = left
	}
	resp := &peer.QueryResponse{Id: id, HasMore: n < left}
	for _, r := range it.results[it.pos : it.pos+n] {
		resp.Results = append(resp.Results, &peer.QueryResultBytes{ResultBytes: r})
	}
	it.pos += n
	if !resp.HasMore {
		delete(st.iters, id)
		if it.meta != nil {
			b, err := proto.Marshal(it.meta)
			if err != nil {
				return nil, err
			}
			resp.Metadata = b
		}
	}
	return proto.Marshal(resp)
}

// pagination decodes a request's QueryMetadata and returns, as the peer
// does, whether the query is paginated (metadata with a page size or a
// bookmark) and how many results it may return: the page size when it is
// positive and below the total query limit, else that limit.
func (c *Conn) pagination(b []byte) (*peer.QueryMetadata, int, error) {
	limit := c.o.totalQueryLimit
	if b == nil {
		return nil, limit, nil
	}
	m := &peer.QueryMetadata{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, 0, fmt.Errorf("unmarshal failed: %w", err)
	}
	if m.PageSize > 0 && int(m.PageSize) < limit {
		limit = int(m.PageSize)
	}
	if m.PageSize == 0 && m.Bookmark == "" {
		return nil, limit, nil
	}
	return m, limit, nil
}

func (c *Conn) kv(key string, value []byte) ([]byte, error) {
	return proto.Marshal(&queryresult.KV{Namespace: c.o.namespace, Key: key, Value: value})
}

// rangeQuery serves GET_STATE_BY_RANGE. Pagination applies to public data
// only (the peer ignores it for collections); the bookmark is the key to
// resume from, "" once the range is exhausted.
func (c *Conn) rangeQuery(st *txState, m *peer.GetStateByRange) (*iterator, error) {
	pg, limit, err := c.pagination(m.Metadata)
	if err != nil {
		return nil, err
	}
	if m.Collection != "" {
		pg = nil
	}
	if m.Collection != "" || pg != nil {
		if err := st.beforeQuery(m.Collection != ""); err != nil {
			return nil, err
		}
	}
	start := m.StartKey
	if pg != nil && pg.Bookmark != "" {
		start = pg.Bookmark
	}
	it := &iterator{}
	var scanErr error
	next := ""
	err = c.o.store.Scan(m.Collection, start, m.EndKey, func(k string, v []byte) bool {
		if len(it.results) == limit {
			next = k
			return false
		}
		b, err := c.kv(k, v)
		if err != nil {
			scanErr = err
			return false
		}
		it.results = append(it.results, b)
		return true
	})
	if err == nil {
		err = scanErr
	}
	if err != nil {
		return nil, err
	}
	if pg != nil {
		it.meta = &peer.QueryResponseMetadata{FetchedRecordsCount: int32(len(it.results)), Bookmark: next}
	}
	return it, nil
}

// richQuery serves GET_QUERY_RESULT with the CouchDB selector subset. The
// bookmark of a paginated query is the offset of the next result.
func (c *Conn) richQuery(st *txState, m *peer.GetQueryResult) (*iterator, error) {
	pg, limit, err := c.pagination(m.Metadata)
	if err != nil {
		return nil, err
	}
	if m.Collection != "" {
		pg = nil
	}
	if m.Collection != "" || pg != nil {
		if err := st.beforeQuery(m.Collection != ""); err != nil {
			return nil, err
		}
	}
	q, err := ParseQuery(m.Query)
	if err != nil {
		return nil, err
	}
	var docs []Doc
	err = c.o.store.Scan(m.Collection, "", "", func(k string, v []byte) bool {
		docs = append(docs, Doc{Key: k, Value: v})
		return true
	})
	if err != nil {
		return nil, err
	}
	matched, err := q.Run(docs)
	if err != nil {
		return nil, err
	}
	offset := 0
	if pg != nil {
		if pg.Bookmark != "" {
			if offset, err = strconv.Atoi(pg.Bookmark); err != nil || offset < 0 {
				return nil, fmt.Errorf("invalid bookmark %q: pass the bookmark a previous page returned", pg.Bookmark)
			}
		}
	}
	matched = matched[min(offset, len(matched)):]
	more := len(matched) > limit
	matched = matched[:min(limit, len(matched))]
	it := &iterator{}
	for _, d := range matched {
		b, err := c.kv(d.Key, d.Value)
		if err != nil {
			return nil, err
		}
		it.results = append(it.results, b)
	}
	if pg != nil {
		bm := ""
		if more {
			bm = strconv.Itoa(offset + len(matched))
		}
		it.meta = &peer.QueryResponseMetadata{FetchedRecordsCount: int32(len(matched)), Bookmark: bm}
	}
	return it, nil
}

func (c *Conn) historyQuery(key string) (*iterator, error) {
	mods, err := c.o.store.History(key)
	if err != nil {
		return nil, err
	}
	it := &iterator{}
	for _, h := range mods[:min(len(mods), c.o.totalQueryLimit)] {
		b, err := proto.Marshal(&queryresult.KeyModification{
			TxId: h.TxID, Value: h.Value, Timestamp: timestamppb.New(h.Timestamp), IsDelete: h.IsDelete,
		})
		if err != nil {
			return nil, err
		}
		it.results = append(it.results, b)
	}
	return it, nil
}
