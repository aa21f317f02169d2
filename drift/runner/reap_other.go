//go:build !linux

package runner

// killScan does nothing outside Linux: finding processes by environment
// needs /proc. There, only terraform itself is stopped (by terraform-exec);
// provider plugins it started may outlive a timed-out scan.
func killScan(scanEnv string) int { return 0 }

func killScans(scanEnvs ...string) int { return 0 }
