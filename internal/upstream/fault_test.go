package upstream_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/testkit/fakeclock"
	"github.com/attestd/attestd/internal/upstream"
)

// Fault-injection tests: every server here is a real HTTP server on
// loopback (stytchtest's httptest server, or rawServer for answers net/http
// will not give), every wait is on a channel or a context, never a sleep.

// stall writes head (if any) as the start of a 200 JSON answer, then holds
// the call until the client gives up or the test ends. Each request arriving
// is announced on entered, when given.
func stall(t *testing.T, head []byte, entered chan<- struct{}) http.Handler {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if entered != nil {
			select {
			case entered <- struct{}{}:
			default:
			}
		}
		if head != nil {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(head)*2))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(head)
			w.(http.Flusher).Flush()
		}
		select {
		case <-done:
		case <-r.Context().Done():
		}
	})
}

// typed answers 200 with the typical fixture under the given Content-Type;
// "" sends no Content-Type at all (net/http would otherwise sniff one).
func typed(status int, contentType string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if contentType == "" {
			w.Header()["Content-Type"] = nil
		} else {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

// sequence answers the n-th call with answers[n], and every call after the
// last with the last.
type sequence struct {
	n       atomic.Int64
	answers []http.Handler
}

func (s *sequence) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := min(int(s.n.Add(1)-1), len(s.answers)-1)
	s.answers[i].ServeHTTP(w, r)
}

// rawServer is a hand-written HTTP/1.1 server on a loopback net.Listener, for
// answers net/http's server will not give. It reads each request in full,
// counts it, then lets answer write what it likes to the connection (and
// close it). Everything is closed and waited for when the test ends.
func rawServer(t *testing.T, answer func(c *net.TCPConn, r *http.Request)) (url string, requests *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	requests = &atomic.Int64{}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, r.Body)
					requests.Add(1)
					answer(c.(*net.TCPConn), r)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String(), requests
}

