// Package ratelimit keeps one token bucket per caller, with a bounded
// number of callers in memory.
package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// maxKeys bounds the callers tracked at once; beyond it, the caller idle
// the longest is forgotten (a forgotten caller starts again with a full
// bucket, which only ever errs towards letting a call through).
const maxKeys = 10000

// Limiter rate-limits calls per key (a caller's identity or address).
//
// Its buckets are kept in a plain LRU (simplelru), not the expirable one:
// the expirable LRU starts a goroutine per cache that can never be stopped
// (one leaked per server started) and expires entries by the wall clock,
// not the injected one; and the bound, not an expiry, is what keeps memory
// in check. The least recently used caller is the one idle longest, the
// one most likely to have refilled its bucket anyway.
type Limiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex // simplelru is not safe for concurrent use
	buckets *simplelru.LRU[string, *rate.Limiter]
}

// New returns a Limiter allowing perSecond calls per key on average and
// burst at once. now may be nil (time.Now).
func New(perSecond float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	buckets, _ := simplelru.NewLRU[string, *rate.Limiter](maxKeys, nil) // fails only for a size <= 0
	return &Limiter{limit: rate.Limit(perSecond), burst: burst, now: now, buckets: buckets}
}

// Allow takes a token from key's bucket. When none is left it returns
// false and how long until one is. The buckets are in memory, so ctx is
// not used; it is there for limiters that keep them elsewhere.
func (l *Limiter) Allow(_ context.Context, key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, found := l.buckets.Get(key) // Get marks key used most recently
	if !found {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets.Add(key, b) // past maxKeys, forgets the caller idle longest
	}
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // not taken: the call is refused, not delayed
		return false, d
	}
	return true, 0
}

// Len is the number of callers tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buckets.Len()
}
