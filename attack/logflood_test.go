package attack

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/attestd/attestd/internal/stytchtest"
)

// TestLogFlood attacks the log with floods of calls refused the same way,
// 1000+ over both protocols from one address: refused by the rate limit
// (ATTESTD_RATE_LIMIT=0.01, ATTESTD_RATE_BURST=1: too_many_requests), and
// shed (ATTESTD_UPSTREAM_MAX_CONCURRENT=1, ATTESTD_UPSTREAM_MAX_QUEUE=0, the
// one slot held by a call into a hung Stytch: upstream_overloaded). Must
// hold: attestd writes a bounded number of "call" lines for them (a burst of
// about 10, then about 1 a second, per error type), and the first line
// written after some were left out carries a `suppressed` count, so that the
// lines written plus the suppressed counts add up to exactly the calls
// refused.
func TestLogFlood(t *testing.T) {
	t.Run("RateLimited", func(t *testing.T) {
		fake := stytchtest.NewServer(t)
		tg := start(t, fake, "ATTESTD_RATE_LIMIT=0.01", "ATTESTD_RATE_BURST=1")
		logFlood(t, tg, "too_many_requests", codes.ResourceExhausted, http.StatusTooManyRequests)
	})
	t.Run("Shed", func(t *testing.T) {
		fake := stytchtest.NewServer(t)
		hung, release := hungStytchReleasable(t)
		fake.Handle(hung)
		tg := start(t, fake, "ATTESTD_UPSTREAM_MAX_CONCURRENT=1", "ATTESTD_UPSTREAM_MAX_QUEUE=0")
		// One call holds the only slot until the flood is over.
		held := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			_, err := tg.client.Attest(ctx, normalRequest())
			held <- err
		}()
		inFlight := 0.0
		for i := 0; i < 100 && inFlight != 1; i++ {
			inFlight, _ = tg.scrape(t).sum("attestd_upstream_in_flight")
			if inFlight != 1 {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if inFlight != 1 {
			t.Fatalf("attestd_upstream_in_flight = %v, want the holding call in flight", inFlight)
		}
		logFlood(t, tg, "upstream_overloaded", codes.ResourceExhausted, http.StatusServiceUnavailable, release)
		if err := <-held; err != nil {
			t.Errorf("the call holding the slot: %v, want success once Stytch answered", decodeStatus(err))
		}
	})
}

// hungStytchReleasable is hungStytch with a release that makes every call
// held so far, and every later one, answer Stytch's typical success.
func hungStytchReleasable(t *testing.T) (http.Handler, func()) {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	ok := stytchtest.Respond(http.StatusOK, stytchtest.Typical())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
			ok.ServeHTTP(w, r)
		}
	}), free
}