// reset closes c with an RST rather than a FIN, as a crashed peer or a
// middlebox would.
func reset(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

// closedAddr is a loopback address nothing listens on: dials are refused.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// want is an expected failure: error_type, gRPC code and HTTP status.
type want struct {
	errorType string
	code      codes.Code
	status    int32
}

var (
	wantTimeout     = want{apierr.TypeUpstreamTimeout, codes.DeadlineExceeded, http.StatusGatewayTimeout}
	wantUnavailable = want{apierr.TypeUpstreamUnavailable, codes.Unavailable, http.StatusServiceUnavailable}
	wantInvalid     = want{apierr.TypeUpstreamInvalidResponse, codes.Internal, http.StatusBadGateway}
	wantTooLarge    = want{apierr.TypeUpstreamResponseTooLarge, codes.Internal, http.StatusBadGateway}
	wantOverloaded  = want{apierr.TypeUpstreamOverloaded, codes.ResourceExhausted, http.StatusServiceUnavailable}
	wantCircuitOpen = want{apierr.TypeUpstreamCircuitOpen, codes.Unavailable, http.StatusServiceUnavailable}
	wantCanceled    = want{apierr.TypeRequestCanceled, codes.Canceled, apierr.StatusClientClosedRequest}
	wantUpstream    = want{apierr.TypeUpstreamError, codes.Unavailable, http.StatusBadGateway}
)

// check asserts err is the expected failure and returns it.
func (w want) check(t *testing.T, err error) *apierr.Error {
	t.Helper()
	e := apiErr(t, err)
	if e.Body.GetErrorType() != w.errorType || e.Code != w.code || e.Body.GetStatusCode() != w.status {
		t.Errorf("got %q %v %d, want %q %v %d (%v)",
			e.Body.GetErrorType(), e.Code, e.Body.GetStatusCode(), w.errorType, w.code, w.status, err)
	}
	return e
}

func TestFaultInjection(t *testing.T) {
	typical := stytchtest.Typical()
	const deadline = 300 * time.Millisecond
	cases := []struct {
		name    string
		handler func(t *testing.T) http.Handler
		// raw, instead of handler, answers on a hand-written HTTP server.
		raw     func(c *net.TCPConn, r *http.Request)
		timeout time.Duration // Options.Timeout; 0 means 5 s
		want    *want         // nil: success
		status  int32         // with want == nil and status set: Stytch's error
	}{
		{name: "slow answer past the deadline", timeout: deadline, want: &wantTimeout,
			handler: func(t *testing.T) http.Handler { return stall(t, typical[:100], nil) }},
		{name: "hanging server released by the deadline", timeout: deadline, want: &wantTimeout,
			handler: func(t *testing.T) http.Handler { return stall(t, nil, nil) }},
		{name: "connection reset mid-body", want: &wantUnavailable,
			raw: func(c *net.TCPConn, _ *http.Request) {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(typical))
				_, _ = c.Write(typical[:len(typical)/2])
				reset(c)
			}},
		{name: "connection closed mid-body", want: &wantUnavailable,
			raw: func(c *net.TCPConn, _ *http.Request) {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(typical))
				_, _ = c.Write(typical[:len(typical)/2])
				_ = c.Close()
			}},
		{name: "connection reset after the request, before any answer", want: &wantUnavailable,
			raw: func(c *net.TCPConn, _ *http.Request) { reset(c) }},
		{name: "garbage instead of HTTP", want: &wantUnavailable,
			raw: func(c *net.TCPConn, _ *http.Request) {
				_, _ = io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
				_ = c.Close()
			}},
		{name: "malformed JSON", want: &wantInvalid,
			handler: func(*testing.T) http.Handler {
				return stytchtest.Respond(http.StatusOK, []byte(`{"member_session": {"expires_at": ]}`))
			}},
		{name: "truncated JSON", want: &wantInvalid,
			handler: func(*testing.T) http.Handler { return stytchtest.Respond(http.StatusOK, typical[:len(typical)/2]) }},
		// The body is a valid answer: only the Content-Type can refuse it.
		{name: "text/html 200", want: &wantInvalid,
			handler: func(*testing.T) http.Handler { return typed(http.StatusOK, "text/html; charset=utf-8", typical) }},
		{name: "text/plain 201", want: &wantInvalid,
			handler: func(*testing.T) http.Handler { return typed(http.StatusCreated, "text/plain", typical) }},
		{name: "unparseable Content-Type 200", want: &wantInvalid,
			handler: func(*testing.T) http.Handler { return typed(http.StatusOK, "application/json; charset", typical) }},
		{name: "JSON with parameters", handler: func(*testing.T) http.Handler {
			return typed(http.StatusOK, "application/json; charset=utf-8", typical)
		}},
		{name: "+json type", handler: func(*testing.T) http.Handler {
			return typed(http.StatusOK, "application/vnd.stytch.v1+json", typical)
		}},
		{name: "no Content-Type is decoded", handler: func(*testing.T) http.Handler { return typed(http.StatusOK, "", typical) }},
		// An error answer that is not Stytch's is attestd's 502.
		{name: "text/html 502", want: &wantUpstream, handler: func(*testing.T) http.Handler {
			return typed(http.StatusBadGateway, "text/html", []byte("<html>502 Bad Gateway</html>"))
		}},
		// Answers net/http's server will not give: neither success nor error,
		// with nothing or junk after the headers; the body is never read.
		{name: "101 Switching Protocols", want: &wantUpstream,
			raw: func(c *net.TCPConn, _ *http.Request) {
				_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
			}},
		{name: "307 without Location, never-ending body", want: &wantUpstream,
			raw: func(c *net.TCPConn, _ *http.Request) {
				_, _ = io.WriteString(c, "HTTP/1.1 307 Temporary Redirect\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{")
			}},
		{name: "503 is not retried", status: 503, handler: func(*testing.T) http.Handler {
			return stytchtest.Error(503, "service_unavailable", "down")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var (
				url      string
				requests func() int64
			)
			if tc.raw != nil {
				var n *atomic.Int64
				url, n = rawServer(t, tc.raw)
				requests = n.Load
			} else {
				fake := stytchtest.NewServer(t)
				fake.Handle(tc.handler(t))
				url, requests = fake.URL, fake.Calls
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			client := newClient(t, url, func(o *upstream.Options) { o.Timeout = timeout })

			start := time.Now()
			resp, err := client.Attest(ctx(t), validRequest())
			elapsed := time.Since(start)

			switch {
			case tc.want != nil:
				tc.want.check(t, err)
				if resp != nil {
					t.Errorf("response alongside an error")
				}
			case tc.status != 0:
				if e := apiErr(t, err); e.Body.GetStatusCode() != tc.status || e.Domain != apierr.DomainStytch {
					t.Errorf("got %d %q, want Stytch's %d", e.Body.GetStatusCode(), e.Domain, tc.status)
				}
			case err != nil:
				t.Fatalf("Attest: %v", err)
			case resp.GetMember().GetName() != "Ada Lovelace":
				t.Errorf("member.name %q", resp.GetMember().GetName())
			}
			// The request reached the server, so it is never sent twice.
			if n := requests(); n != 1 {
				t.Errorf("server saw %d requests, want exactly 1", n)
			}
			// A deadline ends the call at the deadline, not later.
			if tc.want == &wantTimeout && (elapsed < timeout || elapsed > timeout+700*time.Millisecond) {
				t.Errorf("timed out after %v, want about %v", elapsed, timeout)
			}
		})
	}
}

