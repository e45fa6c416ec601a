package shim

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/ccserver/ccserver/shim/internal/engine"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// validationParameterMetakey is the metadata key of key-level endorsement
// policies, by the enum's name as the peer expects.
const validationParameterMetakey = "VALIDATION_PARAMETER" // peer.MetaDataKeys_VALIDATION_PARAMETER.String()

// ChaincodeStub is the ChaincodeStubInterface handed to Init and Invoke.
// One stub serves one transaction.
type ChaincodeStub struct {
	TxID      string
	ChannelID string

	tx          *engine.Tx
	args        [][]byte
	decorations map[string][]byte
	signed      *peer.SignedProposal

	// The proposal is parsed on first use: most transactions never ask
	// for the creator, transient map, binding or timestamp.
	ctxOnce   sync.Once
	ctxErr    error
	creator   []byte
	transient map[string][]byte
	binding   []byte
	timestamp *timestamppb.Timestamp

	event *peer.ChaincodeEvent
	batch *writeBatch

	peerOrg string // the org the server admitted the peer as; "" if unknown

	// argBuf holds the arguments of most calls, so they cost no slice.
	argBuf [4][]byte
}

// txState is a transaction's engine state and its stub in one allocation
// (engine.Config.NewTx).
type txState struct {
	tx   engine.Tx
	stub ChaincodeStub
}

func newTxState() *engine.Tx {
	s := new(txState)
	s.tx.Ext = &s.stub
	return &s.tx
}

func newStub(tx *engine.Tx) (*ChaincodeStub, error) {
	msg := tx.Message()
	s, _ := tx.Ext.(*ChaincodeStub)
	if s == nil {
		s = new(ChaincodeStub)
	}
	args, decorations, err := engine.DecodeInput(msg.Payload, s.argBuf[:0])
	if err != nil {
		return nil, fmt.Errorf("[%s] could not decode the transaction input (ChaincodeInput): %w", shortID(msg.Txid), err)
	}
	if msg.Proposal != nil && !wellFormed(msg.Proposal.ProposalBytes) {
		return nil, fmt.Errorf("[%s] the signed proposal is malformed: proposal_bytes is not a valid protobuf message", shortID(msg.Txid))
	}
	// Field by field: args may point into s.argBuf.
	s.TxID, s.ChannelID = msg.Txid, msg.ChannelId
	s.tx = tx
	s.args, s.decorations = args, decorations
	s.signed = msg.Proposal
	return s, nil
}

func shortID(txid string) string {
	if len(txid) < 8 {
		return txid
	}
	return txid[:8]
}

// parseProposal fills the lazily read invocation context.
func (s *ChaincodeStub) parseProposal() error {
	s.ctxOnce.Do(func() {
		if s.signed == nil {
			return
		}
		var prop peer.Proposal
		if err := proto.Unmarshal(s.signed.ProposalBytes, &prop); err != nil {
			s.ctxErr = fmt.Errorf("failed to extract Proposal from SignedProposal: %w", err)
			return
		}
		if len(prop.Header) == 0 {
			s.ctxErr = errors.New("failed to extract Proposal fields: proposal header is nil")
			return
		}
		var hdr common.Header
		if err := proto.Unmarshal(prop.Header, &hdr); err != nil {
			s.ctxErr = fmt.Errorf("failed to extract proposal header: %w", err)
			return
		}
		var chdr common.ChannelHeader
		if err := proto.Unmarshal(hdr.ChannelHeader, &chdr); err != nil {
			s.ctxErr = fmt.Errorf("failed to extract channel header: %w", err)
			return
		}
		if t := common.HeaderType(chdr.Type); t != common.HeaderType_ENDORSER_TRANSACTION && t != common.HeaderType_CONFIG {
			s.ctxErr = fmt.Errorf("invalid channel header type: expected %s or %s, received %s",
				common.HeaderType_ENDORSER_TRANSACTION, common.HeaderType_CONFIG, t)
			return
		}
		var shdr common.SignatureHeader
		if err := proto.Unmarshal(hdr.SignatureHeader, &shdr); err != nil {
			s.ctxErr = fmt.Errorf("failed to extract signature header: %w", err)
			return
		}
		var payload peer.ChaincodeProposalPayload
		if err := proto.Unmarshal(prop.Payload, &payload); err != nil {
			s.ctxErr = fmt.Errorf("failed to extract proposal payload: %w", err)
			return
		}
		s.creator = shdr.Creator
		s.transient = payload.TransientMap
		s.timestamp = chdr.Timestamp
		h := sha256.New()
		h.Write(shdr.Nonce)
		h.Write(shdr.Creator)
		var epoch [8]byte
		binary.LittleEndian.PutUint64(epoch[:], chdr.Epoch)
		h.Write(epoch[:])
		s.binding = h.Sum(nil)
	})
	return s.ctxErr
}

