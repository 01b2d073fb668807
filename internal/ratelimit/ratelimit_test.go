package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/attestd/attestd/internal/ratelimit"
	"github.com/attestd/attestd/internal/testkit/fakeclock"
)

func TestBucketPerKey(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	l := ratelimit.New(2, 3, clock.Now) // 2/s, burst 3
	for i := range 3 {
		if ok, _ := l.Allow(t.Context(), "a"); !ok {
			t.Fatalf("call %d within the burst refused", i)
		}
	}
	ok, retry := l.Allow(t.Context(), "a")
	if ok || retry != 500*time.Millisecond {
		t.Errorf("4th call: ok=%v retryAfter=%v, want refused, 500ms", ok, retry)
	}
	if ok, _ := l.Allow(t.Context(), "b"); !ok {
		t.Errorf("another caller is limited by a's bucket")
	}
	clock.Advance(500 * time.Millisecond)
	if ok, _ := l.Allow(t.Context(), "a"); !ok {
		t.Errorf("a refused after its retry-after")
	}
	if ok, _ := l.Allow(t.Context(), "a"); ok {
		t.Errorf("a allowed twice after one token refilled")
	}
}

// Refused calls take no token: a caller hammering the limit is let through
// again as soon as the rate allows.
func TestRefusalsCostNothing(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	l := ratelimit.New(1, 1, clock.Now)
	l.Allow(t.Context(), "a")
	for range 100 {
		l.Allow(t.Context(), "a")
	}
	clock.Advance(time.Second)
	if ok, _ := l.Allow(t.Context(), "a"); !ok {
		t.Errorf("refused after a second, though the refusals took no tokens")
	}
}

func TestKeysAreBounded(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	l := ratelimit.New(1, 1, clock.Now)
	for i := range 25000 {
		l.Allow(t.Context(), fmt.Sprint("caller-", i))
		clock.Advance(time.Microsecond)
	}
	if n := l.Len(); n > 10000 {
		t.Errorf("%d callers tracked, want at most 10000", n)
	}
	// The most recent caller was kept and is still limited.
	if ok, _ := l.Allow(t.Context(), "caller-24999"); ok {
		t.Errorf("the newest caller's bucket was forgotten")
	}
}
