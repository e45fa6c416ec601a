package rawcc

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

func ok(payload []byte) (*peer.Response, error) {
	return &peer.Response{Status: 200, Payload: payload}, nil
}

func fail(err error) (*peer.Response, error) {
	return &peer.Response{Status: 500, Message: err.Error()}, nil
}

// Demo is a chaincode exercising every request type, one function each.
// Failed state calls give status 500 with the peer's error text.
func Demo() Chaincode {
	return Chaincode{
		"noop": func(*Tx) (*peer.Response, error) { return ok(nil) },
		"put": func(t *Tx) (*peer.Response, error) {
			for i := 1; i+1 < len(t.Args); i += 2 {
				if _, err := t.Call(peer.ChaincodeMessage_PUT_STATE, &peer.PutState{Key: t.Arg(i), Value: t.Args[i+1]}); err != nil {
					return fail(err)
				}
			}
			return ok(nil)
		},
		"get": func(t *Tx) (*peer.Response, error) {
			v, err := t.Call(peer.ChaincodeMessage_GET_STATE, &peer.GetState{Key: t.Arg(1)})
			if err != nil {
				return fail(err)
			}
			return ok(v)
		},
		"del": func(t *Tx) (*peer.Response, error) {
			if _, err := t.Call(peer.ChaincodeMessage_DEL_STATE, &peer.DelState{Key: t.Arg(1)}); err != nil {
				return fail(err)
			}
			return ok(nil)
		},
		// getput reads a key and writes args[2] (or "1") to it.
		"getput": func(t *Tx) (*peer.Response, error) {
			k := t.Arg(1)
			if k == "" {
				k = "k"
			}
			old, err := t.Call(peer.ChaincodeMessage_GET_STATE, &peer.GetState{Key: k})
			if err != nil {
				return fail(err)
			}
			v := t.Arg(2)
			if v == "" {
				v = "1"
			}
			if _, err := t.Call(peer.ChaincodeMessage_PUT_STATE, &peer.PutState{Key: k, Value: []byte(v)}); err != nil {
				return fail(err)
			}
			return ok(old)
		},
		"multi": func(t *Tx) (*peer.Response, error) {
			var keys []string
			for _, a := range t.Args[1:] {
				keys = append(keys, string(a))
			}
			b, err := t.Call(peer.ChaincodeMessage_GET_STATE_MULTIPLE, &peer.GetStateMultiple{Keys: keys})
			if err != nil {
				return fail(err)
			}
			res := &peer.GetStateMultipleResult{}
			if err := proto.Unmarshal(b, res); err != nil {
				return fail(err)
			}
			var out []string
			for _, v := range res.Values {
				out = append(out, string(v))
			}
			return ok([]byte(strings.Join(out, ",")))
		},
		// range start end [pageSize bookmark]: "k=v,..." then "|fetched|bookmark" when paginated.
		"range": func(t *Tx) (*peer.Response, error) {
			req := &peer.GetStateByRange{StartKey: t.Arg(1), EndKey: t.Arg(2)}
			if t.Arg(3) != "" {
				n, _ := strconv.Atoi(t.Arg(3))
				req.Metadata, _ = proto.Marshal(&peer.QueryMetadata{PageSize: int32(n), Bookmark: t.Arg(4)})
			}
			return drain(t, peer.ChaincodeMessage_GET_STATE_BY_RANGE, req, kvText)
		},
		"rangepriv": func(t *Tx) (*peer.Response, error) {
			return drain(t, peer.ChaincodeMessage_GET_STATE_BY_RANGE, &peer.GetStateByRange{Collection: t.Arg(1), StartKey: t.Arg(2), EndKey: t.Arg(3)}, kvText)
		},
		// query selector [pageSize bookmark]
		"query": func(t *Tx) (*peer.Response, error) {
			req := &peer.GetQueryResult{Query: t.Arg(1)}
			if t.Arg(2) != "" {
				n, _ := strconv.Atoi(t.Arg(2))
				req.Metadata, _ = proto.Marshal(&peer.QueryMetadata{PageSize: int32(n), Bookmark: t.Arg(3)})
			}
			return drain(t, peer.ChaincodeMessage_GET_QUERY_RESULT, req, kvText)
		},
		"history": func(t *Tx) (*peer.Response, error) {
			return drain(t, peer.ChaincodeMessage_GET_HISTORY_FOR_KEY, &peer.GetHistoryForKey{Key: t.Arg(1)}, func(b []byte) (string, error) {
				km := &queryresult.KeyModification{}
				if err := proto.Unmarshal(b, km); err != nil {
					return "", err
				}
				if km.IsDelete {
					return "<deleted>", nil
				}
				return string(km.Value), nil
			})
		},
		"putpriv": func(t *Tx) (*peer.Response, error) {
			if _, err := t.Call(peer.ChaincodeMessage_PUT_STATE, &peer.PutState{Collection: t.Arg(1), Key: t.Arg(2), Value: t.Args[3]}); err != nil {
				return fail(err)
			}
			return ok(nil)
		},
		"getpriv": func(t *Tx) (*peer.Response, error) {
			v, err := t.Call(peer.ChaincodeMessage_GET_STATE, &peer.GetState{Collection: t.Arg(1), Key: t.Arg(2)})
			if err != nil {
				return fail(err)
			}
			return ok(v)
		},
		"hash": func(t *Tx) (*peer.Response, error) {
			v, err := t.Call(peer.ChaincodeMessage_GET_PRIVATE_DATA_HASH, &peer.GetState{Collection: t.Arg(1), Key: t.Arg(2)})
			if err != nil {
				return fail(err)
			}
			return ok([]byte(hex.EncodeToString(v)))
		},
		"purge": func(t *Tx) (*peer.Response, error) {
			if _, err := t.Call(peer.ChaincodeMessage_PURGE_PRIVATE_DATA, &peer.DelState{Collection: t.Arg(1), Key: t.Arg(2)}); err != nil {
				return fail(err)
			}
			return ok(nil)
		},
		"putmeta": func(t *Tx) (*peer.Response, error) {
			if _, err := t.Call(peer.ChaincodeMessage_PUT_STATE_METADATA, &peer.PutStateMetadata{Key: t.Arg(1), Metadata: &peer.StateMetadata{Metakey: t.Arg(2), Value: []byte(t.Arg(3))}}); err != nil {
				return fail(err)
			}
			return ok(nil)
		},
		"getmeta": func(t *Tx) (*peer.Response, error) {
			b, err := t.Call(peer.ChaincodeMessage_GET_STATE_METADATA, &peer.GetStateMetadata{Key: t.Arg(1)})
			if err != nil {
				return fail(err)
			}
			res := &peer.StateMetadataResult{}
			if err := proto.Unmarshal(b, res); err != nil {
				return fail(err)
			}
			var out []string
			for _, e := range res.Entries {
				out = append(out, e.Metakey+"="+string(e.Value))
			}
			return ok([]byte(strings.Join(out, ",")))
		},
		// batch op key [value] ...: op is put, del or meta (meta key metakey value).
		"batch": func(t *Tx) (*peer.Response, error) {
			b := &peer.WriteBatchState{}
			for i := 1; i < len(t.Args); {
				switch t.Arg(i) {
				case "put":
					b.Rec = append(b.Rec, &peer.WriteRecord{Type: peer.WriteRecord_PUT_STATE, Key: t.Arg(i + 1), Value: []byte(t.Arg(i + 2))})
					i += 3
				case "del":
					b.Rec = append(b.Rec, &peer.WriteRecord{Type: peer.WriteRecord_DEL_STATE, Key: t.Arg(i + 1)})
					i += 2
				case "meta":
					b.Rec = append(b.Rec, &peer.WriteRecord{Type: peer.WriteRecord_PUT_STATE_METADATA, Key: t.Arg(i + 1), Metadata: &peer.StateMetadata{Metakey: t.Arg(i + 2), Value: []byte(t.Arg(i + 3))}})
					i += 4
				default:
					b.Rec = append(b.Rec, &peer.WriteRecord{Type: peer.WriteRecord_UNDEFINED, Key: t.Arg(i + 1)})
					i += 2
				}
			}
			if _, err := t.Call(peer.ChaincodeMessage_WRITE_BATCH_STATE, b); err != nil {
				return fail(err)
			}
			return ok(nil)
		},
		"invoke": func(t *Tx) (*peer.Response, error) {
			if _, err := t.Call(peer.ChaincodeMessage_INVOKE_CHAINCODE, &peer.ChaincodeSpec{ChaincodeId: &peer.ChaincodeID{Name: t.Arg(1)}}); err != nil {
				return fail(err)
			}
			return ok(nil)
		},
		"event": func(t *Tx) (*peer.Response, error) {
			t.Event = &peer.ChaincodeEvent{EventName: t.Arg(1), Payload: []byte(t.Arg(2))}
			return ok(nil)
		},
		"transient": func(t *Tx) (*peer.Response, error) {
			m, err := t.Transient()
			if err != nil {
				return fail(err)
			}
			return ok(m[t.Arg(1)])
		},
		"creator": func(t *Tx) (*peer.Response, error) {
			id, ch, err := t.Creator()
			if err != nil {
				return fail(err)
			}
			return ok([]byte(fmt.Sprintf("%s %s %s %d", id.Mspid, ch.TxId, ch.ChannelId, ch.Type)))
		},
		"status": func(t *Tx) (*peer.Response, error) {
			n, _ := strconv.Atoi(t.Arg(1))
			return &peer.Response{Status: int32(n), Message: t.Arg(2)}, nil
		},
		// fail makes the chaincode reply ERROR (a failed transaction).
		"fail": func(t *Tx) (*peer.Response, error) { return nil, fmt.Errorf("%s", t.Arg(1)) },
	}
}

