// Package pgtest runs a real PostgreSQL server for tests: its own data
// directory in a temporary directory, listening on a free loopback port, with
// password authentication, stopped and removed when the test ends. Terraform's
// "pg" state backend talks to it as it would to a production database.
//
// The server binaries come from PATH or Debian's /usr/lib/postgresql/<ver>/bin
// (`make test` installs Debian's postgresql when neither has them). PostgreSQL
// refuses to run as root, so when the tests do, the server runs as the
// "postgres" system user (or "nobody").
//
// The postmaster is a direct child of the test process, with a parent-death
// signal: a test binary that is killed takes its server with it.
package pgtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNoPostgres means the PostgreSQL server binaries were not found.
var ErrNoPostgres = errors.New("pgtest: no PostgreSQL server binaries (initdb, postgres, psql)")

// User and Database are the superuser and database every Server has.
const (
	User     = "driftd"
	Database = "driftd"
)

// Server is one running PostgreSQL server.
type Server struct {
	// Dir holds the data directory (Dir/data) and the server log (Dir/log).
	Dir  string
	Port int
	// Password is User's password, random per server.
	Password string

	bin     string
	cred    *syscall.Credential
	created bool // Database exists

	mu   sync.Mutex
	proc *exec.Cmd
	done chan struct{} // closed when proc exits
	log  *os.File
}

// Start initialises a new cluster under a fresh temporary directory and
// starts it. Close stops it and removes the directory.
func Start(ctx context.Context) (s *Server, err error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir(): its parents are 0700 and the server may run as
	// another user, who needs to reach its own data directory.
	dir, err := os.MkdirTemp("", "driftd-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s = &Server{Dir: dir, bin: bin, cred: cred, Password: randomHex(16)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.initdb(ctx); err != nil {
		return nil, err
	}
	// A port found free may be taken before the server binds it: try again.
	for range 5 {
		if s.Port, err = freePort(); err != nil {
			return nil, err
		}
		if err = s.start(ctx); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.Query(ctx, "CREATE DATABASE "+Database); err != nil {
		return nil, err
	}
	s.created = true
	return s, nil
}

// ConnString is a libpq URL for User on Database, password included, as
// Terraform's pg backend takes in conn_str.
func (s *Server) ConnString() string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(User, s.Password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)),
		Path:     "/" + Database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Stop shuts the server down ("fast": clients are disconnected, open
// transactions rolled back) and waits for it. Stopping a stopped server does
// nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	proc, done := s.proc, s.done
	s.proc = nil
	s.mu.Unlock()
	if proc == nil {
		return nil
	}
	if err := proc.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pgtest: stop: %w", err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(time.Minute):
		proc.Process.Kill()
		<-done
		return fmt.Errorf("pgtest: stop: the server did not shut down within a minute; killed")
	}
}

// Restart stops the server and starts it again on the same port and data, as
// `pg_ctl restart -m fast` does: every client connection is cut.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.Start(ctx)
}

// Start starts a stopped server again, on the same port and data.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	running := s.proc != nil
	s.mu.Unlock()
	if running {
		return errors.New("pgtest: start: already running")
	}
	return s.start(ctx)
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	err := s.Stop()
	if s.log != nil {
		s.log.Close()
	}
	return errors.Join(err, os.RemoveAll(s.Dir))
}

// Log returns what the server has logged so far, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "log"))
	return string(b)
}

// Query runs sql with psql and returns its output, unaligned and without
// headers: one row a line, columns separated by "|". Values are printed as
// they are, so a text column comes back byte for byte.
func (s *Server) Query(ctx context.Context, sql string) (string, error) {
	cmd := s.psql(ctx, "-c", sql)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("pgtest: psql %q: %w: %s", sql, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSuffix(stdout.String(), "\n"), nil
}

// Session is one client connection kept open: what holds a session-level
// advisory lock (as Terraform's pg backend takes) for as long as a test
// needs.
type Session struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
	seq    int
}

// Session opens a connection that stays open until Close.
func (s *Server) Session(ctx context.Context) (*Session, error) {
	cmd := s.psql(ctx)
	ss := &Session{cmd: cmd}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("pgtest: session: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("pgtest: session: %w", err)
	}
	cmd.Stderr = &ss.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgtest: session: %w", err)
	}
	ss.stdin, ss.out = stdin, bufio.NewReader(stdout)
	if _, err := ss.Exec("SELECT 1"); err != nil {
		ss.Close()
		return nil, err
	}
	return ss, nil
}

