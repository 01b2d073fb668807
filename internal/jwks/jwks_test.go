package jwks_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/jwks"
	"github.com/attestd/attestd/internal/testkit/fakeclock"
	"github.com/attestd/attestd/internal/verbatim"
)

const (
	project = "project-test-11111111-1111-4111-8111-111111111111"
	secret  = "secret-test-jwks"
)

// fakeStytch answers GET /v1/b2b/sessions/jwks/{project} as Stytch does:
// Stytch's JSON, an ETag, Cache-Control max-age, 304 for a matching
// If-None-Match; down, it answers 500 with Stytch's error shape.
type fakeStytch struct {
	t        *testing.T
	mu       sync.Mutex
	kids     []string
	maxAge   int
	down     bool
	requests []*http.Request
}

func (f *fakeStytch) body() string {
	keys := ""
	for i, kid := range f.kids {
		if i > 0 {
			keys += ","
		}
		// Stytch's keys, x5tS256 (not mirrored) included.
		keys += fmt.Sprintf(`{"alg":"RS256","e":"AQAB","key_ops":["verify"],"kid":%q,"kty":"RSA","n":"sXch","use":"sig","x5c":["MIIC"],"x5tS256":"abc"}`, kid)
	}
	return `{"keys":[` + keys + `],"request_id":"request-id-test-55555555-5555-4555-8555-555555555555","status_code":200}`
}

func (f *fakeStytch) etag() string { return fmt.Sprintf(`"%x"`, len(f.kids)) }

