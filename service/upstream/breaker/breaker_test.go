package breaker_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/attestd/attestd/service/stytchtest"
	"github.com/attestd/attestd/service/upstream/breaker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// step is one move in a scenario, followed by a check of the state.
type step struct {
	do      string // "call", "begin", "end" or "advance"
	ticket  string // begin/end: which held call
	outcome breaker.Outcome
	d       time.Duration // advance: how far
	refused bool          // call/begin: Allow must say no…
	retryIn time.Duration // …with this hint
	state   breaker.State
}

// call is Allow followed at once by done(o).
func call(o breaker.Outcome, state breaker.State) step {
	return step{do: "call", outcome: o, state: state}
}

// refuse is a call the breaker must refuse with the given hint.
func refuse(retryIn time.Duration, state breaker.State) step {
	return step{do: "call", refused: true, retryIn: retryIn, state: state}
}

// begin is Allow for a call that stays in flight as ticket.
func begin(ticket string, state breaker.State) step {
	return step{do: "begin", ticket: ticket, state: state}
}

// end finishes the held call ticket with o.
func end(ticket string, o breaker.Outcome, state breaker.State) step {
	return step{do: "end", ticket: ticket, outcome: o, state: state}
}

func advance(d time.Duration, state breaker.State) step {
	return step{do: "advance", d: d, state: state}
}

const (
	S, F, I           = breaker.Success, breaker.Failure, breaker.Ignore
	closed, open, off = breaker.Closed, breaker.Open, breaker.HalfOpen
	cool              = 10 * time.Second
)

func TestBreaker(t *testing.T) {
	// trip opens a breaker with Failures 3.
	trip := []step{call(F, closed), call(F, closed), call(F, open)}
	// halfOpen opens it and lets the cooldown pass.
	halfOpen := append(trip[:len(trip):len(trip)], advance(cool, off))
	cases := []struct {
		name     string
		failures int
		steps    []step
	}{
		{"opens after N consecutive failures", 3, append(trip, refuse(cool, open), refuse(cool, open))},
		{"a success resets the count", 3, []step{
			call(F, closed), call(F, closed), call(S, closed), call(F, closed), call(F, closed), call(F, open),
		}},
		{"ignored outcomes neither count nor reset", 3, []step{
			call(F, closed), call(I, closed), call(F, closed), call(I, closed), call(F, open),
		}},
		{"the hint counts down the cooldown", 3, append(trip,
			advance(4*time.Second, open), refuse(6*time.Second, open),
			advance(6*time.Second-time.Nanosecond, open), refuse(time.Nanosecond, open),
			advance(time.Nanosecond, off))},
		{"one probe at a time; its success closes", 3, append(halfOpen,
			begin("probe", off), refuse(0, off), refuse(0, off),
			end("probe", S, closed), call(F, closed), call(F, closed), call(S, closed))},
		{"probe failure reopens for a fresh cooldown", 3, append(halfOpen,
			advance(time.Hour, off), // a late probe still gets a full cooldown after it
			call(F, open), refuse(cool, open), advance(cool, off), call(S, closed))},
		{"an ignored probe frees the probe slot", 3, append(halfOpen,
			begin("probe", off), end("probe", I, off), begin("next", off), refuse(0, off), end("next", S, closed))},
		{"verdicts from an earlier state are dropped", 3, []step{
			begin("slow-ok", closed), begin("slow-fail", closed),
			call(F, closed), call(F, closed), call(F, open),
			end("slow-ok", S, open), end("slow-fail", F, open), refuse(cool, open),
			advance(cool, off), begin("probe", off),
			refuse(0, off), // the probe is in flight
			end("probe", F, open), refuse(cool, open),
		}},
		{"done twice counts once", 2, []step{begin("a", closed), end("a", F, closed), end("a", F, closed), call(F, open)}},
		{"failures below 1 mean 1", 0, []step{call(S, closed), call(F, open), refuse(cool, open)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := stytchtest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
			b := breaker.New(breaker.Config{Failures: tc.failures, Cooldown: cool, Now: clock.Now})
			if b.State() != closed {
				t.Fatalf("new breaker is %v", b.State())
			}
			held := map[string]func(breaker.Outcome){}
			for i, s := range tc.steps {
				switch s.do {
				case "call", "begin":
					done, retryIn, ok := b.Allow()
					if ok == s.refused {
						t.Fatalf("step %d (%s %s): allowed %v, want %v", i, s.do, s.ticket, ok, !s.refused)
					}
					if !ok && retryIn != s.retryIn {
						t.Errorf("step %d: retryIn %v, want %v", i, retryIn, s.retryIn)
					}
					if ok && s.do == "call" {
						done(s.outcome)
					}
					if ok && s.do == "begin" {
						held[s.ticket] = done
					}
				case "end":
					held[s.ticket](s.outcome)
				case "advance":
					clock.Advance(s.d)
				}
				if got := b.State(); got != s.state {
					t.Fatalf("step %d (%s %s): state %v, want %v", i, s.do, s.ticket, got, s.state)
				}
			}
		})
	}
}

func TestStateNames(t *testing.T) {
	for s, want := range map[breaker.State]string{closed: "closed", open: "open", off: "half_open", 7: "unknown"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}

// TestOneProbeUnderContention: however many callers race for the half-open
// slot, exactly one is let through.
func TestOneProbeUnderContention(t *testing.T) {
	clock := stytchtest.NewClock(time.Unix(0, 0))
	b := breaker.New(breaker.Config{Failures: 1, Cooldown: time.Second, Now: clock.Now})
	done, _, _ := b.Allow()
	done(breaker.Failure)
	clock.Advance(time.Second)

	const callers = 64
	var allowed atomic.Int32
	var probe atomic.Pointer[func(breaker.Outcome)]
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if done, _, ok := b.Allow(); ok {
				allowed.Add(1)
				probe.Store(&done)
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := allowed.Load(); n != 1 {
		t.Fatalf("%d probes let through at once, want 1", n)
	}
	(*probe.Load())(breaker.Success)
	if b.State() != breaker.Closed {
		t.Errorf("state %v after a successful probe", b.State())
	}
}

// TestDefaultClock: without Config.Now the breaker uses the wall clock; a
// zero cooldown is over at once.
func TestDefaultClock(t *testing.T) {
	b := breaker.New(breaker.Config{Failures: 1})
	done, _, _ := b.Allow()
	done(breaker.Failure)
	if b.State() != breaker.HalfOpen {
		t.Fatalf("state %v, want half_open after a zero cooldown", b.State())
	}
}