func kvText(b []byte) (string, error) {
	kv := &queryresult.KV{}
	if err := proto.Unmarshal(b, kv); err != nil {
		return "", err
	}
	return kv.Key + "=" + string(kv.Value), nil
}

// drain runs a query to its end (QUERY_STATE_NEXT while has_more), without
// closing: the peer releases an exhausted iterator itself.
func drain(t *Tx, typ peer.ChaincodeMessage_Type, req proto.Message, text func([]byte) (string, error)) (*peer.Response, error) {
	b, err := t.Call(typ, req)
	var out []string
	var meta *peer.QueryResponseMetadata
	for err == nil {
		qr := &peer.QueryResponse{}
		if err = proto.Unmarshal(b, qr); err != nil {
			break
		}
		for _, r := range qr.Results {
			s, err := text(r.ResultBytes)
			if err != nil {
				return fail(err)
			}
			out = append(out, s)
		}
		if len(qr.Metadata) > 0 {
			meta = &peer.QueryResponseMetadata{}
			_ = proto.Unmarshal(qr.Metadata, meta)
		}
		if !qr.HasMore {
			break
		}
		b, err = t.Call(peer.ChaincodeMessage_QUERY_STATE_NEXT, &peer.QueryStateNext{Id: qr.Id})
	}
	if err != nil {
		return fail(err)
	}
	s := strings.Join(out, ",")
	if meta != nil {
		s += fmt.Sprintf("|%d|%s", meta.FetchedRecordsCount, meta.Bookmark)
	}
	return ok([]byte(s))
}
