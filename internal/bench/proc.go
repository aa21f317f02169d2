// Package bench measures driftd against bare Terraform on real testbed
// workspaces: a fleet scan side by side with shell loops and with the floor
// of a tuned `terraform plan` per workspace, the overhead of `driftd check`,
// the analysis of a very large plan, an idle daemon, and one large
// workspace scanned with different concurrencies. It only measures and
// reports; nothing here asserts a timing.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Usage is what one measured process tree cost.
type Usage struct {
	Wall time.Duration `json:"wall_ns"`
	// CPU is user+system time of the process and every descendant it (or
	// they) waited for, from wait4's rusage.
	CPU time.Duration `json:"cpu_ns"`
	// MaxRSS is the largest peak RSS of any single process in the tree
	// (ru_maxrss), in bytes.
	MaxRSS int64 `json:"max_rss_bytes"`
	// SelfRSS is the top process's own peak RSS (VmHWM, sampled until it
	// exits) and ChildRSS the largest peak RSS sampled among its
	// descendants; both only when sampling was asked for.
	SelfRSS  int64 `json:"self_rss_bytes,omitempty"`
	ChildRSS int64 `json:"child_rss_bytes,omitempty"`
	ExitCode int   `json:"exit_code"`
	// Load1 is the one-minute load average when the run started: the
	// machine is shared, so every figure carries it.
	Load1 float64 `json:"load1"`
	// Stderr is the end of stderr of a run that exited non-zero, when the
	// caller did not take stderr itself.
	Stderr string `json:"stderr,omitempty"`
}

// Run runs cmd to completion and measures it. A non-zero exit is not an
// error (driftd exits 2 on drift): it is in Usage.ExitCode, and stderr is
// kept for the caller when cmd.Stderr is nil. sample turns on /proc sampling
// of the process's own and its descendants' peak RSS.
func Run(ctx context.Context, cmd *exec.Cmd, sample bool) (Usage, error) {
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	u := Usage{Load1: Load1()}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return u, fmt.Errorf("bench: start %s: %w", cmd.Path, err)
	}
	var (
		wg   sync.WaitGroup
		stop = make(chan struct{})
		rss  treeRSS
	)
	if sample {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rss.sample(cmd.Process.Pid, stop)
		}()
	}
	err := cmd.Wait()
	u.Wall = time.Since(start)
	close(stop)
	wg.Wait()
	u.SelfRSS, u.ChildRSS = rss.self, rss.child
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		u.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	u.ExitCode = cmd.ProcessState.ExitCode()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return u, fmt.Errorf("bench: %s: %w", filepath.Base(cmd.Path), err)
	}
	if u.ExitCode < 0 {
		return u, fmt.Errorf("bench: %s: %s\n%s", filepath.Base(cmd.Path), cmd.ProcessState, tail(stderr.Bytes()))
	}
	if cmd.Stderr == &stderr && u.ExitCode != 0 {
		u.Stderr = tail(stderr.Bytes())
	}
	return u, ctx.Err()
}

func tail(b []byte) string {
	const limit = 4000
	b = bytes.TrimSpace(b)
	if len(b) > limit {
		b = b[len(b)-limit:]
	}
	return string(b)
}

// treeRSS tracks peak RSS (VmHWM) of a process and of its descendants.
type treeRSS struct{ self, child int64 }

// sample polls /proc until stop is closed. A descendant's last sample is at
// most one interval before it exits, so short-lived children may be
// under-counted by what they grow in that interval; ru_maxrss is exact.
func (t *treeRSS) sample(pid int, stop <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if v, err := procStatus(pid, "VmHWM"); err == nil {
			t.self = max(t.self, v)
		}
		for _, d := range descendants(pid) {
			if v, err := procStatus(d, "VmHWM"); err == nil {
				t.child = max(t.child, v)
			}
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// descendants lists the processes below pid, from the ppid field of every
// /proc/N/stat.
func descendants(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := procStat(p)
		if err != nil {
			continue
		}
		children[st.ppid] = append(children[st.ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// procStatus returns a "kB" field of /proc/PID/status in bytes.
func procStatus(pid int, field string) (int64, error) {
	var n int64
	err := procStatusFields(pid, map[string]*int64{field: &n})
	return n, err
}

// procStatusFields sets each of fields, "kB" fields of /proc/PID/status,
// in bytes, from one read of the file: the values of one moment.
func procStatusFields(pid int, fields map[string]*int64) error {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err
	}
	defer f.Close()
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() && found < len(fields) {
		k, v, ok := strings.Cut(sc.Text(), ":")
		dst := fields[k]
		if !ok || dst == nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return fmt.Errorf("bench: /proc/%d/status %s: %w", pid, k, err)
		}
		*dst = n * 1024
		found++
	}
	if found < len(fields) {
		return fmt.Errorf("bench: /proc/%d/status lacks some of %d fields", pid, len(fields))
	}
	return nil
}

type stat struct {
	ppid int
	// cpuTicks is utime+stime in clock ticks.
	cpuTicks int64
}

// procStat reads /proc/PID/stat. The command name may hold spaces and
// parentheses, so fields are counted after its last ')'.
func procStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("bench: /proc/%d/stat: no command name", pid)
	}
	// After ")": state(3) ppid(4) ... utime(14) stime(15).
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return stat{}, fmt.Errorf("bench: /proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, err1 := strconv.Atoi(f[1])
	ut, err2 := strconv.ParseInt(f[11], 10, 64)
	st, err3 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return stat{}, fmt.Errorf("bench: /proc/%d/stat: %w", pid, err)
	}
	return stat{ppid: ppid, cpuTicks: ut + st}, nil
}

// Load1 returns the one-minute load average, or -1 when unknown.
func Load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