func TestRetryAfter429(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) // whole seconds, as HTTP-dates are
	tooMany := func(retryAfter string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			stytchtest.Error(http.StatusTooManyRequests, "too_many_requests", "slow down").ServeHTTP(w, r)
		})
	}
	ok := stytchtest.Respond(http.StatusOK, stytchtest.Typical())
	cases := []struct {
		name        string
		answers     []http.Handler
		timeout     time.Duration
		maxAttempts int
		requests    int64
		// retryAfter is the hint on the 429 returned; negative: success.
		retryAfter time.Duration
		// minElapsed: the wait Stytch asked for was honoured.
		minElapsed time.Duration
		status     int32 // of the error returned; 0 means 429
	}{
		{name: "Retry-After: 1 is honoured once", answers: []http.Handler{tooMany("1"), ok},
			timeout: 5 * time.Second, requests: 2, retryAfter: -1, minElapsed: time.Second},
		{name: "HTTP-date Retry-After is honoured", answers: []http.Handler{tooMany(now.Add(time.Second).Format(http.TimeFormat)), ok},
			timeout: 5 * time.Second, requests: 2, retryAfter: -1, minElapsed: time.Second},
		{name: "Retry-After: 0 twice, then success", answers: []http.Handler{tooMany("0"), tooMany("0"), ok},
			timeout: 5 * time.Second, requests: 3, retryAfter: -1},
		{name: "Retry-After past the deadline is passed through", answers: []http.Handler{tooMany("30"), ok},
			timeout: 2 * time.Second, requests: 1, retryAfter: 30 * time.Second},
		{name: "HTTP-date past the deadline is passed through", answers: []http.Handler{tooMany(now.Add(time.Minute).Format(http.TimeFormat)), ok},
			timeout: 2 * time.Second, requests: 1, retryAfter: time.Minute},
		// Absurd hints are clamped to an hour (apierr.MaxRetryAfter), which
		// no deadline fits: no wait, no overflow, the hint passed on.
		{name: "huge Retry-After is clamped, not waited for", answers: []http.Handler{tooMany("99999999999999999999"), ok},
			timeout: 2 * time.Second, requests: 1, retryAfter: time.Hour},
		{name: "Retry-After overflowing a Duration", answers: []http.Handler{tooMany("9223372037"), ok},
			timeout: 2 * time.Second, requests: 1, retryAfter: time.Hour},
		{name: "far-future HTTP-date", answers: []http.Handler{tooMany("Fri, 31 Dec 9999 23:59:59 GMT"), ok},
			timeout: 2 * time.Second, requests: 1, retryAfter: time.Hour},
		{name: "huge Retry-After with a long timeout", answers: []http.Handler{tooMany("99999999999999999999"), ok},
			timeout: 24 * time.Hour, requests: 1, retryAfter: time.Hour},
		// A wait that would fit the deadline but is longer than attestd
		// waits out itself (maxRetryAfterWait, 2 s): it holds a slot, so
		// the caller gets the hint instead.
		{name: "Retry-After longer than attestd waits is passed through", answers: []http.Handler{tooMany("3"), ok},
			timeout: 30 * time.Second, requests: 1, retryAfter: 3 * time.Second},
		// 1 s fits a 1 s deadline only without the 100 ms margin.
		{name: "Retry-After within the margin of the deadline", answers: []http.Handler{tooMany("1"), ok},
			timeout: time.Second, requests: 1, retryAfter: time.Second},
		{name: "no Retry-After: no retry", answers: []http.Handler{tooMany(""), ok},
			timeout: 5 * time.Second, requests: 1},
		{name: "unreadable Retry-After: no retry", answers: []http.Handler{tooMany("soon"), ok},
			timeout: 5 * time.Second, requests: 1},
		{name: "attempts run out", answers: []http.Handler{tooMany("0")},
			timeout: 5 * time.Second, requests: 3},
		{name: "MaxAttempts 1 turns retries off", answers: []http.Handler{tooMany("1"), ok},
			timeout: 5 * time.Second, maxAttempts: 1, requests: 1, retryAfter: time.Second},
		{name: "a 503 with Retry-After is not retried", answers: []http.Handler{
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "0")
				stytchtest.Error(503, "service_unavailable", "down").ServeHTTP(w, r)
			}), ok},
			timeout: 5 * time.Second, requests: 1, status: 503},
	}
	for _, tc := range cases {
		// In a bubble, waits take no real time and elapsed is exact: the
		// fake Stytch is on an in-memory network, as real sockets would
		// keep the bubble's clock from moving.
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := stytchtest.NewInMemoryServer(t)
				fake.Handle(&sequence{answers: tc.answers})
				clock := fakeclock.New(now)
				tr := upstream.NewTransport()
				tr.DialContext = fake.DialContext
				client := newClient(t, fake.URL, func(o *upstream.Options) {
					o.Timeout, o.MaxAttempts, o.Now, o.Transport = tc.timeout, tc.maxAttempts, clock.Now, tr
				})
				start := time.Now()
				resp, err := client.Attest(ctx(t), validRequest())
				elapsed := time.Since(start)
				if n := fake.Calls(); n != tc.requests {
					t.Errorf("server saw %d requests, want %d", n, tc.requests)
				}
				if tc.retryAfter < 0 {
					if err != nil || resp.GetMember() == nil {
						t.Fatalf("Attest: %v", err)
					}
					if elapsed < tc.minElapsed {
						t.Errorf("retried after %v, before the %v Stytch asked for", elapsed, tc.minElapsed)
					}
					return
				}
				e := apiErr(t, err)
				wantStatus := int32(http.StatusTooManyRequests)
				if tc.status != 0 {
					wantStatus = tc.status
				}
				if e.Domain != apierr.DomainStytch || e.Body.GetStatusCode() != wantStatus {
					t.Errorf("got %q %d, want Stytch's %d", e.Domain, e.Body.GetStatusCode(), wantStatus)
				}
				if e.RetryAfter != tc.retryAfter {
					t.Errorf("RetryAfter %v, want %v", e.RetryAfter, tc.retryAfter)
				}
				// What both protocols render: RetryInfo, and Retry-After seconds.
				var info *errdetails.RetryInfo
				for _, d := range e.Status().Details() {
					if r, ok := d.(*errdetails.RetryInfo); ok {
						info = r
					}
				}
				if got := info.GetRetryDelay().AsDuration(); got != tc.retryAfter {
					t.Errorf("RetryInfo %v, want %v", got, tc.retryAfter)
				}
				if got, want := apierr.RetryAfterSeconds(e.RetryAfter), int64((tc.retryAfter+time.Second-1)/time.Second); got != want {
					t.Errorf("RetryAfterSeconds %d, want %d", got, want)
				}
				if e.Body.GetRequestId() != "request-id-test-fake-0001" {
					t.Errorf("Stytch's error body was not kept: %v", e.Body)
				}
				if tc.requests == 1 && elapsed > time.Second {
					t.Errorf("a call that was not retried took %v", elapsed)
				}
			})
		})
	}
}

