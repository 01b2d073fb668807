package server

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Go's memory limit, as attestd sets it: in a container with a memory limit
// (a Kubernetes pod with resources.limits.memory), and when GOMEMLIMIT is
// not set, the Go runtime's soft limit becomes memoryLimitShare of the
// container's, so that the collector works harder as memory nears the
// limit instead of the kernel killing the process. The rest is left for
// what Go does not count (the binary's mapped pages, ~20 MiB). Outside a
// container, and with GOMEMLIMIT set, Go's own default applies; GOGC stays
// Go's default (100), which holds the harness's peak RSS target at c64
// (README, "Memory and GC").
const memoryLimitShare = 0.8

// cgroupMemoryFiles are where the container's memory limit is read: cgroup
// v2, then v1.
var cgroupMemoryFiles = []string{
	"/sys/fs/cgroup/memory.max",
	"/sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// containerMemoryLimit is the container's memory limit in bytes, if there is
// one: the first of files that reads as a number below 1 EiB (v1 spells "no
// limit" as a huge number, v2 as "max").
func containerMemoryLimit(files []string, read func(string) ([]byte, error)) (int64, bool) {
	for _, f := range files {
		b, err := read(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// applyMemoryLimit sets Go's soft memory limit from the container's unless
// GOMEMLIMIT is set, and logs what it did.
func applyMemoryLimit(getenv func(string) string, log *slog.Logger) {
	if getenv("GOMEMLIMIT") != "" {
		return
	}
	limit, ok := containerMemoryLimit(cgroupMemoryFiles, os.ReadFile)
	if !ok {
		return
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	log.Info("Go memory limit set from the container's", "container_limit_bytes", limit, "gomemlimit_bytes", soft)
}
