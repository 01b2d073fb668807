// Package ratelimit keeps one token bucket per caller, with a bounded
// number of callers in memory.
package ratelimit

import (
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxKeys bounds the callers tracked at once; beyond it, the callers idle
// the longest are forgotten (a forgotten caller starts again with a full
// bucket, which only ever errs towards letting a call through).
const maxKeys = 10000

// Limiter rate-limits calls per key (a caller's identity or address).
type Limiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a Limiter allowing perSecond calls per key on average and
// burst at once. now may be nil (time.Now).
func New(perSecond float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{limit: rate.Limit(perSecond), burst: burst, now: now, buckets: map[string]*bucket{}}
}

// Allow takes a token from key's bucket. When none is left it returns
// false and how long until one is.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxKeys {
			l.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // not taken: the call is refused, not delayed
		return false, d
	}
	return true, 0
}

// evict drops the buckets idle longest: every bucket full again (idle long
// enough to have refilled), or else the oldest tenth.
func (l *Limiter) evict(now time.Time) {
	refill := time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.seen) >= refill {
			delete(l.buckets, k)
		}
	}
	excess := len(l.buckets) - maxKeys*9/10
	if excess <= 0 {
		return
	}
	keys := make([]string, 0, len(l.buckets))
	for k := range l.buckets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return l.buckets[a].seen.Compare(l.buckets[b].seen) })
	for _, k := range keys[:excess] {
		delete(l.buckets, k)
	}
}

// Len is the number of callers tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
