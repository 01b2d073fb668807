package middleware

import (
	"fmt"
	"testing"
	"time"
)

// TestLineLimiter: a burst of lines per error type, then one a second; the
// first line written after a gap says how many were left out; error types
// do not share budgets, and unbounded types share one bucket.
func TestLineLimiter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newLineLimiter(func() time.Time { return now })

	written := 0
	for range 1000 {
		if ok, _ := l.allow("upstream_overloaded"); ok {
			written++
		}
	}
	if written != lineBurst {
		t.Fatalf("%d of 1000 lines written at once, want the burst of %d", written, lineBurst)
	}
	if ok, _ := l.allow("too_many_requests"); !ok {
		t.Error("another error type was refused: budgets are shared")
	}
	now = now.Add(time.Second)
	ok, suppressed := l.allow("upstream_overloaded")
	if !ok || suppressed != 1000-lineBurst {
		t.Errorf("after 1s: ok=%v suppressed=%d, want true and %d", ok, suppressed, 1000-lineBurst)
	}
	if ok, _ := l.allow("upstream_overloaded"); ok {
		t.Error("a second line within the same second was written")
	}

	for i := range 2 * maxLineKeys {
		l.allow(fmt.Sprintf("type-%d", i))
	}
	if n := len(l.buckets); n > maxLineKeys+1 {
		t.Errorf("%d buckets, want at most %d", n, maxLineKeys+1)
	}
}
