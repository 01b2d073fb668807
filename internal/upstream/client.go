// Package upstream is attestd's HTTP client for Stytch's B2B API: it sends
// `POST /v1/b2b/sessions/attest` with the project's Basic credentials and
// turns every answer — success, Stytch error, garbage, silence — into either a
// decoded AttestResponse or an *apierr.Error with the right code.
//
// It is also where attestd protects itself and Stytch when Stytch misbehaves:
//
//   - Retries only where provably safe. Attest creates a session, so a request
//     that may have reached Stytch is never sent again. A request is resent
//     only when it never left (no connection could be made: see neverSent),
//     after a jittered exponential backoff, or when Stytch answered 429 with a
//     Retry-After that can be honoured before the deadline. Every wait must
//     end at least 100 ms before the call's deadline.
//   - A circuit breaker (package breaker): when, within BreakerWindow, at
//     least BreakerFailures calls failed and they are at least
//     BreakerFailureRatio of the calls that failed or succeeded, calls fail
//     fast with upstream_circuit_open for BreakerCooldown; then one probe
//     call at a time decides whether to close it again. A call is evidence
//     against Stytch only when Stytch failed it (a 5xx, a transport error,
//     attestd's own timeout, or an attempt still unanswered after SlowCall),
//     never when its caller merely gave up early: no caller can open the
//     circuit for everyone with short deadlines.
//   - Bounded concurrency: at most MaxConcurrent calls in flight, MaxQueue
//     more waiting for a slot within their deadline, the rest shed at once
//     with upstream_overloaded.
//   - Bounded answers: MaxResponseBytes of body, MaxResponseHeaderBytes of
//     headers (NewTransport), retry delays clamped to apierr.MaxRetryAfter,
//     error bodies to apierr's caps.
//
// Only 200/201 with an attest response and Stytch's own error bodies are
// passed on as such; any other answer (a redirect, a 1xx, a 202 or 204, an
// HTML page from a proxy) is attestd's 502 upstream_error. Stytch's 401
// unauthorized_credentials is attestd's misconfiguration, not the caller's
// fault: it becomes upstream_credentials_rejected (503) and the Client
// tracks it (CredentialsRejected, Options.OnCredentials, CheckCredentials).
package upstream

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	errorv1 "github.com/attestd/attestd/gen/go/stytch/error/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/translate"
	"github.com/attestd/attestd/internal/upstream/breaker"
	"github.com/attestd/attestd/internal/verbatim"
)

// AttestPath is Stytch's route for the operation.
const AttestPath = "/v1/b2b/sessions/attest"

