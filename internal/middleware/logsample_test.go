package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	errorv1 "github.com/attestd/attestd/gen/go/stytch/error/v1"
	"github.com/attestd/attestd/internal/apierr"
)

// TestLineLimiter: a burst of lines per error type, then one a second; the
// first line written after a gap says how many were left out; error types
// do not share budgets, and unbounded types share one bucket.
func TestLineLimiter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newLineLimiter(func() time.Time { return now })

	written := 0
	for range 1000 {
		if ok, _ := l.allow("upstream_overloaded"); ok {
			written++
		}
	}
	if written != lineBurst {
		t.Fatalf("%d of 1000 lines written at once, want the burst of %d", written, lineBurst)
	}
	if ok, _ := l.allow("too_many_requests"); !ok {
		t.Error("another error type was refused: budgets are shared")
	}
	now = now.Add(time.Second)
	ok, suppressed := l.allow("upstream_overloaded")
	if !ok || suppressed != 1000-lineBurst {
		t.Errorf("after 1s: ok=%v suppressed=%d, want true and %d", ok, suppressed, 1000-lineBurst)
	}
	if ok, _ := l.allow("upstream_overloaded"); ok {
		t.Error("a second line within the same second was written")
	}

	for i := range 2 * maxLineKeys {
		l.allow(fmt.Sprintf("type-%d", i))
	}
	if n := len(l.buckets); n > maxLineKeys+1 {
		t.Errorf("%d buckets, want at most %d", n, maxLineKeys+1)
	}
}

// TestAuditRateLimitsOnlyAttestdFailures: a flood of attestd's own
// refusals writes a burst of audit events, then one carrying the suppressed
// count; successes and Stytch's verdicts are all recorded.
func TestAuditRateLimitsOnlyAttestdFailures(t *testing.T) {
	var buf bytes.Buffer
	ic := audit(slog.New(slog.NewJSONHandler(&buf, nil)))
	info := &grpc.UnaryServerInfo{FullMethod: "/stytch.b2b.session.v1.SessionService/Attest"}
	req := &b2bsessionv1.AttestRequest{ProfileId: "p", Token: "t"}
	run := func(err error) {
		_, _ = ic(context.Background(), req, info, func(context.Context, any) (any, error) { return nil, err })
	}
	for range 100 {
		run(apierr.TooManyRequests.New("slow down"))
		run(apierr.FromStytch(404, &errorv1.StytchError{ErrorType: "member_not_found"}))
	}
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		counts[m["error_type"].(string)]++
	}
	if counts["too_many_requests"] != lineBurst || counts["member_not_found"] != 100 {
		t.Errorf("audit events %v, want %d too_many_requests and all 100 member_not_found", counts, lineBurst)
	}
}
