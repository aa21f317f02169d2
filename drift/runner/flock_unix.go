//go:build unix

package runner

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// tryLock takes a flock on f without blocking; false means it is held by
// someone else. flock locks belong to the open file, so two opens in one
// process exclude each other like two processes do.
func tryLock(f *os.File, shared bool) (bool, error) {
	how := unix.LOCK_EX
	if shared {
		how = unix.LOCK_SH
	}
	err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// unlock releases f's flock, then closes f. Close alone may leave the lock
// held: a child that any goroutine of this process forks holds a copy of
// every descriptor until it execs (close-on-exec acts only then), and a
// flock belongs to the open file that copy shares. LOCK_UN releases it
// through any copy.
func unlock(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return errors.Join(err, f.Close())
}
