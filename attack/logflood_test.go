package attack

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/attestd/attestd/service/stytchtest"
)

// TestLogFlood attacks the log with a flood of calls refused the same way:
// with ATTESTD_RATE_LIMIT=0.01 and ATTESTD_RATE_BURST=1, 1000+ calls over
// both protocols from one address are refused with too_many_requests. Must
// hold: attestd writes a bounded number of "call" lines for them (a burst of
// about 10, then about 1 a second), and the first line written after some
// were left out carries a `suppressed` count, so that the lines written plus
// the suppressed counts add up to exactly the calls refused.
func TestLogFlood(t *testing.T) {
	fake := stytchtest.NewServer(t)
	tg := start(t, fake, "ATTESTD_RATE_LIMIT=0.01", "ATTESTD_RATE_BURST=1")
	calls := size(1200, 20000)
	concurrency := size(8, 32)
	ctx, cancel := context.WithTimeout(context.Background(), size(90*time.Second, 10*time.Minute))
	defer cancel()

	var refused, admitted, other atomic.Int64
	refusedCall := func(i int, id string) bool {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		if i%2 == 0 {
			_, err := tg.client.Attest(withRequestID(cctx, id), normalRequest())
			switch g := decodeStatus(err); {
			case err == nil:
				admitted.Add(1)
			case g.code == codes.ResourceExhausted && g.reason == "too_many_requests":
				refused.Add(1)
				return true
			default:
				if other.Add(1) <= 3 {
					t.Errorf("gRPC call in the flood: %v", g)
				}
			}
			return false
		}
		r := tg.rest(cctx, []byte(normalBody), "X-Request-Id", id)
		switch e, _ := r.stytchError(); {
		case r.status == http.StatusOK:
			admitted.Add(1)
		case r.status == http.StatusTooManyRequests && e.ErrorType == "too_many_requests":
			refused.Add(1)
			return true
		default:
			if other.Add(1) <= 3 {
				t.Errorf("REST call in the flood: %v", r)
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

	logs := tg.proc.Stop(t)
	var lines, suppressed, allCalls, audits int
	for _, m := range parseLogLines(logs) {
		switch m["msg"] {
		case "call":
			allCalls++
			if m["error_type"] == "too_many_requests" {
				lines++
				s, _ := m["suppressed"].(float64)
				suppressed += int(s)
			}
		case "audit":
			audits++
		}
	}
	t.Logf("%d calls in %s (%d refused, %d admitted, %d other); %s in all: %d \"call\" lines for too_many_requests carrying suppressed=%d, %d call lines, %d audit lines",
		calls, flood.Round(time.Millisecond), refused.Load(), admitted.Load(), other.Load(), elapsed.Round(time.Millisecond), lines, suppressed, allCalls, audits)
	if refused.Load() < int64(calls)*9/10 {
		t.Errorf("only %d of %d calls were refused: the flood did not flood", refused.Load(), calls)
	}
	if bound := 10 + int(math.Ceil(elapsed.Seconds())) + 2; lines > bound {
		t.Errorf("%d call lines for %d refused calls in %s, want ≤ %d (a burst of 10, then 1 a second)", lines, refused.Load(), elapsed.Round(time.Millisecond), bound)
	}
	if int64(lines+suppressed) != refused.Load() {
		t.Errorf("lines written (%d) + suppressed counts (%d) = %d, want the %d calls refused", lines, suppressed, lines+suppressed, refused.Load())
	}
}