// Options configure a Client.
type Options struct {
	// BaseURL is Stytch's scheme://host[:port][/prefix], without trailing slash.
	BaseURL string
	// ProjectID and Secret are the project's Basic-auth credentials.
	ProjectID, Secret string
	// SecretSource, when set, is asked for the secret on every request
	// instead of Secret, so a rotated secret file is used from the next
	// request on; it must be cheap and must not block.
	SecretSource func() string
	// Timeout caps each call to Attest, queueing for a slot, every attempt
	// and every wait between attempts included; the caller's deadline may
	// shorten it.
	Timeout time.Duration
	// MaxResponseBytes caps the upstream body attestd will read.
	MaxResponseBytes int64
	// UserAgent is sent to Stytch.
	UserAgent string
	// Drift is told about unknown keys in Stytch's answers; may be nil.
	Drift translate.DriftReporter
	// Transport overrides the HTTP transport (tests, tracing); nil means a
	// tuned default.
	Transport http.RoundTripper
	// Observe, when set, is told of every HTTP attempt: Stytch's status (0
	// when no answer came), the error_type ("" on success) and how long it
	// took. Metrics hang here.
	Observe func(status int, errorType string, took time.Duration)

	// MaxAttempts caps the attempts per call, the first included, for the
	// retries that are provably safe (see the package doc); 0 means
	// DefaultMaxAttempts and 1 turns retries off.
	MaxAttempts int
	// BreakerFailures is the least number of failed calls within
	// BreakerWindow that opens the circuit, provided they also reach
	// BreakerFailureRatio; 0 means DefaultBreakerFailures, a negative value
	// turns the breaker off. Failures are 5xx answers, transport errors,
	// attestd's own Timeout expiring and attempts unanswered after SlowCall;
	// Stytch's 4xx and 429 answers count as successes (Stytch is up and
	// deciding); a call its caller ended before SlowCall, time spent queued
	// and answers that are neither a success nor a Stytch error count as
	// nothing (see BreakerCountsInvalidAnswers).
	BreakerFailures int
	// BreakerFailureRatio is the least share of failures among the calls
	// counted in the window (failures and successes) that opens the circuit;
	// 0 means DefaultBreakerFailureRatio. With the ratio, a blip of failures
	// among many successes at high volume does not open the circuit for
	// everyone, while a low-volume outage (failures and no success) still
	// opens it after BreakerFailures calls.
	BreakerFailureRatio float64
	// BreakerWindow is how far back the breaker counts calls; 0 means
	// DefaultBreakerWindow. It is kept in ten buckets, so memory does not
	// grow with traffic, and slides by a tenth of itself.
	BreakerWindow time.Duration
	// BreakerCooldown is how long an open circuit fails calls fast before it
	// lets a probe through; 0 means DefaultBreakerCooldown.
	BreakerCooldown time.Duration
	// SlowCall is how long an attempt may go unanswered before it is
	// evidence that Stytch is unwell even if its caller then gives up (the
	// idea of resilience4j's slowCallDurationThreshold); 0 means
	// DefaultSlowCall. An attempt cut short by its caller sooner (canceled,
	// or a caller deadline shorter than Timeout) counts as nothing, so
	// impatient callers cannot open the circuit against a healthy Stytch;
	// one that outlives SlowCall counts as a failure, so a hung Stytch still
	// opens it when every caller's deadline is shorter than Timeout. An
	// answer, however slow, is judged by its status. Measured on Now.
	SlowCall time.Duration
	// BreakerCountsInvalidAnswers makes an answer attestd cannot use and
	// that is not a 5xx count as a breaker failure: a 2xx that is not a
	// valid attest response (malformed, not JSON, over MaxResponseBytes), a
	// 1xx, 3xx or other 2xx status, a 4xx without a Stytch error body,
	// headers over the transport's limit. Off by default, such answers count
	// as nothing: they come back at once, cost Stytch no more than failing
	// fast would save, and their own error tells the caller what went wrong,
	// which an open circuit would hide.
	BreakerCountsInvalidAnswers bool
	// MaxConcurrent caps the calls in flight to Stytch; 0 means
	// DefaultMaxConcurrent.
	MaxConcurrent int
	// MaxQueue caps the calls waiting for one of the MaxConcurrent slots,
	// each for as long as its own deadline allows; calls beyond it fail at
	// once with upstream_overloaded. 0 means DefaultMaxQueue, a negative
	// value means no queue.
	MaxQueue int
	// Now is the clock of the breaker's window and cooldown, of SlowCall and
	// of HTTP-date Retry-After values (tests); nil means time.Now. Waits
	// themselves are real timers.
	Now func() time.Time
	// Budget, when set, is the budget on calls to Stytch: before every
	// attempt, retries included, it is asked for one call (key ""); when it
	// refuses, the call ends with too_many_requests (429,
	// ResourceExhausted) and the budget's retry delay, and Stytch is not
	// called. attestd's is fleet-wide with Redis (internal/fleetlimit),
	// else per process.
	Budget Budget
	// OnCredentials, when set, is told each time Stytch's verdict on
	// attestd's own project credentials changes: true when Stytch rejected
	// them (a 401 unauthorized_credentials), false when they work again (an
	// attest succeeded or CheckCredentials passed). The server hangs
	// readiness, a metric and an error log on it. Calls come one at a time,
	// in the order of the changes, from the goroutine that saw the change; it
	// must return quickly and must not call Attest or CheckCredentials.
	OnCredentials func(rejected bool)
}

