package server

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/fleetlimit"
	"github.com/attestd/attestd/internal/middleware"
	"github.com/attestd/attestd/internal/observe"
	"github.com/attestd/attestd/internal/ratelimit"
	"github.com/attestd/attestd/internal/upstream"
)

// fleet is what makes the limits hold across replicas: the Redis store
// (nil without ATTESTD_REDIS_URL) and the budget on calls to Stytch (nil
// without ATTESTD_UPSTREAM_RATE_LIMIT).
type fleet struct {
	store  *fleetlimit.Store
	budget upstream.Budget
}

// newFleet prepares the Redis store (no I/O: Redis may be down at start)
// and the upstream budget: fleet-wide on Redis, else this process's own.
// The keys are named after the Stytch project, so deployments for several
// projects may share one Redis.
func newFleet(cfg config.Config, log *slog.Logger, m *observe.Metrics) (*fleet, error) {
	f := &fleet{}
	if cfg.RedisURL != "" {
		o := fleetlimit.Options{URL: cfg.RedisURL, Timeout: cfg.RedisTimeout, Log: log, Observe: m,
			Prefix: "attestd:" + keyProject(cfg) + ":"}
		if cfg.RedisPasswordFile != "" {
			b, err := os.ReadFile(cfg.RedisPasswordFile)
			if err != nil {
				return nil, &config.Error{Setting: "ATTESTD_REDIS_PASSWORD_FILE", Problem: "cannot be read: " + err.Error()}
			}
			o.Password = strings.TrimSpace(string(b))
		}
		var err error
		if f.store, err = fleetlimit.Dial(o); err != nil {
			return nil, &config.Error{Setting: "ATTESTD_REDIS_URL", Problem: err.Error()}
		}
	}
	if cfg.UpstreamRateLimit > 0 {
		burst := cfg.UpstreamBurst()
		var b middleware.Limiter = ratelimit.New(cfg.UpstreamRateLimit, burst, nil)
		if f.store != nil {
			b = f.store.Limit("upstream", cfg.UpstreamRateLimit, burst, b)
		}
		f.budget = countedBudget{b, m}
	}
	return f, nil
}

// keyProject names the Stytch project in Redis keys.
func keyProject(cfg config.Config) string {
	if cfg.Emulated() {
		return "emulator"
	}
	return cfg.ProjectID
}

// callers makes the per-caller limit (the local buckets; nil when off)
// fleet-wide when there is a store, the local buckets becoming its
// pre-check.
func (f *fleet) callers(cfg config.Config, local middleware.Limiter) middleware.Limiter {
	if f.store == nil || local == nil {
		return local
	}
	return f.store.Limit("caller", cfg.RateLimit, cfg.RateBurst, local)
}

// close releases the Redis connections.
func (f *fleet) close() {
	if f != nil && f.store != nil {
		_ = f.store.Close()
	}
}

// countedBudget counts the budget's refusals in attestd_rate_limited_total.
type countedBudget struct {
	upstream.Budget
	m *observe.Metrics
}

// Allow asks the budget and counts a refusal.
func (b countedBudget) Allow(ctx context.Context, key string) (bool, time.Duration) {
	ok, wait := b.Budget.Allow(ctx, key)
	if !ok {
		b.m.RateLimited("upstream_budget")
	}
	return ok, wait
}
