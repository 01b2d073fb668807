// Package jwks serves `GET /v1/b2b/sessions/jwks/{project_id}` for
// attestd's own Stytch project: the JSON Web Key Set Stytch's SDKs fetch
// from their base URL to verify session JWTs locally
// (sessions.authenticateJwtLocal), so an SDK pointed at attestd can verify
// the JWTs attestd hands it.
//
// The set comes from Stytch (or, in emulator mode, from the embedded
// emulator: Options.Source says which, for logs and metrics), fetched with
// attestd's project credentials as Stytch's SDKs' getJWKS does (HTTP Basic
// project_id:secret), and is kept in a Cache:
//
//   - Stytch's Cache-Control max-age says how long a set is fresh (absent,
//     DefaultMaxAge; capped at MaxMaxAge); its ETag is sent back as
//     If-None-Match, and a 304 renews the set without a body.
//   - The first caller fetches it; from then on Run refreshes it in the
//     background at three quarters of its life, so callers rarely wait for
//     Stytch; a caller finding it expired triggers a refresh, as does a
//     session JWT attestd hands out whose kid the set lacks (Notice).
//     Refreshes other than the background ones are rate-limited: at most
//     one attempt per Options.MinRefreshInterval, and one at a time.
//   - While Stytch cannot be reached, the last good set is served (with
//     max-age=0) for up to Options.MaxStale past its expiry; after that,
//     callers get 503 upstream_unavailable in Stytch's error shape.
//
// Callers get Stytch's body byte for byte (REST, through package verbatim)
// with `Cache-Control: public, max-age=<seconds left>`.
package jwks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	errorv1 "github.com/attestd/attestd/gen/go/stytch/error/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/translate"
)

// PathPrefix is Stytch's route for the key set, before the project ID.
const PathPrefix = "/v1/b2b/sessions/jwks/"

// Defaults for Options left zero.
const (
	// DefaultMaxAge is how long a set is fresh when Stytch's answer says
	// nothing (no max-age).
	DefaultMaxAge = 5 * time.Minute
	// MaxMaxAge caps Stytch's max-age: a rotated key reaches callers within
	// a day whatever the header said.
	MaxMaxAge = 24 * time.Hour
	// DefaultMinRefreshInterval spaces the refreshes callers and unknown
	// kids can trigger.
	DefaultMinRefreshInterval = 10 * time.Second
	// DefaultMaxStale is how long past its expiry the last good set is
	// served while Stytch cannot be reached.
	DefaultMaxStale = time.Hour
	// DefaultTimeout caps one fetch.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes caps the set's size.
	DefaultMaxResponseBytes = 1 << 20
)

// Refresh triggers and results, the labels of Options.OnRefresh.
const (
	TriggerInitial    = "initial"     // the first fetch (Run, or the first caller)
	TriggerBackground = "background"  // Run, before the set expires
	TriggerExpired    = "expired"     // a caller found the set expired
	TriggerUnknownKid = "unknown_kid" // a session JWT named a kid the set lacks

	ResultOK          = "ok"           // 200: a new set
	ResultNotModified = "not_modified" // 304: the set renewed
	ResultError       = "error"        // no usable answer
)