// Budget is a limit on calls to Stytch: Allow takes one call from key's
// allowance, or refuses and says how long until one is left. It has the
// shape of the chain's per-caller limiter.
type Budget interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration)
}

// overBudget is the refusal of an attempt the budget on calls to Stytch
// does not cover.
func overBudget(wait time.Duration) *apierr.Error {
	e := apierr.TooManyRequests.New("attestd's budget of calls to Stytch is spent for now; retry later.")
	e.RetryAfter = wait
	return e
}

// Client calls Stytch. It is safe for concurrent use and reuses connections.
type Client struct {
	opts       Options
	url        string
	authHeader string
	// auth caches the Authorization header of SecretSource's latest secret.
	auth    atomic.Pointer[basicAuth]
	http    *http.Client
	breaker *breaker.Breaker // nil when turned off
	limiter *limiter

	// credentialsRejected: Stytch's last verdict on attestd's credentials
	// was a rejection. Read without a lock on every call; credentialsMu
	// orders the changes and their OnCredentials calls.
	credentialsRejected atomic.Bool
	credentialsMu       sync.Mutex
}

// basicAuth is a secret and the Authorization header it makes.
type basicAuth struct{ secret, header string }

// basic is the Basic Authorization header for the credentials.
func basic(projectID, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(projectID+":"+secret))
}

// authorization is the Authorization header for this request: fixed, or
// built from SecretSource's current secret (encoded again only when it
// changes).
func (c *Client) authorization() string {
	if c.opts.SecretSource == nil {
		return c.authHeader
	}
	secret := c.opts.SecretSource()
	if a := c.auth.Load(); a != nil && a.secret == secret {
		return a.header
	}
	a := &basicAuth{secret: secret, header: basic(c.opts.ProjectID, secret)}
	c.auth.Store(a)
	return a.header
}

// Defaults for Options left zero.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 1 << 20
	DefaultMaxAttempts      = 3
	DefaultBreakerFailures  = 5
	DefaultBreakerCooldown  = 10 * time.Second
	DefaultBreakerWindow    = breaker.DefaultWindow
	// DefaultBreakerFailureRatio: Stytch failing at least every other call
	// is an outage worth failing fast for; fewer is noise worth riding out.
	DefaultBreakerFailureRatio = 0.5
	// DefaultSlowCall: several times Stytch's usual latency for attest (well
	// under a second), so a busy but healthy Stytch never reaches it, and
	// well inside DefaultTimeout and the few seconds callers typically
	// allow, so a hung Stytch is recognised even when every caller gives up
	// before attestd's own timeout.
	DefaultSlowCall      = 2 * time.Second
	DefaultMaxConcurrent = 64
	DefaultMaxQueue      = 256
)

// Retry hints for errors attestd raises itself without a better estimate.
const (
	// overloadRetryAfter: a shed call's slot frees up as soon as any call
	// in flight ends, so a short wait is enough.
	overloadRetryAfter = time.Second
	// probeRetryAfter: the circuit is half-open and its probe is in flight;
	// its outcome, unknown yet, decides.
	probeRetryAfter = time.Second
)

