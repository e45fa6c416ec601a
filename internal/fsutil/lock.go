package fsutil

import (
	"context"
	"fmt"
	"os"
	"time"
)

// lockPoll is how often LockFile retries while another process holds the
// lock.
const lockPoll = 10 * time.Millisecond

// LockFile takes an exclusive lock on path (created 0600 if missing),
// waiting while another process holds it, until ctx ends. It serialises
// read-modify-write cycles on a file beside it, e.g. two `ccpki revoke`
// runs updating revoked.json, which would otherwise lose an entry. The
// lock is advisory and is released by unlock or when the process exits,
// so a crash never leaves it stuck.
func LockFile(ctx context.Context, path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			return func() error {
				uerr := unlockFile(f)
				if cerr := f.Close(); uerr == nil {
					uerr = cerr
				}
				return uerr
			}, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: another process holds it: %w", path, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}
