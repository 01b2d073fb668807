package security

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestd/attestd/internal/testkit/fakeclock"
)

// reports records what a watched file reported.
type reports struct {
	mu   sync.Mutex
	errs []error
}

func (r *reports) report(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *reports) last(t *testing.T) error {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) == 0 {
		t.Fatal("nothing reported")
	}
	return r.errs[len(r.errs)-1]
}

// write replaces path's content as a Secret volume does: a new file
// renamed over the old one, with a distinct modification time.
func write(t *testing.T, path, content string, mod time.Time) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, mod, mod); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func trimmed(b []byte) (string, error) {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", errors.New("empty")
	}
	return s, nil
}

// TestFileFollowsChanges: a changed file is used from the first Get a
// recheck interval later; a bad version keeps the last good value, is
// reported once, and a fixed file is picked up again.
func TestFileFollowsChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	base := time.Now().Add(-time.Hour)
	write(t, path, "one\n", base)
	var rep reports
	f, err := WatchFile(path, trimmed, rep.report)
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	f.now = clock.Now
	if got := f.Get(); got != "one" {
		t.Fatalf("at start: %q", got)
	}

	write(t, path, "two\n", base.Add(time.Second))
	clock.Advance(recheckEvery / 2)
	if got := f.Get(); got != "one" {
		t.Errorf("within the recheck interval: %q, want the old value still", got)
	}
	clock.Advance(recheckEvery)
	if got := f.Get(); got != "two" {
		t.Errorf("after the recheck interval: %q, want two", got)
	}
	if err := rep.last(t); err != nil {
		t.Errorf("reported %v for a good reload", err)
	}

	write(t, path, "  \n", base.Add(2*time.Second))
	clock.Advance(recheckEvery)
	if got := f.Get(); got != "two" {
		t.Errorf("after a bad file: %q, want the last good value", got)
	}
	if err := rep.last(t); err == nil || f.LastError() == nil {
		t.Errorf("a bad file reported %v, LastError %v; want errors", err, f.LastError())
	}
	n := len(rep.errs)
	clock.Advance(recheckEvery)
	f.Get()
	if len(rep.errs) != n {
		t.Errorf("the same bad file was reported again")
	}

	write(t, path, "three", base.Add(3*time.Second))
	if err := f.Reload(); err != nil { // SIGHUP: no wait
		t.Fatal(err)
	}
	if got := f.Get(); got != "three" || f.LastError() != nil {
		t.Errorf("after Reload: %q (LastError %v), want three", got, f.LastError())
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	clock.Advance(recheckEvery)
	if got := f.Get(); got != "three" {
		t.Errorf("after the file went away: %q, want the last good value", got)
	}
	if err := f.Reload(); err == nil {
		t.Error("Reload of a missing file succeeded")
	}
}

// TestWatchFileFailsAtStart: a bad file at start is the caller's error.
func TestWatchFileFailsAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if _, err := WatchFile(path, trimmed, nil); err == nil {
		t.Error("a missing file was accepted")
	}
	write(t, path, "\n", time.Now())
	if _, err := WatchFile(path, trimmed, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("an empty file: %v, want an error naming the file", err)
	}
}

// TestWatchTokensRotates: a rotated tokens file authenticates the new
// token and no longer the old one; a malformed file keeps the old tokens.
func TestWatchTokensRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	base := time.Now().Add(-time.Hour)
	write(t, path, "svc-a aaaaaaaaaaaaaaaaaaaa\n", base)
	var rep reports
	tokens, err := WatchTokens(path, rep.report)
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	tokens.file.now = clock.Now
	if name, ok := tokens.Authenticate("aaaaaaaaaaaaaaaaaaaa"); !ok || name != "svc-a" {
		t.Fatalf("at start: %q %v", name, ok)
	}

	write(t, path, "svc-a bbbbbbbbbbbbbbbbbbbb\nsvc-b cccccccccccccccccccc\n", base.Add(time.Second))
	clock.Advance(recheckEvery)
	if _, ok := tokens.Authenticate("aaaaaaaaaaaaaaaaaaaa"); ok {
		t.Error("the rotated-out token still authenticates")
	}
	if name, ok := tokens.Authenticate("bbbbbbbbbbbbbbbbbbbb"); !ok || name != "svc-a" || tokens.Len() != 2 {
		t.Errorf("the new token: %q %v, %d callers", name, ok, tokens.Len())
	}

	write(t, path, "svc-a xyzzy1\n", base.Add(2*time.Second))
	clock.Advance(recheckEvery)
	if name, ok := tokens.Authenticate("bbbbbbbbbbbbbbbbbbbb"); !ok || name != "svc-a" {
		t.Errorf("after a malformed file: %q %v, want the previous tokens", name, ok)
	}
	if err := rep.last(t); err == nil || strings.Contains(err.Error(), "xyzzy1") {
		t.Errorf("reported %v; want an error that does not quote the token", err)
	}
	if err := tokens.Reload(); err == nil {
		t.Error("Reload of a malformed file succeeded")
	}
}
