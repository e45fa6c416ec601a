package tlsconfig

import (
	"crypto/x509"
	"fmt"
	"sync"
	"time"
)

// EventKind says what happened.
type EventKind int

// Event kinds.
const (
	EventLoaded            EventKind = iota + 1 // first material loaded
	EventRotated                                // material replaced by different material
	EventReloadFailed                           // a reload failed; the last good material stays
	EventHandshakeRejected                      // a peer was refused; see Reason
	EventExpiringSoon                           // the leaf expires within the warning window
	EventCRLStale                               // a CRL is past its nextUpdate
)

func (k EventKind) String() string {
	switch k {
	case EventLoaded:
		return "loaded"
	case EventRotated:
		return "rotated"
	case EventReloadFailed:
		return "reload-failed"
	case EventHandshakeRejected:
		return "handshake-rejected"
	case EventExpiringSoon:
		return "expiring-soon"
	case EventCRLStale:
		return "crl-stale"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports a change or a failure for logs and metrics. It never
// carries key material.
type Event struct {
	Kind   EventKind
	Time   time.Time
	Source string // file path, or "static", "pushed", "server", "client"
	// OldSerial and NewSerial are hex serial numbers of the leaf (or the
	// CRL number) before and after a load; OldSerial is empty on first load.
	OldSerial, NewSerial string
	NotAfter             time.Time // of the new leaf, or a CRL's nextUpdate
	// ThisUpdate and NextUpdate describe CRLs: for EventLoaded and
	// EventRotated of a CRL source the oldest thisUpdate (how old the
	// revocation data is) and the earliest nextUpdate of the CRLs loaded;
	// for EventCRLStale those of the stale CRL. Zero for other sources.
	ThisUpdate, NextUpdate time.Time
	Reason                 Reason // for EventHandshakeRejected
	Peer                   string // subject of the rejected peer's leaf, if any
	Err                    error  // for EventReloadFailed, EventHandshakeRejected
}

func (e Event) String() string {
	s := fmt.Sprintf("%s source=%s", e.Kind, e.Source)
	if e.OldSerial != "" {
		s += " old_serial=" + e.OldSerial
	}
	if e.NewSerial != "" {
		s += " new_serial=" + e.NewSerial
	}
	if !e.NotAfter.IsZero() {
		s += " not_after=" + e.NotAfter.UTC().Format(time.RFC3339)
	}
	if !e.ThisUpdate.IsZero() {
		s += " this_update=" + e.ThisUpdate.UTC().Format(time.RFC3339)
	}
	if !e.NextUpdate.IsZero() {
		s += " next_update=" + e.NextUpdate.UTC().Format(time.RFC3339)
	}
	if e.Reason != "" {
		s += " reason=" + string(e.Reason)
	}
	if e.Peer != "" {
		s += fmt.Sprintf(" peer=%q", e.Peer)
	}
	if e.Err != nil {
		s += fmt.Sprintf(" err=%q", e.Err.Error())
	}
	return s
}

func serialHex(c *x509.Certificate) string {
	if c == nil || c.SerialNumber == nil {
		return ""
	}
	return c.SerialNumber.Text(16)
}

// maxQueued bounds the events waiting for a slow handler; beyond it new
// events are dropped rather than letting memory grow or handshakes wait.
const maxQueued = 1024

// sink delivers events in order on at most one goroutine, which exists only
// while events are queued. Emitting never blocks on the handler, so a slow
// log or metrics call cannot stall a handshake.
type sink struct {
	fn      func(Event)
	mu      sync.Mutex
	idle    sync.Cond
	queue   []Event
	running bool
	dropped int
}

func newSink(fn func(Event)) *sink {
	s := &sink{fn: fn}
	s.idle.L = &s.mu
	return s
}

func (s *sink) emit(e Event) {
	if s == nil || s.fn == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) >= maxQueued {
		s.dropped++
		return
	}
	s.queue = append(s.queue, e)
	if !s.running {
		s.running = true
		go s.run()
	}
}

func (s *sink) run() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.running = false
			s.queue = nil
			s.idle.Broadcast()
			s.mu.Unlock()
			return
		}
		e := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		s.fn(e)
	}
}

// flush waits until every queued event has been handled.
func (s *sink) flush() {
	if s == nil || s.fn == nil {
		return
	}
	s.mu.Lock()
	for s.running {
		s.idle.Wait()
	}
	s.mu.Unlock()
}