func TestDialRetries(t *testing.T) {
	cases := []struct {
		name string
		// refusals is how many dials are refused before one is let through
		// to the server.
		refusals    int64
		maxAttempts int
		timeout     time.Duration
		dials       int64
		requests    int64
		fails       bool
	}{
		{name: "refused every time", refusals: 1 << 30, dials: 3, fails: true},
		{name: "refused, then accepting", refusals: 1, dials: 2, requests: 1},
		{name: "refused twice, then accepting", refusals: 2, dials: 3, requests: 1},
		{name: "MaxAttempts 1 turns retries off", refusals: 1, maxAttempts: 1, dials: 1, fails: true},
		// 100 ms leaves no room for any backoff plus the 100 ms margin.
		{name: "no time left for a retry", refusals: 1, timeout: 100 * time.Millisecond, dials: 1, fails: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := stytchtest.NewServer(t)
			refused := closedAddr(t)
			var dials atomic.Int64
			tr := upstream.NewTransport()
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				if dials.Add(1) <= tc.refusals {
					addr = refused
				}
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}
			t.Cleanup(tr.CloseIdleConnections)
			client := newClient(t, fake.URL, func(o *upstream.Options) {
				o.Transport, o.MaxAttempts = tr, tc.maxAttempts
				if tc.timeout > 0 {
					o.Timeout = tc.timeout
				}
			})
			resp, err := client.Attest(ctx(t), validRequest())
			if tc.fails {
				wantUnavailable.check(t, err)
				var opErr *net.OpError
				if !errors.As(err, &opErr) || opErr.Op != "dial" {
					t.Errorf("the dial error is not kept as the cause: %v", errors.Unwrap(err))
				}
			} else if err != nil || resp.GetMember() == nil {
				t.Fatalf("Attest: %v", err)
			}
			if n := dials.Load(); n != tc.dials {
				t.Errorf("%d dials, want %d", n, tc.dials)
			}
			if n := fake.Calls(); n != tc.requests {
				t.Errorf("server saw %d requests, want %d", n, tc.requests)
			}
		})
	}
}

