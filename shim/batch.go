package shim

import (
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

type batchKey struct {
	collection, key string
	metadata        bool
}

// writeBatch buffers writes for WRITE_BATCH_STATE. Data writes (put, delete,
// purge) of one key share a slot and the last wins; metadata has its own.
// Records keep the order of their first write, so batches are repeatable.
type writeBatch struct {
	index   map[batchKey]int
	records []*peer.WriteRecord
}

func (b *writeBatch) add(r *peer.WriteRecord) {
	k := batchKey{r.Collection, r.Key, r.Type == peer.WriteRecord_PUT_STATE_METADATA}
	if i, ok := b.index[k]; ok {
		b.records[i] = r
		return
	}
	b.index[k] = len(b.records)
	b.records = append(b.records, r)
}

// StartWriteBatch starts buffering writes if the peer supports batches;
// otherwise writes keep going one message each.
func (s *ChaincodeStub) StartWriteBatch() {
	if !s.tx.Params().UseWriteBatch || s.batch != nil {
		return
	}
	s.batch = &writeBatch{index: make(map[batchKey]int)}
}

// FinishWriteBatch sends the buffered writes; without a batch it does nothing.
func (s *ChaincodeStub) FinishWriteBatch() error {
	if s.batch == nil {
		return nil
	}
	recs := s.batch.records
	s.batch = nil
	size := int(s.tx.Params().MaxSizeWriteBatch)
	for start := 0; start < len(recs); start += size {
		payload, err := proto.Marshal(&peer.WriteBatchState{Rec: recs[start:min(start+size, len(recs))]})
		if err != nil {
			return fmt.Errorf("marshal WRITE_BATCH_STATE: %w", err)
		}
		if _, err := s.tx.Call(peer.ChaincodeMessage_WRITE_BATCH_STATE, payload); err != nil {
			return err
		}
	}
	return nil
}
