package config

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// validateFleet checks the fleet-wide limits' settings: Redis, the
// upstream budget, the trusted proxies.
func (c Config) validateFleet() error {
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return &Error{"ATTESTD_REDIS_URL", fmt.Sprintf("%q is not a redis:// or rediss:// URL with a host", redactURL(c.RedisURL))}
		}
	}
	switch {
	case c.RedisPasswordFile != "" && c.RedisURL == "":
		return &Error{"ATTESTD_REDIS_PASSWORD_FILE", "set without ATTESTD_REDIS_URL"}
	case c.RedisTimeout < time.Millisecond || c.RedisTimeout > 10*time.Second:
		return &Error{"ATTESTD_REDIS_TIMEOUT", "must be between 1ms and 10s"}
	case !(c.UpstreamRateLimit >= 0 && c.UpstreamRateLimit <= 1e6): // NaN too
		return &Error{"ATTESTD_UPSTREAM_RATE_LIMIT", "must be between 0 (off) and 1000000 calls per second"}
	case c.UpstreamRateBurst < 0 || c.UpstreamRateBurst > 1e6:
		return &Error{"ATTESTD_UPSTREAM_RATE_BURST", "must be between 0 (the rate, rounded up) and 1000000"}
	case c.UpstreamRateBurst > 0 && c.UpstreamRateLimit == 0:
		return &Error{"ATTESTD_UPSTREAM_RATE_BURST", "set without ATTESTD_UPSTREAM_RATE_LIMIT"}
	}
	_, err := c.Proxies()
	return err
}

// UpstreamBurst is the effective burst of the upstream budget:
// UpstreamRateBurst, or the rate rounded up (at least 1).
func (c Config) UpstreamBurst() int {
	if c.UpstreamRateBurst > 0 {
		return c.UpstreamRateBurst
	}
	return max(1, int(math.Ceil(c.UpstreamRateLimit)))
}

// Proxies parses TrustedProxies: CIDRs, or single addresses (a /32 or
// /128), comma-separated.
func (c Config) Proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(c.TrustedProxies, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, &Error{"ATTESTD_TRUSTED_PROXIES", fmt.Sprintf("%q is not a CIDR (10.0.0.0/8) or an address", f)}
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