// Exec runs sql in the session and returns its output as Query does. An
// error in sql ends the session.
func (ss *Session) Exec(sql string) (string, error) {
	ss.seq++
	marker := fmt.Sprintf("pgtest-done-%d", ss.seq)
	if _, err := fmt.Fprintf(ss.stdin, "%s;\n\\echo %s\n", strings.TrimSuffix(sql, ";"), marker); err != nil {
		return "", fmt.Errorf("pgtest: session %q: %w", sql, err)
	}
	var out strings.Builder
	for {
		line, err := ss.out.ReadString('\n')
		if strings.TrimSuffix(line, "\n") == marker {
			return strings.TrimSuffix(out.String(), "\n"), nil
		}
		out.WriteString(line)
		if err != nil {
			ss.cmd.Wait()
			return "", fmt.Errorf("pgtest: session %q: %w: %s", sql, err, bytes.TrimSpace(ss.stderr.Bytes()))
		}
	}
}

// Close ends the session, releasing whatever it held.
func (ss *Session) Close() error {
	ss.stdin.Close()
	err := ss.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return nil // psql ended by an earlier error or a server restart
	}
	return err
}

func (s *Server) psql(ctx context.Context, args ...string) *exec.Cmd {
	db := Database
	if !s.created {
		db = "postgres"
	}
	args = append([]string{"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", User, "-d", db}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "psql"), args...)
	cmd.Env = []string{"PGPASSWORD=" + s.Password, "PGCONNECT_TIMEOUT=10", "PATH=" + os.Getenv("PATH")}
	return cmd
}

func (s *Server) initdb(ctx context.Context) error {
	if s.cred != nil {
		if err := os.Chown(s.Dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	pwfile := filepath.Join(s.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if s.cred != nil {
		if err := os.Chown(pwfile, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	defer os.Remove(pwfile)
	cmd := s.serverCmd(ctx, "initdb", "-D", filepath.Join(s.Dir, "data"), "-U", User, "--pwfile", pwfile,
		"--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync", "--no-instructions")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}

// start runs the postmaster in the foreground as a child and waits until it
// accepts connections.
func (s *Server) start(ctx context.Context) error {
	if s.log == nil {
		f, err := os.OpenFile(filepath.Join(s.Dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		s.log = f
	}
	// Not ctx: the server outlives the call that starts it.
	cmd := s.serverCmd(context.Background(), "postgres", "-D", filepath.Join(s.Dir, "data"),
		"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(s.Port),
		"-c", "unix_socket_directories=", // TCP only: no socket path to share
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "max_connections=50", "-c", "shared_buffers=16MB")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	quitWithParent(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.proc, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for {
		ready := s.serverCmd(ctx, "pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-t", "5")
		if ready.Run() == nil {
			return nil
		}
		select {
		case <-done:
			s.mu.Lock()
			s.proc = nil
			s.mu.Unlock()
			return fmt.Errorf("pgtest: the server exited while starting:\n%s", tail(s.Log(), 2000))
		case <-ctx.Done():
			s.Stop()
			return fmt.Errorf("pgtest: start: %w", ctx.Err())
		case <-deadline.C:
			s.Stop()
			return fmt.Errorf("pgtest: the server did not accept connections within a minute:\n%s", tail(s.Log(), 2000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// serverCmd runs one of the server binaries, as the unprivileged user when
// the tests run as root.
func (s *Server) serverCmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.Dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	return cmd
}

// binDir finds the directory holding initdb, postgres, pg_isready and psql:
// $DRIFTD_PG_BIN, then beside initdb on PATH, then the newest
// /usr/lib/postgresql/<ver>/bin.
func binDir() (string, error) {
	var dirs []string
	if d := os.Getenv("DRIFTD_PG_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versions, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
	dirs = append(dirs, versions...)
	for _, d := range dirs {
		if hasAll(d, "initdb", "postgres", "pg_isready", "psql") {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func hasAll(dir string, names ...string) bool {
	for _, n := range names {
		if st, err := os.Stat(filepath.Join(dir, n)); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}

// credential is the user the server runs as: nil (this process's own) unless
// this process is root, which PostgreSQL refuses.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, errors.New("pgtest: running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