// TestBreakerOpensAndRecovers: a burst of 5xx opens the circuit; calls then
// fail fast without reaching Stytch until the cooldown ends on the (fake)
// clock; a failed probe re-opens it for a fresh cooldown, a good one closes
// it.
func TestBreakerOpensAndRecovers(t *testing.T) {
	fake := stytchtest.NewServer(t)
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	client := newClient(t, fake.URL, func(o *upstream.Options) { o.Now = clock.Now }) // default 5 failures, 10 s
	down := stytchtest.Error(503, "service_unavailable", "down")
	up := stytchtest.Respond(http.StatusOK, stytchtest.Typical())

	stytchFails := func(t *testing.T) {
		t.Helper()
		e := apiErr(t, attest(t, client))
		if e.Body.GetErrorType() != "service_unavailable" {
			t.Fatalf("got %v, want Stytch's own 503", e)
		}
	}
	failsFast := func(t *testing.T, retryAfter time.Duration) {
		t.Helper()
		before := fake.Calls()
		start := time.Now()
		e := wantCircuitOpen.check(t, attest(t, client))
		if e.RetryAfter != retryAfter {
			t.Errorf("RetryAfter %v, want %v (until the probe)", e.RetryAfter, retryAfter)
		}
		if fake.Calls() != before {
			t.Errorf("an open circuit let a request through to Stytch")
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("failing fast took %v", d)
		}
	}
	state := func(t *testing.T, want string) {
		t.Helper()
		if got := client.BreakerState(); got != want {
			t.Fatalf("breaker %q, want %q", got, want)
		}
	}

	fake.Handle(down)
	for range upstream.DefaultBreakerFailures {
		state(t, "closed")
		stytchFails(t)
	}
	state(t, "open")
	for range 3 {
		failsFast(t, 10*time.Second)
	}
	if n := fake.Calls(); n != upstream.DefaultBreakerFailures {
		t.Fatalf("server saw %d requests, want %d", n, upstream.DefaultBreakerFailures)
	}
	clock.Advance(4 * time.Second)
	failsFast(t, 6*time.Second)

	// The cooldown ends: a probe goes through, fails, and re-opens.
	clock.Advance(6 * time.Second)
	state(t, "half_open")
	stytchFails(t)
	state(t, "open")
	failsFast(t, 10*time.Second)

	// Stytch is back: the next probe closes the circuit.
	fake.Handle(up)
	clock.Advance(10 * time.Second)
	if err := attest(t, client); err != nil {
		t.Fatalf("probe: %v", err)
	}
	state(t, "closed")
	// And the count starts from zero again.
	fake.Handle(down)
	for range upstream.DefaultBreakerFailures - 1 {
		stytchFails(t)
	}
	state(t, "closed")
	if n := fake.Calls(); n != upstream.DefaultBreakerFailures+2+upstream.DefaultBreakerFailures-1 {
		t.Errorf("server saw %d requests", n)
	}
}

// attest makes one call with the test's context.
func attest(t *testing.T, client *upstream.Client) error {
	_, err := client.Attest(ctx(t), validRequest())
	return err
}

// TestHalfOpenLetsOneProbeThrough: while the probe is in flight every other
// call fails fast, without reaching Stytch.
func TestHalfOpenLetsOneProbeThrough(t *testing.T) {
	fake := stytchtest.NewServer(t)
	clock := fakeclock.New(time.Unix(1e9, 0))
	client := newClient(t, fake.URL, func(o *upstream.Options) {
		o.Now, o.BreakerFailures, o.BreakerCooldown = clock.Now, 1, time.Minute
	})
	fake.Handle(stytchtest.Error(500, "internal_server_error", "boom"))
	_ = attest(t, client)
	clock.Advance(time.Minute)

	entered, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	fake.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		stytchtest.Respond(http.StatusOK, stytchtest.Typical()).ServeHTTP(w, r)
	}))
	probe := make(chan error, 1)
	go func() { probe <- attest(t, client) }()
	select {
	case <-entered:
	case <-ctx(t).Done():
		t.Fatal("the probe never reached the server")
	}
	for range 5 {
		if e := wantCircuitOpen.check(t, attest(t, client)); e.RetryAfter != time.Second {
			t.Errorf("RetryAfter %v while the probe is in flight, want 1s", e.RetryAfter)
		}
	}
	if n := fake.Calls(); n != 2 {
		t.Errorf("server saw %d requests, want 2 (the failure and the probe)", n)
	}
	if got := client.BreakerState(); got != "half_open" {
		t.Errorf("breaker %q during the probe", got)
	}
	releaseOnce()
	if err := <-probe; err != nil {
		t.Fatalf("probe: %v", err)
	}
	if got := client.BreakerState(); got != "closed" {
		t.Errorf("breaker %q after a good probe", got)
	}
}