func (f *fakeStytch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	if f.down {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		io.WriteString(w, `{"status_code":500,"request_id":"request-id-test-x","error_type":"internal_server_error","error_message":"Oops","error_url":"https://stytch.com/docs/api/errors/500"}`)
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != project || p != secret {
		w.WriteHeader(401)
		io.WriteString(w, `{"status_code":401,"request_id":"r","error_type":"unauthorized_credentials","error_message":"Unauthorized credentials.","error_url":""}`)
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != "/v1/b2b/sessions/jwks/"+project {
		w.WriteHeader(404)
		io.WriteString(w, `{"status_code":404,"request_id":"r","error_type":"project_not_found","error_message":"Project not found.","error_url":""}`)
		return
	}
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", f.maxAge))
	w.Header().Set("ETag", f.etag())
	if r.Header.Get("If-None-Match") == f.etag() {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	io.WriteString(w, f.body())
}

func (f *fakeStytch) set(fn func(f *fakeStytch)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeStytch) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func (f *fakeStytch) last() *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

// refreshes records OnRefresh.
type refreshes struct {
	mu   sync.Mutex
	seen []string
	hits int
}

func (r *refreshes) add(trigger, result string) {
	r.mu.Lock()
	r.seen = append(r.seen, trigger+"/"+result)
	r.mu.Unlock()
}

func (r *refreshes) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func newCache(t *testing.T, f *fakeStytch, maxStale time.Duration) (*jwks.Cache, *fakeclock.Clock, *refreshes) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	clk := fakeclock.New(time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
	rec := &refreshes{}
	c := jwks.New(jwks.Options{
		BaseURL: srv.URL, ProjectID: project, Secret: secret, Source: "stytch",
		MaxStale: maxStale, Now: clk.Now, Timeout: 5 * time.Second,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnRefresh: rec.add,
		OnHit:     func() { rec.mu.Lock(); rec.hits++; rec.mu.Unlock() },
	})
	return c, clk, rec
}

func mustGet(t *testing.T, c *jwks.Cache) (*jwks.Set, time.Duration) {
	t.Helper()
	set, maxAge, err := c.Get(context.Background())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return set, maxAge
}

// TestMaxAgeETagAnd304: Stytch's max-age sets the freshness, the set is
// served from the cache meanwhile, and once expired it is revalidated with
// If-None-Match; a 304 renews it, bytes unchanged.
func TestMaxAgeETagAnd304(t *testing.T) {
	f := &fakeStytch{t: t, kids: []string{"jwk-test-1"}, maxAge: 60}
	c, clk, rec := newCache(t, f, time.Hour)

	set, maxAge := mustGet(t, c)
	if string(set.Raw) != f.body() {
		t.Errorf("raw %s, want Stytch's bytes %s", set.Raw, f.body())
	}
	if maxAge != 60*time.Second || set.ETag != `"1"` {
		t.Errorf("max-age %s, etag %s; want 60s, \"1\"", maxAge, set.ETag)
	}
	if r := f.last(); r.Header.Get("If-None-Match") != "" || r.Header.Get("Accept") != "application/json" {
		t.Errorf("first fetch headers %v", r.Header)
	}

	clk.Advance(30 * time.Second)
	if _, maxAge = mustGet(t, c); maxAge != 30*time.Second {
		t.Errorf("after 30 s: max-age %s, want 30s", maxAge)
	}
	if f.count() != 1 || rec.hits != 1 {
		t.Errorf("%d fetches, %d hits; want 1 and 1", f.count(), rec.hits)
	}

	clk.Advance(31 * time.Second) // expired
	set2, maxAge := mustGet(t, c)
	if f.count() != 2 || f.last().Header.Get("If-None-Match") != `"1"` {
		t.Errorf("%d fetches, If-None-Match %q; want a conditional second fetch", f.count(), f.last().Header.Get("If-None-Match"))
	}
	if string(set2.Raw) != f.body() || maxAge != 60*time.Second {
		t.Errorf("after 304: raw %s, max-age %s", set2.Raw, maxAge)
	}
	if got := rec.list(); len(got) != 2 || got[0] != "initial/ok" || got[1] != "expired/not_modified" {
		t.Errorf("refreshes %v", got)
	}
}

// TestUnknownKidRefreshIsRateLimited: a session JWT naming a kid the set
// lacks triggers a refresh, at most one per MinRefreshInterval (10 s).
func TestUnknownKidRefreshIsRateLimited(t *testing.T) {
	f := &fakeStytch{t: t, kids: []string{"jwk-test-1"}, maxAge: 3600}
	c, clk, rec := newCache(t, f, time.Hour)
	mustGet(t, c)

	c.Notice(jwtWithKid("jwk-test-1")) // known: nothing
	f.set(func(f *fakeStytch) { f.kids = []string{"jwk-test-1", "jwk-test-2"} })
	c.Notice(jwtWithKid("jwk-test-2")) // within 10 s of the first fetch: nothing
	time.Sleep(20 * time.Millisecond)
	if f.count() != 1 {
		t.Fatalf("%d fetches, want 1", f.count())
	}
	clk.Advance(10 * time.Second)
	c.Notice(jwtWithKid("jwk-test-2"))
	waitFor(t, func() bool { return c.Current().Has("jwk-test-2") })
	if f.count() != 2 {
		t.Fatalf("%d fetches, want 2", f.count())
	}

	clk.Advance(5 * time.Second)
	for range 20 {
		c.Notice(jwtWithKid("jwk-test-3"))
	}
	time.Sleep(50 * time.Millisecond)
	if f.count() != 2 {
		t.Errorf("%d fetches within 10 s of the last, want none more", f.count())
	}
	clk.Advance(5 * time.Second)
	c.Notice(jwtWithKid("jwk-test-3"))
	waitFor(t, func() bool { return f.count() == 3 })
	waitFor(t, func() bool { return len(rec.list()) == 3 })
	if got := rec.list(); got[1] != "unknown_kid/ok" || got[2] != "unknown_kid/not_modified" {
		t.Errorf("refreshes %v", got)
	}

	// Tokens without a kid start nothing: had they started a refresh, the
	// rate limit would hold back the one for jwk-test-4.
	clk.Advance(10 * time.Second)
	c.Notice("not a jwt")
	c.Notice("")
	c.Notice("e30.e30.c2ln") // a header without a kid
	f.set(func(f *fakeStytch) { f.kids = []string{"jwk-test-4"} })
	c.Notice(jwtWithKid("jwk-test-4"))
	waitFor(t, func() bool { return c.Current().Has("jwk-test-4") })
	if f.count() != 4 {
		t.Errorf("%d fetches, want 4: one per unknown kid, none for tokens without one", f.count())
	}
}

// TestNoticeBeforeAnyFetchAndAfterRotation: before any caller fetched the
// set, Notice fetches nothing; a header Notice found covered is checked
// again once a new set has dropped its key.
func TestNoticeBeforeAnyFetchAndAfterRotation(t *testing.T) {
	f := &fakeStytch{t: t, kids: []string{"jwk-test-1"}, maxAge: 3600}
	c, clk, _ := newCache(t, f, time.Hour)
	c.Notice(jwtWithKid("jwk-test-9"))
	mustGet(t, c)
	if f.count() != 1 {
		t.Fatalf("%d fetches, want 1: Notice fetched before any caller asked", f.count())
	}

	c.Notice(jwtWithKid("jwk-test-1")) // covered: remembered
	// The fake's ETag is the number of keys: each set differs in size.
	f.set(func(f *fakeStytch) { f.kids = []string{"jwk-test-2", "jwk-test-3"} })
	clk.Advance(10 * time.Second)
	c.Notice(jwtWithKid("jwk-test-2"))
	waitFor(t, func() bool { return c.Current().Has("jwk-test-2") && !c.Current().Has("jwk-test-1") })
	f.set(func(f *fakeStytch) { f.kids = []string{"jwk-test-1", "jwk-test-2", "jwk-test-3"} })
	clk.Advance(10 * time.Second)
	c.Notice(jwtWithKid("jwk-test-1")) // no longer covered: refresh
	waitFor(t, func() bool { return c.Current().Has("jwk-test-1") })
	if f.count() != 3 {
		t.Errorf("%d fetches, want 3", f.count())
	}
}

// TestStaleThen503: while Stytch is down the last good set is served, with
// max-age=0, for MaxStale past its expiry; then callers get 503
// upstream_unavailable. Refresh attempts meanwhile are rate-limited.
func TestStaleThen503(t *testing.T) {
	f := &fakeStytch{t: t, kids: []string{"jwk-test-1"}, maxAge: 60}
	c, clk, rec := newCache(t, f, 2*time.Minute)
	good, _ := mustGet(t, c)
	f.set(func(f *fakeStytch) { f.down = true })

	clk.Advance(61 * time.Second)
	set, maxAge := mustGet(t, c)
	if set != good || maxAge != 0 {
		t.Errorf("stale: set %p (want %p), max-age %s (want 0)", set, good, maxAge)
	}
	if got := c.Staleness(); got != time.Second {
		t.Errorf("staleness %s, want 1s", got)
	}
	for range 5 { // within 10 s of the failed attempt: no new one
		mustGet(t, c)
	}
	if f.count() != 2 {
		t.Errorf("%d fetches, want 2 (one failed refresh, rate-limited)", f.count())
	}

	clk.Advance(2 * time.Minute) // 121 s past expiry
	_, _, err := c.Get(context.Background())
	var e *apierr.Error
	if !errors.As(err, &e) || e.Body.GetStatusCode() != 503 || e.Body.GetErrorType() != apierr.TypeUpstreamUnavailable {
		t.Fatalf("past MaxStale: %v, want 503 upstream_unavailable", err)
	}

	f.set(func(f *fakeStytch) { f.down = false })
	clk.Advance(10 * time.Second)
	if _, maxAge = mustGet(t, c); maxAge != 60*time.Second {
		t.Errorf("Stytch back: max-age %s, want 60s", maxAge)
	}
	t.Logf("refreshes: %v", rec.list())
}

// TestNoStaleWhenZero: MaxStale < 0 never serves an expired set.
func TestNoStaleWhenZero(t *testing.T) {
	f := &fakeStytch{t: t, kids: []string{"jwk-test-1"}, maxAge: 60}
	c, clk, _ := newCache(t, f, -1)
	mustGet(t, c)
	f.set(func(f *fakeStytch) { f.down = true })
	clk.Advance(61 * time.Second)
	if _, _, err := c.Get(context.Background()); apierr.From(err).Body.GetStatusCode() != 503 {
		t.Errorf("got %v, want 503", err)
	}
}

// TestFirstFetchFails: with no set yet, the caller gets the fetch's error.
func TestFirstFetchFails(t *testing.T) {
	f := &fakeStytch{t: t, kids: []string{"jwk-test-1"}, maxAge: 60, down: true}
	c, _, _ := newCache(t, f, time.Hour)
	_, _, err := c.Get(context.Background())
	e := apierr.From(err)
	if e.Body.GetStatusCode() != 500 || e.Body.GetErrorType() != "internal_server_error" {
		t.Errorf("got %v, want Stytch's 500", err)
	}
}

// TestWrongSecret: Stytch refusing attestd's credentials is attestd's
// misconfiguration (503 upstream_credentials_rejected), not the caller's 401.
func TestWrongSecret(t *testing.T) {
	f := &fakeStytch{t: t, kids: []string{"jwk-test-1"}, maxAge: 60}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := jwks.New(jwks.Options{BaseURL: srv.URL, ProjectID: project, Secret: "wrong", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	_, _, err := c.Get(context.Background())
	if e := apierr.From(err); e.Body.GetErrorType() != apierr.TypeUpstreamCredentialsRejected || e.Body.GetStatusCode() != 503 {
		t.Errorf("got %v, want 503 upstream_credentials_rejected", err)
	}
}

// TestGetJwks: the RPC serves Stytch's bytes verbatim for attestd's own
// project and Stytch's 404 project_not_found for any other.
func TestGetJwks(t *testing.T) {
	f := &fakeStytch{t: t, kids: []string{"jwk-test-1"}, maxAge: 60}
	c, _, _ := newCache(t, f, time.Hour)

	ctx, slot := verbatim.WithSlot(context.Background())
	resp, err := c.GetJwks(ctx, &b2bsessionv1.GetJwksRequest{ProjectId: project})
	if err != nil {
		t.Fatal(err)
	}
	if raw, ok := slot.Bytes(resp); !ok || string(raw) != f.body() {
		t.Errorf("verbatim bytes %s (%v), want Stytch's", raw, ok)
	}
	if len(resp.GetKeys()) != 1 || resp.GetKeys()[0].GetKid() != "jwk-test-1" || resp.GetKeys()[0].GetN() != "sXch" {
		t.Errorf("decoded %v", resp)
	}

	_, err = c.GetJwks(context.Background(), &b2bsessionv1.GetJwksRequest{ProjectId: "project-test-other"})
	e := apierr.From(err)
	if e.Body.GetStatusCode() != 404 || e.Body.GetErrorType() != apierr.TypeProjectNotFound {
		t.Errorf("other project: %v, want 404 project_not_found", err)
	}
	if f.count() != 1 {
		t.Errorf("%d fetches, want 1 (another project asks Stytch nothing)", f.count())
	}
	if got := jwks.CacheControl(59900 * time.Millisecond); got != "public, max-age=59" {
		t.Errorf("CacheControl %q", got)
	}
}

// TestRunRefreshesInTheBackground: Run waits for the first caller's fetch,
// then refreshes before the set expires (max-age 1 s: at 0.75 s).
func TestRunRefreshesInTheBackground(t *testing.T) {
	f := &fakeStytch{t: t, kids: []string{"jwk-test-1"}, maxAge: 1}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var mu sync.Mutex
	var seen []string
	c := jwks.New(jwks.Options{BaseURL: srv.URL, ProjectID: project, Secret: secret,
		MinRefreshInterval: 100 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnRefresh: func(trigger, result string) { mu.Lock(); seen = append(seen, trigger+"/"+result); mu.Unlock() }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	time.Sleep(150 * time.Millisecond)
	if f.count() != 0 {
		t.Errorf("Run fetched %d times before any caller asked", f.count())
	}
	mustGet(t, c)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= 2 })
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if seen[0] != "initial/ok" || seen[1] != "background/not_modified" {
		t.Errorf("refreshes %v", seen)
	}
	if c.Staleness() != 0 {
		t.Errorf("staleness %s while refreshed in time", c.Staleness())
	}
}

func jwtWithKid(kid string) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"` + kid + `","typ":"JWT"}`))
	return h + ".e30.c2ln"
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
