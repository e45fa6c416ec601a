//go:build !unix

package fsutil

import (
	"errors"
	"os"
)

// Without flock, a second file created with O_EXCL marks the holder; it is
// removed on unlock. A crashed holder leaves it behind, and the error
// names it so it can be deleted.
func tryLock(f *os.File) (bool, error) {
	h, err := os.OpenFile(f.Name()+".held", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, h.Close()
}

func unlockFile(f *os.File) error { return os.Remove(f.Name() + ".held") }