// GetArgs returns the invocation arguments.
func (s *ChaincodeStub) GetArgs() [][]byte { return s.args }

// GetStringArgs returns the invocation arguments as strings.
func (s *ChaincodeStub) GetStringArgs() []string {
	out := make([]string, len(s.args))
	for i, a := range s.args {
		out[i] = string(a)
	}
	return out
}

// GetFunctionAndParameters returns the first argument and the rest.
func (s *ChaincodeStub) GetFunctionAndParameters() (function string, params []string) {
	if len(s.args) == 0 {
		return "", []string{}
	}
	// One slice for the parameters only (none for a call without them):
	// most chaincode calls this on every transaction.
	params = make([]string, len(s.args)-1)
	for i, a := range s.args[1:] {
		params[i] = string(a)
	}
	return string(s.args[0]), params
}

// GetArgsSlice returns the arguments concatenated.
func (s *ChaincodeStub) GetArgsSlice() ([]byte, error) {
	n := 0
	for _, a := range s.args {
		n += len(a)
	}
	out := make([]byte, 0, n)
	for _, a := range s.args {
		out = append(out, a...)
	}
	return out, nil
}

// GetTxID returns the transaction id.
func (s *ChaincodeStub) GetTxID() string { return s.TxID }

// GetChannelID returns the channel id.
func (s *ChaincodeStub) GetChannelID() string { return s.ChannelID }

// GetCreator returns the serialized identity of the submitter.
func (s *ChaincodeStub) GetCreator() ([]byte, error) {
	if err := s.parseProposal(); err != nil {
		return nil, err
	}
	return s.creator, nil
}

// GetTransient returns the transient map.
func (s *ChaincodeStub) GetTransient() (map[string][]byte, error) {
	if err := s.parseProposal(); err != nil {
		return nil, err
	}
	return s.transient, nil
}

// GetBinding returns SHA-256(nonce || creator || epoch).
func (s *ChaincodeStub) GetBinding() ([]byte, error) {
	if err := s.parseProposal(); err != nil {
		return nil, err
	}
	return s.binding, nil
}

// GetDecorations returns the proposal's decorations.
func (s *ChaincodeStub) GetDecorations() map[string][]byte { return s.decorations }

// GetSignedProposal returns the signed proposal.
func (s *ChaincodeStub) GetSignedProposal() (*peer.SignedProposal, error) { return s.signed, nil }

// GetTxTimestamp returns the client's timestamp from the channel header.
func (s *ChaincodeStub) GetTxTimestamp() (*timestamppb.Timestamp, error) {
	if err := s.parseProposal(); err != nil {
		return nil, err
	}
	if s.timestamp == nil {
		return nil, errors.New("the transaction has no signed proposal, so no timestamp")
	}
	return s.timestamp, nil
}

// SetEvent sets the transaction's event; the last call wins.
func (s *ChaincodeStub) SetEvent(name string, payload []byte) error {
	if name == "" {
		return errors.New("event name can not be empty string")
	}
	s.event = &peer.ChaincodeEvent{EventName: name, Payload: payload}
	return nil
}

// ---- calls to the peer ----

func (s *ChaincodeStub) call(typ peer.ChaincodeMessage_Type, m proto.Message) ([]byte, error) {
	payload, err := proto.Marshal(m)
	return s.callEncoded(typ, payload, err)
}

// callEncoded sends a request encoded by the caller.
func (s *ChaincodeStub) callEncoded(typ peer.ChaincodeMessage_Type, payload []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, fmt.Errorf("marshal %s request: %w", typ, err)
	}
	return s.tx.Call(typ, payload)
}