// New returns a Client for the given options.
func New(opts Options) *Client {
	rt := opts.Transport
	if rt == nil {
		rt = NewTransport()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.BreakerFailures == 0 {
		opts.BreakerFailures = DefaultBreakerFailures
	}
	if opts.BreakerCooldown <= 0 {
		opts.BreakerCooldown = DefaultBreakerCooldown
	}
	if opts.BreakerFailureRatio <= 0 {
		opts.BreakerFailureRatio = DefaultBreakerFailureRatio
	}
	if opts.BreakerWindow <= 0 {
		opts.BreakerWindow = DefaultBreakerWindow
	}
	if opts.SlowCall <= 0 {
		opts.SlowCall = DefaultSlowCall
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	switch {
	case opts.MaxQueue == 0:
		opts.MaxQueue = DefaultMaxQueue
	case opts.MaxQueue < 0:
		opts.MaxQueue = 0
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Client{
		opts:       opts,
		url:        strings.TrimSuffix(opts.BaseURL, "/") + AttestPath,
		authHeader: basic(opts.ProjectID, opts.Secret),
		// No http.Client.Timeout: the per-call context carries the budget.
		// Redirects are not followed: following one re-sends the POST, which
		// may already have created a session.
		http: &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		limiter: newLimiter(opts.MaxConcurrent, opts.MaxQueue),
	}
	if opts.BreakerFailures > 0 {
		c.breaker = breaker.New(breaker.Config{
			Failures: opts.BreakerFailures,
			Ratio:    opts.BreakerFailureRatio,
			Window:   opts.BreakerWindow,
			Cooldown: opts.BreakerCooldown,
			Now:      opts.Now,
		})
	}
	return c
}

// BreakerState is the circuit breaker's state, "closed", "open" or
// "half_open", for metrics and health reporting. An open breaker whose
// cooldown has ended reports "half_open" (the next call is the probe); a
// breaker turned off is always "closed".
func (c *Client) BreakerState() string {
	if c.breaker == nil {
		return breaker.Closed.String()
	}
	return c.breaker.State().String()
}

// InFlight is how many calls hold one of the MaxConcurrent slots.
func (c *Client) InFlight() int { return c.limiter.inFlight() }

// Queued is how many calls are waiting for a slot.
func (c *Client) Queued() int { return c.limiter.waiting() }

// CloseIdleConnections closes the keep-alive connections to Stytch that no
// call is using, as at shutdown; calls in flight are not disturbed.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// MaxResponseHeaderBytes caps the header block of Stytch's answers that
// NewTransport's transport reads, as MaxResponseBytes caps the body: Stytch
// sends well under 4 KiB, and net/http's default would let whatever answers
// in Stytch's place make attestd hold 10 MiB per call in flight.
const MaxResponseHeaderBytes = 64 << 10

// NewTransport is the HTTP transport attestd uses towards Stytch: keep-alive
// connections sized for a busy service, bounded handshakes, headers capped
// at MaxResponseHeaderBytes. A transport passed in Options.Transport is used
// as it is, so it should be built from this one (as the server's tracing
// transport is): the Client does not change a transport it does not own,
// which may be shared, and cannot see inside a wrapping one.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 0 // the context deadline governs
	t.MaxResponseHeaderBytes = MaxResponseHeaderBytes
	return t
}

// attestBody is the JSON attestd sends: Stytch's request keys, empty values
// omitted as Stytch's Go SDK does.
type attestBody struct {
	ProfileID              string          `json:"profile_id"`
	Token                  string          `json:"token"`
	OrganizationID         string          `json:"organization_id,omitempty"`
	SessionDurationMinutes int32           `json:"session_duration_minutes,omitempty"`
	SessionCustomClaims    json.RawMessage `json:"session_custom_claims,omitempty"`
	SessionToken           string          `json:"session_token,omitempty"`
	SessionJWT             string          `json:"session_jwt,omitempty"`
	TelemetryID            string          `json:"telemetry_id,omitempty"`
}

// MaxCustomClaimsBytes is Stytch's cap on session_custom_claims as JSON.
const MaxCustomClaimsBytes = 4096

// EncodeRequest renders an AttestRequest as the JSON body Stytch expects.
// It enforces Stytch's 4 KB cap on session_custom_claims here, where the
// bytes are produced (protovalidate cannot measure serialized size), so an
// oversized request is refused before anything goes upstream.
func EncodeRequest(in *b2bsessionv1.AttestRequest) ([]byte, error) {
	b := attestBody{
		ProfileID:              in.GetProfileId(),
		Token:                  in.GetToken(),
		OrganizationID:         in.GetOrganizationId(),
		SessionDurationMinutes: in.GetSessionDurationMinutes(),
		SessionToken:           in.GetSessionToken(),
		SessionJWT:             in.GetSessionJwt(),
		TelemetryID:            in.GetTelemetryId(),
	}
	if claims := in.GetSessionCustomClaims(); claims != nil {
		// Compact and deterministic: the bytes Stytch receives, and so the
		// bytes its limit counts.
		raw, err := json.Marshal(claims.AsMap())
		if err != nil {
			return nil, apierr.BadRequest.Wrap(err, "session_custom_claims cannot be represented as JSON")
		}
		if len(raw) > MaxCustomClaimsBytes {
			return nil, apierr.CustomClaimsTooLarge.New(fmt.Sprintf(
				"session_custom_claims is %d bytes as JSON; the limit is %d", len(raw), MaxCustomClaimsBytes))
		}
		b.SessionCustomClaims = raw
	}
	body, err := json.Marshal(b)
	if err != nil {
		return nil, apierr.Internal.Wrap(err, "cannot encode the upstream request")
	}
	return body, nil
}

// Attest performs the attest call against Stytch. Options.Timeout bounds the
// whole call: queueing for a slot, every attempt and every wait between them.
func (c *Client) Attest(ctx context.Context, in *b2bsessionv1.AttestRequest) (*b2bsessionv1.AttestResponse, error) {
	body, err := EncodeRequest(in)
	if err != nil {
		return nil, err
	}
	// The cause tells attestd's own timeout from the caller's deadline: only
	// the first is Stytch's fault for certain.
	ctx, cancel := context.WithTimeoutCause(ctx, c.opts.Timeout, errUpstreamTimeout)
	defer cancel()
	// A call that is over already says nothing about Stytch: it must not
	// take the half-open probe or a place in the queue.
	if err := ctx.Err(); err != nil {
		return nil, contextError(err, "the call's deadline expired before it was sent")
	}

	outcome := breaker.Ignore // until an attempt tells more
	if c.breaker != nil {
		done, retryIn, ok := c.breaker.Allow()
		if !ok {
			return nil, circuitOpen(retryIn)
		}
		defer func() { done(outcome) }()
	}
	if err := c.limiter.acquire(ctx); err != nil {
		if errors.Is(err, errShed) {
			e := apierr.UpstreamOverloaded.Wrap(err, fmt.Sprintf(
				"attestd is at its limit of %d calls to Stytch with %d waiting", c.opts.MaxConcurrent, c.opts.MaxQueue))
			e.RetryAfter = overloadRetryAfter
			return nil, e
		}
		return nil, contextError(err, "no call to Stytch finished in time to make room for this one")
	}
	defer c.limiter.release()

	for attempt := 1; ; attempt++ {
		if c.opts.Budget != nil {
			if ok, wait := c.opts.Budget.Allow(ctx, ""); !ok {
				return nil, overBudget(wait)
			}
		}
		r := c.attempt(ctx, body, attempt)
		outcome = r.outcome
		if r.err == nil || !r.retry || attempt >= c.opts.MaxAttempts || !fits(ctx, r.wait) {
			return r.resp, r.err
		}
		if err := wait(ctx, r.wait); err != nil {
			return nil, contextError(err, "the call ended while waiting to retry")
		}
	}
}

// circuitOpen is the fast failure of an open circuit.
func circuitOpen(retryIn time.Duration) *apierr.Error {
	e := apierr.UpstreamCircuitOpen.New("Stytch has been failing; attestd fails calls fast until a probe call succeeds")
	e.RetryAfter = retryIn
	if retryIn <= 0 {
		e.RetryAfter = probeRetryAfter
	}
	return e
}

// contextError is the error for a call whose context ended before Stytch
// was involved.
func contextError(err error, deadlineMessage string) *apierr.Error {
	if errors.Is(err, context.Canceled) {
		return apierr.RequestCanceled.Wrap(err, "the call was canceled by its caller")
	}
	return apierr.UpstreamTimeout.Wrap(err, deadlineMessage)
}

// result is the end of one attempt.
type result struct {
	resp *b2bsessionv1.AttestResponse
	err  error
	// outcome is what the attempt tells the breaker.
	outcome breaker.Outcome
	// retry: sending the request again is safe, after wait.
	retry bool
	wait  time.Duration
	// status is Stytch's HTTP status; 0 when no answer came.
	status int
}

// attempt sends the request once, the n-th time (from 1), and judges the
// answer.
func (c *Client) attempt(ctx context.Context, body []byte, n int) (r result) {
	sent := c.opts.Now() // for SlowCall, on the breaker's clock
	if c.opts.Observe != nil {
		start := time.Now()
		defer func() { c.opts.Observe(r.status, errorType(r.err), time.Since(start)) }()
	}
	// connected records whether the transport gave this attempt a
	// connection, the point from which bytes may be on the wire.
	var connected atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }}
	req, err := c.newRequest(httptrace.WithClientTrace(ctx, trace), bytes.NewReader(body))
	if err != nil {
		return result{err: err, outcome: breaker.Ignore}
	}

	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() == nil && headersTooLarge(err) {
			// An answer came, but not one attestd can use: judged like an
			// over-cap body, not like a broken connection.
			return result{err: apierr.UpstreamResponseTooLarge.Wrap(err, "Stytch's answer headers exceed attestd's limit"), outcome: c.invalidOutcome()}
		}
		r = result{err: transportError(ctx, err), outcome: c.unanswered(ctx, sent)}
		// ctx.Err: a call out of time or canceled is not resent, whatever
		// broke.
		if ctx.Err() == nil && neverSent(connected.Load(), err) {
			r.retry, r.wait = true, backoff(n)
		}
		return r
	}
	defer resp.Body.Close()
	r = c.judge(ctx, resp, sent)
	r.status = resp.StatusCode
	return r
}

