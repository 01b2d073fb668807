// Package logsink collects a program's JSON log output for assertions.
package logsink

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
)

// Logs collects log output written from concurrent goroutines, so a test can
// assert on what attestd logged (and on what it must never log).
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines parses the JSON log lines written so far, failing the test on a line
// that is not a JSON object.
func (l *Logs) Lines(tb testing.TB) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace([]byte(l.String())), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			tb.Fatalf("log line is not JSON: %s", line)
		}
		out = append(out, m)
	}
	return out
}