// callRequest sends one of the hot requests, which the engine encodes by
// hand (into the frame itself on a gRPC stream).
func (s *ChaincodeStub) callRequest(typ peer.ChaincodeMessage_Type, r engine.Request) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("marshal %s request: %w", typ, err)
	}
	return s.tx.CallRequest(typ, r)
}

// InvokeChaincode calls another chaincode; failures come back as status
// 500 with the error text in the payload, as with the original shim.
func (s *ChaincodeStub) InvokeChaincode(chaincodeName string, args [][]byte, channel string) *peer.Response {
	if channel != "" {
		chaincodeName = chaincodeName + "/" + channel
	}
	out, err := s.call(peer.ChaincodeMessage_INVOKE_CHAINCODE, &peer.ChaincodeSpec{
		ChaincodeId: &peer.ChaincodeID{Name: chaincodeName},
		Input:       &peer.ChaincodeInput{Args: args},
	})
	if err != nil {
		return &peer.Response{Status: ERROR, Payload: []byte(err.Error())}
	}
	var nested peer.ChaincodeMessage
	if err := proto.Unmarshal(out, &nested); err != nil {
		return &peer.Response{Status: ERROR, Payload: []byte(err.Error())}
	}
	if nested.Type != peer.ChaincodeMessage_COMPLETED {
		return &peer.Response{Status: ERROR, Payload: out}
	}
	var res peer.Response
	if err := proto.Unmarshal(nested.Payload, &res); err != nil {
		return &peer.Response{Status: ERROR, Payload: []byte(err.Error())}
	}
	return &res
}

