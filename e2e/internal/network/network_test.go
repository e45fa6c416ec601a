package network

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

func TestStartStop(t *testing.T) {
	f, err := FromEnv()
	if errors.Is(err, ErrNoFabric) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "fabnet-")
	if err != nil {
		t.Fatal(err)
	}
	n, err := Start(ctx, Options{Fabric: f, Dir: dir, Logf: t.Logf})
	if err != nil {
		t.Fatalf("start: %v (kept %s)", err, dir)
	}
	out, err := n.Peers[0].CLI(ctx, "channel", "list")
	if err != nil {
		t.Fatal(err, "\n", n.Tails(30))
	}
	t.Logf("channels: %s", out)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range n.Processes() {
		if done, _ := p.Exited(); !done {
			t.Errorf("%s still running", p.Name)
		}
	}
	os.RemoveAll(dir)
}
