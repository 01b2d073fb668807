package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/upstream"
)

// allowance is a Budget of n calls, then refusals with a 7 s delay.
type allowance struct {
	mu   sync.Mutex
	left int
	keys []string
}

func (a *allowance) Allow(_ context.Context, key string) (bool, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys = append(a.keys, key)
	if a.left == 0 {
		return false, 7 * time.Second
	}
	a.left--
	return true, 0
}

// TestBudgetCountsEveryAttempt: each attempt, retries included, takes one
// call from the budget; once it is spent, the caller gets 429
// too_many_requests with the budget's delay and Stytch sees nothing more.
func TestBudgetCountsEveryAttempt(t *testing.T) {
	fake := stytchtest.NewServer(t)
	fake.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0") // retried at once, while the budget lasts
		stytchtest.Error(http.StatusTooManyRequests, "too_many_requests", "slow down").ServeHTTP(w, r)
	}))
	budget := &allowance{left: 2}
	c := newClient(t, fake.URL, func(o *upstream.Options) { o.Budget = budget; o.MaxAttempts = 3 })
	_, err := c.Attest(ctx(t), &b2bsessionv1.AttestRequest{ProfileId: "p", Token: requestToken})
	var e *apierr.Error
	if !errors.As(err, &e) || e.Body.GetStatusCode() != http.StatusTooManyRequests || e.RetryAfter != 7*time.Second {
		t.Fatalf("error %v, want attestd's 429 with the budget's 7s", err)
	}
	if n := fake.Calls(); n != 2 {
		t.Errorf("Stytch saw %d attempts, want the budget's 2", n)
	}
	if len(budget.keys) != 3 || budget.keys[0] != "" {
		t.Errorf("the budget was asked %q, want 3 times for key \"\"", budget.keys)
	}
	// Spent: the next call never reaches Stytch.
	if _, err := c.Attest(ctx(t), &b2bsessionv1.AttestRequest{ProfileId: "p", Token: requestToken}); !errors.As(err, &e) || e.Body.GetStatusCode() != http.StatusTooManyRequests {
		t.Errorf("over budget: %v", err)
	}
	if n := fake.Calls(); n != 2 {
		t.Errorf("Stytch saw %d attempts after the budget was spent, want 2", n)
	}
}
