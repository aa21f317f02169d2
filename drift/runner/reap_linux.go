package runner

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// killScan sends SIGKILL to every process whose environment holds this
// scan's DRIFTD_SCAN_ID entry: terraform and the provider plugins it started,
// which terraform-exec's process-group handling does not reach once
// terraform itself is gone. It rescans until nothing is left (a dying parent
// may have just forked) and returns how many processes it killed.
func killScan(scanEnv string) int { return killScans(scanEnv) }

// killScans is killScan for several scans in one pass over /proc.
func killScans(scanEnvs ...string) int {
	needles := make([][]byte, len(scanEnvs))
	for i, s := range scanEnvs {
		needles[i] = []byte("\x00" + s + "\x00")
	}
	self := os.Getpid()
	killed := 0
	for round := 0; round < 10; round++ {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return killed
		}
		found := 0
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self {
				continue
			}
			// Unreadable (another user's, already gone) or empty (zombie)
			// environments are not ours to kill.
			env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err != nil || !containsAny(append([]byte{0}, env...), needles) {
				continue
			}
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				found++
			}
		}
		killed += found
		if found == 0 {
			return killed
		}
		// Give the killed processes a moment to exit before looking again.
		time.Sleep(20 * time.Millisecond)
	}
	return killed
}

func containsAny(env []byte, needles [][]byte) bool {
	for _, n := range needles {
		if bytes.Contains(env, n) {
			return true
		}
	}
	return false
}
