package devpeer

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/peerside"
)

var _ peerside.Store = (*boltState)(nil)

// TestStoresAgree runs the same commits on MemStore and BoltStore and
// compares every read.
func TestStoresAgree(t *testing.T) {
	b, err := OpenBoltStore(filepath.Join(t.TempDir(), "s.db"), "ns")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bs := b.st
	ms := peerside.NewMemStore()
	ts := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	updates := []*peerside.Update{
		{TxID: "t1", Timestamp: ts, Writes: []peerside.Write{{Kind: peerside.WritePut, Key: "b", Value: []byte("1")}, {Kind: peerside.WritePut, Key: "a", Value: []byte("2")}, {Kind: peerside.WritePut, Collection: "c", Key: "x", Value: []byte("p")}}},
		{TxID: "t2", Timestamp: ts.Add(time.Second), Writes: []peerside.Write{{Kind: peerside.WriteMetadata, Key: "a", MetaKey: "m1", Value: []byte("v1")}, {Kind: peerside.WriteMetadata, Key: "a", MetaKey: "m0", Value: []byte("v0")}, {Kind: peerside.WriteDelete, Key: "b"}}},
		{TxID: "t3", Timestamp: ts.Add(2 * time.Second), Writes: []peerside.Write{{Kind: peerside.WritePut, Key: "b", Value: []byte("3")}, {Kind: peerside.WritePurge, Collection: "c", Key: "x"}, {Kind: peerside.WritePut, Key: "c", Value: []byte("4")}}},
	}
	for _, u := range updates {
		if err := bs.Commit(u); err != nil {
			t.Fatal(err)
		}
		_ = ms.Commit(u)
	}
	dump := func(s peerside.Store) string {
		var b strings.Builder
		for _, coll := range []string{"", "c"} {
			_ = s.Scan(coll, "", "", func(k string, v []byte) bool { b.WriteString(coll + "/" + k + "=" + string(v) + ";"); return true })
			_ = s.Scan(coll, "a", "c", func(k string, v []byte) bool { b.WriteString("[" + k + "]"); return true })
		}
		for _, k := range []string{"a", "b", "zz"} {
			v, _ := s.Get("", k)
			md, _ := s.Metadata("", k)
			h, _ := s.History(k)
			mj, _ := json.Marshal(md)
			hj, _ := json.Marshal(h)
			b.WriteString(k + ":" + string(v) + string(mj) + string(hj) + ";")
		}
		return b.String()
	}
	if m, bo := dump(ms), dump(bs); m != bo {
		t.Fatalf("stores disagree:\nmem  %s\nbolt %s", m, bo)
	}
}
