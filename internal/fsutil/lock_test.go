package fsutil

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestLockFileSerialises runs read-modify-write cycles from many
// goroutines, each with its own open file like separate processes; with
// the lock none of the increments is lost.
func TestLockFileSerialises(t *testing.T) {
	dir := t.TempDir()
	counter, lock := filepath.Join(dir, "n"), filepath.Join(dir, "n.lock")
	if err := WriteFile(counter, []byte("0"), 0o600); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Go(func() {
			for range rounds {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				unlock, err := LockFile(ctx, lock)
				cancel()
				if err != nil {
					errs <- err
					return
				}
				b, err := os.ReadFile(counter)
				if err == nil {
					var n int
					n, err = strconv.Atoi(string(b))
					if err == nil {
						err = WriteFile(counter, []byte(strconv.Itoa(n+1)), 0o600)
					}
				}
				if uerr := unlock(); err == nil {
					err = uerr
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b, err := os.ReadFile(counter)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != strconv.Itoa(workers*rounds) {
		t.Fatalf("counter = %s after %d locked increments: updates were lost", got, workers*rounds)
	}
}

func TestLockFileWaitsAndGivesUp(t *testing.T) {
	lock := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := LockFile(context.Background(), lock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LockFile(ctx, lock); !errors.Is(err, context.Canceled) {
		t.Fatalf("second LockFile while held: err = %v, want context.Canceled", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock2, err := LockFile(context.Background(), lock)
	if err != nil {
		t.Fatalf("LockFile after unlock: %v", err)
	}
	if err := unlock2(); err != nil {
		t.Fatal(err)
	}
}

func TestLockFileBadDirectory(t *testing.T) {
	_, err := LockFile(context.Background(), filepath.Join(t.TempDir(), "missing", "x.lock"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want a not-exist error naming the lock", err)
	}
}