// TestBreakerCounts: which failures count towards opening the circuit.
func TestBreakerCounts(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 8<<10)
	cases := []struct {
		name    string
		handler func(t *testing.T, entered chan<- struct{}) http.Handler
		down    bool // nothing listens
		mutate  func(*upstream.Options)
		// call returns the caller's context; entered is signalled as a
		// request reaches the server.
		call  func(t *testing.T, entered <-chan struct{}) context.Context
		opens bool
	}{
		{name: "Stytch 500", opens: true, handler: answer(stytchtest.Error(500, "internal_server_error", "boom"))},
		{name: "HTML 502 from a proxy", opens: true, handler: answer(typed(502, "text/html", []byte("<html/>")))},
		{name: "empty 503", opens: true, handler: answer(stytchtest.Respond(503, nil))},
		{name: "5xx over the size cap", opens: true, handler: answer(stytchtest.Respond(500, big))},
		{name: "timeout", opens: true, mutate: func(o *upstream.Options) { o.Timeout = 100 * time.Millisecond },
			handler: func(t *testing.T, _ chan<- struct{}) http.Handler { return stall(t, nil, nil) }},
		{name: "connection refused", opens: true, down: true},
		{name: "connection broken mid-answer", opens: true, handler: func(t *testing.T, _ chan<- struct{}) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				defer conn.Close()
				fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
				_ = buf.Flush()
			})
		}},
		{name: "Stytch 400", handler: answer(stytchtest.Error(400, "invalid_trusted_auth_token", "bad"))},
		{name: "Stytch 404", handler: answer(stytchtest.Error(404, "member_not_found", "who"))},
		{name: "Stytch 429", handler: answer(stytchtest.Error(429, "too_many_requests", "slow down"))},
		{name: "malformed 200", handler: answer(stytchtest.Respond(200, []byte(`{"member":`)))},
		{name: "text/html 200", handler: answer(typed(200, "text/html", []byte("<html/>")))},
		{name: "200 over the size cap", handler: answer(stytchtest.Respond(200, big))},
		{name: "malformed 200, counted by choice", opens: true, handler: answer(stytchtest.Respond(200, []byte(`{"member":`))),
			mutate: func(o *upstream.Options) { o.BreakerCountsInvalidAnswers = true }},
		{name: "text/html 200, counted by choice", opens: true, handler: answer(typed(200, "text/html", []byte("<html/>"))),
			mutate: func(o *upstream.Options) { o.BreakerCountsInvalidAnswers = true }},
		{name: "200 over the size cap, counted by choice", opens: true, handler: answer(stytchtest.Respond(200, big)),
			mutate: func(o *upstream.Options) { o.BreakerCountsInvalidAnswers = true }},
		{name: "caller cancels in flight", handler: func(t *testing.T, entered chan<- struct{}) http.Handler { return stall(t, nil, entered) },
			call: cancelOnEntry},
		// Answers attestd cannot use count only by choice, unless 5xx.
		{name: "HTML 500 from a proxy", opens: true, handler: answer(typed(500, "text/html", []byte("<html/>")))},
		{name: "HTML 404 from a proxy", handler: answer(typed(404, "text/html", []byte("<html/>")))},
		{name: "HTML 404 from a proxy, counted by choice", opens: true, handler: answer(typed(404, "text/html", []byte("<html/>"))),
			mutate: func(o *upstream.Options) { o.BreakerCountsInvalidAnswers = true }},
		{name: "307", handler: answer(typed(307, "", nil))},
		{name: "307, counted by choice", opens: true, handler: answer(typed(307, "", nil)),
			mutate: func(o *upstream.Options) { o.BreakerCountsInvalidAnswers = true }},
		{name: "202", handler: answer(stytchtest.Respond(202, stytchtest.Typical()))},
		{name: "headers over the cap", handler: answer(hugeHeaders(100 << 10))},
		{name: "headers over the cap, counted by choice", opens: true, handler: answer(hugeHeaders(100 << 10)),
			mutate: func(o *upstream.Options) { o.BreakerCountsInvalidAnswers = true }},
		// Stytch refusing attestd's credentials is Stytch up and deciding.
		{name: "Stytch 401 unauthorized_credentials", handler: answer(stytchtest.Error(401, "unauthorized_credentials", "no"))},
		{name: "breaker turned off", handler: answer(stytchtest.Error(500, "internal_server_error", "boom")),
			mutate: func(o *upstream.Options) { o.BreakerFailures = -1 }},
	}
	const failures = 2
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := stytchtest.NewServer(t)
			entered := make(chan struct{}, 1)
			if tc.handler != nil {
				fake.Handle(tc.handler(t, entered))
			}
			url := fake.URL
			if tc.down {
				url = "http://" + closedAddr(t)
			}
			client := newClient(t, url, func(o *upstream.Options) {
				o.BreakerFailures, o.MaxResponseBytes = failures, 4<<10
				if tc.mutate != nil {
					tc.mutate(o)
				}
			})
			call := func() error {
				c := ctx(t)
				if tc.call != nil {
					c = tc.call(t, entered)
				}
				_, err := client.Attest(c, validRequest())
				return err
			}
			for range failures {
				if err := call(); err == nil {
					t.Fatalf("call succeeded")
				} else if apiErr(t, err).Body.GetErrorType() == apierr.TypeUpstreamCircuitOpen {
					t.Fatalf("circuit open before %d failures", failures)
				}
			}
			want := map[bool]string{true: "open", false: "closed"}[tc.opens]
			if got := client.BreakerState(); got != want {
				t.Fatalf("after %d calls the breaker is %q, want %q", failures, got, want)
			}
			before := fake.Calls()
			err := call()
			if tc.opens {
				wantCircuitOpen.check(t, err)
				if fake.Calls() != before {
					t.Errorf("an open circuit let a request through")
				}
			} else if e := apiErr(t, err); e.Body.GetErrorType() == apierr.TypeUpstreamCircuitOpen {
				t.Errorf("circuit open although the breaker stayed closed")
			}
		})
	}
}