// Options configure a Cache.
type Options struct {
	// BaseURL is Stytch's (or the emulator's) scheme://host[:port][/prefix].
	BaseURL string
	// ProjectID and Secret are attestd's project credentials; ProjectID is
	// also the only project whose keys are served.
	ProjectID, Secret string
	// SecretSource, when set, is read for the secret at every fetch instead
	// of Secret (a secret file that rotates).
	SecretSource func() string
	// Source labels where the keys come from in logs and metrics: "stytch"
	// or "emulator".
	Source string
	// Transport carries the fetches; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout caps one fetch; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxResponseBytes caps the set's size; 0 means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// UserAgent is sent to Stytch.
	UserAgent string
	// MaxStale is how long past its expiry the last good set is served
	// while refreshes fail; 0 means DefaultMaxStale, a negative value never.
	MaxStale time.Duration
	// MinRefreshInterval spaces the refresh attempts that callers trigger
	// (an expired set, an unknown kid); 0 means DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration
	// Log receives a line per refresh that changes something, and per
	// failure; nil means slog.Default().
	Log *slog.Logger
	// OnHit, when set, is told of each call served from the cache without
	// waiting for a fetch.
	OnHit func()
	// OnRefresh, when set, is told of each fetch: its trigger and result.
	OnRefresh func(trigger, result string)
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Set is one key set as Stytch sent it.
type Set struct {
	// Raw is Stytch's body, served byte for byte; never changed.
	Raw []byte
	// Msg is Raw decoded; shared, never changed.
	Msg *b2bsessionv1.GetJwksResponse
	// ETag is Stytch's entity tag for Raw ("" when none).
	ETag string
	// Fetched is when Stytch last confirmed the set (200 or 304).
	Fetched time.Time
	// Expires is when it stops being fresh.
	Expires time.Time
}

// Has reports whether the set holds a key with this kid.
func (s *Set) Has(kid string) bool {
	for _, k := range s.Msg.GetKeys() {
		if k.GetKid() == kid {
			return true
		}
	}
	return false
}

// Cache holds attestd's project's key set; see the package doc. It is safe
// for concurrent use.
type Cache struct {
	opts Options
	url  string
	http *http.Client

	mu  sync.Mutex
	cur *Set // nil until a fetch succeeded
	// knownHeader is the last session JWT header whose kid cur has (Notice);
	// a new set clears it.
	knownHeader string
	lastTry     time.Time // start of the last fetch
	lastErr     error     // of the last fetch, nil after a success
	inflight    *flight   // the fetch under way, if any

	ready     chan struct{} // closed by the first successful fetch
	readyOnce sync.Once
}

// flight is one fetch that several callers may wait for.
type flight struct {
	done chan struct{}
	err  error
}

// New returns a Cache for the given options; nothing is fetched until the
// first Get.
func New(opts Options) *Cache {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	switch {
	case opts.MaxStale == 0:
		opts.MaxStale = DefaultMaxStale
	case opts.MaxStale < 0:
		opts.MaxStale = 0
	}
	if opts.MinRefreshInterval <= 0 {
		opts.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rt := opts.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &Cache{
		opts:  opts,
		ready: make(chan struct{}),
		url:   strings.TrimSuffix(opts.BaseURL, "/") + PathPrefix + url.PathEscape(opts.ProjectID),
		http: &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

// Source is Options.Source: where the keys come from.
func (c *Cache) Source() string { return c.opts.Source }

// ProjectID is the project whose keys the Cache serves.
func (c *Cache) ProjectID() string { return c.opts.ProjectID }

// Current is the last good set, fresh or not (nil before the first).
func (c *Cache) Current() *Set {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// Staleness is how long past its expiry the set is now (0 while fresh or
// before the first set), for the staleness gauge.
func (c *Cache) Staleness() time.Duration {
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	if cur == nil {
		return 0
	}
	return max(0, c.opts.Now().Sub(cur.Expires))
}

// Get returns the set to serve and how long callers may cache it. A fresh
// set is returned at once. An expired one is refreshed first (if no
// attempt was made within MinRefreshInterval, waiting for it within ctx);
// if that fails, it is still served, with maxAge 0, until MaxStale past its
// expiry. Otherwise the error is upstream_unavailable (or the error of the
// fetch, before any set was had).
func (c *Cache) Get(ctx context.Context) (set *Set, maxAge time.Duration, err error) {
	now := c.opts.Now()
	c.mu.Lock()
	cur := c.cur
	if cur != nil && now.Before(cur.Expires) {
		c.mu.Unlock()
		if c.opts.OnHit != nil {
			c.opts.OnHit()
		}
		return cur, cur.Expires.Sub(now), nil
	}
	trigger := TriggerExpired
	if cur == nil {
		trigger = TriggerInitial
	}
	f := c.startLocked(now, trigger, true)
	c.mu.Unlock()
	if f != nil {
		select {
		case <-f.done:
		case <-ctx.Done():
		}
	}
	now = c.opts.Now()
	c.mu.Lock()
	cur, lastErr := c.cur, c.lastErr
	c.mu.Unlock()
	switch {
	case cur != nil && now.Before(cur.Expires):
		return cur, cur.Expires.Sub(now), nil
	case cur != nil && now.Before(cur.Expires.Add(c.opts.MaxStale)):
		return cur, 0, nil
	case cur != nil:
		return nil, 0, apierr.UpstreamUnavailable.Wrap(lastErr, fmt.Sprintf(
			"Stytch's JWKS could not be refreshed and the last one expired %s ago, beyond ATTESTD_JWKS_MAX_STALE (%s)",
			now.Sub(cur.Expires).Round(time.Second), c.opts.MaxStale))
	}
	if lastErr == nil { // the caller gave up before the first fetch ended
		lastErr = apierr.UpstreamTimeout.Wrap(ctx.Err(), "Stytch's JWKS was not fetched within the call's deadline")
	}
	var e *apierr.Error
	if !errors.As(lastErr, &e) {
		e = apierr.UpstreamUnavailable.Wrap(lastErr, "Stytch's JWKS could not be fetched")
	}
	return nil, 0, e
}

// Notice looks at a session JWT attestd handed out: if its header names a
// kid the set lacks (Stytch rotated its keys), a refresh starts in the
// background, rate-limited by MinRefreshInterval. It never blocks.
func (c *Cache) Notice(sessionJWT string) {
	header, _, ok := strings.Cut(sessionJWT, ".")
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Notice runs on every successful attest: before any caller fetched the
	// set there is nothing to keep fresh, and a header the set is already
	// known to cover (Stytch signs with one key at a time) needs no decode.
	if c.cur == nil || header == c.knownHeader {
		return
	}
	kid := kidOf(header)
	switch {
	case kid == "":
	case c.cur.Has(kid):
		c.knownHeader = header
	default:
		c.startLocked(c.opts.Now(), TriggerUnknownKid, true)
	}
}

// kidOf is the kid of a JWS's protected header, base64url as in the token
// ("" when it has none or is not JSON).
func kidOf(header string) string {
	if len(header) > 4096 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return ""
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return ""
	}
	return h.Kid
}

// Run keeps the set fresh in the background once a caller has fetched it
// (nothing is fetched for a replica nobody asks): it refreshes the set at
// three quarters of its life (after a failure, every MinRefreshInterval),
// until ctx ends.
func (c *Cache) Run(ctx context.Context) {
	select {
	case <-c.ready:
	case <-ctx.Done():
		return
	}
	for {
		t := time.NewTimer(c.untilRefresh())
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		c.mu.Lock()
		f := c.startLocked(c.opts.Now(), TriggerBackground, false)
		c.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return
		}
	}
}

// untilRefresh is how long Run waits before its next refresh.
func (c *Cache) untilRefresh() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.lastErr != nil {
		return c.opts.MinRefreshInterval
	}
	life := c.cur.Expires.Sub(c.cur.Fetched)
	return max(c.cur.Fetched.Add(life*3/4).Sub(c.opts.Now()), c.opts.MinRefreshInterval)
}

// startLocked starts a fetch unless one is under way (whose flight it
// returns) or, when limited, one started within MinRefreshInterval (then
// nil). c.mu is held.
func (c *Cache) startLocked(now time.Time, trigger string, limited bool) *flight {
	if c.inflight != nil {
		return c.inflight
	}
	if limited && !c.lastTry.IsZero() && now.Sub(c.lastTry) < c.opts.MinRefreshInterval {
		return nil
	}
	f := &flight{done: make(chan struct{})}
	c.inflight, c.lastTry = f, now
	var etag string
	var raw []byte
	if c.cur != nil {
		etag, raw = c.cur.ETag, c.cur.Raw
	}
	go c.fetch(f, trigger, etag, raw)
	return f
}

// fetch asks for the set (conditionally, when there is one with an ETag)
// and records the outcome. It runs on its own, bounded by Timeout, so a
// caller giving up does not cancel it for the others.
func (c *Cache) fetch(f *flight, trigger, etag string, prev []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	set, result, err := c.get(ctx, etag, prev)
	now := c.opts.Now()

	c.mu.Lock()
	stale := time.Duration(0)
	if err == nil {
		c.cur, c.lastErr, c.knownHeader = set, nil, ""
		c.readyOnce.Do(func() { close(c.ready) })
	} else {
		c.lastErr = err
		if c.cur != nil {
			stale = max(0, now.Sub(c.cur.Expires))
		}
	}
	c.inflight = nil
	f.err = err
	close(f.done)
	c.mu.Unlock()

	if c.opts.OnRefresh != nil {
		c.opts.OnRefresh(trigger, result)
	}
	switch {
	case err != nil:
		c.opts.Log.Warn("jwks refresh failed", "source", c.opts.Source, "trigger", trigger,
			"error", err.Error(), "stale_seconds", int64(stale.Seconds()))
	case result == ResultOK:
		kids := make([]string, 0, len(set.Msg.GetKeys()))
		for _, k := range set.Msg.GetKeys() {
			kids = append(kids, k.GetKid())
		}
		c.opts.Log.Info("jwks refreshed", "source", c.opts.Source, "trigger", trigger, "kids", kids,
			"max_age_seconds", int64(set.Expires.Sub(set.Fetched).Seconds()))
	default:
		c.opts.Log.Debug("jwks unchanged", "source", c.opts.Source, "trigger", trigger)
	}
}

// get is one HTTP exchange with Stytch.
func (c *Cache) get(ctx context.Context, etag string, prev []byte) (*Set, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, ResultError, apierr.Internal.Wrap(err, "cannot build the JWKS request")
	}
	secret := c.opts.Secret
	if c.opts.SecretSource != nil {
		secret = c.opts.SecretSource()
	}
	req.SetBasicAuth(c.opts.ProjectID, secret)
	req.Header.Set("Accept", "application/json")
	if c.opts.UserAgent != "" {
		req.Header.Set("User-Agent", c.opts.UserAgent)
	}
	if etag != "" && prev != nil {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ResultError, apierr.UpstreamTimeout.Wrap(err, "Stytch did not answer the JWKS request in time")
		}
		return nil, ResultError, apierr.UpstreamUnavailable.Wrap(err, "Stytch could not be reached for the JWKS")
	}
	defer resp.Body.Close()
	now := c.opts.Now()
	if resp.StatusCode == http.StatusNotModified && prev != nil {
		set, err := c.decode(prev, etag, resp.Header, now)
		return set, ResultNotModified, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxResponseBytes+1))
	switch {
	case err != nil:
		return nil, ResultError, apierr.UpstreamUnavailable.Wrap(err, "Stytch broke off its JWKS answer")
	case int64(len(raw)) > c.opts.MaxResponseBytes:
		return nil, ResultError, apierr.UpstreamResponseTooLarge.New(fmt.Sprintf("Stytch's JWKS exceeds %d bytes", c.opts.MaxResponseBytes))
	case resp.StatusCode != http.StatusOK:
		return nil, ResultError, stytchError(resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, ResultError, apierr.UpstreamInvalidResponse.New(fmt.Sprintf("Stytch's JWKS answer is %q, not JSON", ct))
		}
	}
	etag = resp.Header.Get("ETag")
	set, err := c.decode(raw, etag, resp.Header, now)
	return set, ResultOK, err
}

