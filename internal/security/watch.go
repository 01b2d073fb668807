package security

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// File is a value parsed from a file and kept current without a restart,
// as the TLS certificate is (Reloader): when the value is asked for, at
// most once per recheckEvery, the file is looked at (identity, size and
// modification time, so a Kubernetes Secret's symlink swap counts), and a
// changed file is read and parsed again; Reload does the same at once
// (SIGHUP). The swap is atomic: a caller sees the old value or the new one.
// A file that cannot be read or parsed keeps the last good value in use,
// and is not tried again until it changes once more.
type File[T any] struct {
	path   string
	parse  func([]byte) (T, error)
	report func(error)
	now    func() time.Time

	cur       atomic.Pointer[T]
	checkedAt atomic.Int64 // unix nanoseconds of the latest look

	mu      sync.Mutex // serializes looks and reloads
	seen    os.FileInfo
	lastErr error
}

// WatchFile reads and parses path once: a problem there is returned (a
// start-up error). report, when set, is told of every later reload: nil
// for a success, else why the previous value stays; it is called with no
// lock held that Get needs, but must not call Reload.
func WatchFile[T any](path string, parse func([]byte) (T, error), report func(error)) (*File[T], error) {
	f := &File[T]{path: path, parse: parse, report: report, now: time.Now}
	if err := f.load(); err != nil {
		return nil, err
	}
	f.checkedAt.Store(f.now().UnixNano())
	return f, nil
}

// Path is the file watched.
func (f *File[T]) Path() string { return f.path }

// Get is the current value, after a look at the file if the last one was
// recheckEvery ago or more.
func (f *File[T]) Get() T {
	if now := f.now(); now.UnixNano()-f.checkedAt.Load() >= int64(recheckEvery) {
		f.mu.Lock()
		if now.UnixNano()-f.checkedAt.Load() >= int64(recheckEvery) {
			f.checkedAt.Store(now.UnixNano())
			if fi, err := os.Stat(f.path); err == nil && changed(f.seen, fi) {
				f.reloadLocked()
			}
		}
		f.mu.Unlock()
	}
	return *f.cur.Load()
}

// Reload reads the file now, changed or not (SIGHUP). On failure the
// previous value stays in use and the error is returned (and reported).
func (f *File[T]) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloadLocked()
}

// LastError is the error of the latest failed reload (nil after a success).
func (f *File[T]) LastError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}

func (f *File[T]) reloadLocked() error {
	err := f.load()
	if f.report != nil {
		f.report(err)
	}
	return err
}

// load reads and parses the file (f.mu held, or before f is shared).
func (f *File[T]) load() error {
	fi, err := os.Stat(f.path)
	if err != nil {
		f.lastErr = err
		return err
	}
	// Whatever follows, this version of the file has been tried.
	f.seen = fi
	data, err := os.ReadFile(f.path)
	if err != nil {
		f.lastErr = err
		return err
	}
	v, err := f.parse(data)
	clear(data)
	if err != nil {
		f.lastErr = fmt.Errorf("%s: %w", f.path, err)
		return f.lastErr
	}
	f.cur.Store(&v)
	f.lastErr = nil
	return nil
}

// changed reports whether the file now is another version than seen.
func changed(seen, now os.FileInfo) bool {
	return seen == nil || !os.SameFile(seen, now) || seen.Size() != now.Size() || !seen.ModTime().Equal(now.ModTime())
}
