package breaker_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/attestd/attestd/internal/testkit/fakeclock"
	"github.com/attestd/attestd/internal/upstream/breaker"
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

// repeat is n copies of s.
func repeat(n int, s step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// seq joins scenarios.
func seq(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestBreaker(t *testing.T) {
	// trip opens a breaker with Failures 3.
	trip := []step{call(F, closed), call(F, closed), call(F, open)}
	// halfOpen opens it and lets the cooldown pass.
	halfOpen := append(trip[:len(trip):len(trip)], advance(cool, off))
	cases := []struct {
		name     string
		failures int
		ratio    float64 // 0 in the table means 0.5, the default upstream uses
		window   time.Duration
		steps    []step
	}{
		{name: "opens after N failures and no success", failures: 3, steps: append(trip, refuse(cool, open), refuse(cool, open))},
		{name: "a low-volume outage opens it as consecutive failures would", failures: 5,
			steps: append(repeat(4, call(F, closed)), call(F, open))},
		{name: "a success does not reset the count", failures: 3, steps: []step{
			call(F, closed), call(F, closed), call(S, closed), call(F, open),
		}},
		{name: "successes keep it closed while failures are under the ratio", failures: 3, steps: seq(
			repeat(4, call(S, closed)), repeat(3, call(F, closed)), // 3 of 7
			[]step{call(F, open)}, // 4 of 8: the ratio reached
		)},
		{name: "a blip among many successes does not open it", failures: 5, steps: seq(
			repeat(1000, call(S, closed)), repeat(20, call(F, closed)),
		)},
		{name: "enough failures but not the ratio, then the ratio", failures: 3, ratio: 0.9, steps: seq(
			[]step{call(S, closed)}, repeat(8, call(F, closed)), // 8 of 9 < 0.9
			[]step{call(F, open)}, // 9 of 10
		)},
		{name: "ratio 0: the count alone decides", failures: 3, ratio: -1, steps: seq(
			repeat(100, call(S, closed)), []step{call(F, closed), call(F, closed), call(F, open)},
		)},
		{name: "ratio over 1 means 1: any success holds it closed", failures: 2, ratio: 7, steps: seq(
			[]step{call(S, closed)}, repeat(50, call(F, closed)),
		)},
		{name: "ignored outcomes count nothing", failures: 3, steps: seq(
			[]step{call(F, closed), call(I, closed), call(F, closed)}, repeat(100, call(I, closed)), []step{call(F, open)},
		)},
		{name: "failures older than the window are forgotten", failures: 3, steps: []step{
			call(F, closed), call(F, closed), advance(10*time.Second, closed),
			call(F, closed), call(F, closed), call(F, open),
		}},
		{name: "failures within the window add up", failures: 3, steps: []step{
			call(F, closed), advance(5*time.Second, closed), call(F, closed),
			advance(4*time.Second, closed), call(F, open), // 9 s after the first
		}},
		{name: "successes older than the window no longer dilute", failures: 3, steps: seq(
			repeat(10, call(S, closed)), []step{advance(10*time.Second, closed)}, trip,
		)},
		{name: "a custom window", failures: 2, window: time.Second, steps: []step{
			call(F, closed), advance(time.Second, closed), call(F, closed), advance(900*time.Millisecond, closed), call(F, open),
		}},
		{name: "the default window is 10 s", failures: 2, window: -1, steps: []step{
			call(F, closed), advance(9*time.Second, closed), call(F, open),
		}},
		{name: "the hint counts down the cooldown", failures: 3, steps: append(trip,
			advance(4*time.Second, open), refuse(6*time.Second, open),
			advance(6*time.Second-time.Nanosecond, open), refuse(time.Nanosecond, open),
			advance(time.Nanosecond, off))},
		{name: "one probe at a time; its success closes with an empty window", failures: 3, steps: append(halfOpen,
			begin("probe", off), refuse(0, off), refuse(0, off),
			end("probe", S, closed), call(F, closed), call(F, closed), call(F, open))},
		{name: "probe failure reopens for a fresh cooldown", failures: 3, steps: append(halfOpen,
			advance(time.Hour, off), // a late probe still gets a full cooldown after it
			call(F, open), refuse(cool, open), advance(cool, off), call(S, closed))},
		{name: "an ignored probe frees the probe slot", failures: 3, steps: append(halfOpen,
			begin("probe", off), end("probe", I, off), begin("next", off), refuse(0, off), end("next", S, closed))},
		{name: "verdicts from an earlier state are dropped", failures: 3, steps: []step{
			begin("slow-ok", closed), begin("slow-fail", closed),
			call(F, closed), call(F, closed), call(F, open),
			end("slow-ok", S, open), end("slow-fail", F, open), refuse(cool, open),
			advance(cool, off), begin("probe", off),
			refuse(0, off), // the probe is in flight
			end("probe", F, open), refuse(cool, open),
			advance(cool, off), begin("late", off), end("late", S, closed),
			call(F, closed), call(F, closed), // the window after closing starts empty
		}},
		{name: "done twice counts once", failures: 2, steps: []step{begin("a", closed), end("a", F, closed), end("a", F, closed), call(F, open)}},
		{name: "failures below 1 mean 1", failures: 0, steps: []step{call(S, closed), call(F, open), refuse(cool, open)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
			ratio := tc.ratio
			if ratio == 0 {
				ratio = 0.5
			}
			b := breaker.New(breaker.Config{Failures: tc.failures, Ratio: ratio, Window: tc.window, Cooldown: cool, Now: clock.Now})
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

// TestClockSetBack: a clock that goes back (a wall clock stepped by NTP, say)
// neither panics nor revives forgotten calls.
func TestClockSetBack(t *testing.T) {
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	b := breaker.New(breaker.Config{Failures: 2, Ratio: 0.5, Cooldown: cool, Now: clock.Now})
	clock.Advance(time.Minute)
	done, _, _ := b.Allow()
	done(breaker.Failure)
	clock.Advance(-2 * time.Minute) // before the epoch
	done, _, _ = b.Allow()
	done(breaker.Success)
	if b.State() != closed {
		t.Fatalf("state %v", b.State())
	}
	done, _, _ = b.Allow()
	done(breaker.Failure)
	done, _, _ = b.Allow()
	done(breaker.Failure)
	if b.State() != open {
		t.Errorf("state %v after 2 failures of 3 at the epoch, want open", b.State())
	}
}

// TestMemoryIsConstant: a million calls in one window allocate nothing once
// the breaker exists.
func TestMemoryIsConstant(t *testing.T) {
	clock := fakeclock.New(time.Unix(0, 0))
	b := breaker.New(breaker.Config{Failures: 5, Ratio: 0.5, Cooldown: cool, Now: clock.Now})
	var i int
	allocs := testing.AllocsPerRun(10000, func() {
		done, _, _ := b.Allow()
		if i++; i%100 == 0 {
			done(breaker.Failure)
		} else {
			done(breaker.Success)
		}
		clock.Advance(time.Millisecond)
	})
	// Allow's done closure and its sync.Once are the only allocations.
	if allocs > 3 {
		t.Errorf("%v allocations per call", allocs)
	}
	if b.State() != closed {
		t.Errorf("1%% failures opened the breaker")
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
	clock := fakeclock.New(time.Unix(0, 0))
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
