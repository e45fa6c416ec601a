package serve

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// subprocessEnv makes the test binary run ccserver instead of the tests,
// so the signal test drives a real process with real signals.
const subprocessEnv = "CCSERVER_TEST_RUN_AS_CCSERVER"

func runAsCCServer() bool {
	if os.Getenv(subprocessEnv) != "1" {
		return false
	}
	Main(newTestCC())
	return true
}

// startProcess starts ccserver as a child process with JSON logs and
// returns it with the chaincode address read from its "ready" log line
// and a channel of every later log line.
func startProcess(t *testing.T, args ...string) (*exec.Cmd, net.Addr, <-chan map[string]any) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), subprocessEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan map[string]any, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				m = map[string]any{"msg": sc.Text()}
			}
			lines <- m
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	m := waitLog(t, lines, "chaincode server ready")
	addr, err := net.ResolveTCPAddr("tcp", m["address"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return cmd, addr, lines
}

// waitLog reads log lines until one has msg starting with prefix.
func waitLog(t *testing.T, lines <-chan map[string]any, prefix string) map[string]any {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case m, ok := <-lines:
			if !ok {
				t.Fatalf("process ended before logging %q", prefix)
			}
			if msg, _ := m["msg"].(string); strings.HasPrefix(msg, prefix) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %q log line after %s", prefix, wait)
		}
	}
}

// TestProcessSignals drives a real ccserver process: a transaction over
// mutual TLS, SIGHUP after the certificate files changed (a rotation
// logged at once), then SIGTERM with a transaction in flight: the
// transaction completes and the process exits 0.
func TestProcessSignals(t *testing.T) {
	p := newPKI(t)
	cmd, addr, lines := startProcess(t, append([]string{"--address", "127.0.0.1:0", "--ccid", "proc:1", "--shutdown-timeout", "1m"}, p.tlsArgs()...)...)
	peer := dialPeer(t, addr, p.clientTLS(t, p.client))
	if r := peer.invoke(t, "ch", "tx1", "echo", "hello"); string(r.Payload) != "hello" {
		t.Fatalf("echo: %+v", r)
	}

	// Rotate: write a new certificate, then ask for a reload at once.
	renewed := p.ca.Server(t)
	renewed.WriteFiles(t, p.dir)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, lines, "TLS material rotated")

	// Drain: a transaction that is running when SIGTERM arrives finishes
	// and reaches the peer; then the process exits 0.
	marker := filepath.Join(t.TempDir(), "started")
	ch, err := peer.send("ch", "tx2", "sleep", "2s", marker)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the transaction to start", func() bool { _, err := os.Stat(marker); return err == nil })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLog(t, lines, "draining")
	if r := completed(t, peer.result(t, ch)); string(r.Payload) != "slept" {
		t.Fatalf("in-flight transaction: %+v", r)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ccserver exited with %v, want status 0", err)
	}
	waitLog(t, lines, "chaincode server stopped")
}
