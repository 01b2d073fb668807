package middleware

import (
	"net/netip"
	"testing"

	"google.golang.org/grpc/metadata"
)

// TestForwardedFor: X-Forwarded-For names the caller only from a trusted
// proxy, and then by its rightmost untrusted entry.
func TestForwardedFor(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		trusted    []netip.Prefix
		want       string
	}{
		{"no proxies configured", "10.0.0.1", []string{"203.0.113.9"}, nil, "10.0.0.1"},
		{"untrusted peer: header ignored", "198.51.100.1", []string{"203.0.113.9"}, trusted, "198.51.100.1"},
		{"trusted peer", "10.0.0.1", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
		{"trusted peer, no header", "10.0.0.1", nil, trusted, "10.0.0.1"},
		{"a forged entry left of the real one", "10.0.0.1", []string{"1.1.1.1, 203.0.113.9"}, trusted, "203.0.113.9"},
		{"a chain of proxies", "10.0.0.1", []string{"203.0.113.9, 10.2.0.1", "10.0.0.1"}, trusted, "203.0.113.9"},
		{"the gateway appends the peer", "10.0.0.1", []string{"203.0.113.9, 10.0.0.1"}, trusted, "203.0.113.9"},
		{"all trusted: the leftmost", "10.0.0.1", []string{"10.9.9.9, 10.2.0.1"}, trusted, "10.9.9.9"},
		{"junk stops the walk", "10.0.0.1", []string{"junk, 10.2.0.1"}, trusted, "10.2.0.1"},
		{"IPv6 and mapped IPv4", "fd00::1", []string{"::ffff:203.0.113.9"}, trusted, "203.0.113.9"},
		{"peer not an address", "", []string{"203.0.113.9"}, trusted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := metadata.MD{}
			for _, v := range tc.xff {
				md.Append(ForwardedForHeader, v)
			}
			ctx := metadata.NewIncomingContext(t.Context(), md)
			if got := forwardedFor(ctx, tc.peer, tc.trusted); got != tc.want {
				t.Errorf("forwardedFor(%q, %q) = %q, want %q", tc.peer, tc.xff, got, tc.want)
			}
		})
	}
}