// headersTooLarge reports whether err is net/http refusing an answer whose
// headers exceed the transport's MaxResponseHeaderBytes, over HTTP/1.1 or
// HTTP/2. net/http exports no error value for either, only these texts; if
// they ever change, such an answer falls back to upstream_unavailable, still
// an upstream failure.
func headersTooLarge(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "server response headers exceeded") ||
		strings.Contains(msg, "response header list larger than")
}

// invalidOutcome is what an answer attestd cannot use, other than a 5xx,
// tells the breaker (see Options.BreakerCountsInvalidAnswers).
func (c *Client) invalidOutcome() breaker.Outcome {
	if c.opts.BreakerCountsInvalidAnswers {
		return breaker.Failure
	}
	return breaker.Ignore
}

// newRequest is an attest request to Stytch with body: the project's Basic
// credentials, JSON both ways.
func (c *Client) newRequest(ctx context.Context, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, body)
	if err != nil {
		return nil, apierr.Internal.Wrap(err, "cannot build the upstream request")
	}
	req.Header.Set("Authorization", c.authorization())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.opts.UserAgent != "" {
		req.Header.Set("User-Agent", c.opts.UserAgent)
	}
	return req, nil
}

// errorType is the error_type of an attempt's error ("" for success).
func errorType(err error) string {
	var e *apierr.Error
	if errors.As(err, &e) {
		return e.Body.GetErrorType()
	}
	if err != nil {
		return apierr.TypeInternal
	}
	return ""
}

