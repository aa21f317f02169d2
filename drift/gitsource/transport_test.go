package gitsource

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serveGit serves the repositories under root over smart HTTP with the real
// git http-backend, answering 401 to any request without token's header.
func serveGit(t *testing.T, root, token string) (srv *httptest.Server, authorized *atomic.Int32) {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Root: "/git",
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + root},
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))
	authorized = &atomic.Int32{}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		authorized.Add(1)
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, authorized
}

func TestCheckoutHTTPToken(t *testing.T) {
	t.Parallel()
	const token = "ghs_s3cretT0kenValue"
	up := newRepo(t)
	want := up.commit(map[string]string{"main.tf": "# over http\n"})
	srv, authorized := serveGit(t, filepath.Dir(up.dir), token)
	url := srv.URL + "/git/" + filepath.Base(up.dir)
	mirrorDir := t.TempDir()
	m, logs := newMirrors(t, mirrorDir)

	var texts []string
	for _, tc := range []struct {
		name string
		url  string
		auth Auth
		is   error
	}{
		{"token", url, Auth{Token: token}, nil},
		{"no token", url, Auth{}, ErrAuth},
		{"wrong token", url, Auth{Token: "ghs_wrongT0ken"}, ErrAuth},
		{"password in url", strings.Replace(url, "http://", "http://someone:pa55word@", 1), Auth{}, ErrAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			commit, root, err := m.Checkout(context.Background(), Source{URL: tc.url, Ref: "main", Auth: tc.auth}, filepath.Join(t.TempDir(), "src"))
			if tc.is == nil {
				if err != nil || commit != want {
					t.Fatalf("checkout: %s, %v; want %s", commit, err, want)
				}
				if got := readFile(t, filepath.Join(root, "main.tf")); got != "# over http\n" {
					t.Errorf("main.tf = %q", got)
				}
				return
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("error %v is not %v", err, tc.is)
			}
			prefix := "git source " + url + " (ref main): fetch: authentication failed: "
			if tc.name == "password in url" {
				prefix = "git source " + strings.Replace(url, "http://", "http://***@", 1)
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q, want prefix %q", err, prefix)
			}
			texts = append(texts, err.Error())
		})
	}
	if authorized.Load() == 0 {
		t.Error("the server never saw the token")
	}
	texts = append(texts, logs.String())
	for _, secret := range []string{token, basicCredentials(token), "ghs_wrongT0ken", "pa55word"} {
		assertNoSecret(t, secret, texts, mirrorDir)
	}
}

func TestCheckoutTimeoutKillsGit(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // a host that accepts and never answers
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	// The host never answers: only the timeout ends the fetch.
	m, _ := newMirrors(t, "", WithTimeout(time.Second))
	_, _, err := m.Checkout(context.Background(), Source{URL: srv.URL + "/r.git"}, filepath.Join(t.TempDir(), "src"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "fetch: timed out after 1s") {
		t.Fatalf("error = %v", err)
	}
}

// TestCheckoutSSH runs the ssh transport through a stand-in ssh on PATH that
// records how git called it and runs the remote command locally: no sshd
// here, but git's real ssh code path and driftd's command line are both
// exercised.
func TestCheckoutSSH(t *testing.T) {
	t.Parallel()
	up := newRepo(t)
	want := up.commit(map[string]string{"main.tf": "# over ssh\n"})
	bin := t.TempDir()
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + shellQuote(filepath.Join(bin, "args")) +
		"\nenv > " + shellQuote(filepath.Join(bin, "env")) +
		"\nfor last; do :; done\nexec sh -c \"$last\"\n"
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "deploy key's file")
	if err := os.WriteFile(key, []byte("not a real key"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m, _ := newMirrors(t, dir)
	m.path = bin + string(os.PathListSeparator) + m.path

	commit, _, err := m.Checkout(context.Background(),
		Source{URL: "git@fakehost:" + up.dir, Ref: "main", Auth: Auth{SSHKeyFile: key}}, filepath.Join(t.TempDir(), "src"))
	if err != nil || commit != want {
		t.Fatalf("checkout: %s, %v; want %s", commit, err, want)
	}
	args := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(bin, "args"))), "\n")
	for _, w := range [][]string{
		{"-i", key},
		{"-o", "IdentitiesOnly=yes"},
		{"-o", "BatchMode=yes"},
		{"-o", "StrictHostKeyChecking=accept-new"},
		{"-o", "UserKnownHostsFile=" + filepath.Join(dir, "ssh", "known_hosts")},
	} {
		i := slices.Index(args, w[1])
		if i < 1 || args[i-1] != w[0] {
			t.Errorf("ssh args %q lack %q", args, w)
		}
	}
	if !slices.Contains(args, "git@fakehost") {
		t.Errorf("ssh args %q lack the host", args)
	}
	env := readFile(t, filepath.Join(bin, "env"))
	if !strings.Contains(env, "HOME="+filepath.Join(dir, "home")+"\n") {
		t.Errorf("ssh ran with a HOME other than driftd's:\n%s", env)
	}
}

func TestEnv(t *testing.T) {
	t.Parallel()
	m, _ := newMirrors(t, "")
	r, err := parseRemote("https://github.com/org/repo.git")
	if err != nil {
		t.Fatal(err)
	}
	env := m.env(r, Auth{Token: "tok"})
	for _, want := range []string{
		"HOME=" + m.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
		"GIT_CONFIG_KEY_2=http.https://github.com/.extraHeader",
		"GIT_CONFIG_VALUE_2=Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:tok")),
		"GIT_CONFIG_COUNT=3",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %q: %q", want, env)
		}
	}
	// Only what env sets itself: nothing of driftd's own environment but PATH.
	allowed := []string{"PATH", "HOME", "XDG_CONFIG_HOME", "GIT_CONFIG_NOSYSTEM", "GIT_TERMINAL_PROMPT",
		"LC_ALL", "LANG", "GIT_SSH_COMMAND", "GIT_CONFIG_COUNT"}
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(allowed, name) && !strings.HasPrefix(name, "GIT_CONFIG_KEY_") && !strings.HasPrefix(name, "GIT_CONFIG_VALUE_") {
			t.Errorf("env sets %s", name)
		}
	}
	if anon := m.env(r, Auth{}); slices.ContainsFunc(anon, func(kv string) bool { return strings.Contains(kv, "extraHeader") }) {
		t.Errorf("env without a token sets a header: %q", anon)
	}
}