// hugeHeaders answers 200 with the typical fixture after a header of n bytes.
func hugeHeaders(n int) http.Handler {
	pad := strings.Repeat("a", n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pad", pad)
		stytchtest.Respond(http.StatusOK, stytchtest.Typical()).ServeHTTP(w, r)
	})
}

// answer adapts a fixed handler to TestBreakerCounts' table.
func answer(h http.Handler) func(*testing.T, chan<- struct{}) http.Handler {
	return func(*testing.T, chan<- struct{}) http.Handler { return h }
}

// TestLoadShedding: with 2 slots and 1 queue place, 2 calls held by the
// server take the slots, a 3rd waits, a 4th is shed at once; released, the
// first 3 all succeed.
func TestLoadShedding(t *testing.T) {
	fake := stytchtest.NewServer(t)
	entered := make(chan struct{}, 3)
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	fake.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		stytchtest.Respond(http.StatusOK, stytchtest.Typical()).ServeHTTP(w, r)
	}))
	client := newClient(t, fake.URL, func(o *upstream.Options) { o.MaxConcurrent, o.MaxQueue = 2, 1 })
	queued := make(chan struct{}, 1)
	upstream.OnQueued(client, func() { queued <- struct{}{} })
	c := ctx(t)
	await := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-c.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}

	errs := make(chan error, 3)
	for range 2 {
		go func() { errs <- attest(t, client) }()
	}
	await(entered, "the 1st call to reach the server")
	await(entered, "the 2nd call to reach the server")
	go func() { errs <- attest(t, client) }()
	await(queued, "the 3rd call to queue")
	if client.InFlight() != 2 || client.Queued() != 1 {
		t.Errorf("InFlight %d Queued %d, want 2 and 1", client.InFlight(), client.Queued())
	}

	start := time.Now()
	e := wantOverloaded.check(t, attest(t, client))
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("shedding took %v, want immediate", d)
	}
	if e.RetryAfter != time.Second {
		t.Errorf("RetryAfter %v, want 1s", e.RetryAfter)
	}
	if n := fake.Calls(); n != 2 {
		t.Errorf("server saw %d requests while full, want 2", n)
	}

	releaseOnce()
	for range 3 {
		select {
		case err := <-errs:
			if err != nil {
				t.Errorf("held call: %v", err)
			}
		case <-c.Done():
			t.Fatal("held calls did not finish")
		}
	}
	if n := fake.Calls(); n != 3 {
		t.Errorf("server saw %d requests, want 3", n)
	}
	if client.InFlight() != 0 || client.Queued() != 0 || client.BreakerState() != "closed" {
		t.Errorf("after: InFlight %d Queued %d breaker %q", client.InFlight(), client.Queued(), client.BreakerState())
	}
}