// logFlood floods tg with calls it must refuse with errorType (gRPC code,
// HTTP status), then checks the "call" lines written for them. beforeStop
// run before attestd is stopped (to release held calls).
func logFlood(t *testing.T, tg *target, errorType string, code codes.Code, httpStatus int, beforeStop ...func()) {
	calls := size(1200, 20000)
	concurrency := size(8, 32)
	ctx, cancel := context.WithTimeout(context.Background(), size(90*time.Second, 10*time.Minute))
	defer cancel()

	var refused, restRefused, restGuard, admitted, other atomic.Int64
	refusedCall := func(i int, id string) bool {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		if i%2 == 0 {
			_, err := tg.client.Attest(withRequestID(cctx, id), normalRequest())
			switch g := decodeStatus(err); {
			case err == nil:
				admitted.Add(1)
			case g.code == code && g.reason == errorType:
				refused.Add(1)
				return true
			default:
				if other.Add(1) <= 3 {
					t.Errorf("gRPC call in the flood: %v, want %s %s", g, code, errorType)
				}
			}
			return false
		}
		r := tg.rest(cctx, []byte(normalBody), "X-Request-Id", id)
		switch e, _ := r.stytchError(); {
		case r.status == http.StatusOK:
			admitted.Add(1)
		case r.status == httpStatus && e.ErrorType == errorType:
			refused.Add(1)
			restRefused.Add(1)
			if strings.Contains(e.ErrorMessage, "REST calls") {
				restGuard.Add(1) // the gateway's own in-flight cap, before the chain
			}
			return true
		default:
			if other.Add(1) <= 3 {
				t.Errorf("REST call in the flood: %v, want %d %s", r, httpStatus, errorType)
			}
		}
		return false
	}

	begin := time.Now()
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < calls && ctx.Err() == nil; i += concurrency {
				refusedCall(i, fmt.Sprintf("attack-flood-%d", i))
			}
		}()
	}
	wg.Wait()
	flood := time.Since(begin)

	// Flush: refused calls one at a time until one is written; it must
	// carry the count of those left out. The line budget refills about once
	// a second, so a few tries suffice.
	from := tg.logs.mark()
	var flushLine map[string]any
	for i := 0; i < 6 && flushLine == nil; i++ {
		id := fmt.Sprintf("attack-flood-flush-%d", i)
		if !refusedCall(1, id) {
			t.Fatalf("a flush call was not refused")
		}
		flushLine = tg.logs.wait(from, 1500*time.Millisecond, func(m map[string]any) bool {
			return m["msg"] == "call" && m["request_id"] == id
		})
	}
	elapsed := time.Since(begin)
	if flushLine == nil {
		t.Errorf("no refused call was logged in the seconds after the flood")
	} else if s, _ := flushLine["suppressed"].(float64); s <= 0 {
		t.Errorf("the first line written after the flood carries no suppressed count: %v", flushLine)
	}

	// Metrics count every call, logged or not.
	ms := tg.scrape(t)
	countedGRPC, _ := ms.sum("attestd_attest_calls_total", "protocol", "grpc", "error_type", errorType)
	countedREST, _ := ms.sum("attestd_attest_calls_total", "protocol", "rest", "error_type", errorType)
	for _, f := range beforeStop {
		f()
	}
	logs := tg.proc.Stop(t)
	var lines, suppressed, allCalls, audits, infoCalls int
	for _, m := range parseLogLines(logs) {
		switch m["msg"] {
		case "call":
			allCalls++
			if m["level"] == "INFO" {
				infoCalls++
			}
			if m["error_type"] == errorType {
				lines++
				s, _ := m["suppressed"].(float64)
				suppressed += int(s)
			}
		case "audit":
			audits++
		}
	}
	t.Logf("%d calls in %s (%d refused, %d admitted, %d other); %s in all: %d \"call\" lines for %s carrying suppressed=%d, %d call lines, %d audit lines",
		calls, flood.Round(time.Millisecond), refused.Load(), admitted.Load(), other.Load(), elapsed.Round(time.Millisecond), lines, errorType, suppressed, allCalls, audits)
	// One event per call at info: an attest's call line is debug (its audit
	// event records it) unless the call failed at WARN or ERROR, as these
	// refusals do.
	if infoCalls != 0 {
		t.Errorf("%d call lines at INFO: attests the audit records write theirs at debug", infoCalls)
	}
	if refused.Load() < int64(calls)*9/10 {
		t.Errorf("only %d of %d calls were refused: the flood did not flood", refused.Load(), calls)
	}
	if bound := 10 + int(math.Ceil(elapsed.Seconds())) + 2; lines > bound {
		t.Errorf("%d call lines for %d refused calls in %s, want ≤ %d (a burst of 10, then 1 a second)", lines, refused.Load(), elapsed.Round(time.Millisecond), bound)
	}
	if int64(lines+suppressed) != refused.Load() {
		t.Errorf("lines written (%d) + suppressed counts (%d) = %d, want the %d calls refused: %d calls left no trace in the log",
			lines, suppressed, lines+suppressed, refused.Load(), refused.Load()-int64(lines+suppressed))
	}
	grpcRefused := refused.Load() - restRefused.Load()
	t.Logf("attestd_attest_calls_total{error_type=%q}: grpc %v (refused %d), rest %v (refused %d, of which %d by the gateway's in-flight cap)",
		errorType, countedGRPC, grpcRefused, countedREST, restRefused.Load(), restGuard.Load())
	if int64(countedGRPC) != grpcRefused || int64(countedREST) != restRefused.Load() {
		t.Errorf("attestd_attest_calls_total{error_type=%q} counts grpc %v and rest %v, want every refused call: grpc %d, rest %d",
			errorType, countedGRPC, countedREST, grpcRefused, restRefused.Load())
	}
}
