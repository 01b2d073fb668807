// Package breaker is a small consecutive-failure circuit breaker.
//
// Closed, it lets every call through and counts consecutive failures; the
// Failures-th in a row opens it. Open, it refuses every call, without any
// I/O, until Cooldown has passed on its clock. Then it is half-open: exactly
// one call at a time, the probe, is let through; the probe's success closes
// the breaker, its failure opens it again for a fresh cooldown. Time is read
// only from Config.Now, so tests drive the states with a fake clock instead
// of sleeping.
package breaker

import (
	"sync"
	"time"
)

// State is where a breaker is in its cycle.
type State int

// The breaker's states.
const (
	// Closed lets every call through.
	Closed State = iota
	// Open refuses every call until its cooldown ends.
	Open
	// HalfOpen lets one probe call through at a time.
	HalfOpen
)

// String names the state as metrics and logs spell it.
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "unknown"
}

// Outcome is what a call that was let through tells the breaker.
type Outcome int

// The outcomes a call can report.
const (
	// Success: the dependency answered sensibly. It resets the failure count
	// and, for a probe, closes the breaker.
	Success Outcome = iota
	// Failure: the dependency is unhealthy. It counts towards opening and,
	// for a probe, opens the breaker again.
	Failure
	// Ignore: the call says nothing about the dependency's health (the
	// caller gave up, say). It changes no count; a probe that ends so frees
	// the probe slot for the next call.
	Ignore
)

// Config configures a Breaker.
type Config struct {
	// Failures is how many consecutive failures open the breaker; values
	// below 1 are treated as 1.
	Failures int
	// Cooldown is how long the breaker stays open before the half-open
	// probe.
	Cooldown time.Duration
	// Now is the breaker's clock; nil means time.Now.
	Now func() time.Time
}

// Breaker is a circuit breaker; safe for concurrent use.
type Breaker struct {
	failures int
	cooldown time.Duration
	now      func() time.Time

	mu          sync.Mutex
	state       State
	consecutive int       // failures in a row while closed
	openUntil   time.Time // end of the cooldown while open
	probing     bool      // a half-open probe is in flight
	// generation changes at every state change, so a verdict from a call
	// admitted under an earlier state (a slow call finishing after the
	// breaker opened) cannot move the current one.
	generation uint64
}

// New returns a closed breaker.
func New(cfg Config) *Breaker {
	b := &Breaker{failures: max(cfg.Failures, 1), cooldown: cfg.Cooldown, now: cfg.Now}
	if b.now == nil {
		b.now = time.Now
	}
	return b
}

// Allow asks to make one call. When ok is false the call must fail fast, and
// retryIn is how long until the breaker will let a probe through (0 when a
// probe is in flight already and only its outcome can tell). When ok is true
// the caller must call done exactly once, with the call's outcome; further
// calls of done are ignored.
func (b *Breaker) Allow() (done func(Outcome), retryIn time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open {
		now := b.now()
		if now.Before(b.openUntil) {
			return nil, b.openUntil.Sub(now), false
		}
		b.transition(HalfOpen)
	}
	probe := b.state == HalfOpen
	if probe {
		if b.probing {
			return nil, 0, false
		}
		b.probing = true
	}
	gen := b.generation
	var once sync.Once
	return func(o Outcome) { once.Do(func() { b.record(gen, probe, o) }) }, 0, true
}

// record applies a call's outcome.
func (b *Breaker) record(gen uint64, probe bool, o Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen != b.generation {
		return // a verdict on a state that is gone
	}
	if probe {
		b.probing = false
		switch o {
		case Success:
			b.transition(Closed)
		case Failure:
			b.trip()
		}
		// Ignore: still half-open; the next call probes.
		return
	}
	switch o {
	case Success:
		b.consecutive = 0
	case Failure:
		b.consecutive++
		if b.consecutive >= b.failures {
			b.trip()
		}
	}
}

// trip opens the breaker for a fresh cooldown.
func (b *Breaker) trip() {
	b.transition(Open)
	b.openUntil = b.now().Add(b.cooldown)
}

func (b *Breaker) transition(s State) {
	b.state = s
	b.consecutive = 0
	b.probing = false
	b.generation++
}

// State reports the breaker's state. An open breaker whose cooldown has ended
// reports HalfOpen: the next call will be the probe.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open && !b.now().Before(b.openUntil) {
		return HalfOpen
	}
	return b.state
}
