//go:build unix

package runner

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// forkedCopy stands for a child that another goroutine forked while f was
// open: until it execs it holds a descriptor of f's open file, which a dup
// shares the same way.
func forkedCopy(t *testing.T, fd int) {
	t.Helper()
	dup, err := syscall.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(dup) })
}

// TestLocksReleasedDespiteForkedCopies: a released lock is free at once
// even while a forked child still holds a copy of its descriptor. Closing
// alone left it held: the next scan of the workspace found its data dir
// busy and ran a private init (TestDataDirReuse, TestDataDirBusy under a
// loaded `go test`), and inits waited on the plugin cache.
func TestLocksReleasedDespiteForkedCopies(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()

	t.Run("data dir", func(t *testing.T) {
		dd, err := newDataDirs(cache)
		if err != nil {
			t.Fatal(err)
		}
		spec := Spec{}
		spec.Name, spec.Dir = "ws", t.TempDir()
		d, err := dd.acquire(spec, "key")
		if err != nil || d == nil {
			t.Fatalf("acquire: %v %v", d, err)
		}
		forkedCopy(t, int(d.lock.Fd()))
		if err := d.release(); err != nil {
			t.Fatal(err)
		}
		again, err := dd.acquire(spec, "key")
		if err != nil {
			t.Fatal(err)
		}
		if again == nil {
			t.Fatal("the data dir is still locked after its scan released it")
		}
		if err := again.release(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("plugin cache", func(t *testing.T) {
		c, err := newPluginCache(cache)
		if err != nil {
			t.Fatal(err)
		}
		shared, done, err := c.acquire(t.Context(), t.TempDir())
		if err != nil || shared {
			t.Fatalf("acquire: shared %v, %v; want exclusive", shared, err)
		}
		// acquire's descriptor is its own; /proc finds it by the path.
		lockPath := filepath.Join(c.dir, ".lock")
		fds, _ := filepath.Glob("/proc/self/fd/*")
		copied := false
		for _, link := range fds {
			fd, err := strconv.Atoi(filepath.Base(link))
			if target, lerr := os.Readlink(link); err == nil && lerr == nil && target == lockPath {
				forkedCopy(t, fd)
				copied = true
			}
		}
		if !copied {
			t.Skip("no /proc/self/fd to find the lock's descriptor")
		}
		done(true)
		f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock(f)
		if ok, err := tryLock(f, false); !ok || err != nil {
			t.Fatalf("the plugin cache is still locked after the init released it: %v %v", ok, err)
		}
	})
}
