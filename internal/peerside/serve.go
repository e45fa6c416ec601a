package peerside

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

var errPrivateInInit = errors.New("private data APIs are not allowed in chaincode Init()")

// serve answers one request of a running transaction with RESPONSE or ERROR.
func (c *Conn) serve(st *txState, req *peer.ChaincodeMessage) (reply *peer.ChaincodeMessage) {
	defer func() { // like the peer since fabric#5048: a panic becomes ERROR
		if r := recover(); r != nil {
			reply = errorReply(req, fmt.Errorf("panic while handling request: %v", r))
		}
	}()
	payload, err := c.handle(st, req)
	if err != nil {
		return errorReply(req, err)
	}
	return &peer.ChaincodeMessage{Type: peer.ChaincodeMessage_RESPONSE, Payload: payload, Txid: req.Txid, ChannelId: req.ChannelId}
}

func (c *Conn) handle(st *txState, req *peer.ChaincodeMessage) ([]byte, error) {
	switch req.Type {
	case peer.ChaincodeMessage_GET_STATE:
		m := &peer.GetState{}
		if err := c.decode(st, req, m, m.GetCollection); err != nil {
			return nil, err
		}
		return c.o.store.Get(m.Collection, m.Key)
	case peer.ChaincodeMessage_GET_STATE_MULTIPLE:
		m := &peer.GetStateMultiple{}
		if err := c.decode(st, req, m, m.GetCollection); err != nil {
			return nil, err
		}
		if !c.o.params.GetUseGetMultipleKeys() {
			return nil, errors.New("GET_STATE_MULTIPLE is not enabled on this peer (use_get_multiple_keys=false in READY)")
		}
		res := &peer.GetStateMultipleResult{Values: make([][]byte, len(m.Keys))}
		for i, k := range m.Keys {
			v, err := c.o.store.Get(m.Collection, k)
			if err != nil {
				return nil, err
			}
			res.Values[i] = v
		}
		return proto.Marshal(res)
	case peer.ChaincodeMessage_GET_PRIVATE_DATA_HASH:
		m := &peer.GetState{}
		if err := c.decode(st, req, m, m.GetCollection); err != nil {
			return nil, err
		}
		if m.Collection == "" {
			return nil, errors.New("GET_PRIVATE_DATA_HASH needs a collection")
		}
		v, err := c.o.store.Get(m.Collection, m.Key)
		if err != nil || v == nil {
			return nil, err
		}
		sum := sha256.Sum256(v)
		return sum[:], nil
	case peer.ChaincodeMessage_PUT_STATE:
		m := &peer.PutState{}
		if err := c.decode(st, req, m, m.GetCollection); err != nil {
			return nil, err
		}
		if err := validKey(m.Key); err != nil {
			return nil, err
		}
		kind := WritePut
		if len(m.Value) == 0 { // Fabric records an empty value as a delete
			kind = WriteDelete
		}
		st.writes.add(Write{Kind: kind, Collection: m.Collection, Key: m.Key, Value: m.Value})
		return nil, nil
	case peer.ChaincodeMessage_DEL_STATE, peer.ChaincodeMessage_PURGE_PRIVATE_DATA:
		m := &peer.DelState{}
		if err := c.decode(st, req, m, m.GetCollection); err != nil {
			return nil, err
		}
		kind := WriteDelete
		if req.Type == peer.ChaincodeMessage_PURGE_PRIVATE_DATA {
			if m.Collection == "" {
				return nil, errors.New("PURGE_PRIVATE_DATA needs a collection")
			}
			kind = WritePurge
		}
		st.writes.add(Write{Kind: kind, Collection: m.Collection, Key: m.Key})
		return nil, nil
	case peer.ChaincodeMessage_GET_STATE_METADATA:
		m := &peer.GetStateMetadata{}
		if err := c.decode(st, req, m, m.GetCollection); err != nil {
			return nil, err
		}
		md, err := c.o.store.Metadata(m.Collection, m.Key)
		if err != nil {
			return nil, err
		}
		res := &peer.StateMetadataResult{}
		for k, v := range md {
			res.Entries = append(res.Entries, &peer.StateMetadata{Metakey: k, Value: v})
		}
		sort.Slice(res.Entries, func(i, j int) bool { return res.Entries[i].Metakey < res.Entries[j].Metakey })
		return proto.Marshal(res)
	case peer.ChaincodeMessage_PUT_STATE_METADATA:
		m := &peer.PutStateMetadata{}
		if err := c.decode(st, req, m, m.GetCollection); err != nil {
			return nil, err
		}
		if m.Metadata == nil || m.Metadata.Metakey == "" {
			return nil, errors.New("PUT_STATE_METADATA needs a metadata entry with a metakey")
		}
		if err := validKey(m.Key); err != nil {
			return nil, err
		}
		st.writes.add(Write{Kind: WriteMetadata, Collection: m.Collection, Key: m.Key, MetaKey: m.Metadata.Metakey, Value: m.Metadata.Value})
		return nil, nil
	case peer.ChaincodeMessage_WRITE_BATCH_STATE:
		return nil, c.writeBatch(st, req)
	case peer.ChaincodeMessage_INVOKE_CHAINCODE:
		m := &peer.ChaincodeSpec{}
		_ = proto.Unmarshal(req.Payload, m)
		return nil, fmt.Errorf("chaincode-to-chaincode calls are not supported locally (target %q): this peer serves one chaincode; test the called chaincode on its own", m.GetChaincodeId().GetName())
	case peer.ChaincodeMessage_GET_STATE_BY_RANGE, peer.ChaincodeMessage_GET_QUERY_RESULT,
		peer.ChaincodeMessage_GET_HISTORY_FOR_KEY, peer.ChaincodeMessage_QUERY_STATE_NEXT,
		peer.ChaincodeMessage_QUERY_STATE_CLOSE:
		return c.handleQuery(st, req)
	}
	return nil, fmt.Errorf("unsupported request type %s", req.Type)
}

