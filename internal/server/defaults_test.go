package server_test

import (
	"testing"

	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/upstream"
)

// TestConfigDefaultsMatchUpstream: config spells its defaults itself (it
// imports none of the request path's packages), and the upstream client
// falls back to its own for zero options; the two must not drift apart.
func TestConfigDefaultsMatchUpstream(t *testing.T) {
	c := config.Default()
	for _, tc := range []struct {
		name      string
		cfg, want any
	}{
		{"UpstreamTimeout", c.UpstreamTimeout, upstream.DefaultTimeout},
		{"MaxUpstreamResponseBytes", c.MaxUpstreamResponseBytes, int64(upstream.DefaultMaxResponseBytes)},
		{"UpstreamMaxConcurrent", c.UpstreamMaxConcurrent, upstream.DefaultMaxConcurrent},
		{"UpstreamMaxQueue", c.UpstreamMaxQueue, upstream.DefaultMaxQueue},
		{"BreakerFailures", c.BreakerFailures, upstream.DefaultBreakerFailures},
		{"BreakerFailureRatio", c.BreakerFailureRatio, upstream.DefaultBreakerFailureRatio},
		{"BreakerWindow", c.BreakerWindow, upstream.DefaultBreakerWindow},
		{"BreakerSlowCall", c.BreakerSlowCall, upstream.DefaultSlowCall},
		{"BreakerCooldown", c.BreakerCooldown, upstream.DefaultBreakerCooldown},
	} {
		if tc.cfg != tc.want {
			t.Errorf("config.Default().%s = %v (%T), upstream's default %v (%T)", tc.name, tc.cfg, tc.cfg, tc.want, tc.want)
		}
	}
}
