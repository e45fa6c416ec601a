package devpeer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/ccserver/ccserver/internal/peerside"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// BoltStore is a world state in a bbolt file, so consecutive ccpeer runs
// see each other's writes; pass it to a Client with WithState. One file
// holds many namespaces (chaincodes); a BoltStore serves one of them.
//
// Layout: top-level bucket = namespace; inside it "state/<collection>"
// (key → value), "meta/<collection>" (key → StateMetadataResult) and
// "history" (key → bucket of sequence → KeyModification).
type BoltStore struct{ st *boltState }

// boltState is the engine's store interface on the file; it stays
// unexported so the engine's types stay out of devpeer's API.
type boltState struct {
	db *bolt.DB
	ns []byte
}

// OpenBoltStore opens (creating if needed, 0600) the state file at path
// for namespace ns. Another process holding the file makes it wait up to
// 5 s and then fail with a clear error.
func OpenBoltStore(path, ns string) (*BoltStore, error) {
	if ns == "" {
		return nil, fmt.Errorf("open state %s: empty namespace", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w (is another ccpeer using it?)", path, err)
	}
	return &BoltStore{&boltState{db: db, ns: []byte(ns)}}, nil
}

// Close closes the file.
func (s *BoltStore) Close() error { return s.st.db.Close() }

func (s *boltState) bucket(tx *bolt.Tx, name string, create bool) (*bolt.Bucket, error) {
	root := tx.Bucket(s.ns)
	if root == nil {
		if !create {
			return nil, nil
		}
		var err error
		if root, err = tx.CreateBucket(s.ns); err != nil {
			return nil, err
		}
	}
	if !create {
		return root.Bucket([]byte(name)), nil
	}
	return root.CreateBucketIfNotExists([]byte(name))
}

// Get implements peerside.Store.
func (s *boltState) Get(coll, key string) (v []byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b, _ := s.bucket(tx, "state/"+coll, false)
		if b != nil {
			if got := b.Get([]byte(key)); got != nil {
				v = bytes.Clone(got)
			}
		}
		return nil
	})
	return v, err
}

// Metadata implements peerside.Store.
func (s *boltState) Metadata(coll, key string) (map[string][]byte, error) {
	var out map[string][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b, _ := s.bucket(tx, "meta/"+coll, false)
		if b == nil {
			return nil
		}
		raw := b.Get([]byte(key))
		if raw == nil {
			return nil
		}
		m := &peer.StateMetadataResult{}
		if err := proto.Unmarshal(raw, m); err != nil {
			return fmt.Errorf("corrupt metadata for %q: %w", key, err)
		}
		out = map[string][]byte{}
		for _, e := range m.Entries {
			out[e.Metakey] = e.Value
		}
		return nil
	})
	return out, err
}

// Scan implements peerside.Store. fn runs inside a read transaction and
// must not write to the store.
func (s *boltState) Scan(coll, start, end string, fn func(string, []byte) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b, _ := s.bucket(tx, "state/"+coll, false)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte(start)); k != nil && (end == "" || string(k) < end); k, v = c.Next() {
			if !fn(string(k), bytes.Clone(v)) {
				return nil
			}
		}
		return nil
	})
}

// History implements peerside.Store.
func (s *boltState) History(key string) ([]peerside.Modification, error) {
	var out []peerside.Modification
	err := s.db.View(func(tx *bolt.Tx) error {
		h, _ := s.bucket(tx, "history", false)
		if h == nil {
			return nil
		}
		kb := h.Bucket([]byte(key))
		if kb == nil {
			return nil
		}
		c := kb.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			km := &queryresult.KeyModification{}
			if err := proto.Unmarshal(v, km); err != nil {
				return fmt.Errorf("corrupt history for %q: %w", key, err)
			}
			out = append(out, peerside.Modification{TxID: km.TxId, Value: km.Value, Timestamp: km.Timestamp.AsTime(), IsDelete: km.IsDelete})
		}
		return nil
	})
	return out, err
}

// Commit implements peerside.Store: one bbolt transaction per Update.
func (s *boltState) Commit(u *peerside.Update) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, w := range u.Writes {
			state, err := s.bucket(tx, "state/"+w.Collection, true)
			if err != nil {
				return err
			}
			meta, err := s.bucket(tx, "meta/"+w.Collection, true)
			if err != nil {
				return err
			}
			k := []byte(w.Key)
			switch w.Kind {
			case peerside.WritePut:
				err = state.Put(k, w.Value)
			case peerside.WriteDelete, peerside.WritePurge:
				if err = state.Delete(k); err == nil {
					err = meta.Delete(k)
				}
			case peerside.WriteMetadata:
				err = putMeta(meta, k, w.MetaKey, w.Value)
			}
			if err != nil {
				return err
			}
			if w.Collection == "" && (w.Kind == peerside.WritePut || w.Kind == peerside.WriteDelete) {
				if err := s.appendHistory(tx, u, w); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func putMeta(meta *bolt.Bucket, key []byte, metakey string, value []byte) error {
	m := &peer.StateMetadataResult{}
	if raw := meta.Get(key); raw != nil {
		if err := proto.Unmarshal(raw, m); err != nil {
			return err
		}
	}
	found := false
	for _, e := range m.Entries {
		if e.Metakey == metakey {
			e.Value, found = value, true
		}
	}
	if !found {
		m.Entries = append(m.Entries, &peer.StateMetadata{Metakey: metakey, Value: value})
	}
	sort.Slice(m.Entries, func(i, j int) bool { return m.Entries[i].Metakey < m.Entries[j].Metakey })
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return meta.Put(key, b)
}

func (s *boltState) appendHistory(tx *bolt.Tx, u *peerside.Update, w peerside.Write) error {
	h, err := s.bucket(tx, "history", true)
	if err != nil {
		return err
	}
	kb, err := h.CreateBucketIfNotExists([]byte(w.Key))
	if err != nil {
		return err
	}
	seq, err := kb.NextSequence()
	if err != nil {
		return err
	}
	b, err := proto.Marshal(&queryresult.KeyModification{
		TxId: u.TxID, Value: w.Value, Timestamp: timestamppb.New(u.Timestamp), IsDelete: w.Kind == peerside.WriteDelete,
	})
	if err != nil {
		return err
	}
	return kb.Put(binary.BigEndian.AppendUint64(nil, seq), b)
}

// ReadState returns the public world state of namespace ns in the state
// file at path, opened read-only (an invoke may hold it for writing; then
// it waits up to 5 s). Bench seeds its in-memory state with it, so a load
// run sees what invoke committed without changing the file.
func ReadState(path, ns string) (map[string][]byte, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", path, err)
	}
	defer db.Close()
	st := &boltState{db: db, ns: []byte(ns)}
	out := map[string][]byte{}
	err = st.Scan("", "", "", func(k string, v []byte) bool { out[k] = v; return true })
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", path, err)
	}
	return out, nil
}
