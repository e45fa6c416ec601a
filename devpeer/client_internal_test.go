package devpeer

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ccserver/ccserver/internal/peerside"
)

// TestEngineBoundary: devpeer's write kinds are the engine's numbers and
// its sentinels match the engine's errors, message unchanged.
func TestEngineBoundary(t *testing.T) {
	for ours, engine := range map[WriteKind]peerside.WriteKind{
		WritePut: peerside.WritePut, WriteDelete: peerside.WriteDelete, WritePurge: peerside.WritePurge, WriteMetadata: peerside.WriteMetadata,
	} {
		if WriteKind(engine) != ours || ours.String() != engine.String() {
			t.Errorf("%v: engine %v", ours, engine)
		}
	}
	for ours, engine := range map[error]error{
		ErrCCIDMismatch: &peerside.CCIDMismatchError{Expected: "a:1", Got: "b:1"}, ErrStreamTerminated: peerside.ErrStreamTerminated,
		ErrProtocol: peerside.ErrProtocol, ErrTimeout: peerside.ErrTimeout,
	} {
		inner := fmt.Errorf("connect: %w", engine)
		err := fromEngine(inner)
		if !errors.Is(err, ours) || err.Error() != inner.Error() || !errors.Is(err, engine) {
			t.Errorf("%v: %v", ours, err)
		}
		for other := range map[error]bool{ErrCCIDMismatch: true, ErrStreamTerminated: true, ErrProtocol: true, ErrTimeout: true} {
			if other != ours && errors.Is(err, other) {
				t.Errorf("%v matches %v", err, other)
			}
		}
	}
	if fromEngine(nil) != nil {
		t.Error("nil wrapped")
	}
}
