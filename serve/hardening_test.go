package serve

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStartupFileChecks: files that are the wrong kind stop the server
// with exit 2 and a message that says what they are and what to give.
func TestStartupFileChecks(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	leafDir := t.TempDir()
	leafCert, _, _ := p.client.WriteFiles(t, leafDir)
	groupKey := filepath.Join(t.TempDir(), "tls.key")
	key, _ := os.ReadFile(p.keyFile)
	if err := os.WriteFile(groupKey, key, 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chmod(groupKey, 0o640)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"key is a directory", []string{"--tls-cert", p.certFile, "--tls-key", dir, "--client-ca", p.caFile}, []string{"is a directory, not a private key file"}},
		{"group-readable key", []string{"--tls-cert", p.certFile, "--tls-key", groupKey, "--client-ca", p.caFile}, []string{"chmod 600", "--insecure-key-permissions accepts"}},
		{"client CA is a leaf", []string{"--tls-cert", p.certFile, "--tls-key", p.keyFile, "--client-ca", leafCert}, []string{"not a CA certificate", "fix:", "--insecure-client-ca-leaf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr syncBuffer
			code := Run(t.Context(), newTestCC(), Env{Args: serverArgs(tt.args...), Stderr: &stderr,
				Ready: func(Listening) { t.Error("server started") }})
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d:\n%s", code, ExitUsage, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "accessible by group or others (mode 0755)") {
				t.Error("a directory is reported as a permission problem")
			}
		})
	}
	// The loudly named flag accepts the leaf.
	srv := startServer(t, newTestCC(), serverArgs("--tls-cert", p.certFile, "--tls-key", p.keyFile, "--client-ca", leafCert, "--insecure-client-ca-leaf"), nil)
	if !strings.Contains(srv.stderr.String(), "--insecure-client-ca-leaf") {
		t.Errorf("no warning for --insecure-client-ca-leaf:\n%s", srv.stderr.String())
	}
}

func TestLimitUsageErrors(t *testing.T) {
	for _, tt := range []struct{ flag, value, want string }{
		{"--max-connections", "0", "--max-connections 0"},
		{"--max-streams-per-connection", "0", "--max-streams-per-connection 0"},
		{"--max-message-size", "1024", "100 MiB"},
		{"--log-sample-interval", "-1s", "negative"},
		{"--log-sample-burst", "0", "--log-sample-burst 0"},
	} {
		t.Run(tt.flag, func(t *testing.T) {
			var stderr syncBuffer
			code := Run(t.Context(), newTestCC(), Env{Args: mtls(tt.flag, tt.value), Stderr: &stderr})
			if code != ExitUsage || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, stderr lacks %q:\n%s", code, tt.want, stderr.String())
			}
		})
	}
}

// manualClock drives the sampler: now is set by the test, and timers fire
// when the test says.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []func()
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	fire := c.timers
	c.timers = nil
	c.mu.Unlock()
	for _, f := range fire {
		f()
	}
}

func TestSampleHandler(t *testing.T) {
	tests := []struct {
		name      string
		records   []string // reasons, one record each, at one instant
		intervals int      // the batch is repeated this many intervals
		wantLines int
	}{
		{"below the burst: all pass", []string{"no-cert", "no-cert"}, 1, 2},
		{"one flood: burst and one summary", repeat("no-cert", 1000), 1, 5 + 1},
		{"two reasons keep their own bursts", append(repeat("no-cert", 100), repeat("unknown-ca", 100)...), 1, 2 * (5 + 1)},
		{"a 20-interval flood", repeat("no-cert", 500), 20, 20 * (5 + 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			clk := &manualClock{now: time.Unix(0, 0)}
			h := newSampleHandler(slog.NewTextHandler(&buf, nil), 10*time.Second, 5, "reason")
			h.s.now = clk.Now
			h.s.afterFn = func(_ time.Duration, f func()) *time.Timer {
				clk.mu.Lock()
				clk.timers = append(clk.timers, f)
				clk.mu.Unlock()
				return time.NewTimer(time.Hour)
			}
			log := slog.New(h).With("component", "tls")
			for range tt.intervals {
				for _, r := range tt.records {
					log.Warn("TLS handshake rejected", "reason", r, "peer", "x")
				}
				clk.advance(10 * time.Second)
			}
			h.Flush()
			lines := strings.Count(buf.String(), "\n")
			if lines != tt.wantLines {
				t.Errorf("%d lines, want %d:\n%s", lines, tt.wantLines, buf.String())
			}
			total := len(tt.records) * tt.intervals
			if total > 5 && !strings.Contains(buf.String(), "log lines suppressed") {
				t.Errorf("no summary line:\n%s", buf.String())
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestMemLimitFromCgroup: GOMEMLIMIT comes from the container's limit
// (cgroup v2, then v1) unless GOMEMLIMIT is set or there is no limit.
func TestMemLimitFromCgroup(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		env       map[string]string
		wantLimit int64
	}{
		{"v2 limit", map[string]string{"sys/fs/cgroup/memory.max": "1073741824\n"}, nil, share(1 << 30)},
		{"v2 no limit", map[string]string{"sys/fs/cgroup/memory.max": "max\n"}, nil, 0},
		{"v1 limit", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912\n"}, nil, share(512 << 20)},
		{"v1 no limit", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, nil, 0},
		{"GOMEMLIMIT wins", map[string]string{"sys/fs/cgroup/memory.max": "1073741824\n"}, map[string]string{"GOMEMLIMIT": "300MiB"}, 0},
		{"no cgroup", nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for f, c := range tt.files {
				os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755)
				os.WriteFile(filepath.Join(root, f), []byte(c), 0o644)
			}
			before := debugMemLimit()
			defer restoreMemLimit(before)
			got, _, err := memLimitFromCgroup(mapEnv(tt.env), root)
			if err != nil || got != tt.wantLimit {
				t.Fatalf("limit %d, err %v; want %d", got, err, tt.wantLimit)
			}
		})
	}
	_ = context.Background
}

func debugMemLimit() int64        { return debug.SetMemoryLimit(-1) }
func restoreMemLimit(limit int64) { debug.SetMemoryLimit(limit) }

func share(n int64) int64 { return int64(float64(n) * memLimitShare) }
