package upstream

import (
	"context"
	"errors"
	"sync/atomic"
)

// errShed is the limiter refusing a call: every slot is busy and the queue
// is full.
var errShed = errors.New("upstream slots and queue are full")

// limiter bounds the calls in flight to Stytch and the calls waiting for a
// slot, so a Stytch slowdown cannot pile up unbounded goroutines, sockets and
// memory in attestd; past both bounds calls are shed at once.
type limiter struct {
	// slots holds one token per call in flight. A buffered channel is a
	// FIFO semaphore: a freed slot goes to the longest waiter, never to a
	// newcomer barging in.
	slots    chan struct{}
	maxQueue int64
	queued   atomic.Int64
	// onQueue, when set (tests only, before any call), runs as a call
	// starts waiting for a slot.
	onQueue func()
}

func newLimiter(maxConcurrent, maxQueue int) *limiter {
	return &limiter{slots: make(chan struct{}, maxConcurrent), maxQueue: int64(maxQueue)}
}

// acquire takes a slot, waiting in the queue while ctx lasts. It returns
// errShed when the queue is full, or ctx's error when ctx ended first. On
// nil the caller must call release.
func (l *limiter) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	if l.queued.Add(1) > l.maxQueue {
		l.queued.Add(-1)
		return errShed
	}
	defer l.queued.Add(-1)
	if l.onQueue != nil {
		l.onQueue()
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *limiter) release() { <-l.slots }

func (l *limiter) inFlight() int { return len(l.slots) }

func (l *limiter) waiting() int { return int(l.queued.Load()) }
