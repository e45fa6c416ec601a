// Package stats is the small HTTP endpoint through which a benchmark
// server reports its own allocation and goroutine counters, read from
// runtime/metrics (no stop-the-world, unlike runtime.ReadMemStats).
package stats

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
}

var names = []string{
	"/gc/heap/allocs:objects",
	"/gc/heap/tiny/allocs:objects",
	"/gc/heap/allocs:bytes",
	"/sched/goroutines:goroutines",
	"/gc/cycles/total:gc-cycles",
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
	return Snapshot{Allocs: v(0) + v(1), AllocBytes: v(2), Goroutines: v(3), GCCycles: v(4)}
}

// Handler serves Read as JSON.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
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