// judge turns Stytch's answer into the call's result.
func (c *Client) judge(ctx context.Context, resp *http.Response, sent time.Time) result {
	code := resp.StatusCode
	success := code == http.StatusOK || code == http.StatusCreated
	// unusable is the outcome of an answer attestd cannot use: a 5xx is
	// Stytch failing whatever its body; anything else is a failure only by
	// choice.
	unusable := c.invalidOutcome()
	if code >= 500 {
		unusable = breaker.Failure
	}
	// Neither a success nor an error (a redirect, a 1xx, a 202 or 204): no
	// use reading what came with it.
	if !success && code < 400 {
		return result{err: apierr.UpstreamError(code), outcome: unusable}
	}
	tooLarge := func(cause error) result {
		return result{
			err:     apierr.UpstreamResponseTooLarge.Wrap(cause, fmt.Sprintf("Stytch's answer exceeds %d bytes", c.opts.MaxResponseBytes)),
			outcome: unusable,
		}
	}
	// A declared length over the cap is refused before reading a byte.
	if resp.ContentLength > c.opts.MaxResponseBytes {
		return tooLarge(fmt.Errorf("%w: Content-Length %d", errTooLarge, resp.ContentLength))
	}
	// A success that is not JSON (an HTML page from a proxy or a captive
	// portal answering 200) is not decoded at all. Error answers are decoded
	// whatever their type: a Stytch error is recognised by its body.
	if ct := resp.Header.Get("Content-Type"); success && ct != "" && !isJSON(ct) {
		return result{
			err:     apierr.UpstreamInvalidResponse.Wrap(fmt.Errorf("Content-Type %q", ct), "Stytch's answer is not JSON"),
			outcome: unusable,
		}
	}

	buf := answerBuffers.get()
	raw, err := readCappedInto((*buf)[:0], resp.Body, c.opts.MaxResponseBytes, resp.ContentLength)
	kept := false
	defer func() {
		// Back to the pool unless a REST call's verbatim slot holds it;
		// nothing decoded from raw refers to it (strings are copies).
		if !kept {
			answerBuffers.put(buf, raw)
		}
	}()
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return tooLarge(err)
		}
		// Broken off mid-answer: Stytch has the request, so no retry.
		return result{err: transportError(ctx, err), outcome: c.unanswered(ctx, sent)}
	}

	if !success {
		e, fromStytch := decodeError(code, raw)
		if !fromStytch {
			return result{err: e, outcome: unusable}
		}
		r := result{err: e, outcome: breaker.Success} // Stytch is up and deciding
		if code >= 500 {
			r.outcome = breaker.Failure
		}
		switch {
		case credentialsRejected(e):
			r.err = c.rejected(e)
		// A 429 means Stytch turned the request away unprocessed; with a
		// Retry-After it also says when to come back. If the call cannot
		// wait that long, the caller is told Stytch's own hint.
		case code == http.StatusTooManyRequests:
			if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), c.opts.Now()); ok {
				e.RetryAfter = d
				// Waited out here only when short: the wait holds an
				// upstream slot, and a longer one is the caller's to make.
				r.retry, r.wait = d <= maxRetryAfterWait, d
			}
		}
		return r
	}
	out := &b2bsessionv1.AttestResponse{}
	if err := translate.Unmarshal(raw, out, c.opts.Drift); err != nil {
		return result{err: apierr.UpstreamInvalidResponse.Wrap(err, "Stytch's answer is not a valid attest response"), outcome: unusable}
	}
	if out.GetMemberSession() == nil || out.GetMember() == nil || out.GetOrganization() == nil {
		return result{err: apierr.UpstreamInvalidResponse.New("Stytch's answer lacks member_session, member or organization"), outcome: unusable}
	}
	// Stytch created a session with attestd's credentials: they are good.
	c.setCredentials(false)
	// A REST call serves these very bytes, now that they are judged valid.
	kept = verbatim.Keep(ctx, out, raw, func() { answerBuffers.put(buf, raw) })
	return result{resp: out, outcome: breaker.Success}
}

