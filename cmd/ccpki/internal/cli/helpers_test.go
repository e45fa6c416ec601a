package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ccserver/ccserver/internal/testcfssl"
)

func TestMain(m *testing.M) {
	testcfssl.QuietLogs() // the in-process cfssl server logs every request
	goleak.VerifyTestMain(m)
}

// syncBuffer is an output a running daemon and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ccpki runs the command line in process and returns its exit code and
// combined output.
func ccpki(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out syncBuffer
	code := Run(ctx, args, &out, &out)
	return code, out.String()
}

// mustCCPKI runs ccpki and fails the test unless it exits 0.
func mustCCPKI(t *testing.T, args ...string) string {
	t.Helper()
	code, out := ccpki(t, args...)
	if code != 0 {
		t.Fatalf("ccpki %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// wantExit runs ccpki and checks its exit code and that the output says
// what went wrong.
func wantExit(t *testing.T, code int, want string, args ...string) string {
	t.Helper()
	got, out := ccpki(t, args...)
	if got != code || !strings.Contains(out, want) {
		t.Fatalf("ccpki %s: exit %d (want %d), output:\n%s(want it to mention %q)", strings.Join(args, " "), got, code, out, want)
	}
	return out
}

// secretFile writes a password or key file the way a user should: 0600.
func secretFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFileMode(path string, b []byte, mode os.FileMode) error { return os.WriteFile(path, b, mode) }
