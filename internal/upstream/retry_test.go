package upstream

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	cases := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"1", time.Second, true},
		{"0", 0, true},
		{" 120 ", 2 * time.Minute, true},
		{"007", 7 * time.Second, true},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second, true},
		{now.Add(90 * time.Second).Format(time.RFC850), 90 * time.Second, true}, // obsolete form, still HTTP-date
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},                  // in the past: no wait
		// Absurd delays are far off, not unreadable, and clamped to an hour.
		{"3600", time.Hour, true},
		{"3601", time.Hour, true},
		{"99999999999999999999", time.Hour, true},    // overflows a uint64
		{"99999999999999999999999", time.Hour, true}, // far more so
		{"9223372036", time.Hour, true},              // the most seconds a Duration holds
		{"9223372037", time.Hour, true},              // overflows a Duration
		{"18446744073709551615", time.Hour, true},    // the largest uint64
		{now.Add(59 * time.Minute).Format(http.TimeFormat), 59 * time.Minute, true},
		{now.Add(2 * time.Hour).Format(http.TimeFormat), time.Hour, true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", time.Hour, true}, // past what a Duration holds from now
		{"", 0, false},
		{"   ", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"1s", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.header, func(t *testing.T) {
			got, ok := parseRetryAfter(tc.header, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.header, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestIsJSON(t *testing.T) {
	cases := []struct {
		contentType string
		want        bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON;charset=UTF-8", true},
		{"application/problem+json", true},
		{"application/vnd.stytch.v1+json; q=1", true},
		{"text/html", false},
		{"text/html; charset=utf-8", false},
		{"text/plain", false},
		{"application/jsonx", false},
		{"application/javascript", false},
		{"json", false},
		{"application/json; charset", false}, // unparseable parameters
	}
	for _, tc := range cases {
		if got := isJSON(tc.contentType); got != tc.want {
			t.Errorf("isJSON(%q) = %v, want %v", tc.contentType, got, tc.want)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	for n, ceiling := range map[int]time.Duration{
		1: 50 * time.Millisecond, 2: 100 * time.Millisecond, 3: 200 * time.Millisecond,
		5: 800 * time.Millisecond, 6: time.Second, 40: time.Second, 1 << 20: time.Second,
	} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var top time.Duration
			for range 2000 {
				d := backoff(n)
				if d < 0 || d >= ceiling {
					t.Fatalf("backoff(%d) = %v, want in [0, %v)", n, d, ceiling)
				}
				top = max(top, d)
			}
			// Full jitter spreads over the whole range, not a corner of it.
			if top < ceiling/2 {
				t.Errorf("backoff(%d) never exceeded %v in 2000 draws (ceiling %v)", n, top, ceiling)
			}
		})
	}
}

func TestFitsAndWait(t *testing.T) {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !fits(c, time.Second) || fits(c, 10*time.Second) || fits(c, 9950*time.Millisecond) {
		t.Errorf("fits does not keep the %v margin before a 10 s deadline", retryMargin)
	}
	if !fits(context.Background(), time.Hour) || !fits(context.Background(), math.MaxInt64) {
		t.Errorf("without a deadline every wait fits")
	}
	// d+retryMargin must not wrap round to a negative wait that fits.
	for _, d := range []time.Duration{math.MaxInt64, math.MaxInt64 - retryMargin + 1, math.MaxInt64 - retryMargin/2} {
		if fits(c, d) {
			t.Errorf("fits(%d) before a 10 s deadline", d)
		}
	}
	past, cancelPast := context.WithDeadline(context.Background(), time.Now().Add(-time.Hour))
	defer cancelPast()
	if fits(past, 0) || fits(past, math.MaxInt64) {
		t.Errorf("a wait fits a deadline already past")
	}
	if err := wait(c, 0); err != nil {
		t.Errorf("wait(0): %v", err)
	}
	if err := wait(c, time.Millisecond); err != nil {
		t.Errorf("wait(1ms): %v", err)
	}
	canceled, cancelNow := context.WithCancel(c)
	cancelNow()
	start := time.Now()
	if err := wait(canceled, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("wait on a canceled context: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("wait on a canceled context took %v", d)
	}
}

func TestNeverSent(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	cases := []struct {
		name      string
		connected bool
		err       error
		want      bool
	}{
		{"dial refused, no connection", false, refused, true},
		{"dial error wrapped as net/http does", false, fmt.Errorf("Post %q: %w", "http://x", refused), true},
		{"DNS failure", false, &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x"}}, true},
		{"dial error after a connection was handed out", true, refused, false},
		{"read error", false, &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, false},
		{"write error", false, &net.OpError{Op: "write", Err: errors.New("broken pipe")}, false},
		{"proxy connect", false, &net.OpError{Op: "proxyconnect", Err: errors.New("refused")}, false},
		{"anything else", false, errors.New("EOF"), false},
	}
	for _, tc := range cases {
		if got := neverSent(tc.connected, tc.err); got != tc.want {
			t.Errorf("%s: neverSent = %v, want %v", tc.name, got, tc.want)
		}
	}
}
