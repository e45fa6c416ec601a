package serve

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// maxSampleKeys bounds the sampler's table: the key attributes are bounded
// label sets, so this is reached only if a caller misuses them, and then
// stale keys are dropped first.
const maxSampleKeys = 4096

// sampleHandler passes the first burst records of each kind per interval
// to next, then counts the rest and writes one summary line per kind when
// the interval ends. A kind is the level, the message and the values of
// keyAttrs ("reason", "function", ...), so a flood of refused handshakes
// of one reason cannot hide another reason's first lines. Metrics still
// count every event; the summary says how many lines were left out. At
// debug level serve does not sample at all.
type sampleHandler struct {
	next slog.Handler
	s    *sampler
}

// sampler is the state the handlers derived by WithAttrs and WithGroup
// share, so one kind is counted once however the logger was derived.
type sampler struct {
	interval time.Duration
	burst    int
	keyAttrs []string
	now      func() time.Time
	afterFn  func(time.Duration, func()) *time.Timer

	mu     sync.Mutex
	kinds  map[string]*sampleKind
	closed bool
}

type sampleKind struct {
	start      time.Time
	passed     int
	suppressed int
	gen        int
	timer      *time.Timer
	// first is the first suppressed record and the handler it came
	// through: the summary carries its level, message and key attributes.
	first   slog.Record
	handler slog.Handler
}

func newSampleHandler(next slog.Handler, interval time.Duration, burst int, keyAttrs ...string) *sampleHandler {
	return &sampleHandler{next: next, s: &sampler{
		interval: interval, burst: burst, keyAttrs: keyAttrs,
		now: time.Now, afterFn: time.AfterFunc, kinds: map[string]*sampleKind{},
	}}
}

func (h *sampleHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *sampleHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &sampleHandler{next: h.next.WithAttrs(as), s: h.s}
}

func (h *sampleHandler) WithGroup(name string) slog.Handler {
	return &sampleHandler{next: h.next.WithGroup(name), s: h.s}
}

func (h *sampleHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.s.interval <= 0 {
		return h.next.Handle(ctx, r)
	}
	key := h.s.key(r)
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	k := s.kinds[key]
	if k != nil && now.Sub(k.start) >= s.interval {
		s.summarizeLocked(ctx, k)
		k.start, k.passed = now, 0
	}
	if k == nil {
		if len(s.kinds) >= maxSampleKeys {
			s.pruneLocked(ctx, now)
		}
		k = &sampleKind{start: now}
		s.kinds[key] = k
	}
	if k.passed < s.burst || s.closed {
		k.passed++
		return h.next.Handle(ctx, r)
	}
	k.suppressed++
	if k.suppressed == 1 {
		k.first, k.handler = r.Clone(), h.next
		gen := k.gen
		k.timer = s.afterFn(k.start.Add(s.interval).Sub(now), func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if k.gen == gen {
				s.summarizeLocked(context.Background(), k)
			}
		})
	}
	return nil
}

// key names the kind of r: level, message and the key attributes' values.
func (s *sampler) key(r slog.Record) string {
	var b strings.Builder
	b.WriteString(r.Level.String())
	b.WriteByte(0)
	b.WriteString(r.Message)
	if len(s.keyAttrs) == 0 {
		return b.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		for _, k := range s.keyAttrs {
			if a.Key == k {
				b.WriteByte(0)
				b.WriteString(a.Key)
				b.WriteByte('=')
				b.WriteString(a.Value.String())
			}
		}
		return true
	})
	return b.String()
}

// summarizeLocked writes the summary of k's suppressed lines, if any.
func (s *sampler) summarizeLocked(ctx context.Context, k *sampleKind) {
	k.gen++
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
	}
	if k.suppressed == 0 {
		return
	}
	r := slog.NewRecord(s.now(), k.first.Level, "log lines suppressed", 0)
	r.AddAttrs(slog.String("suppressed_msg", k.first.Message), slog.Int("count", k.suppressed),
		slog.Duration("interval", s.interval))
	k.first.Attrs(func(a slog.Attr) bool {
		for _, key := range s.keyAttrs {
			if a.Key == key {
				r.AddAttrs(a)
			}
		}
		return true
	})
	k.suppressed = 0
	_ = k.handler.Handle(ctx, r)
}

// pruneLocked drops kinds whose interval has passed, summarizing first.
func (s *sampler) pruneLocked(ctx context.Context, now time.Time) {
	for key, k := range s.kinds {
		if now.Sub(k.start) >= s.interval {
			s.summarizeLocked(ctx, k)
			delete(s.kinds, key)
		}
	}
}

// Flush writes every pending summary and stops sampling: later records
// all pass (the process is stopping; its last lines must not be lost).
func (h *sampleHandler) Flush() {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.kinds {
		s.summarizeLocked(context.Background(), k)
	}
	s.closed = true
}
