package attack

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/attestd/attestd/internal/stytchtest"
)

// slowStytch answers Stytch's typical success after a random 20–50 ms, or
// not at all if the call is abandoned first.
func slowStytch() http.Handler {
	ok := stytchtest.Respond(http.StatusOK, stytchtest.Typical())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(time.Duration(20+rand.IntN(31)) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			ok.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	})
}

// hungStytch never answers: each call holds until attestd gives up on it or
// the test ends.
func hungStytch(t *testing.T) http.Handler {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
}

// breakerState is attestd_upstream_breaker_state (0 closed, 1 half-open,
// 2 open).
func (tg *target) breakerState(t *testing.T) float64 {
	t.Helper()
	v, ok := tg.scrape(t).sum("attestd_upstream_breaker_state")
	if !ok {
		t.Fatal("no attestd_upstream_breaker_state in /metrics")
	}
	return v
}

// TestBreakerCallerDeadlines attacks the circuit breaker with callers'
// deadlines. Against a healthy Stytch (20–50 ms per answer), many gRPC calls
// with a 1 ms deadline and REST calls with `Grpc-Timeout: 1m` (1 ms) run
// concurrently. Must hold: a caller giving up is not Stytch failing, so none
// of them, and no call after them, gets 503 upstream_circuit_open; normal
// calls succeed on both protocols afterwards and
// attestd_upstream_breaker_state is 0 (closed).
//
// Second half: a hung Stytch, ATTESTD_BREAKER_SLOW_CALL=200ms and callers
// whose deadlines (600 ms) are shorter than ATTESTD_UPSTREAM_TIMEOUT (10 s).
// Must hold: calls that outlived the slow-call bound count as failures even
// though the caller's deadline ended them, so the breaker opens (state 2)
// and later calls get 503 upstream_circuit_open / Unavailable at once.
func TestBreakerCallerDeadlines(t *testing.T) {
	t.Run("HealthyStytchImpatientCallers", func(t *testing.T) {
		fake := stytchtest.NewServer(t)
		fake.Handle(slowStytch())
		tg := start(t, fake)
		calls := size(200, 5000)    // per protocol
		concurrency := size(16, 64) // per protocol
		budget := size(60*time.Second, 5*time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()

		// Warm up keep-alive connections to Stytch, so that short
		// deadlines reach it rather than die dialing.
		var warm sync.WaitGroup
		for range 8 {
			warm.Add(1)
			go func() { defer warm.Done(); tg.normalCalls(t, "warm-up") }()
		}
		warm.Wait()
		before := fake.Calls()

		var (
			grpcCodes  sync.Map // codes.Code → *atomic.Int64
			restStatus sync.Map // int → *atomic.Int64
			circuit    atomic.Int64
			issued     atomic.Int64
		)
		count := func(m *sync.Map, k any) {
			v, _ := m.LoadOrStore(k, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
		}
		begin := time.Now()
		var wg sync.WaitGroup
		for w := range 2 * concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < 2*calls && ctx.Err() == nil; i += 2 * concurrency {
					issued.Add(1)
					if i%2 == 0 {
						cctx, ccancel := context.WithTimeout(ctx, time.Millisecond)
						_, err := tg.client.Attest(cctx, normalRequest())
						ccancel()
						g := decodeStatus(err)
						count(&grpcCodes, g.code)
						if g.reason == "upstream_circuit_open" {
							circuit.Add(1)
						}
						continue
					}
					r := tg.rest(ctx, []byte(normalBody), "Grpc-Timeout", "1m")
					count(&restStatus, r.status)
					if e, _ := r.stytchError(); e.ErrorType == "upstream_circuit_open" {
						circuit.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		took := time.Since(begin)
		reached := fake.Calls() - before
		summary := func(m *sync.Map) string {
			s := ""
			m.Range(func(k, v any) bool { s += fmt.Sprintf(" %v:%d", k, v.(*atomic.Int64).Load()); return true })
			return s
		}
		t.Logf("%d calls with a 1 ms deadline in %s (%d reached Stytch); gRPC codes%s; REST statuses%s",
			issued.Load(), took.Round(time.Millisecond), reached, summary(&grpcCodes), summary(&restStatus))
		if reached < 5 {
			t.Errorf("only %d calls reached Stytch: the attack did not exercise the breaker (want ≥ 5, the default ATTESTD_BREAKER_FAILURES)", reached)
		}
		if n := circuit.Load(); n > 0 {
			t.Errorf("%d calls got upstream_circuit_open: callers' own deadlines opened the breaker", n)
		}
		tg.normalCalls(t, "after the impatient callers")
		if s := tg.breakerState(t); s != 0 {
			t.Errorf("attestd_upstream_breaker_state = %v after the attack, want 0 (closed)", s)
		}
	})

	t.Run("HungStytchSlowCalls", func(t *testing.T) {
		fake := stytchtest.NewServer(t)
		fake.Handle(hungStytch(t))
		tg := start(t, fake, "ATTESTD_BREAKER_SLOW_CALL=200ms", "ATTESTD_UPSTREAM_TIMEOUT=10s")
		if v, ok := tg.configValue("breaker_slow_call"); !ok || v != "200ms" {
			t.Errorf("the configuration dump has breaker_slow_call=%v (present %v), want 200ms: ATTESTD_BREAKER_SLOW_CALL is not a setting", v, ok)
		}
		const deadline = 600 * time.Millisecond
		n := size(8, 32) // calls, half per protocol; ≥ ATTESTD_BREAKER_FAILURES (5)
		begin := time.Now()
		var wg sync.WaitGroup
		var late atomic.Int64
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				defer cancel()
				if i%2 == 0 {
					_, err := tg.client.Attest(ctx, normalRequest())
					if c := decodeStatus(err).code; c != codes.DeadlineExceeded && c != codes.Unavailable {
						t.Errorf("gRPC call into a hung Stytch: %v, want DeadlineExceeded", decodeStatus(err))
					}
					return
				}
				r := tg.rest(context.Background(), []byte(normalBody), "Grpc-Timeout", "600m")
				if r.status != http.StatusGatewayTimeout && r.status != http.StatusServiceUnavailable {
					t.Errorf("REST call into a hung Stytch: %v, want 504", r)
				}
				if r.took > 5*time.Second {
					late.Add(1)
				}
			}()
		}
		wg.Wait()
		t.Logf("%d calls with a %s deadline into a hung Stytch ended after %s", n, deadline, time.Since(begin).Round(time.Millisecond))
		if late.Load() > 0 {
			t.Errorf("%d REST calls outlived their 600 ms deadline by seconds", late.Load())
		}

		// The breaker decides as the calls end; poll its gauge briefly.
		state := -1.0
		for i := 0; i < 50; i++ {
			if state = tg.breakerState(t); state == 2 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if state != 2 {
			t.Errorf("attestd_upstream_breaker_state = %v after %d slow calls, want 2 (open)", state, n)
		}
		// Open, the circuit answers at once; these deadlines only bound a
		// hung call if it is not.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		r := tg.rest(ctx, []byte(normalBody))
		e, shape := r.stytchError()
		if r.status != http.StatusServiceUnavailable || e.ErrorType != "upstream_circuit_open" || shape != "" || r.took > time.Second {
			t.Errorf("REST call after the slow calls: %v in %s, want 503 upstream_circuit_open at once %s", r, r.took, shape)
		} else if ra := r.header.Get("Retry-After"); ra == "" {
			t.Errorf("503 upstream_circuit_open without Retry-After")
		}
		gctx, gcancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer gcancel()
		begin = time.Now()
		_, err := tg.client.Attest(gctx, normalRequest())
		g := decodeStatus(err)
		if g.code != codes.Unavailable || g.reason != "upstream_circuit_open" || time.Since(begin) > time.Second {
			t.Errorf("gRPC call after the slow calls: %v in %s, want Unavailable upstream_circuit_open at once", g, time.Since(begin))
		}
		t.Logf("open circuit answered REST in %s, gRPC in %s", r.took.Round(time.Microsecond), time.Since(begin).Round(time.Microsecond))
	})
}
