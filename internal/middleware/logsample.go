package middleware

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/attestd/attestd/internal/apierr"
)

// CallLog writes the "call" lines, failure lines rate-limited per error
// type (see lineBurst). The chain's logging interceptor writes through it,
// and so does the REST gateway for the calls it answers before the chain
// (shed, too large, undecodable): one budget and one suppressed count per
// error type, whoever refused the call.
type CallLog struct {
	log   *slog.Logger
	lines *lineLimiter
}

// NewCallLog returns a CallLog writing to log.
func NewCallLog(log *slog.Logger) *CallLog {
	return &CallLog{log: log, lines: newLineLimiter(nil)}
}

// Refused writes the line of a call refused before the interceptor chain
// ran, so before its caller was known: anonymous, by its address. No audit
// event records such a call, so its line keeps the level of its failure
// (never debug): at info, as callLevel has it, a call nothing else records
// keeps its line.
func (l *CallLog) Refused(ctx context.Context, method, peer, requestID string, e *apierr.Error, took time.Duration) {
	l.write(ctx, levelFor(e.Code), callLine{
		method: method, requestID: requestID, took: took,
		caller: Caller{Via: "anonymous", Addr: peer}, err: e,
	})
}

// callLine is what a call line says, whoever writes it.
type callLine struct {
	method, requestID string
	took              time.Duration
	caller            Caller
	tokenFP           string        // "" when the call has no token
	err               *apierr.Error // nil on success
	stytchRequestID   string
}

// write writes c at level; a failure's line only within its error type's
// budget, carrying the count of the lines left out before it.
func (l *CallLog) write(ctx context.Context, level slog.Level, c callLine) {
	if !l.log.Enabled(ctx, level) {
		return
	}
	var suppressed int64
	if c.err != nil {
		ok, n := l.lines.allow(c.err.Body.GetErrorType())
		if !ok {
			return
		}
		suppressed = n
	}
	attrs := []slog.Attr{
		slog.String("method", c.method),
		slog.String("request_id", c.requestID),
		slog.Float64("duration_ms", float64(c.took.Microseconds())/1000),
		slog.String("caller", c.caller.Name),
		slog.String("caller_via", c.caller.Via),
		slog.String("peer", c.caller.Addr),
	}
	if c.tokenFP != "" {
		attrs = append(attrs, slog.String("token_fp", c.tokenFP))
	}
	if e := c.err; e != nil {
		attrs = append(attrs,
			slog.String("code", e.Code.String()),
			slog.String("error_type", e.Body.GetErrorType()),
			slog.Int("status_code", int(e.Body.GetStatusCode())),
			slog.String("error_domain", e.Domain))
	} else {
		attrs = append(attrs, slog.String("code", codes.OK.String()))
	}
	if c.stytchRequestID != "" || c.err != nil {
		attrs = append(attrs, slog.String("stytch_request_id", c.stytchRequestID))
	}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int64("suppressed", suppressed))
	}
	l.log.LogAttrs(ctx, level, "call", attrs...)
}

// Repeated failure lines are rate-limited per error type: a flood of calls
// refused the same way (load shedding, rate limits, an open circuit) would
// otherwise write a line each, megabytes a second, and bury everything else.
// Metrics still count every call; the next line that is written says how
// many of its kind were left out.
const (
	// lineBurst lines of one error type may be written at once,
	lineBurst = 10
	// then lineRate a second.
	lineRate = 1.0
	// maxLineKeys bounds the error types tracked (Stytch's error_type is
	// its choice); past it, all others share one bucket.
	maxLineKeys = 256
)

// lineLimiter decides which failure lines are written.
type lineLimiter struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*lineBucket
}

type lineBucket struct {
	tokens     float64
	last       time.Time
	suppressed int64
}

func newLineLimiter(now func() time.Time) *lineLimiter {
	if now == nil {
		now = time.Now
	}
	return &lineLimiter{now: now, buckets: map[string]*lineBucket{}}
}

// allow reports whether a line of the given kind may be written, and if so
// how many lines of that kind were suppressed since the last one written.
func (l *lineLimiter) allow(key string) (ok bool, suppressed int64) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxLineKeys {
			key = "\x00other"
			b = l.buckets[key]
		}
		if b == nil {
			b = &lineBucket{tokens: lineBurst, last: now}
			l.buckets[key] = b
		}
	}
	b.tokens = min(lineBurst, b.tokens+now.Sub(b.last).Seconds()*lineRate)
	b.last = now
	if b.tokens < 1 {
		b.suppressed++
		return false, 0
	}
	b.tokens--
	suppressed, b.suppressed = b.suppressed, 0
	return true, suppressed
}