// isJSON reports whether a Content-Type names JSON: application/json or any
// +json type, whatever its parameters.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

var errTooLarge = errors.New("upstream response too large")

// readCapped reads r whole, but never more than limit bytes into memory:
// past the cap it stops reading and returns errTooLarge, however much Stytch
// (or whatever answers in its place) sends. sizeHint is the declared length
// (-1 when unknown). Known, it sizes the buffer once; unknown, the buffer
// doubles up to the cap and no further, so reading an over-cap answer
// allocates about twice the cap in all (io.ReadAll's gentler growth would
// allocate about five times).
func readCapped(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	return readCappedInto(nil, r, limit, sizeHint)
}

// readCappedInto is readCapped appending to buf (empty, with room to
// reuse), which it grows as readCapped would grow a new one.
func readCappedInto(buf []byte, r io.Reader, limit, sizeHint int64) ([]byte, error) {
	initial := int64(512)
	if sizeHint >= 0 {
		initial = sizeHint
	}
	if want := min(initial, limit); int64(cap(buf)) < want {
		buf = make([]byte, 0, want)
	}
	for {
		if int64(len(buf)) == limit {
			// Full: one more byte means over the cap. It is read into a
			// scratch byte, so an answer of exactly limit bytes costs no
			// reallocation.
			var one [1]byte
			n, err := io.ReadFull(r, one[:])
			switch {
			case n > 0:
				return nil, errTooLarge
			case err == io.EOF:
				return buf, nil
			}
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf)), limit-int64(len(buf)))))
		}
		n, err := r.Read(buf[len(buf):int(min(int64(cap(buf)), limit))])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// errUpstreamTimeout is the cause of a call's context when attestd's own
