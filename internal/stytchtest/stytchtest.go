// Package stytchtest is a fake Stytch for tests: an httptest server on
// loopback that speaks Stytch's real wire format (Basic auth, JSON bodies,
// Stytch error shapes), serving the emulator's invented fixture payloads
// (package wiretest).
package stytchtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/attestd/attestd/emulator/wire/wiretest"
	"github.com/attestd/attestd/internal/testkit/memnet"
)

// Credentials the fake accepts.
const (
	ProjectID = "project-test-00000000-0000-4000-8000-000000000000"
	Secret    = "secret-test-c2VjcmV0LWZvci10ZXN0cy1vbmx5"
)

// Fixture returns one of the emulator's wire fixtures (package wiretest):
// "attest-response-full.json", "attest-response-typical.json" or
// "attest-error.json".
func Fixture(name string) []byte {
	b, err := wiretest.Fixtures.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

// Full is Stytch's answer with every field at every level populated.
func Full() []byte { return Fixture("attest-response-full.json") }

// Typical is a realistic single-factor answer (~9 KB).
func Typical() []byte { return Fixture("attest-response-typical.json") }

// Request is what the fake received.
type Request struct {
	// Method and Path of the call.
	Method, Path string
	// Header as sent.
	Header http.Header
	// Body as sent.
	Body []byte
}

// Server is a fake Stytch. Handler decides each answer; by default it is
// Respond(200, Typical()).
type Server struct {
	*httptest.Server
	calls   atomic.Int64
	mu      sync.Mutex
	last    *Request
	handler http.Handler
	mem     *memnet.Listener // nil on loopback
}

// NewServer starts a fake Stytch on loopback, closed when the test ends.
// Calls with wrong credentials get Stytch's 401 before reaching the handler.
func NewServer(tb testing.TB) *Server {
	s := &Server{handler: Respond(http.StatusOK, Typical())}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// NewInMemoryServer is NewServer on an in-memory network instead of
// loopback, for tests inside a testing/synctest bubble (make it there):
// callers reach it only through DialContext.
func NewInMemoryServer(tb testing.TB) *Server {
	s := &Server{handler: Respond(http.StatusOK, Typical()), mem: memnet.Listen()}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Listener.Close() // the loopback one it made: unused
	s.Listener = s.mem
	s.Start()
	tb.Cleanup(s.Close)
	return s
}

// DialContext connects to the fake, whatever address it is given; it fits
// http.Transport.DialContext.
func (s *Server) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if s.mem != nil {
		return s.mem.DialContext(ctx, network, address)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.Listener.Addr().String())
}

// Handle replaces the answer for subsequent calls.
func (s *Server) Handle(h http.Handler) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

// Calls is how many calls reached the fake.
func (s *Server) Calls() int64 { return s.calls.Load() }

// Last is the most recent call (nil before the first).
func (s *Server) Last() *Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	s.last = &Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	h := s.handler
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte(ProjectID+":"+Secret)) {
		Error(http.StatusUnauthorized, "unauthorized_credentials", "Unauthorized credentials.").ServeHTTP(w, r)
		return
	}
	h.ServeHTTP(w, r)
}

// Respond answers every call with status and body as JSON.
func Respond(status int, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

// ErrorBody renders a Stytch error body.
func ErrorBody(status int, errorType, message string) []byte {
	b, _ := json.Marshal(map[string]any{
		"status_code":   status,
		"request_id":    "request-id-test-fake-0001",
		"error_type":    errorType,
		"error_message": message,
		"error_url":     fmt.Sprintf("https://stytch.com/docs/api-reference/b2b/api/errors/%d#%s", status, errorType),
	})
	return b
}

// Error answers every call with a Stytch error.
func Error(status int, errorType, message string) http.Handler {
	return Respond(status, ErrorBody(status, errorType, message))
}

// JSONEqual reports whether a and b are the same JSON value (parsed, so
// whitespace and key order do not matter).
func JSONEqual(tb testing.TB, a, b []byte) bool {
	tb.Helper()
	return reflect.DeepEqual(Parse(tb, a), Parse(tb, b))
}

// Parse decodes JSON into generic values, failing the test on bad JSON.
func Parse(tb testing.TB, b []byte) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("invalid JSON %q: %v", truncate(b), err)
	}
	return v
}

func truncate(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}
