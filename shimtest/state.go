package shimtest

import (
	"time"

	"github.com/ccserver/ccserver/internal/peerside"
)

// The world state as committed so far. Reads return copies; writes made
// here are committed at once, as if by an earlier block, so tests can
// seed state without a transaction. Composite keys are ordinary keys here:
// make them with shim.CreateCompositeKey.

// State returns the committed value of a public key, or nil.
func (l *Ledger) State(key string) []byte { return l.get("", key) }

// SetState commits value under key; a nil value deletes the key. The
// change appears in History with an empty TxID.
func (l *Ledger) SetState(key string, value []byte) { l.set("", key, value) }

// PrivateState returns the committed value of a key in a private data
// collection, or nil.
func (l *Ledger) PrivateState(collection, key string) []byte { return l.get(collection, key) }

// SetPrivateState commits value under key in a private data collection; a
// nil value deletes the key.
func (l *Ledger) SetPrivateState(collection, key string, value []byte) {
	l.set(collection, key, value)
}

// Metadata returns the committed metadata of a public key (for example
// shim's key-level endorsement policy under "VALIDATION_PARAMETER"), or nil.
func (l *Ledger) Metadata(key string) map[string][]byte {
	m, _ := l.store.Metadata("", key) // MemStore never fails
	return m
}

// PrivateMetadata returns the committed metadata of a private key, or nil.
func (l *Ledger) PrivateMetadata(collection, key string) map[string][]byte {
	m, _ := l.store.Metadata(collection, key)
	return m
}

// Keys returns the public keys in byte order: simple keys after the
// composite ones (which start with U+0000).
func (l *Ledger) Keys() []string {
	var keys []string
	_ = l.store.Scan("", "", "", func(k string, _ []byte) bool {
		keys = append(keys, k)
		return true
	})
	return keys
}

// Dump returns a copy of the whole public state.
func (l *Ledger) Dump() map[string][]byte {
	out := map[string][]byte{}
	_ = l.store.Scan("", "", "", func(k string, v []byte) bool {
		out[k] = v
		return true
	})
	return out
}

// Modification is one committed change of a public key.
type Modification struct {
	TxID      string
	Value     []byte // nil for a delete
	Timestamp time.Time
	IsDelete  bool
}

// History returns the committed changes of a public key, newest first, as
// GetHistoryForKey serves them.
func (l *Ledger) History(key string) []Modification {
	mods, _ := l.store.History(key)
	out := make([]Modification, len(mods))
	for i, m := range mods {
		out[i] = Modification{TxID: m.TxID, Value: m.Value, Timestamp: m.Timestamp, IsDelete: m.IsDelete}
		if m.IsDelete {
			out[i].Value = nil
		}
	}
	return out
}

// Events returns the events of the committed transactions, in the order
// they committed.
func (l *Ledger) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

func (l *Ledger) get(collection, key string) []byte {
	v, _ := l.store.Get(collection, key) // MemStore never fails
	return v
}

func (l *Ledger) set(collection, key string, value []byte) {
	w := peerside.Write{Kind: peerside.WritePut, Collection: collection, Key: key, Value: value}
	if value == nil {
		w.Kind = peerside.WriteDelete
	}
	_ = l.store.Commit(&peerside.Update{Timestamp: l.o.clock(), Writes: []peerside.Write{w}})
}
