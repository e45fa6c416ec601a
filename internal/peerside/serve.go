package peerside

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// The peer's texts for two refusals.
var (
	errPrivateInInit = errors.New("private data APIs are not allowed in chaincode Init()")
	errPurgePublic   = errors.New("only applicable for private data")
)

// serve answers one request of a running transaction with RESPONSE or ERROR.
func (c *Conn) serve(st *txState, req *peer.ChaincodeMessage) (reply *peer.ChaincodeMessage) {
	defer func() { // like the peer since fabric#5048: a panic becomes ERROR
		if r := recover(); r != nil {
			c.o.logf("peerside: panic handling %s for [%s]: %v", req.Type, shortTx(req.Txid), r)
			reply = errorReply(req, errors.New("panic during execution"))
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
		// Like a 3.1 peer: served whatever READY announced, with no limit
		// on the number of keys (the limit is the shim's to respect).
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
		if st.isInit { // the peer refuses this one in Init even without a collection
			return nil, errPrivateInInit
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
		return nil, st.write(putWrite(m.Collection, m.Key, m.Value))
	case peer.ChaincodeMessage_DEL_STATE, peer.ChaincodeMessage_PURGE_PRIVATE_DATA:
		m := &peer.DelState{}
		if err := c.decode(st, req, m, m.GetCollection); err != nil {
			return nil, err
		}
		w := Write{Kind: WriteDelete, Collection: m.Collection, Key: m.Key}
		if req.Type == peer.ChaincodeMessage_PURGE_PRIVATE_DATA {
			if m.Collection == "" {
				return nil, errPurgePublic
			}
			w.Kind = WritePurge
		}
		return nil, st.write(w)
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
		return nil, st.write(Write{Kind: WriteMetadata, Collection: m.Collection, Key: m.Key, MetaKey: m.Metadata.Metakey, Value: m.Metadata.Value})
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
	if collection == nil || collection() == "" {
		return nil
	}
	if st.isInit {
		return errPrivateInInit
	}
	return c.checkCollection(st, req.Type, collection())
}

// checkCollection refuses a collection the chaincode has no config for,
// with the peer's texts: the hash is checked against the collection
// config, every other request by the collection store first.
func (c *Conn) checkCollection(st *txState, typ peer.ChaincodeMessage_Type, coll string) error {
	if c.o.collections == nil || c.o.collections[coll] {
		return nil
	}
	if typ == peer.ChaincodeMessage_GET_PRIVATE_DATA_HASH {
		return fmt.Errorf("collection [%s] not defined in the collection config for chaincode [%s]", coll, c.o.namespace)
	}
	return fmt.Errorf("collection %s/%s/%s could not be found", st.channel, c.o.namespace, coll)
}

// putWrite is a PUT_STATE: the peer records an empty value as a delete.
func putWrite(coll, key string, value []byte) Write {
	if len(value) == 0 {
		return Write{Kind: WriteDelete, Collection: coll, Key: key}
	}
	return Write{Kind: WritePut, Collection: coll, Key: key, Value: value}
}

// write adds one write to the transaction after the peer's checks. Keys
// are not validated: a LevelDB peer accepts any key, and protobuf has
// already refused a key that is not UTF-8.
func (t *txState) write(w Write) error {
	if t.isInit && w.Collection != "" {
		return errPrivateInInit
	}
	if err := t.checkWrite(); err != nil {
		return err
	}
	t.writes.add(w)
	return nil
}

// writeBatch applies the records in order like a 3.1 peer: whatever READY
// announced, with no limit on the batch size, and a failing record leaves
// the records before it in the write set.
func (c *Conn) writeBatch(st *txState, req *peer.ChaincodeMessage) error {
	b := &peer.WriteBatchState{}
	if err := proto.Unmarshal(req.Payload, b); err != nil {
		return fmt.Errorf("unmarshal WRITE_BATCH_STATE payload: %w", err)
	}
	for _, r := range b.Rec {
		var w Write
		switch r.Type {
		case peer.WriteRecord_PUT_STATE:
			w = putWrite(r.Collection, r.Key, r.Value)
		case peer.WriteRecord_DEL_STATE:
			w = Write{Kind: WriteDelete, Collection: r.Collection, Key: r.Key}
		case peer.WriteRecord_PURGE_PRIVATE_DATA:
			if r.Collection == "" {
				return errPurgePublic
			}
			w = Write{Kind: WritePurge, Collection: r.Collection, Key: r.Key}
		case peer.WriteRecord_PUT_STATE_METADATA:
			w = Write{Kind: WriteMetadata, Collection: r.Collection, Key: r.Key, MetaKey: r.GetMetadata().GetMetakey(), Value: r.GetMetadata().GetValue()}
		default:
			return errors.New("unknown operation type")
		}
		if w.Collection != "" && !st.isInit {
			if err := c.checkCollection(st, req.Type, w.Collection); err != nil {
				return err
			}
		}
		if err := st.write(w); err != nil {
			return err
		}
	}
	return nil
}
