package main_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/testkit/redistest"
)

// replica is one attestd process of a fleet.
type replica struct{ http, admin string }

// startFleet runs n attestd processes in front of fake, sharing redis,
// with env added to each.
func startFleet(t *testing.T, ctx context.Context, n int, fake *stytchtest.Server, redis *redistest.Server, env ...string) []replica {
	t.Helper()
	var fleet []replica
	for range n {
		_, serving := startBinary(t, ctx, build(t), nil, append([]string{
			"STYTCH_PROJECT_ID=" + stytchtest.ProjectID,
			"STYTCH_SECRET=" + stytchtest.Secret,
			"STYTCH_BASE_URL=" + fake.URL,
			"ATTESTD_GRPC_ADDR=127.0.0.1:0",
			"ATTESTD_HTTP_ADDR=127.0.0.1:0",
			"ATTESTD_REDIS_URL=redis://" + redis.Addr,
			// The test calls from loopback: its X-Forwarded-For names the
			// caller, one per phase.
			"ATTESTD_TRUSTED_PROXIES=127.0.0.0/8",
		}, env...), "attestd serving")
		fleet = append(fleet, replica{http: serving["http_addr"].(string), admin: serving["admin_addr"].(string)})
	}
	return fleet
}

// attest makes one REST attest call to r as caller (its X-Forwarded-For)
// and returns the status and Retry-After.
func attest(ctx context.Context, r replica, caller string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.http+"/v1/b2b/sessions/attest",
		strings.NewReader(`{"profile_id":"p","token":"t"}`))
	req.Header.Set("X-Forwarded-For", caller)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// burst sends perReplica calls to every replica at once, all
