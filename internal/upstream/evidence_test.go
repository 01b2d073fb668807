package upstream_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/testkit/fakeclock"
	"github.com/attestd/attestd/internal/upstream"
)

// What the circuit breaker takes as evidence against Stytch: Stytch failing,
// never a caller giving up early.

// withDeadline is a call context whose caller allows d.
func withDeadline(d time.Duration) func(t *testing.T, _ <-chan struct{}) context.Context {
	return func(t *testing.T, _ <-chan struct{}) context.Context {
		c, cancel := context.WithTimeout(ctx(t), d)
		t.Cleanup(cancel)
		return c
	}
}

// expiringOn is a caller's context with a deadline shorter than attestd's
// own timeout that expires when expire is closed instead of on a timer: the
// test picks the moment, with the attempt in Stytch's hands, so a loaded
// machine cannot let it expire before the request gets there.
type expiringOn struct {
	context.Context // for its values only
	deadline        time.Time
	expire          <-chan struct{}
}

func (c expiringOn) Deadline() (time.Time, bool) { return c.deadline, true }
func (c expiringOn) Done() <-chan struct{}       { return c.expire }

func (c expiringOn) Err() error {
	select {
	case <-c.expire:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// expireOnEntry is a caller's deadline (5 s, shorter than the tests'
// 10 s Options.Timeout) that expires as soon as the request reaches the
// server (entered).
func expireOnEntry(t *testing.T, entered <-chan struct{}) context.Context {
	base := ctx(t)
	expire := make(chan struct{})
	go func() {
		select {
		case <-entered:
		case <-base.Done():
		}
		close(expire)
	}()
	return expiringOn{Context: base, deadline: time.Now().Add(5 * time.Second), expire: expire}
}

// TestCallerDeadlinesAreNotEvidence: however many calls their callers cut
// short before SlowCall, on a healthy Stytch, the breaker stays closed, even
// one that opens on the first failure; Stytch is still reached afterwards.
func TestCallerDeadlinesAreNotEvidence(t *testing.T) {
	typical := stytchtest.Typical()
	cases := []struct {
		name    string
		handler func(t *testing.T, entered chan<- struct{}) http.Handler
		call    func(t *testing.T, entered <-chan struct{}) context.Context
		calls   int
		// want is each call's error; nil: a timeout or, for callers fast
		// enough, success.
		want *want
	}{
		// A gRPC caller's 1 ms deadline (REST: Grpc-Timeout: 1m): the call
		// ends while dialling, sending or reading.
		{name: "1 ms deadlines against a healthy Stytch", calls: 200,
			handler: answer(stytchtest.Respond(http.StatusOK, typical)), call: withDeadline(time.Millisecond)},
		// Stytch slower than the callers allow, but far from SlowCall: each
		// call's deadline expires with the attempt in flight.
		{name: "deadlines expiring before Stytch answers", calls: 20, want: &wantTimeout,
			handler: func(t *testing.T, entered chan<- struct{}) http.Handler { return stall(t, nil, entered) },
			call:    withDeadline(20 * time.Millisecond)},
		{name: "deadlines expiring in the middle of the answer", calls: 20, want: &wantTimeout,
			handler: func(t *testing.T, entered chan<- struct{}) http.Handler { return stall(t, typical[:100], entered) },
			call:    withDeadline(20 * time.Millisecond)},
		{name: "deadlines expiring once Stytch has the request", calls: 20, want: &wantTimeout,
			handler: func(t *testing.T, entered chan<- struct{}) http.Handler { return stall(t, nil, entered) },
			call:    expireOnEntry},
		{name: "callers canceling while Stytch works", calls: 20, want: &wantCanceled,
			handler: func(t *testing.T, entered chan<- struct{}) http.Handler { return stall(t, nil, entered) },
			call:    cancelOnEntry},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := stytchtest.NewServer(t)
			entered := make(chan struct{}, 1)
			fake.Handle(tc.handler(t, entered))
			client := newClient(t, fake.URL, func(o *upstream.Options) { o.BreakerFailures = 1 }) // default SlowCall, 2 s
			for i := range tc.calls {
				_, err := client.Attest(tc.call(t, entered), validRequest())
				switch {
				case tc.want != nil:
					tc.want.check(t, err)
				case err != nil:
					wantTimeout.check(t, err)
				}
				if got := client.BreakerState(); got != "closed" {
					t.Fatalf("call %d: breaker %q after callers gave up early", i, got)
				}
			}
			fake.Handle(stytchtest.Respond(http.StatusOK, typical))
			before := fake.Calls()
			if err := attest(t, client); err != nil {
				t.Fatalf("Stytch is healthy, yet: %v", err)
			}
			if fake.Calls() != before+1 {
				t.Errorf("the call after did not reach Stytch")
			}
		})
	}
}

