package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// remoteHead is where a fetch stores the remote's HEAD for Ref "".
const remoteHead = "refs/driftd/remote-head"

// maxStderr bounds the git output kept for an error message.
const maxStderr = 2000

// run runs git with env under m.timeout. On failure it returns git's stderr,
// redacted, and either the context's error (cancelled, timed out) or git's
// *exec.ExitError, whose text holds no secret.
func (m *Mirrors) run(ctx context.Context, red *redactor, env []string, stdout io.Writer, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := newCmd(ctx, m.git, args...)
	cmd.Env = env
	cmd.Dir = m.dir
	cmd.Stdout = stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return "", nil
	}
	msg := red.redact(oneLine(stderr.String()))
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return msg, fmt.Errorf("timed out after %s: %w", m.timeout, ctxErr)
		}
		return msg, ctxErr
	}
	return msg, err
}

// fetch brings the mirror up to date with the remote's branches and tags,
// creating it on first use, and the remote's HEAD when head is set.
// Branches and tags only, unlike clone --mirror: hosts such as GitHub
// advertise refs/pull/* by the thousand.
func (m *Mirrors) fetch(ctx context.Context, red *redactor, env []string, mirror string, r remote, head bool) error {
	if _, err := os.Stat(filepath.Join(mirror, "HEAD")); err != nil {
		// init is idempotent, so a mirror half-created by a crash is
		// repaired here.
		if msg, err := m.run(ctx, red, env, nil, "init", "--quiet", "--bare", "--", mirror); err != nil {
			return fmt.Errorf("create mirror: %w", withText(err, msg))
		}
	}
	args := []string{"--git-dir=" + mirror, "fetch", "--quiet", "--prune", "--no-write-fetch-head",
		"--", r.url, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}
	if head {
		args = append(args, "+HEAD:"+remoteHead)
	}
	msg, err := m.run(ctx, red, env, nil, args...)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if msg == "" {
		msg = err.Error()
	}
	return fmt.Errorf("%w: %s", classify(msg), msg)
}

// classify tells a refused credential from every other fetch failure.
func classify(stderr string) error {
	s := strings.ToLower(stderr)
	for _, p := range []string{
		"authentication failed",
		"could not read username",
		"could not read password",
		"permission denied (publickey",
		"the requested url returned error: 401",
		"the requested url returned error: 403",
	} {
		if strings.Contains(s, p) {
			return ErrAuth
		}
	}
	return ErrUnreachable
}

// resolve returns the full SHA of the commit ref names in the mirror.
func (m *Mirrors) resolve(ctx context.Context, red *redactor, env []string, mirror, ref string) (string, error) {
	rev := ref
	if rev == "" {
		rev = remoteHead
	}
	var out bytes.Buffer
	msg, err := m.run(ctx, red, env, &out, "--git-dir="+mirror,
		"rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return "", err
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 1 {
			return "", ErrRefNotFound
		}
		return "", withText(err, msg)
	}
	return strings.TrimSpace(out.String()), nil
}

// writeTree writes commit's tree into dst through a private index, so the
// mirror stays bare and dst gets no .git.
func (m *Mirrors) writeTree(ctx context.Context, red *redactor, env []string, mirror, commit, dst string) error {
	idx, err := os.MkdirTemp(m.dir, "index-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(idx)
	env = append(env[:len(env):len(env)], "GIT_INDEX_FILE="+filepath.Join(idx, "index"))
	for _, args := range [][]string{
		{"read-tree", commit},
		{"checkout-index", "--all", "--force"},
	} {
		args = append([]string{"--git-dir=" + mirror, "--work-tree=" + dst}, args...)
		if msg, err := m.run(ctx, red, env, nil, args...); err != nil {
			return withText(err, msg)
		}
	}
	return nil
}

// boilerplate is what git adds to every failed fetch over ssh or file.
var boilerplate = []string{
	"fatal: Could not read from remote repository.",
	"Please make sure you have the correct access rights",
	"and the repository exists.",
}

// oneLine turns git's stderr into one line fit for an error message.
func oneLine(stderr string) string {
	var lines []string
	for l := range strings.Lines(stderr) {
		l = strings.TrimSpace(l)
		if l != "" && !slices.Contains(boilerplate, l) {
			lines = append(lines, l)
		}
	}
	msg := strings.Join(lines, "; ")
	if len(msg) > maxStderr {
		msg = strings.ToValidUTF8(msg[:maxStderr], "") + "…"
	}
	return msg
}

// withText adds git's message to err unless err already is that message.
func withText(err error, msg string) error {
	if msg == "" || err.Error() == msg {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}

// lock serialises work on one mirror: a channel within this process (so
// that waiting respects ctx) and an flock on a lock file across processes.
func (m *Mirrors) lock(ctx context.Context, name string) (unlock func(), err error) {
	m.mu.Lock()
	ch, ok := m.locks[name]
	if !ok {
		ch = make(chan struct{}, 1)
		m.locks[name] = ch
	}
	m.mu.Unlock()
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f, err := os.OpenFile(filepath.Join(m.dir, name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		<-ch
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			<-ch
			return nil, fmt.Errorf("flock: %w", err)
		}
		// Another process holds it; poll rather than block so ctx is honoured.
		select {
		case <-ctx.Done():
			f.Close()
			<-ch
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return func() {
		// Closing the file releases the flock.
		f.Close()
		<-ch
	}, nil
}