// decode makes a Set of Stytch's body, fresh from now for the max-age of
// header.
func (c *Cache) decode(raw []byte, etag string, header http.Header, now time.Time) (*Set, error) {
	msg := &b2bsessionv1.GetJwksResponse{}
	if err := translate.Unmarshal(raw, msg, nil); err != nil {
		return nil, apierr.UpstreamInvalidResponse.Wrap(err, "Stytch's JWKS answer is not a key set")
	}
	if len(msg.GetKeys()) == 0 {
		return nil, apierr.UpstreamInvalidResponse.New("Stytch's JWKS answer holds no key")
	}
	return &Set{Raw: raw, Msg: msg, ETag: etag, Fetched: now, Expires: now.Add(maxAge(header.Get("Cache-Control")))}, nil
}

// maxAge reads a Cache-Control header's max-age (no-store and no-cache
// mean 0: refresh on every expiry check, rate-limited), DefaultMaxAge when
// it has none, capped at MaxMaxAge.
func maxAge(cacheControl string) time.Duration {
	for _, d := range strings.Split(cacheControl, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return 0
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
			if err != nil || n < 0 {
				return DefaultMaxAge
			}
			return min(time.Duration(n)*time.Second, MaxMaxAge)
		}
	}
	return DefaultMaxAge
}

// stytchError is Stytch's error answer as an *apierr.Error: its own error
// when the body is one, else attestd's upstream_error naming the status.
func stytchError(code int, raw []byte) *apierr.Error {
	var w struct {
		RequestID    string `json:"request_id"`
		ErrorType    string `json:"error_type"`
		ErrorMessage string `json:"error_message"`
		ErrorURL     string `json:"error_url"`
	}
	if json.NewDecoder(bytes.NewReader(raw)).Decode(&w) != nil || w.ErrorType == "" {
		return apierr.UpstreamError(code)
	}
	if code == http.StatusUnauthorized && w.ErrorType == apierr.TypeUnauthorizedCredentials {
		// attestd's own credentials, not the caller's: as upstream does for attest.
		return apierr.UpstreamCredentialsRejected.New("Stytch rejected attestd's project credentials (project ID and secret) for the JWKS: attestd is misconfigured")
	}
	return apierr.FromStytch(code, &errorv1.StytchError{
		RequestId: w.RequestID, ErrorType: w.ErrorType, ErrorMessage: w.ErrorMessage, ErrorUrl: w.ErrorURL,
	}).Bound()
}