// TestHungStytchOpensTheBreaker: when every caller's deadline is shorter
// than attestd's own upstream timeout but longer than SlowCall, a hung
// Stytch still opens the circuit: each attempt was unanswered past the
// threshold before its caller gave up.
func TestHungStytchOpensTheBreaker(t *testing.T) {
	cases := []struct {
		name     string
		slowCall time.Duration // 0: the default, 2 s
		// deadline is each caller's, far shorter than Options.Timeout; 0
		// means one that expires once Stytch has the request.
		deadline time.Duration
		// advance, when set, moves the breaker's fake clock as each request
		// reaches Stytch, so the threshold passes on the breaker's clock
		// while the attempt hangs; unset, the real clock is used.
		advance time.Duration
		opens   bool
	}{
		{name: "real clock: deadlines past the threshold", slowCall: 50 * time.Millisecond, deadline: 250 * time.Millisecond, opens: true},
		{name: "fake clock: the threshold passes while the attempt hangs", advance: upstream.DefaultSlowCall, opens: true},
		{name: "fake clock: a nanosecond short of the threshold", advance: upstream.DefaultSlowCall - time.Nanosecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := stytchtest.NewServer(t)
			clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
			entered := make(chan struct{}, 1)
			hung := stall(t, nil, nil)
			fake.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				clock.Advance(tc.advance)
				select {
				case entered <- struct{}{}:
				default: // no one is waiting: a timer ends the call
				}
				hung.ServeHTTP(w, r)
			}))
			call := expireOnEntry
			if tc.deadline > 0 {
				call = withDeadline(tc.deadline)
			}
			client := newClient(t, fake.URL, func(o *upstream.Options) {
				o.Timeout, o.SlowCall, o.BreakerWindow = 10*time.Second, tc.slowCall, time.Minute
				if tc.advance > 0 {
					o.Now = clock.Now
				}
			})
			for range upstream.DefaultBreakerFailures {
				_, err := client.Attest(call(t, entered), validRequest())
				e := wantTimeout.check(t, err)
				if e.Body.GetErrorMessage() != "Stytch did not answer within the call's deadline" {
					t.Errorf("message %q", e.Body.GetErrorMessage())
				}
			}
			want := map[bool]string{true: "open", false: "closed"}[tc.opens]
			if got := client.BreakerState(); got != want {
				t.Fatalf("breaker %q after %d hung calls, want %q", got, upstream.DefaultBreakerFailures, want)
			}
			if !tc.opens {
				return
			}
			before := fake.Calls()
			e := wantCircuitOpen.check(t, attest(t, client))
			// The real clock has moved on a little since the circuit opened.
			if e.RetryAfter > upstream.DefaultBreakerCooldown || e.RetryAfter < upstream.DefaultBreakerCooldown-time.Second {
				t.Errorf("RetryAfter %v, want about the %v cooldown", e.RetryAfter, upstream.DefaultBreakerCooldown)
			}
			if fake.Calls() != before {
				t.Errorf("an open circuit let a request through")
			}
		})
	}
}