func (s *ChaincodeStub) getState(collection, key string) ([]byte, error) {
	out, err := s.callRequest(peer.ChaincodeMessage_GET_STATE, engine.GetStateRequest(key, collection))
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// GetState returns the committed value of key, nil if absent.
func (s *ChaincodeStub) GetState(key string) ([]byte, error) { return s.getState("", key) }

// GetMultipleStates returns the committed values of keys in order.
func (s *ChaincodeStub) GetMultipleStates(keys ...string) ([][]byte, error) {
	return s.getMultiple("", keys)
}

func (s *ChaincodeStub) getMultiple(collection string, keys []string) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	p := s.tx.Params()
	out := make([][]byte, 0, len(keys))
	if !p.UseGetMultipleKeys {
		for _, k := range keys {
			v, err := s.getState(collection, k)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	size := int(p.MaxSizeGetMultiKeys)
	for start := 0; start < len(keys); start += size {
		chunk := keys[start:min(start+size, len(keys))]
		raw, err := s.call(peer.ChaincodeMessage_GET_STATE_MULTIPLE, &peer.GetStateMultiple{Keys: chunk, Collection: collection})
		if err != nil {
			return nil, err
		}
		var res peer.GetStateMultipleResult
		if err := proto.Unmarshal(raw, &res); err != nil {
			return nil, fmt.Errorf("decode GET_STATE_MULTIPLE reply: %w", err)
		}
		if len(res.Values) != len(chunk) {
			return nil, fmt.Errorf("GET_STATE_MULTIPLE: the peer returned %d values for %d keys", len(res.Values), len(chunk))
		}
		for _, v := range res.Values {
			if len(v) == 0 {
				v = nil
			}
			out = append(out, v)
		}
	}
	return out, nil
}

func (s *ChaincodeStub) putState(collection, key string, value []byte) error {
	if key == "" {
		return errors.New("key must not be an empty string")
	}
	if s.batch != nil {
		s.batch.add(&peer.WriteRecord{Key: key, Value: value, Collection: collection, Type: peer.WriteRecord_PUT_STATE})
		return nil
	}
	_, err := s.callRequest(peer.ChaincodeMessage_PUT_STATE, engine.PutStateRequest(key, value, collection))
	return err
}

func (s *ChaincodeStub) delState(collection, key string, purge bool) error {
	typ, rec := peer.ChaincodeMessage_DEL_STATE, peer.WriteRecord_DEL_STATE
	if purge {
		typ, rec = peer.ChaincodeMessage_PURGE_PRIVATE_DATA, peer.WriteRecord_PURGE_PRIVATE_DATA
	}
	if s.batch != nil {
		s.batch.add(&peer.WriteRecord{Key: key, Collection: collection, Type: rec})
		return nil
	}
	_, err := s.call(typ, &peer.DelState{Key: key, Collection: collection})
	return err
}

// PutState records a write.
func (s *ChaincodeStub) PutState(key string, value []byte) error { return s.putState("", key, value) }

// DelState records a delete.
func (s *ChaincodeStub) DelState(key string) error { return s.delState("", key, false) }

func (s *ChaincodeStub) putMetadata(collection, key string, ep []byte) error {
	md := &peer.StateMetadata{Metakey: validationParameterMetakey, Value: ep}
	if s.batch != nil {
		s.batch.add(&peer.WriteRecord{Key: key, Collection: collection, Metadata: md, Type: peer.WriteRecord_PUT_STATE_METADATA})
		return nil
	}
	_, err := s.call(peer.ChaincodeMessage_PUT_STATE_METADATA, &peer.PutStateMetadata{Key: key, Collection: collection, Metadata: md})
	return err
}

func (s *ChaincodeStub) getMetadata(collection, key string) ([]byte, error) {
	raw, err := s.call(peer.ChaincodeMessage_GET_STATE_METADATA, &peer.GetStateMetadata{Key: key, Collection: collection})
	if err != nil {
		return nil, err
	}
	var res peer.StateMetadataResult
	if err := proto.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("decode GET_STATE_METADATA reply: %w", err)
	}
	for _, e := range res.Entries {
		if e.Metakey == validationParameterMetakey {
			return e.Value, nil
		}
	}
	return nil, nil
}

// SetStateValidationParameter sets a key-level endorsement policy.
func (s *ChaincodeStub) SetStateValidationParameter(key string, ep []byte) error {
	return s.putMetadata("", key, ep)
}

// GetStateValidationParameter returns a key-level endorsement policy.
func (s *ChaincodeStub) GetStateValidationParameter(key string) ([]byte, error) {
	return s.getMetadata("", key)
}

// ---- private data ----

var errNoCollection = errors.New("collection must not be an empty string")

// GetPrivateData returns a private value.
func (s *ChaincodeStub) GetPrivateData(collection, key string) ([]byte, error) {
	if collection == "" {
		return nil, errNoCollection
	}
	return s.getState(collection, key)
}

// GetMultiplePrivateData returns several private values.
func (s *ChaincodeStub) GetMultiplePrivateData(collection string, keys ...string) ([][]byte, error) {
	if collection == "" {
		return nil, errNoCollection
	}
	return s.getMultiple(collection, keys)
}

// GetPrivateDataHash returns the hash of a private value.
func (s *ChaincodeStub) GetPrivateDataHash(collection, key string) ([]byte, error) {
	if collection == "" {
		return nil, errNoCollection
	}
	out, err := s.call(peer.ChaincodeMessage_GET_PRIVATE_DATA_HASH, &peer.GetState{Key: key, Collection: collection})
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// PutPrivateData records a private write.
func (s *ChaincodeStub) PutPrivateData(collection string, key string, value []byte) error {
	if collection == "" {
		return errNoCollection
	}
	return s.putState(collection, key, value)
}

// DelPrivateData records a private delete.
func (s *ChaincodeStub) DelPrivateData(collection, key string) error {
	if collection == "" {
		return errNoCollection
	}
	return s.delState(collection, key, false)
}

// PurgePrivateData records a private purge.
func (s *ChaincodeStub) PurgePrivateData(collection, key string) error {
	if collection == "" {
		return errNoCollection
	}
	return s.delState(collection, key, true)
}

// SetPrivateDataValidationParameter sets a private key's endorsement policy.
func (s *ChaincodeStub) SetPrivateDataValidationParameter(collection, key string, ep []byte) error {
	return s.putMetadata(collection, key, ep)
}

// GetPrivateDataValidationParameter returns a private key's endorsement policy.
func (s *ChaincodeStub) GetPrivateDataValidationParameter(collection, key string) ([]byte, error) {
	return s.getMetadata(collection, key)
}

// ---- composite keys ----

// CreateCompositeKey joins objectType and attributes into one key.
func (s *ChaincodeStub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return CreateCompositeKey(objectType, attributes)
}

// SplitCompositeKey splits a composite key; other keys are an error.
func (s *ChaincodeStub) SplitCompositeKey(compositeKey string) (string, []string, error) {
	return splitCompositeKey(compositeKey)
}