// TestQueuedCallEnds: a call waiting for a slot leaves the queue when its own
// context ends, with the error that says why, and without counting against
// Stytch.
func TestQueuedCallEnds(t *testing.T) {
	cases := []struct {
		name string
		// call returns the queued call's context; queued is closed once it
		// waits.
		call func(t *testing.T, queued <-chan struct{}) context.Context
		want want
	}{
		{"deadline", func(t *testing.T, _ <-chan struct{}) context.Context {
			c, cancel := context.WithTimeout(ctx(t), 150*time.Millisecond)
			t.Cleanup(cancel)
			return c
		}, wantTimeout},
		{"canceled", func(t *testing.T, queued <-chan struct{}) context.Context {
			c, cancel := context.WithCancel(ctx(t))
			go func() {
				select {
				case <-queued:
				case <-c.Done():
				}
				cancel()
			}()
			return c
		}, wantCanceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := stytchtest.NewServer(t)
			entered := make(chan struct{}, 1)
			fake.Handle(stall(t, nil, entered))
			client := newClient(t, fake.URL, func(o *upstream.Options) {
				o.MaxConcurrent, o.MaxQueue, o.BreakerFailures = 1, 1, 1
			})
			queued := make(chan struct{})
			upstream.OnQueued(client, sync.OnceFunc(func() { close(queued) }))

			holder, cancelHolder := context.WithCancel(ctx(t))
			held := make(chan error, 1)
			go func() { _, err := client.Attest(holder, validRequest()); held <- err }()
			select {
			case <-entered:
			case <-holder.Done():
				t.Fatal("the first call never reached the server")
			}

			_, err := client.Attest(tc.call(t, queued), validRequest())
			tc.want.check(t, err)
			if client.Queued() != 0 || fake.Calls() != 1 {
				t.Errorf("Queued %d, server saw %d requests; want 0 and 1", client.Queued(), fake.Calls())
			}
			cancelHolder()
			wantCanceled.check(t, <-held)
			// Neither the queue wait nor the caller's cancellation is
			// Stytch failing, even with a breaker that opens at once.
			if client.BreakerState() != "closed" {
				t.Errorf("breaker %q", client.BreakerState())
			}
		})
	}
}

// TestHugeBody: a 64 MiB answer over a 1 MiB cap is refused while reading,
// with memory bounded by the cap, streamed or declared up front.
func TestHugeBody(t *testing.T) {
	const (
		limit = 1 << 20
		huge  = 64 << 20
	)
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	for _, declared := range []bool{false, true} {
		t.Run(map[bool]string{false: "streamed", true: "Content-Length"}[declared], func(t *testing.T) {
			fake := stytchtest.NewServer(t)
			var sent atomic.Int64
			fake.Handle(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if declared {
					w.Header().Set("Content-Length", strconv.Itoa(huge))
				}
				w.WriteHeader(http.StatusOK)
				for sent.Load() < huge {
					n, err := w.Write(chunk)
					sent.Add(int64(n))
					if err != nil {
						return
					}
				}
			}))
			client := newClient(t, fake.URL, func(o *upstream.Options) { o.MaxResponseBytes = limit })

			grown, err := attestAllocating(t, client)

			e := wantTooLarge.check(t, err)
			if e.Body.GetErrorMessage() != fmt.Sprintf("Stytch's answer exceeds %d bytes", limit) {
				t.Errorf("message %q", e.Body.GetErrorMessage())
			}
			t.Logf("allocated %d KiB reading a %d MiB answer (cap %d KiB)", grown>>10, huge>>20, limit>>10)
			if grown > limit+4<<20 {
				t.Errorf("allocated %d bytes for a %d-byte cap: the read is not capped", grown, limit)
			}
		})
	}
}

// TestRedirectNotFollowed: a 307 from "Stytch" is an answer, not an
// instruction to re-send the POST (which may have created a session), and
// not one to pass on either: attestd's 502 naming Stytch's status.
func TestRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c := upstream.New(upstream.Options{BaseURL: srv.URL, ProjectID: "p", Secret: "s"})
	defer c.CloseIdleConnections()
	_, err := c.Attest(context.Background(), validRequest())
	e := wantUpstream.check(t, err)
	if !strings.Contains(e.Body.GetErrorMessage(), "HTTP 307") || e.Domain != apierr.DomainAttestd || hits.Load() != 1 {
		t.Errorf("redirect: %v (domain %q), %d requests; want attestd's upstream error naming HTTP 307 after 1 request",
			err, e.Domain, hits.Load())
	}
}

// attestAllocating makes one Attest and returns the bytes the process
// allocated meanwhile, and the call's error.
func attestAllocating(t *testing.T, client *upstream.Client) (uint64, error) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := client.Attest(ctx(t), validRequest())
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, err
}