// Options.Timeout ended it, rather than the caller's deadline or
// cancellation.
var errUpstreamTimeout = fmt.Errorf("attestd's upstream timeout expired: %w", context.DeadlineExceeded)

// unanswered is what an attempt sent at sent that got no complete answer
// tells the breaker. Stytch failed it when the transport broke on its own
// (refused, reset, garbage), when attestd's own timeout ran out, or when
// the attempt was still unanswered after SlowCall, whoever then ended it. A
// caller that canceled, or whose shorter deadline expired, before SlowCall
// proves nothing about Stytch: counting it would let any caller open the
// circuit for everyone with 1 ms deadlines.
func (c *Client) unanswered(ctx context.Context, sent time.Time) breaker.Outcome {
	switch {
	case ctx.Err() == nil:
		return breaker.Failure
	case errors.Is(context.Cause(ctx), errUpstreamTimeout):
		return breaker.Failure
	case c.opts.Now().Sub(sent) >= c.opts.SlowCall:
		return breaker.Failure
	}
	return breaker.Ignore
}

// transportError classifies a failure to get a complete answer from Stytch.
func transportError(ctx context.Context, err error) error {
	switch {
	case errors.Is(context.Cause(ctx), errUpstreamTimeout):
		return apierr.UpstreamTimeout.Wrap(err, "Stytch did not answer within attestd's upstream timeout")
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return apierr.UpstreamTimeout.Wrap(err, "Stytch did not answer within the call's deadline")
	case errors.Is(ctx.Err(), context.Canceled):
		return apierr.RequestCanceled.Wrap(err, "the call was canceled by its caller")
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return apierr.UpstreamTimeout.Wrap(err, "Stytch did not answer in time")
	}
	return apierr.UpstreamUnavailable.Wrap(err, "Stytch could not be reached or broke off its answer")
}

// wireError is Stytch's error body, plus the OAuth2-style keys some Stytch
// endpoints use (read the way Stytch's Node SDK reads them).
type wireError struct {
	StatusCode       int            `json:"status_code"`
	RequestID        string         `json:"request_id"`
	ErrorType        string         `json:"error_type"`
	ErrorMessage     string         `json:"error_message"`
	ErrorURL         string         `json:"error_url"`
	ErrorDetails     map[string]any `json:"error_details"`
	OAuthError       string         `json:"error"`
	OAuthDescription string         `json:"error_description"`
	OAuthURI         string         `json:"error_uri"`
}

// decodeError turns an error answer into an *apierr.Error carrying Stytch's
// own error when the body is one (fromStytch), else attestd's upstream_error
// naming the status: a body without Stytch's error keys is not Stytch's
// verdict on the request, whatever the status says.
func decodeError(httpStatus int, raw []byte) (e *apierr.Error, fromStytch bool) {
	var w wireError
	if err := json.Unmarshal(raw, &w); err != nil || (w.ErrorType == "" && w.OAuthError == "") {
		return apierr.UpstreamError(httpStatus), false
	}
	body := &errorv1.StytchError{
		RequestId:    w.RequestID,
		ErrorType:    w.ErrorType,
		ErrorMessage: w.ErrorMessage,
		ErrorUrl:     w.ErrorURL,
	}
	if w.OAuthError != "" {
		body.ErrorType, body.ErrorMessage, body.ErrorUrl = w.OAuthError, w.OAuthDescription, w.OAuthURI
	}
	if w.ErrorDetails != nil {
		if details, err := structpb.NewStruct(w.ErrorDetails); err == nil {
			body.ErrorDetails = details
		}
	}
	return apierr.FromStytch(httpStatus, body), true
}