// concurrently, each as caller() names it, and counts the answers by
// status. A 429 must carry a Retry-After.
func burst(t *testing.T, ctx context.Context, fleet []replica, perReplica int, caller func() string) map[int]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for _, r := range fleet {
		for range perReplica {
			wg.Go(func() {
				status, retryAfter, err := attest(ctx, r, caller())
				if err != nil {
					t.Error(err)
					return
				}
				if status == http.StatusTooManyRequests && retryAfter == "" {
					t.Errorf("429 without Retry-After")
				}
				mu.Lock()
				counts[status]++
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	return counts
}

// metric reads one series' value from r's /metrics (0 when absent).
func metric(t *testing.T, ctx context.Context, r replica, series string) float64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.admin+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// callerKey is the Redis key of an anonymous caller's fleet-wide limit.
func callerKey(addr string) string {
	return "attestd:" + stytchtest.ProjectID + ":caller:addr:" + addr
}

// TestFleetRateLimit: three replicas sharing one Redis allow a caller its
// burst once between them, where alone each would allow it; with Redis
// stopped each allows its own (fail open); with Redis back the fleet limit
// holds again, without restarting anything.
func TestFleetRateLimit(t *testing.T) {
	const replicas, b, perReplica = 3, 5, 10 // burst B; each replica gets 2B calls
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	redis := redistest.Start(t)
	fake := stytchtest.NewServer(t)
	fleet := startFleet(t, ctx, replicas, fake, redis,
		"ATTESTD_RATE_LIMIT=0.001", "ATTESTD_RATE_BURST="+strconv.Itoa(b)) // near-zero rate: the burst is the allowance

	// Redis up: the fleet's allowance.
	got := burst(t, ctx, fleet, perReplica, func() string { return "198.51.100.1" })
	t.Logf("Redis up: %d calls across %d replicas, %d accepted, %d refused (burst %d; per replica it would be %d)",
		replicas*perReplica, replicas, got[200], got[429], b, replicas*b)
	if got[200] != b || got[429] != replicas*perReplica-b {
		t.Errorf("Redis up: %v, want exactly %d accepted across the fleet, the rest 429", got, b)
	}
	if reply, err := redis.Do(ctx, "EXISTS", callerKey("198.51.100.1")); reply != ":1" {
		t.Errorf("the limiter's key %s is not in Redis: %q %v", callerKey("198.51.100.1"), reply, err)
	}

	// Redis down: each replica's own allowance (fail open, bounded).
	redis.Stop()
	start := time.Now()
	got = burst(t, ctx, fleet, perReplica, func() string { return "198.51.100.2" })
	t.Logf("Redis down: %d accepted, %d refused in %v (fail open to %d per replica)", got[200], got[429], time.Since(start), b)
	if got[200] != replicas*b || got[429] != replicas*(perReplica-b) {
		t.Errorf("Redis down: %v, want each replica's burst: %d accepted", got, replicas*b)
	}
	errs := 0.0
	for _, r := range fleet {
		errs += metric(t, ctx, r, "attestd_redis_errors_total")
		if v := metric(t, ctx, r, `attestd_fleet_limit_decisions_total{decision="fail_open",limit="caller"}`); v != b {
			t.Errorf("replica %s: %v fail_open decisions, want %d", r.http, v, b)
		}
	}
	t.Logf("Redis down: attestd_redis_errors_total %v across the fleet", errs)

	// Redis back on the same port: each replica reconnects by itself. A
	// probe call with a fresh caller shows it when its key appears.
	redis.Start()
	reconnect := time.Now()
	for i, r := range fleet {
		for n := 0; ; n++ {
			probe := fmt.Sprintf("192.0.2.%d", i*80+n%80)
			if n >= 80 {
				probe = fmt.Sprintf("192.0.%d.%d", 10+i, n%250)
			}
			if _, _, err := attest(ctx, r, probe); err != nil {
				t.Fatal(err)
			}
			if reply, _ := redis.Do(ctx, "EXISTS", callerKey(probe)); reply == ":1" {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("replica %s never reconnected to Redis", r.http)
			}
			time.Sleep(20 * time.Millisecond) // a poll, bounded by ctx
		}
	}
	t.Logf("Redis back: every replica reconnected within %v", time.Since(reconnect).Round(time.Millisecond))
	got = burst(t, ctx, fleet, perReplica, func() string { return "198.51.100.3" })
	t.Logf("Redis back: %d accepted, %d refused", got[200], got[429])
	if got[200] != b {
		t.Errorf("Redis back: %v, want exactly %d accepted across the fleet again", got, b)
	}
}

// TestFleetUpstreamBudget: a burst over the fleet's budget on calls to
// Stytch gets attestd's 429 with a Retry-After, and Stytch sees no more
// calls than the budget, whichever replicas they came through.
func TestFleetUpstreamBudget(t *testing.T) {
	const replicas, budget, perReplica = 3, 4, 8
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	redis := redistest.Start(t)
	fake := stytchtest.NewServer(t)
	// Attest calls are what the budget covers; other requests (a JWKS
	// fetch at start) are not counted here.
	var attests atomic.Int64
	answer := stytchtest.Respond(http.StatusOK, stytchtest.Typical())
	fake.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/b2b/sessions/attest" {
			attests.Add(1)
		}
		answer.ServeHTTP(w, r)
	}))
	fleet := startFleet(t, ctx, replicas, fake, redis,
		"ATTESTD_UPSTREAM_RATE_LIMIT=0.001", "ATTESTD_UPSTREAM_RATE_BURST="+strconv.Itoa(budget))
	var callers atomic.Int64 // a different caller per call: only the budget limits
	counts := burst(t, ctx, fleet, perReplica, func() string { return fmt.Sprintf("203.0.113.%d", callers.Add(1)) })
	t.Logf("budget %d: %d calls across %d replicas, %d answered, %d got 429; Stytch saw %d",
		budget, replicas*perReplica, replicas, counts[200], counts[429], attests.Load())
	if counts[200] != budget || counts[429] != replicas*perReplica-budget {
		t.Errorf("answers %v, want %d successes and the rest 429", counts, budget)
	}
	if n := attests.Load(); n > budget {
		t.Errorf("Stytch saw %d calls, over the budget of %d", n, budget)
	}
	if reply, err := redis.Do(ctx, "EXISTS", "attestd:"+stytchtest.ProjectID+":upstream:"); reply != ":1" {
		t.Errorf("the budget's key is not in Redis: %q %v", reply, err)
	}
}
