// Package stats is the small HTTP endpoint through which a benchmark
// server reports its own allocation and goroutine counters, read from
// runtime/metrics (no stop-the-world, unlike runtime.ReadMemStats).
package stats

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"time"
)

// Snapshot is the server's cumulative counters at one moment.
type Snapshot struct {
	// Allocs counts heap allocations, tiny ones included (as
	// runtime.MemStats.Mallocs does).
	Allocs     uint64 `json:"allocs"`
	AllocBytes uint64 `json:"alloc_bytes"`
	Goroutines uint64 `json:"goroutines"`
	GCCycles   uint64 `json:"gc_cycles"`
	// HeapObjects is the heap held by objects (live ones only when read
	// with a GC first, see Handler); Stacks the memory of goroutine stacks.
	HeapObjects uint64 `json:"heap_objects_bytes"`
	Stacks      uint64 `json:"stacks_bytes"`
}

var names = []string{
	"/gc/heap/allocs:objects",
	"/gc/heap/tiny/allocs:objects",
	"/gc/heap/allocs:bytes",
	"/sched/goroutines:goroutines",
	"/gc/cycles/total:gc-cycles",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/stacks:bytes",
}

// Read samples the counters of this process.
func Read() Snapshot {
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return s[i].Value.Uint64()
		}
		return 0
	}
	return Snapshot{Allocs: v(0) + v(1), AllocBytes: v(2), Goroutines: v(3), GCCycles: v(4), HeapObjects: v(5), Stacks: v(6)}
}

// Handler serves Read as JSON; with ?gc=1 it collects garbage first, so
// that HeapObjects is the live heap.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") == "1" {
			runtime.GC()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Read())
	})
}

// Fetch reads a server's snapshot from its stats URL.
func Fetch(c *http.Client, url string) (Snapshot, error) {
	var s Snapshot
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Get(url)
	if err != nil {
		return s, fmt.Errorf("read server stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return s, fmt.Errorf("read server stats: %s: %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("read server stats: %w", err)
	}
	return s, nil
}
