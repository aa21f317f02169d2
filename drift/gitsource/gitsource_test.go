package gitsource

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCheckoutRefs(t *testing.T) {
	t.Parallel()
	up := newRepo(t)
	first := up.commit(map[string]string{"main.tf": "# v1\n", "modules/net/main.tf": "# net v1\n"})
	up.git("tag", "v1")
	up.git("tag", "-a", "-m", "annotated", "v1-annotated")
	up.git("branch", "feature")
	up.git("checkout", "--quiet", "feature")
	feature := up.commit(map[string]string{"main.tf": "# feature\n"})
	up.git("checkout", "--quiet", "main")
	head := up.commit(map[string]string{"main.tf": "# v2\n"})

	m, _ := newMirrors(t, "")
	for _, tc := range []struct {
		name, url, ref, path string
		commit, file, want   string
	}{
		{"remote HEAD", "file://" + up.dir, "", "", head, "main.tf", "# v2\n"},
		{"HEAD spelled out", "file://" + up.dir, "HEAD", "", head, "main.tf", "# v2\n"},
		{"branch", "file://" + up.dir, "feature", "", feature, "main.tf", "# feature\n"},
		{"full branch ref", "file://" + up.dir, "refs/heads/feature", "", feature, "main.tf", "# feature\n"},
		{"tag", "file://" + up.dir, "v1", "", first, "main.tf", "# v1\n"},
		{"annotated tag", "file://" + up.dir, "v1-annotated", "", first, "main.tf", "# v1\n"},
		{"full SHA", "file://" + up.dir, first, "", first, "main.tf", "# v1\n"},
		{"short SHA", "file://" + up.dir, first[:10], "", first, "main.tf", "# v1\n"},
		{"local path", up.dir, "main", "", head, "main.tf", "# v2\n"},
		{"subdirectory", up.dir, "v1", "modules/net", first, "main.tf", "# net v1\n"},
		{"subdirectory with slash", "file://" + up.dir, "v1", "modules/net/", first, "main.tf", "# net v1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "src")
			commit, root, err := m.Checkout(context.Background(), Source{URL: tc.url, Ref: tc.ref, Path: tc.path}, dst)
			if err != nil {
				t.Fatal(err)
			}
			if commit != tc.commit {
				t.Errorf("commit = %s, want %s", commit, tc.commit)
			}
			if want := filepath.Join(dst, filepath.FromSlash(tc.path)); root != want {
				t.Errorf("root = %s, want %s", root, want)
			}
			if got := readFile(t, filepath.Join(root, tc.file)); got != tc.want {
				t.Errorf("%s = %q, want %q", tc.file, got, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dst, ".git")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("dst has a .git: %v", err)
			}
		})
	}
}

func TestCheckoutRefMoves(t *testing.T) {
	t.Parallel()
	up := newRepo(t)
	first := up.commit(map[string]string{"main.tf": "# one\n", "gone.tf": "# removed later\n"})
	m, _ := newMirrors(t, "")
	src := Source{URL: "file://" + up.dir, Ref: "main"}

	commit, root, err := m.Checkout(context.Background(), src, filepath.Join(t.TempDir(), "a"))
	if err != nil || commit != first {
		t.Fatalf("first checkout: %s, %v; want %s", commit, err, first)
	}
	if _, err := os.Stat(filepath.Join(root, "gone.tf")); err != nil {
		t.Fatal(err)
	}

	up.git("rm", "--quiet", "gone.tf")
	second := up.commit(map[string]string{"main.tf": "# two\n"})
	commit, root, err = m.Checkout(context.Background(), src, filepath.Join(t.TempDir(), "b"))
	if err != nil || commit != second {
		t.Fatalf("second checkout: %s, %v; want %s", commit, err, second)
	}
	if got := readFile(t, filepath.Join(root, "main.tf")); got != "# two\n" {
		t.Errorf("main.tf = %q", got)
	}
	if _, err := os.Stat(filepath.Join(root, "gone.tf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("gone.tf still there: %v", err)
	}

	// A force-push back to the first commit is followed too.
	up.git("reset", "--quiet", "--hard", first)
	commit, _, err = m.Checkout(context.Background(), src, filepath.Join(t.TempDir(), "c"))
	if err != nil || commit != first {
		t.Fatalf("after force-push: %s, %v; want %s", commit, err, first)
	}
}

func TestCheckoutErrors(t *testing.T) {
	t.Parallel()
	up := newRepo(t)
	up.commit(map[string]string{"main.tf": "#\n", "modules/a/main.tf": "#\n", "file.txt": "x"})
	if err := os.Symlink("/etc", filepath.Join(up.dir, "escape")); err != nil {
		t.Fatal(err)
	}
	up.commit(nil)
	url := "file://" + up.dir
	m, _ := newMirrors(t, "")

	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		src  Source
		dst  string
		is   error
		want string
	}{
		{"unknown ref", Source{URL: url, Ref: "v9"}, "", ErrRefNotFound, `ref "v9" not found in ` + url},
		{"unknown SHA", Source{URL: url, Ref: strings.Repeat("ab", 20)}, "", ErrRefNotFound, "not found in " + url},
		{"ref like an option", Source{URL: url, Ref: "--upload-pack=x"}, "", nil, `invalid ref "--upload-pack=x"`},
		{"path escapes", Source{URL: url, Path: "../x"}, "", nil, `path "../x" must be a relative path inside the repository`},
		{"absolute path", Source{URL: url, Path: "/etc"}, "", nil, `path "/etc" must be a relative path`},
		{"missing path", Source{URL: url, Path: "modules/b"}, "", nil, `path "modules/b" does not exist in the repository`},
		{"path is a file", Source{URL: url, Path: "file.txt"}, "", nil, `path "file.txt" is not a directory`},
		{"path through symlink", Source{URL: url, Path: "escape"}, "", nil, `path "escape" leads outside the repository`},
		{"dst not empty", Source{URL: url}, nonEmpty, nil, "is not empty"},
		{"transport helper", Source{URL: "ext::sh -c touch% /tmp/pwned"}, "", nil, "transport helpers"},
		{"unknown scheme", Source{URL: "ftp://example.com/r.git"}, "", nil, `unsupported scheme "ftp"`},
		{"token on ssh", Source{URL: "git@example.com:o/r.git", Auth: Auth{Token: "t0ken"}}, "", nil, "a token applies to http(s) URLs only"},
		{"key on https", Source{URL: "https://example.com/o/r.git", Auth: Auth{SSHKeyFile: "/k"}}, "", nil, "an ssh key file applies to ssh URLs only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := tc.dst
			if dst == "" {
				dst = filepath.Join(t.TempDir(), "src")
			}
			_, _, err := m.Checkout(context.Background(), tc.src, dst)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.dst == "" {
				if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("dst left behind after error: %v", err)
				}
			}
		})
	}
}

func TestCheckoutUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/repo.git"
	l.Close()

	m, _ := newMirrors(t, "")
	for _, tc := range []struct{ name, url, want string }{
		{"missing file repo", "file://" + filepath.Join(t.TempDir(), "nope"), "does not appear to be a git repository"},
		{"missing local path", filepath.Join(t.TempDir(), "nope"), "does not appear to be a git repository"},
		{"closed port", closed, "Failed to connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A safety net only: an unreachable source fails on git's
			// first answer, which is not a timeout.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, _, err := m.Checkout(ctx, Source{URL: tc.url, Ref: "main"}, filepath.Join(t.TempDir(), "src"))
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("error %v is not ErrUnreachable", err)
			}
			prefix := "git source " + tc.url + " (ref main): fetch: repository not found or not reachable: "
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want prefix %q and %q", err, prefix, tc.want)
			}
		})
	}
}

func TestCheckoutConcurrent(t *testing.T) {
	t.Parallel()
	up := newRepo(t)
	want := up.commit(map[string]string{"main.tf": "#\n"})
	dir := t.TempDir()
	// Two Mirrors on one directory stand for two driftd processes: only
	// the flock keeps them apart.
	a, _ := newMirrors(t, dir)
	b, _ := newMirrors(t, dir)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	commits := make([]string, 10)
	for i := range 10 {
		m := a
		if i%2 == 1 {
			m = b
		}
		wg.Go(func() {
			commits[i], _, errs[i] = m.Checkout(context.Background(),
				Source{URL: "file://" + up.dir, Ref: "main"}, filepath.Join(t.TempDir(), "src"))
		})
	}
	wg.Wait()
	for i := range 10 {
		if errs[i] != nil || commits[i] != want {
			t.Errorf("checkout %d: %s, %v", i, commits[i], errs[i])
		}
	}
}

func TestCheckoutCancelledWhileWaitingForLock(t *testing.T) {
	t.Parallel()
	m, _ := newMirrors(t, "")
	url := "file:///nonexistent/repo"
	unlock, err := m.lock(context.Background(), mirrorName(url))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, _, err = m.Checkout(ctx, Source{URL: url}, filepath.Join(t.TempDir(), "src"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "wait for mirror lock") {
		t.Errorf("error = %v", err)
	}
}

func TestMirrorName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, slug string }{
		{"https://github.com/org/infra.git", "infra-"},
		{"https://x-access-token:s3cret@github.com/org/infra", "infra-"},
		{"git@github.com:org/Net Work.git", "net-work-"},
		{"/srv/git/live/", "live-"},
		{"https://host/", "host-"},
	} {
		name := mirrorName(tc.url)
		if !strings.HasPrefix(name, tc.slug) || len(name) != len(tc.slug)+16 {
			t.Errorf("mirrorName(%q) = %q, want %q + 16 hex digits", tc.url, name, tc.slug)
		}
		if strings.Contains(name, "s3cret") {
			t.Errorf("mirrorName(%q) = %q holds the password", tc.url, name)
		}
	}
	if mirrorName("https://h/a/r") == mirrorName("https://h/b/r") {
		t.Error("different URLs share a mirror")
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	r := newRedactor("tok123")
	in := "fatal: unable to access 'https://user:pw@h/r/': tok123 " + basicCredentials("tok123") +
		" ssh://git@h/r http://tok456@h/x"
	got := r.redact(in)
	for _, s := range []string{"pw@", "tok123", basicCredentials("tok123"), "tok456"} {
		if strings.Contains(got, s) {
			t.Errorf("redact left %q in %q", s, got)
		}
	}
	if !strings.Contains(got, "https://***@h/r/") {
		t.Errorf("redact(%q) = %q", in, got)
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	in := "fatal: '/x' does not appear to be a git repository\nfatal: Could not read from remote repository.\n\n" +
		"Please make sure you have the correct access rights\nand the repository exists.\n"
	if got, want := oneLine(in), "fatal: '/x' does not appear to be a git repository"; got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
	if got := oneLine("a\nb\n"); got != "a; b" {
		t.Errorf("oneLine = %q", got)
	}
	if got := oneLine(strings.Repeat("é", maxStderr)); len(got) > maxStderr+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("oneLine did not cut a long message: %d bytes", len(got))
	}
}
