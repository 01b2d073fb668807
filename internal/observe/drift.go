package observe

import (
	"log/slog"
	"maps"
	"sync"
)

// maxDriftPaths bounds the set of distinct paths remembered, so a hostile or
// broken upstream cannot grow memory (or, later, metric labels) without end.
const maxDriftPaths = 256

// OverflowPath is counted for unknown keys seen after maxDriftPaths distinct
// paths have been remembered.
const OverflowPath = "(other)"

// DriftLog counts unknown upstream keys by JSON path and logs each path once,
// so the team learns when Stytch's schema grew beyond the protobuf mirror.
type DriftLog struct {
	log    *slog.Logger
	mu     sync.Mutex
	counts map[string]uint64
}

// NewDriftLog returns a DriftLog writing to log.
func NewDriftLog(log *slog.Logger) *DriftLog {
	return &DriftLog{log: log, counts: make(map[string]uint64)}
}

// UnknownKey implements DriftReporter.
func (d *DriftLog) UnknownKey(path string) {
	d.mu.Lock()
	n, seen := d.counts[path]
	if !seen && len(d.counts) >= maxDriftPaths {
		path = OverflowPath
		n, seen = d.counts[path]
	}
	d.counts[path] = n + 1
	d.mu.Unlock()
	if !seen {
		d.log.Warn("upstream schema drift: Stytch sent a key the protobuf mirror does not know",
			"path", path)
	}
}

// Counts returns a snapshot of the unknown-key counts by path.
func (d *DriftLog) Counts() map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.counts)
}
