package upstream

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/attestd/attestd/internal/apierr"
)

// Retry timing.
const (
	// backoffBase and backoffMax shape the jittered exponential wait before
	// resending a request that never left.
	backoffBase = 50 * time.Millisecond
	backoffMax  = time.Second
	// retryMargin is the least time a retry must still have before the
	// deadline once its wait is over: a retry that can only time out costs
	// a connection and tells the caller nothing new.
	retryMargin = 100 * time.Millisecond
	// maxRetryAfterWait is the longest Stytch's 429 Retry-After attestd
	// waits out itself, holding the call's upstream slot; a longer delay
	// goes back to the caller as its RetryInfo / Retry-After.
	maxRetryAfterWait = 2 * time.Second
)

// backoff is the wait before attempt n+1 after attempt n (n from 1) failed
// without sending anything: "full jitter", uniform in [0, min(max, base·2ⁿ⁻¹)),
// so callers that failed together do not come back together.
func backoff(n int) time.Duration {
	ceiling := backoffMax
	if shift := n - 1; shift < 16 && backoffBase<<shift < backoffMax {
		ceiling = backoffBase << shift
	}
	return rand.N(ceiling)
}

// fits reports whether waiting d leaves the call at least retryMargin before
// its deadline. It never adds to d, which may be as large as a Duration
// holds: d+retryMargin would wrap round to a negative wait that "fits".
func fits(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	if !ok {
		return true
	}
	left := time.Until(deadline)
	return left > retryMargin && d < left-retryMargin
}

// wait blocks for d or until ctx ends, whichever is first, and returns ctx's
// error in the second case. A timer, not time.Sleep, so a canceled call does
// not linger.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): delta-seconds
// or an HTTP-date, the latter measured from now (a date in the past means no
// wait). The delay is clamped to apierr.MaxRetryAfter: it comes from outside,
// and an absurd one (99999999999999999999 seconds, a date in the year 9999)
// is "far off", not unreadable, but must not overflow any arithmetic on it.
// ok is false when the header is absent or unreadable.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if strings.Trim(v, "0123456789") == "" { // delta-seconds: 1*DIGIT
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > uint64(apierr.MaxRetryAfter/time.Second) { // err: too many digits for a uint64
			return apierr.MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return apierr.ClampRetryAfter(t.Sub(now)), true // Sub saturates rather than overflowing
}

// neverSent reports whether a failed attempt provably put no byte of the
// request on the wire, so that sending it again cannot create a second
// session. Both conditions must hold:
//
//   - the transport never handed the attempt a connection (httptrace's
//     GotConn did not fire). GotConn comes before the first byte is written;
//     WroteHeaders would be later than that, because net/http can flush a
//     large header block before it reports the headers written;
//   - the error is a failure to establish a connection (a dial error:
//     refused, unreachable, DNS). This covers transports that ignore
//     httptrace, for which the first condition proves nothing.
//
// A reused keep-alive connection that breaks before anything was written
// never reaches here: net/http resends such a request itself (its
// nothingWrittenError rule, since the body can be rewound), and it resends a
// POST in no other case.
func neverSent(connected bool, err error) bool {
	if connected {
		return false
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}
