package fleetlimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/attestd/attestd/internal/fleetlimit"
	"github.com/attestd/attestd/internal/ratelimit"
	"github.com/attestd/attestd/internal/testkit/fakeclock"
)

// observer counts what a Store reports.
type observer struct {
	mu        sync.Mutex
	ops, errs int
	decisions map[string]int
}

func (o *observer) RedisOp(_ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ops++
	if err != nil {
		o.errs++
	}
}

func (o *observer) FleetDecision(limit, decision string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.decisions == nil {
		o.decisions = map[string]int{}
	}
	o.decisions[limit+"/"+decision]++
}

func (o *observer) counts() (ops, errs int, decisions map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	d := map[string]int{}
	for k, v := range o.decisions {
		d[k] = v
	}
	return o.ops, o.errs, d
}

// replica is one process's view: its own local bucket in front of the
// shared Redis.
func replica(t *testing.T, addr string, perSecond float64, burst int, obs *observer, log *slog.Logger) *fleetlimit.Limiter {
	t.Helper()
	s, err := fleetlimit.Dial(fleetlimit.Options{URL: "redis://" + addr, Prefix: "test:", Observe: obs, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Limit("caller", perSecond, burst, ratelimit.New(perSecond, burst, nil))
}

func allowed(t *testing.T, ls []*fleetlimit.Limiter, key string, calls int) int {
	t.Helper()
	n := 0
	for i := range calls {
		if ok, _ := ls[i%len(ls)].Allow(t.Context(), key); ok {
			n++
		}
	}
	return n
}

// TestBurstHoldsAcrossReplicas: three replicas sharing one Redis allow a
// key's burst once between them, where alone each would allow it.
func TestBurstHoldsAcrossReplicas(t *testing.T) {
	mr := miniredis.RunT(t)
	obs := &observer{}
	const burst = 5
	ls := []*fleetlimit.Limiter{
		replica(t, mr.Addr(), 0.001, burst, obs, nil),
		replica(t, mr.Addr(), 0.001, burst, obs, nil),
		replica(t, mr.Addr(), 0.001, burst, obs, nil),
	}
	if n := allowed(t, ls, "a", 30); n != burst {
		t.Errorf("%d calls allowed across three replicas, want the burst %d", n, burst)
	}
	if n := allowed(t, ls, "b", 30); n != burst {
		t.Errorf("another key: %d allowed, want %d (keys are independent)", n, burst)
	}
	if !mr.Exists("test:caller:a") {
		t.Errorf("no key test:caller:a in Redis; keys: %v", mr.Keys())
	}
	if ttl := mr.TTL("test:caller:a"); ttl <= 0 {
		t.Errorf("the key does not expire (TTL %v)", ttl)
	}
	ops, errs, d := obs.counts()
	// Each replica's local bucket lets 5 of its 10 calls per key through to
	// Redis; the other 5 never reach it.
	if ops != 30 || errs != 0 || d["caller/allowed"] != 2*burst || d["caller/refused"] != 20 || d["caller/local_refused"] != 30 {
		t.Errorf("ops %d, errors %d, decisions %v; want 30 ops, 0 errors, 10 allowed, 20 refused, 30 local_refused", ops, errs, d)
	}
}

// TestRetryAfterAndRefill: a refusal says when the next call fits, on
// Redis's clock, and takes nothing.
func TestRetryAfterAndRefill(t *testing.T) {
	mr := miniredis.RunT(t)
	now := time.Unix(1_700_000_000, 0)
	mr.SetTime(now)
	clock := fakeclock.New(now)
	s, err := fleetlimit.Dial(fleetlimit.Options{URL: "redis://" + mr.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := s.Limit("caller", 2, 1, ratelimit.New(100, 100, clock.Now)) // fleet: 2/s, burst 1
	if ok, _ := l.Allow(t.Context(), "k"); !ok {
		t.Fatal("first call refused")
	}
	for range 3 {
		if ok, wait := l.Allow(t.Context(), "k"); ok || wait != 500*time.Millisecond {
			t.Fatalf("second call: ok=%v retryAfter=%v, want refused, 500ms", ok, wait)
		}
	}
	mr.SetTime(now.Add(500 * time.Millisecond))
	if ok, _ := l.Allow(t.Context(), "k"); !ok {
		t.Errorf("refused after the retry delay, though refusals take nothing")
	}
}

// TestFailOpenAndBack: with Redis gone each replica allows what its local
// bucket allows, errors are counted and logged once; when Redis is back
// the fleet limit holds again, with no reconnecting by hand.
func TestFailOpenAndBack(t *testing.T) {
	mr := miniredis.RunT(t)
	obs := &observer{}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	const burst = 4
	ls := []*fleetlimit.Limiter{
		replica(t, mr.Addr(), 0.001, burst, obs, log),
		replica(t, mr.Addr(), 0.001, burst, obs, log),
	}
	if n := allowed(t, ls, "warm", 20); n != burst {
		t.Fatalf("%d allowed with Redis up, want %d", n, burst)
	}
	mr.Close()
	start := time.Now()
	if n := allowed(t, ls, "down", 20); n != 2*burst {
		t.Errorf("%d allowed with Redis down, want each replica's burst: %d", n, 2*burst)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("20 calls with Redis down took %v", took)
	}
	_, errs, d := obs.counts()
	if errs != 2*burst || d["caller/fail_open"] != 2*burst {
		t.Errorf("%d Redis errors and %d fail_open decisions, want %d each", errs, d["caller/fail_open"], 2*burst)
	}
	if n := strings.Count(logs.String(), "Redis unavailable"); n != len(ls) {
		t.Errorf("%d log lines for %d errors, want one per replica (rate-limited):\n%s", n, errs, logs.String())
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	if n := allowed(t, ls, "up-again", 20); n != burst {
		t.Errorf("%d allowed once Redis is back, want %d", n, burst)
	}
}

// TestCallerLeavingIsNotRedisFailing: a call whose context has ended is
// decided locally and not counted against Redis.
func TestCallerLeavingIsNotRedisFailing(t *testing.T) {
	mr := miniredis.RunT(t)
	obs := &observer{}
	l := replica(t, mr.Addr(), 1, 5, obs, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if ok, _ := l.Allow(ctx, "k"); !ok {
		t.Errorf("refused")
	}
	if _, _, d := obs.counts(); d["caller/fail_open"] != 1 {
		t.Errorf("decisions %v, want one fail_open", d)
	}
}

// TestDialKeepsPasswordsOut: a malformed URL's error does not repeat it.
func TestDialKeepsPasswordsOut(t *testing.T) {
	for _, u := range []string{"redis://user:hunter2@host:bad-port", "http://user:hunter2@host:6379", "redis://:hunter2@[::1"} {
		_, err := fleetlimit.Dial(fleetlimit.Options{URL: u})
		if err == nil {
			t.Errorf("%q accepted", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error shows the password: %v", u, err)
		}
	}
}
