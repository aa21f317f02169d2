// Package filestate keeps reporter bookkeeping (a reporters.State) in
// files, for `driftd scan` without a store: one JSON file per workspace and
// reporter under a directory (driftd uses <cache dir>/notify), each written
// whole or not at all. Several driftd processes may share the directory:
// Lock takes a lock file's flock, which the Dispatcher holds from reading
// what a reporter told to recording what it sent.
package filestate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/driftd/driftd/internal/cachefile"
	"github.com/driftd/driftd/reporters"
)

// State is a reporters.State and reporters.Locker in a directory.
type State struct {
	dir string

	mu    sync.Mutex
	locks map[string]chan struct{} // held within this process, by entry
}

var (
	_ reporters.State  = (*State)(nil)
	_ reporters.Locker = (*State)(nil)
)

// Open returns the State kept in dir, creating dir (private to the user)
// when missing.
func Open(dir string) (*State, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("reporter bookkeeping: %w", err)
	}
	return &State{dir: dir, locks: map[string]chan struct{}{}}, nil
}

// Dir is the directory the State is kept in.
func (s *State) Dir() string { return s.dir }

// path is the file of an entry: <dir>/<workspace>/<reporter>.json.
func (s *State) path(workspace, reporter string) (string, error) {
	if workspace == "" || reporter == "" {
		return "", fmt.Errorf("reporter bookkeeping: empty workspace (%q) or reporter (%q)", workspace, reporter)
	}
	return filepath.Join(s.dir, fileName(workspace), fileName(reporter)+".json"), nil
}

// fileName makes a name safe as one path element: bytes other than
// letters, digits, "_", "-", "[", "]" and a "." not in front are %-escaped.
func fileName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '_', c == '-', c == '[', c == ']', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// GetState implements reporters.State.
func (s *State) GetState(_ context.Context, workspace, reporter string) ([]byte, error) {
	p, err := s.path(workspace, reporter)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reporter bookkeeping: %w", err)
	}
	return b, nil
}

// PutState implements reporters.State; empty data removes the entry.
func (s *State) PutState(_ context.Context, workspace, reporter string, data []byte) error {
	p, err := s.path(workspace, reporter)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reporter bookkeeping: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("reporter bookkeeping: %w", err)
	}
	if err := cachefile.Write(p, data); err != nil {
		return fmt.Errorf("reporter bookkeeping: %w", err)
	}
	return nil
}

// Lock implements reporters.Locker: a channel within this process (so
// that waiting honours ctx) and an flock on the entry's lock file across
// processes, polled for the same reason. The flock dies with the process.
func (s *State) Lock(ctx context.Context, workspace, reporter string) (func(), error) {
	p, err := s.path(workspace, reporter)
	if err != nil {
		return nil, err
	}
	return s.lock(ctx, strings.TrimSuffix(p, ".json")+".lock")
}

func (s *State) lock(ctx context.Context, lockPath string) (func(), error) {
	s.mu.Lock()
	ch, ok := s.locks[lockPath]
	if !ok {
		ch = make(chan struct{}, 1)
		s.locks[lockPath] = ch
	}
	s.mu.Unlock()
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release := func() { <-ch }
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o700); err != nil {
		release()
		return nil, fmt.Errorf("reporter bookkeeping: %w", err)
	}
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		release()
		return nil, fmt.Errorf("reporter bookkeeping: %w", err)
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			release()
			return nil, fmt.Errorf("reporter bookkeeping: lock %s: %w", lockPath, err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			f.Close()
			release()
			return nil, fmt.Errorf("reporter bookkeeping: waiting for %s, held by another driftd: %w", lockPath, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return func() {
		f.Close() // releases the flock
		release()
	}, nil
}

var _ reporters.Forgetter = (*State)(nil)

// StateWorkspaces implements reporters.Forgetter: the workspaces with a
// directory. A directory whose name driftd would not have made is not
// one, and is left alone.
func (s *State) StateWorkspaces(context.Context) ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("reporter bookkeeping: %w", err)
	}
	var out []string
	for _, e := range ents {
		if ws, ok := unFileName(e.Name()); ok && e.IsDir() {
			out = append(out, ws)
		}
	}
	return out, nil
}

// ForgetState implements reporters.Forgetter: each entry's record and lock
// file go under its lock, then the workspace's directory when nothing else
// is in it.
func (s *State) ForgetState(ctx context.Context, workspace string) error {
	dir := filepath.Join(s.dir, fileName(workspace))
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reporter bookkeeping: %w", err)
	}
	entries := map[string]bool{}
	for _, e := range ents {
		base, ext := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name())), filepath.Ext(e.Name())
		if _, ok := unFileName(base); ok && !e.IsDir() && (ext == ".json" || ext == ".lock") {
			entries[base] = true
		}
	}
	for base := range entries {
		p := filepath.Join(dir, base)
		unlock, err := s.lock(ctx, p+".lock")
		if err != nil {
			return err
		}
		err = errors.Join(removeFile(p+".json"), removeFile(p+".lock"))
		unlock()
		if err != nil {
			return fmt.Errorf("reporter bookkeeping: %w", err)
		}
	}
	// Files driftd did not write keep the directory; the records are gone.
	_ = os.Remove(dir)
	return nil
}

// unFileName is fileName's inverse; false for a name fileName does not
// make.
func unFileName(s string) (string, bool) {
	name, err := url.PathUnescape(s)
	if err != nil || name == "" || fileName(name) != s {
		return "", false
	}
	return name, true
}

func removeFile(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