// TestOwnTimeoutIsEvidence: attestd's own upstream timeout expiring is
// Stytch's fault however short it is, below SlowCall included.
func TestOwnTimeoutIsEvidence(t *testing.T) {
	fake := stytchtest.NewServer(t)
	fake.Handle(stall(t, nil, nil))
	client := newClient(t, fake.URL, func(o *upstream.Options) {
		o.Timeout, o.SlowCall, o.BreakerFailures = 50*time.Millisecond, time.Hour, 2
	})
	for range 2 {
		e := wantTimeout.check(t, attest(t, client))
		if e.Body.GetErrorMessage() != "Stytch did not answer within attestd's upstream timeout" {
			t.Errorf("message %q", e.Body.GetErrorMessage())
		}
	}
	if got := client.BreakerState(); got != "open" {
		t.Errorf("breaker %q after attestd's own timeout expired twice", got)
	}
}

// TestBreakerFailureRatio: the circuit opens on failures that are both
// numerous enough and a large enough share of the calls in the window, so a
// blip among many successes keeps it closed while an outage still opens it.
func TestBreakerFailureRatio(t *testing.T) {
	type phase struct {
		down    bool // Stytch answers 503; else 200
		calls   int
		advance time.Duration // of the fake clock, before the calls
	}
	ok := func(calls int) phase { return phase{calls: calls} }
	down := func(calls int) phase { return phase{down: true, calls: calls} }
	cases := []struct {
		name   string
		mutate func(*upstream.Options)
		phases []phase
		opens  bool
	}{
		{name: "low volume: 5 failures and no success open it", opens: true,
			phases: []phase{down(5)}},
		{name: "4 failures do not", phases: []phase{down(4)}},
		{name: "a blip of 5 failures among 100 successes does not", phases: []phase{
			ok(100), down(5), ok(10), down(5),
		}},
		{name: "failures reaching half of the window open it", opens: true, phases: []phase{
			ok(20), down(20),
		}},
		{name: "one short of half does not", phases: []phase{ok(20), down(19)}},
		{name: "successes older than the window no longer count", opens: true, phases: []phase{
			ok(100), {down: true, calls: 5, advance: upstream.DefaultBreakerWindow},
		}},
		{name: "failures older than the window no longer count", phases: []phase{
			down(4), {down: true, calls: 4, advance: upstream.DefaultBreakerWindow},
		}},
		{name: "a custom ratio", mutate: func(o *upstream.Options) { o.BreakerFailureRatio = 0.1 }, opens: true,
			phases: []phase{ok(45), down(5)}},
		{name: "a custom window", mutate: func(o *upstream.Options) { o.BreakerWindow = time.Minute }, opens: true,
			phases: []phase{down(4), {down: true, calls: 1, advance: 50 * time.Second}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := stytchtest.NewServer(t)
			clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
			client := newClient(t, fake.URL, func(o *upstream.Options) {
				o.Now = clock.Now
				if tc.mutate != nil {
					tc.mutate(o)
				}
			})
			for i, p := range tc.phases {
				clock.Advance(p.advance)
				fake.Handle(stytchtest.Respond(http.StatusOK, stytchtest.Typical()))
				if p.down {
					fake.Handle(stytchtest.Error(503, "service_unavailable", "down"))
				}
				for range p.calls {
					err := attest(t, client)
					if !p.down && err != nil {
						t.Fatalf("phase %d: %v", i, err)
					}
					if p.down && apiErr(t, err).Body.GetErrorType() != "service_unavailable" {
						t.Fatalf("phase %d: %v, want Stytch's 503", i, err)
					}
				}
			}
			want := map[bool]string{true: "open", false: "closed"}[tc.opens]
			if got := client.BreakerState(); got != want {
				t.Errorf("breaker %q, want %q", got, want)
			}
			err := attest(t, client)
			if tc.opens {
				wantCircuitOpen.check(t, err)
			} else if err != nil && apiErr(t, err).Body.GetErrorType() == apierr.TypeUpstreamCircuitOpen {
				t.Errorf("circuit open although the breaker is closed")
			}
		})
	}
}