// decode unmarshals a request payload and applies the peer's rule that
// private data cannot be touched in Init.
func (c *Conn) decode(st *txState, req *peer.ChaincodeMessage, m proto.Message, collection func() string) error {
	if err := proto.Unmarshal(req.Payload, m); err != nil {
		return fmt.Errorf("unmarshal %s payload: %w", req.Type, err)
	}
	if st.isInit && collection != nil && collection() != "" {
		return errPrivateInInit
	}
	return nil
}

func validKey(key string) error {
	if key == "" {
		return errors.New("invalid key: an empty string is not a valid key")
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("invalid key %q: keys must be valid UTF-8", key)
	}
	return nil
}

func (c *Conn) writeBatch(st *txState, req *peer.ChaincodeMessage) error {
	if !c.o.params.GetUseWriteBatch() {
		return errors.New("WRITE_BATCH_STATE is not enabled on this peer (use_write_batch=false in READY)")
	}
	b := &peer.WriteBatchState{}
	if err := proto.Unmarshal(req.Payload, b); err != nil {
		return fmt.Errorf("unmarshal WRITE_BATCH_STATE payload: %w", err)
	}
	// Validate the whole batch first so a bad record leaves no partial writes.
	var out []Write
	for i, r := range b.Rec {
		if st.isInit && r.Collection != "" {
			return errPrivateInInit
		}
		if err := validKey(r.Key); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		w := Write{Collection: r.Collection, Key: r.Key}
		switch r.Type {
		case peer.WriteRecord_PUT_STATE:
			w.Kind, w.Value = WritePut, r.Value
			if len(r.Value) == 0 {
				w.Kind = WriteDelete
			}
		case peer.WriteRecord_DEL_STATE:
			w.Kind = WriteDelete
		case peer.WriteRecord_PURGE_PRIVATE_DATA:
			if r.Collection == "" {
				return fmt.Errorf("record %d: PURGE_PRIVATE_DATA needs a collection", i)
			}
			w.Kind = WritePurge
		case peer.WriteRecord_PUT_STATE_METADATA:
			if r.Metadata == nil || r.Metadata.Metakey == "" {
				return fmt.Errorf("record %d: PUT_STATE_METADATA needs a metadata entry with a metakey", i)
			}
			w.Kind, w.MetaKey, w.Value = WriteMetadata, r.Metadata.Metakey, r.Metadata.Value
		default:
			return fmt.Errorf("record %d: unknown record type %s", i, r.Type)
		}
		out = append(out, w)
	}
	for _, w := range out {
		st.writes.add(w)
	}
	return nil
}
