package peerside

import (
	"bytes"
	"sort"
	"strings"
	"sync"
	"time"
)

// Store is the committed world state a peer serves a chaincode from:
// public keys, per-collection private keys, per-key metadata and the
// history of public keys. Reads see only committed state (Fabric semantics:
// a transaction does not read its own writes); Commit applies one
// transaction's writes atomically.
type Store interface {
	// Get returns the committed value, or nil when the key is absent.
	// collection "" is the public state.
	Get(collection, key string) ([]byte, error)
	// Metadata returns the committed metadata entries of a key (nil if none).
	Metadata(collection, key string) (map[string][]byte, error)
	// Scan calls fn for each key in [start, end) in byte order; end "" means
	// no upper bound. It stops early when fn returns false.
	Scan(collection, start, end string, fn func(key string, value []byte) bool) error
	// History returns the modifications of a public key, newest first.
	History(key string) ([]Modification, error)
	// Commit applies the writes of one transaction.
	Commit(u *Update) error
}

// Modification is one committed change of a public key.
type Modification struct {
	TxID      string
	Value     []byte
	Timestamp time.Time
	IsDelete  bool
}

// Update is the write set of one transaction, in the order the writes were
// first made; a later write to the same key replaced the earlier one.
type Update struct {
	TxID      string
	Timestamp time.Time
	Writes    []Write
}

// WriteKind says what a Write does.
type WriteKind int

// The kinds of write a chaincode can make.
const (
	WritePut WriteKind = iota + 1
	WriteDelete
	WritePurge    // private data only: removes the value and its hash
	WriteMetadata // sets one metadata entry
)

func (k WriteKind) String() string {
	switch k {
	case WritePut:
		return "put"
	case WriteDelete:
		return "delete"
	case WritePurge:
		return "purge"
	case WriteMetadata:
		return "metadata"
	}
	return "unknown"
}

// Write is one entry of a transaction's write set.
type Write struct {
	Kind       WriteKind
	Collection string
	Key        string
	Value      []byte // WritePut: the value; WriteMetadata: the entry value
	MetaKey    string // WriteMetadata only
}

// MemStore is an in-memory Store with sorted keys, for tests and shimtest.
// It is safe for concurrent use.
type MemStore struct {
	mu      sync.RWMutex
	spaces  map[string]*memSpace // by collection
	history map[string][]Modification
}

type memSpace struct {
	keys   []string // sorted
	values map[string][]byte
	meta   map[string]map[string][]byte
}

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{spaces: map[string]*memSpace{}, history: map[string][]Modification{}}
}

func (s *MemStore) space(coll string, create bool) *memSpace {
	sp := s.spaces[coll]
	if sp == nil && create {
		sp = &memSpace{values: map[string][]byte{}, meta: map[string]map[string][]byte{}}
		s.spaces[coll] = sp
	}
	return sp
}

// Get implements Store.
func (s *MemStore) Get(coll, key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if sp := s.space(coll, false); sp != nil {
		if v, ok := sp.values[key]; ok {
			return bytes.Clone(v), nil
		}
	}
	return nil, nil
}

// Metadata implements Store.
func (s *MemStore) Metadata(coll, key string) (map[string][]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sp := s.space(coll, false)
	if sp == nil || len(sp.meta[key]) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(sp.meta[key]))
	for k, v := range sp.meta[key] {
		out[k] = bytes.Clone(v)
	}
	return out, nil
}

// Scan implements Store. fn runs without the lock held on a snapshot of
// the matching keys, so it may call back into the store.
func (s *MemStore) Scan(coll, start, end string, fn func(string, []byte) bool) error {
	type kv struct {
		k string
		v []byte
	}
	s.mu.RLock()
	var snap []kv
	if sp := s.space(coll, false); sp != nil {
		i := sort.SearchStrings(sp.keys, start)
		for ; i < len(sp.keys) && (end == "" || sp.keys[i] < end); i++ {
			snap = append(snap, kv{sp.keys[i], sp.values[sp.keys[i]]})
		}
	}
	s.mu.RUnlock()
	for _, e := range snap {
		if !fn(e.k, bytes.Clone(e.v)) {
			return nil
		}
	}
	return nil
}

// History implements Store.
func (s *MemStore) History(key string) ([]Modification, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := s.history[key]
	if len(h) == 0 {
		return nil, nil
	}
	out := make([]Modification, len(h))
	for i := range h {
		out[i] = h[len(h)-1-i]
		out[i].Value = bytes.Clone(out[i].Value)
	}
	return out, nil
}

// Commit implements Store.
func (s *MemStore) Commit(u *Update) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range u.Writes {
		sp := s.space(w.Collection, true)
		switch w.Kind {
		case WritePut:
			if _, ok := sp.values[w.Key]; !ok {
				i := sort.SearchStrings(sp.keys, w.Key)
				sp.keys = append(sp.keys, "")
				copy(sp.keys[i+1:], sp.keys[i:])
				sp.keys[i] = w.Key
			}
			sp.values[w.Key] = bytes.Clone(w.Value)
		case WriteDelete, WritePurge:
			if _, ok := sp.values[w.Key]; ok {
				i := sort.SearchStrings(sp.keys, w.Key)
				sp.keys = append(sp.keys[:i], sp.keys[i+1:]...)
				delete(sp.values, w.Key)
			}
			delete(sp.meta, w.Key)
		case WriteMetadata:
			if sp.meta[w.Key] == nil {
				sp.meta[w.Key] = map[string][]byte{}
			}
			sp.meta[w.Key][w.MetaKey] = bytes.Clone(w.Value)
		}
		if w.Collection == "" && (w.Kind == WritePut || w.Kind == WriteDelete) {
			s.history[w.Key] = append(s.history[w.Key], Modification{
				TxID: u.TxID, Value: bytes.Clone(w.Value), Timestamp: u.Timestamp, IsDelete: w.Kind == WriteDelete,
			})
		}
	}
	return nil
}

// label returns the part of a CCID before the colon: the chaincode name a
// peer would use as the namespace.
func label(ccid string) string {
	name, _, _ := strings.Cut(ccid, ":")
	return name
}
