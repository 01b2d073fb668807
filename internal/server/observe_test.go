package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/observe"
	"github.com/attestd/attestd/internal/security"
	"github.com/attestd/attestd/internal/server"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/testkit/logsink"
	"github.com/attestd/attestd/internal/version"
)

// The IdP token validRequest and validJSON carry.
const obsToken = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"

// startWith is start with server options (a span exporter), same
// configuration, logs kept in h.logs.
func startWith(t *testing.T, opts []server.Option, mutate ...func(*config.Config)) *harness {
	t.Helper()
	logs := &logsink.Logs{}
	h := startServer(t, logs, opts, mutate...)
	h.logs = logs
	return h
}

// spanSink is an in-memory exporter that signals each export, so a test
// waits for the spans it expects instead of sleeping: server spans end
// after the response has left, so a caller can see its answer first.
type spanSink struct {
	*tracetest.InMemoryExporter
	exported chan struct{}
}

func newSpanSink() *spanSink {
	return &spanSink{InMemoryExporter: tracetest.NewInMemoryExporter(), exported: make(chan struct{}, 1)}
}

func (s *spanSink) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := s.InMemoryExporter.ExportSpans(ctx, spans)
	select {
	case s.exported <- struct{}{}:
	default:
	}
	return err
}

// await returns the exported spans once there are at least n.
func (s *spanSink) await(t *testing.T, c context.Context, n int) tracetest.SpanStubs {
	t.Helper()
	for {
		if spans := s.GetSpans(); len(spans) >= n {
			return spans
		}
		select {
		case <-s.exported:
		case <-c.Done():
			t.Fatalf("waited for %d spans, have %d: %v", n, len(s.GetSpans()), spanNames(s.GetSpans()))
		}
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.SpanKind.String()+" "+s.Name)
	}
	return out
}

// adminGet fetches a path on the admin listener, on a connection of its own.
func adminGet(t *testing.T, h *harness, path string) (int, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, "http://"+h.srv.AdminAddr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// scrape reads /metrics from the admin listener, parsed.
func scrape(t *testing.T, h *harness) map[string]*dto.MetricFamily {
	t.Helper()
	code, body, err := adminGet(t, h, "/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

func metricLabels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// series is the one series of family name whose labels include want (nil
// if none); more than one match fails the test.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	var found *dto.Metric
	for _, m := range fams[name].GetMetric() {
		got := metricLabels(m)
		match := true
		for k, v := range want {
			if gv, ok := got[k]; !ok || gv != v {
				match = false
				break
			}
		}
		if match {
			if found != nil {
				t.Fatalf("%s%v matches more than one series", name, want)
			}
			found = m
		}
	}
	return found
}

// counter is a counter's value (0 when the series does not exist).
func counter(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	return series(t, fams, name, labels).GetCounter().GetValue()
}

// histCount is a histogram's sample count (0 when the series does not
// exist).
func histCount(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) uint64 {
	t.Helper()
	return series(t, fams, name, labels).GetHistogram().GetSampleCount()
}

func gauge(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	m := series(t, fams, name, nil)
	if m == nil {
		t.Fatalf("no %s", name)
	}
	return m.GetGauge().GetValue()
}

// fixtureRequestID is the request_id of the typical answer.
func fixtureRequestID(t *testing.T) string {
	t.Helper()
	var v struct {
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(stytchtest.Typical(), &v); err != nil || v.RequestID == "" {
		t.Fatalf("typical fixture request_id: %v", err)
	}
	return v.RequestID
}

// fixtureSecrets are values from the typical answer that must never be
// observable: the session credentials and the member's email.
func fixtureSecrets(t *testing.T) map[string]string {
	t.Helper()
	var v struct {
		SessionToken string `json:"session_token"`
		SessionJWT   string `json:"session_jwt"`
		Member       struct {
			Email string `json:"email_address"`
		} `json:"member"`
	}
	if err := json.Unmarshal(stytchtest.Typical(), &v); err != nil {
		t.Fatal(err)
	}
	if v.SessionToken == "" || v.SessionJWT == "" || v.Member.Email == "" {
		t.Fatal("typical fixture lacks session_token, session_jwt or email")
	}
	return map[string]string{
		"IdP token":     obsToken,
		"Stytch secret": stytchtest.Secret,
		"basic auth":    base64.StdEncoding.EncodeToString([]byte(stytchtest.ProjectID + ":" + stytchtest.Secret)),
		"session_token": v.SessionToken,
		"session_jwt":   v.SessionJWT,
		"email":         v.Member.Email,
	}
}

var allCodes = func() map[string]bool {
	m := map[string]bool{}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		m[c.String()] = true
	}
	return m
}()

// checkCardinality asserts every label of every attestd_* family takes its
// value from a small bounded set, and that no label value anywhere carries
// a token, secret, email or Stytch ID.
func checkCardinality(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	secrets := fixtureSecrets(t)
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for k, v := range metricLabels(m) {
				for what, s := range secrets {
					if strings.Contains(v, s) {
						t.Errorf("%s label %s carries the %s", name, k, what)
					}
				}
				for _, bad := range []string{"member-", "organization-", "@", "request-id-", "attestd-"} {
					if strings.Contains(v, bad) {
						t.Errorf("%s label %s=%q contains %q", name, k, v, bad)
					}
				}
				var ok bool
				switch {
				case strings.HasPrefix(name, "attestd_"):
					switch k {
					case "protocol":
						ok = v == "grpc" || v == "rest"
					case "code":
						ok = allCodes[v]
					case "error_type":
						ok = observe.ErrorTypeLabel(v) == v
					case "status":
						n, err := strconv.Atoi(v)
						ok = err == nil && (n == 0 || (n >= 100 && n <= 599)) && strconv.Itoa(n) == v
					case "reason":
						ok = v == "caller" || v == "auth_failure" || v == "upstream_budget"
					case "version":
						ok = v == version.Version()
					case "mode":
						ok = v == "stytch" || v == "emulator"
					case "file":
						ok = v == "stytch_secret" || v == "auth_tokens"
					case "result":
						ok = v == "ok" || v == "error" || v == "not_modified"
					case "source":
						ok = v == "stytch" || v == "emulator"
					case "trigger":
						ok = v == "initial" || v == "background" || v == "expired" || v == "unknown_kid"
					case "path":
						ok = len(v) <= 256 // drift paths; the log folds past 256 into "(other)"
					}
				default:
					ok = true // Go and process collectors
				}
				if !ok {
					t.Errorf("%s label %s=%q is outside its bounded set", name, k, v)
				}
			}
		}
	}
}

// TestMetricsScrape: calls over both protocols, successes and a Stytch
// error, are counted by protocol, code and error_type on the admin
// listener's /metrics, with bounded labels only.
func TestMetricsScrape(t *testing.T) {
	h := start(t)
	for range 2 {
		if _, err := h.client.Attest(ctx(t), validRequest()); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, body := h.post(t, "/v1/b2b/sessions/attest", validJSON); code != 200 {
		t.Fatalf("REST: %d %s", code, body)
	}
	h.stytch.Handle(stytchtest.Error(400, "invalid_trusted_auth_token", "bad"))
	if _, err := h.client.Attest(ctx(t), validRequest()); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("gRPC with Stytch's 400: %v", err)
	}
	if code, _, body := h.post(t, "/v1/b2b/sessions/attest", validJSON); code != 400 {
		t.Fatalf("REST with Stytch's 400: %d %s", code, body)
	}

	fams := scrape(t, h)
	calls := []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"protocol": "grpc", "code": "OK", "error_type": ""}, 2},
		{map[string]string{"protocol": "rest", "code": "OK", "error_type": ""}, 1},
		{map[string]string{"protocol": "grpc", "code": "InvalidArgument", "error_type": "invalid_trusted_auth_token"}, 1},
		{map[string]string{"protocol": "rest", "code": "InvalidArgument", "error_type": "invalid_trusted_auth_token"}, 1},
	}
	total := 0.0
	for _, c := range calls {
		if v := counter(t, fams, "attestd_attest_calls_total", c.labels); v != c.want {
			t.Errorf("attestd_attest_calls_total%v = %v, want %v", c.labels, v, c.want)
		}
		total += c.want
	}
	sum := 0.0
	for _, m := range fams["attestd_attest_calls_total"].GetMetric() {
		sum += m.GetCounter().GetValue()
	}
	if sum != total {
		t.Errorf("attestd_attest_calls_total sums to %v over all series, want %v", sum, total)
	}
	for proto, want := range map[string]uint64{"grpc": 3, "rest": 2} {
		if n := histCount(t, fams, "attestd_attest_duration_seconds", map[string]string{"protocol": proto}); n != want {
			t.Errorf("attestd_attest_duration_seconds{protocol=%q} count %d, want %d", proto, n, want)
		}
	}
	// Calls are counted once, by attestd_attest_*: grpc-ecosystem's
	// grpc_server_* series are neither fed nor exposed.
	for name := range fams {
		if strings.HasPrefix(name, "grpc_") {
			t.Errorf("/metrics exposes %s", name)
		}
	}
	if n := histCount(t, fams, "attestd_upstream_request_duration_seconds", map[string]string{"status": "200", "error_type": ""}); n != 3 {
		t.Errorf("upstream attempts {200,\"\"} = %d, want 3", n)
	}
	if n := histCount(t, fams, "attestd_upstream_request_duration_seconds", map[string]string{"status": "400", "error_type": "invalid_trusted_auth_token"}); n != 2 {
		t.Errorf("upstream attempts {400,invalid_trusted_auth_token} = %d, want 2", n)
	}
	if v := gauge(t, fams, "attestd_upstream_breaker_state"); v != 0 {
		t.Errorf("attestd_upstream_breaker_state = %v, want 0 (closed)", v)
	}
	if v := gauge(t, fams, "attestd_upstream_in_flight"); v != 0 {
		t.Errorf("attestd_upstream_in_flight = %v after the calls, want 0", v)
	}
	if v := gauge(t, fams, "attestd_upstream_queued"); v != 0 {
		t.Errorf("attestd_upstream_queued = %v, want 0", v)
	}
	if m := series(t, fams, "attestd_build_info", map[string]string{"version": version.Version()}); m.GetGauge().GetValue() != 1 {
		t.Errorf("attestd_build_info{version=%q} = %v", version.Version(), m.GetGauge().GetValue())
	}
	for _, r := range []string{"caller", "auth_failure", "upstream_budget"} {
		if series(t, fams, "attestd_rate_limited_total", map[string]string{"reason": r}) == nil {
			t.Errorf("attestd_rate_limited_total{reason=%q} missing: it should be present at 0", r)
		}
	}
	checkCardinality(t, fams)
}

// TestRateLimitedMetric: a refusal by the per-caller limit is counted with
// reason "caller", over either protocol.
func TestRateLimitedMetric(t *testing.T) {
	h := start(t, func(c *config.Config) { c.RateLimit, c.RateBurst = 1, 1 })
	if _, err := h.client.Attest(ctx(t), validRequest()); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if _, err := h.client.Attest(ctx(t), validRequest()); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second call within the second: %v, want ResourceExhausted", err)
	}
	fams := scrape(t, h)
	if v := counter(t, fams, "attestd_rate_limited_total", map[string]string{"reason": "caller"}); v != 1 {
		t.Errorf("attestd_rate_limited_total{reason=caller} = %v, want 1", v)
	}
	if v := counter(t, fams, "attestd_rate_limited_total", map[string]string{"reason": "auth_failure"}); v != 0 {
		t.Errorf("attestd_rate_limited_total{reason=auth_failure} = %v, want 0", v)
	}
	if v := counter(t, fams, "attestd_attest_calls_total", map[string]string{"protocol": "grpc", "code": "ResourceExhausted", "error_type": "too_many_requests"}); v != 1 {
		t.Errorf("refused call counted %v times as ResourceExhausted/too_many_requests, want 1", v)
	}

	// REST callers share the address bucket: the same limit refuses them.
	if code, _, body := h.post(t, "/v1/b2b/sessions/attest", validJSON); code != http.StatusTooManyRequests {
		t.Fatalf("REST over the limit: %d %s", code, body)
	}
	fams = scrape(t, h)
	if v := counter(t, fams, "attestd_rate_limited_total", map[string]string{"reason": "caller"}); v != 2 {
		t.Errorf("attestd_rate_limited_total{reason=caller} = %v after a REST refusal, want 2", v)
	}
	if n := h.stytch.Calls(); n != 1 {
		t.Errorf("%d calls reached Stytch, want 1", n)
	}
}

// TestDriftMetric: unknown keys in Stytch's answer show up as
// attestd_upstream_unknown_keys_total by JSON path, once per answer.
func TestDriftMetric(t *testing.T) {
	h := start(t)
	var v map[string]any
	if err := json.Unmarshal(stytchtest.Typical(), &v); err != nil {
		t.Fatal(err)
	}
	v["brand_new_key"] = true
	v["member"].(map[string]any)["pronouns"] = "she/her"
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	h.stytch.Handle(stytchtest.Respond(200, body))
	paths := []string{"brand_new_key", "member.pronouns"} // the DriftLog's dotted JSON paths

	if fams := scrape(t, h); len(fams["attestd_upstream_unknown_keys_total"].GetMetric()) != 0 {
		t.Errorf("drift series before any drift: %v", fams["attestd_upstream_unknown_keys_total"].GetMetric())
	}
	if _, err := h.client.Attest(ctx(t), validRequest()); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, h)
	for _, p := range paths {
		if v := counter(t, fams, "attestd_upstream_unknown_keys_total", map[string]string{"path": p}); v != 1 {
			t.Errorf("unknown_keys{path=%q} = %v after one answer, want 1", p, v)
		}
	}
	if code, _, b := h.post(t, "/v1/b2b/sessions/attest", validJSON); code != 200 {
		t.Fatalf("REST: %d %s", code, b)
	}
	fams = scrape(t, h)
	for _, p := range paths {
		if v := counter(t, fams, "attestd_upstream_unknown_keys_total", map[string]string{"path": p}); v != 2 {
			t.Errorf("unknown_keys{path=%q} = %v after two answers, want 2", p, v)
		}
	}
	if n := len(fams["attestd_upstream_unknown_keys_total"].GetMetric()); n != len(paths) {
		t.Errorf("%d drift series, want %d", n, len(paths))
	}
	checkCardinality(t, fams)
}

// caller trace context: what a traced caller sends.
type callerTrace struct {
	traceID trace.TraceID
	spanID  trace.SpanID
}

func newCallerTrace(t *testing.T, traceHex, spanHex string) callerTrace {
	t.Helper()
	tid, err := trace.TraceIDFromHex(traceHex)
	if err != nil {
		t.Fatal(err)
	}
	sid, err := trace.SpanIDFromHex(spanHex)
	if err != nil {
		t.Fatal(err)
	}
	return callerTrace{tid, sid}
}

func (c callerTrace) traceparent() string {
	return "00-" + c.traceID.String() + "-" + c.spanID.String() + "-01"
}

// received parses the traceparent the fake Stytch last received.
func received(t *testing.T, h *harness) (trace.TraceID, trace.SpanID) {
	t.Helper()
	last := h.stytch.Last()
	if last == nil {
		t.Fatal("Stytch received no call")
	}
	tp := last.Header.Get("traceparent")
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || parts[0] != "00" || parts[3] != "01" {
		t.Fatalf("Stytch received traceparent %q, want 00-<trace>-<span>-01", tp)
	}
	tid, err1 := trace.TraceIDFromHex(parts[1])
	sid, err2 := trace.SpanIDFromHex(parts[2])
	if err1 != nil || err2 != nil {
		t.Fatalf("Stytch received traceparent %q: %v %v", tp, err1, err2)
	}
	return tid, sid
}

// one is the single span of this kind and name.
func one(t *testing.T, spans tracetest.SpanStubs, kind trace.SpanKind, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.SpanKind == kind && s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s spans named %q, want 1; spans: %v", len(found), kind, name, spanNames(spans))
	}
	return found[0]
}

func wantChild(t *testing.T, child, parent tracetest.SpanStub) {
	t.Helper()
	if child.Parent.SpanID() != parent.SpanContext.SpanID() || child.Parent.TraceID() != parent.SpanContext.TraceID() {
		t.Errorf("span %s %q has parent %s, want %s %q (%s)", child.SpanKind, child.Name, child.Parent.SpanID(),
			parent.SpanKind, parent.Name, parent.SpanContext.SpanID())
	}
}

// checkSpanSecrets fails if any attribute of any span (or span event, or
// the resource) carries a token, secret, session credential or email.
func checkSpanSecrets(t *testing.T, spans tracetest.SpanStubs) {
	t.Helper()
	secrets := fixtureSecrets(t)
	check := func(where string, kvs []attributeKV) {
		for _, kv := range kvs {
			for what, s := range secrets {
				if strings.Contains(kv.value, s) {
					t.Errorf("%s attribute %s carries the %s", where, kv.key, what)
				}
			}
		}
	}
	for _, s := range spans {
		check("span "+s.Name, kvsOf(s.Attributes))
		for _, e := range s.Events {
			check("span "+s.Name+" event "+e.Name, kvsOf(e.Attributes))
		}
		if s.Resource != nil {
			check("resource of "+s.Name, kvsOf(s.Resource.Attributes()))
		}
		if strings.Contains(s.Status.Description, obsToken) {
			t.Errorf("span %s status carries the token", s.Name)
		}
	}
}

const (
	gRPCSpanName     = "stytch.b2b.session.v1.SessionService/Attest"
	restSpanName     = "POST /v1/b2b/sessions/attest"
	upstreamSpanName = "stytch POST /v1/b2b/sessions/attest"
)

// TestTracingREST: a REST call with the caller's traceparent produces the
// span tree REST server → gateway gRPC client → gRPC server → HTTP client to
// Stytch, all in the caller's trace, and Stytch receives the HTTP client
// span as its parent.
func TestTracingREST(t *testing.T) {
	sink := newSpanSink()
	h := startWith(t, []server.Option{server.WithSpanExporter(sink)})
	caller := newCallerTrace(t, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")

	if code, _, body := h.post(t, "/v1/b2b/sessions/attest", validJSON, "traceparent", caller.traceparent()); code != 200 {
		t.Fatalf("REST: %d %s", code, body)
	}
	// The gateway calls the service in process (no gRPC hop, so no gRPC
	// spans): the REST span is the Stytch call's parent.
	spans := sink.await(t, ctx(t), 2)
	t.Logf("spans: %v", spanNames(spans))
	if len(spans) != 2 {
		t.Errorf("%d spans, want 2: %v", len(spans), spanNames(spans))
	}
	for _, s := range spans {
		if s.SpanContext.TraceID() != caller.traceID {
			t.Errorf("span %s %q in trace %s, want the caller's %s", s.SpanKind, s.Name, s.SpanContext.TraceID(), caller.traceID)
		}
	}
	rest := one(t, spans, trace.SpanKindServer, restSpanName)
	up := one(t, spans, trace.SpanKindClient, upstreamSpanName)
	if rest.Parent.SpanID() != caller.spanID || !rest.Parent.IsRemote() {
		t.Errorf("REST span's parent %s (remote %v), want the caller's span %s", rest.Parent.SpanID(), rest.Parent.IsRemote(), caller.spanID)
	}
	wantChild(t, up, rest)

	tid, sid := received(t, h)
	if tid != caller.traceID || sid != up.SpanContext.SpanID() {
		t.Errorf("Stytch received trace %s parent %s, want trace %s parent %s (the HTTP client span)",
			tid, sid, caller.traceID, up.SpanContext.SpanID())
	}
	checkSpanSecrets(t, spans)
}

// TestTracingGRPC: over gRPC the traceparent comes in metadata: gRPC server
// span → HTTP client span, in the caller's trace.
func TestTracingGRPC(t *testing.T) {
	sink := newSpanSink()
	h := startWith(t, []server.Option{server.WithSpanExporter(sink)})
	caller := newCallerTrace(t, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")

	req := validRequest()
	req.SessionToken = proto.String("session-token-from-caller-xyz") // must not show up either
	c := metadata.AppendToOutgoingContext(ctx(t), "traceparent", caller.traceparent())
	if _, err := h.client.Attest(c, req); err != nil {
		t.Fatal(err)
	}
	spans := sink.await(t, ctx(t), 2)
	t.Logf("spans: %v", spanNames(spans))
	if len(spans) != 2 {
		t.Errorf("%d spans, want 2: %v", len(spans), spanNames(spans))
	}
	for _, s := range spans {
		if s.SpanContext.TraceID() != caller.traceID {
			t.Errorf("span %q in trace %s, want %s", s.Name, s.SpanContext.TraceID(), caller.traceID)
		}
	}
	srv := one(t, spans, trace.SpanKindServer, gRPCSpanName)
	up := one(t, spans, trace.SpanKindClient, upstreamSpanName)
	if srv.Parent.SpanID() != caller.spanID || !srv.Parent.IsRemote() {
		t.Errorf("gRPC server span's parent %s, want the caller's %s", srv.Parent.SpanID(), caller.spanID)
	}
	wantChild(t, up, srv)
	tid, sid := received(t, h)
	if tid != caller.traceID || sid != up.SpanContext.SpanID() {
		t.Errorf("Stytch received trace %s parent %s, want %s %s", tid, sid, caller.traceID, up.SpanContext.SpanID())
	}
	checkSpanSecrets(t, spans)
	for _, s := range spans {
		for _, kv := range kvsOf(s.Attributes) {
			if strings.Contains(kv.value, "session-token-from-caller-xyz") {
				t.Errorf("span %s attribute %s carries the caller's session_token", s.Name, kv.key)
			}
		}
	}
}

// TestTracingStytchError: a failing call is traced as a whole tree too,
// the failure visible on the spans, and its spans carry no secrets either.
func TestTracingStytchError(t *testing.T) {
	sink := newSpanSink()
	h := startWith(t, []server.Option{server.WithSpanExporter(sink)})
	h.stytch.Handle(stytchtest.Error(400, "invalid_trusted_auth_token", "bad"))
	caller := newCallerTrace(t, "11112222333344445555666677778888", "1234567812345678")
	if code, _, _ := h.post(t, "/v1/b2b/sessions/attest", validJSON, "traceparent", caller.traceparent()); code != 400 {
		t.Fatalf("REST: %d", code)
	}
	spans := sink.await(t, ctx(t), 2)
	for _, s := range spans {
		if s.SpanContext.TraceID() != caller.traceID {
			t.Errorf("span %q in trace %s", s.Name, s.SpanContext.TraceID())
		}
	}
	rest := one(t, spans, trace.SpanKindServer, restSpanName)
	up := one(t, spans, trace.SpanKindClient, upstreamSpanName)
	wantChild(t, up, rest)
	attr := func(s tracetest.SpanStub, key string) string {
		for _, kv := range kvsOf(s.Attributes) {
			if kv.key == key {
				return kv.value
			}
		}
		return ""
	}
	if got := attr(up, "http.response.status_code"); got != "400" {
		t.Errorf("Stytch client span http.response.status_code %q, want 400", got)
	}
	if got := attr(rest, "http.response.status_code"); got != "400" {
		t.Errorf("REST server span http.response.status_code %q, want 400", got)
	}
	checkSpanSecrets(t, spans)
}

// TestTracePropagationWithTracingOff: with no exporter, nothing is
// recorded but the caller's trace context still reaches Stytch.
func TestTracePropagationWithTracingOff(t *testing.T) {
	h := start(t)
	rest := newCallerTrace(t, "aaaabbbbccccddddeeeeffff00001111", "0102030405060708")
	if code, _, body := h.post(t, "/v1/b2b/sessions/attest", validJSON, "traceparent", rest.traceparent()); code != 200 {
		t.Fatalf("REST: %d %s", code, body)
	}
	if tid, sid := received(t, h); tid != rest.traceID || sid != rest.spanID {
		t.Errorf("REST: Stytch received trace %s parent %s, want the caller's %s %s", tid, sid, rest.traceID, rest.spanID)
	}

	grpcCaller := newCallerTrace(t, "99998888777766665555444433332222", "a1a2a3a4a5a6a7a8")
	c := metadata.AppendToOutgoingContext(ctx(t), "traceparent", grpcCaller.traceparent())
	if _, err := h.client.Attest(c, validRequest()); err != nil {
		t.Fatal(err)
	}
	if tid, sid := received(t, h); tid != grpcCaller.traceID || sid != grpcCaller.spanID {
		t.Errorf("gRPC: Stytch received trace %s parent %s, want the caller's %s %s", tid, sid, grpcCaller.traceID, grpcCaller.spanID)
	}
}

// callLine is the "call" log line with this request ID.
func callLine(t *testing.T, h *harness, requestID string) map[string]any {
	t.Helper()
	for _, l := range h.logs.Lines(t) {
		if l["msg"] == "call" && l["request_id"] == requestID {
			return l
		}
	}
	t.Fatalf("no call log line with request_id %q", requestID)
	return nil
}

// TestCorrelationHeaders: both protocols return the call's request ID and
// Stytch's, on success and on a Stytch error, and the call log line
// carries both.
func TestCorrelationHeaders(t *testing.T) {
	h := start(t)
	stytchID := fixtureRequestID(t)
	const stytchErrID = "request-id-test-fake-0001" // stytchtest.ErrorBody's

	check := func(t *testing.T, wantStytch string, restID, grpcID string, wantCode codes.Code, wantStatus int) {
		t.Helper()
		code, hdr, body := h.post(t, "/v1/b2b/sessions/attest", validJSON, "X-Request-Id", restID)
		if code != wantStatus {
			t.Fatalf("REST: %d %s", code, body)
		}
		if hdr.Get("X-Request-Id") != restID || hdr.Get("X-Stytch-Request-Id") != wantStytch {
			t.Errorf("REST headers X-Request-Id %q X-Stytch-Request-Id %q, want %q %q",
				hdr.Get("X-Request-Id"), hdr.Get("X-Stytch-Request-Id"), restID, wantStytch)
		}
		if v := hdr.Values("X-Stytch-Request-Id"); len(v) != 1 {
			t.Errorf("REST X-Stytch-Request-Id sent %d times: %v", len(v), v)
		}
		var md metadata.MD
		c := metadata.AppendToOutgoingContext(ctx(t), "x-request-id", grpcID)
		_, err := h.client.Attest(c, validRequest(), grpc.Header(&md))
		if status.Code(err) != wantCode {
			t.Fatalf("gRPC: %v, want %v", err, wantCode)
		}
		if got := md.Get("x-request-id"); len(got) != 1 || got[0] != grpcID {
			t.Errorf("gRPC x-request-id %v, want [%s]", got, grpcID)
		}
		if got := md.Get("x-stytch-request-id"); len(got) != 1 || got[0] != wantStytch {
			t.Errorf("gRPC x-stytch-request-id %v, want [%s]", got, wantStytch)
		}
		for _, id := range []string{restID, grpcID} {
			if l := callLine(t, h, id); l["stytch_request_id"] != wantStytch {
				t.Errorf("call log of %s: stytch_request_id %v, want %s", id, l["stytch_request_id"], wantStytch)
			}
		}
	}
	t.Run("success", func(t *testing.T) {
		check(t, stytchID, "corr-rest-ok", "corr-grpc-ok", codes.OK, 200)
	})
	t.Run("stytch error", func(t *testing.T) {
		h.stytch.Handle(stytchtest.Error(400, "invalid_trusted_auth_token", "bad"))
		check(t, stytchErrID, "corr-rest-err", "corr-grpc-err", codes.InvalidArgument, 400)
	})
	t.Run("local error has no Stytch ID", func(t *testing.T) {
		code, hdr, _ := h.post(t, "/v1/b2b/sessions/attest", `{"profile_id":"p"}`, "X-Request-Id", "corr-rest-local")
		if code != 400 || hdr.Get("X-Request-Id") != "corr-rest-local" || hdr.Get("X-Stytch-Request-Id") != "" {
			t.Errorf("REST validation error: %d X-Request-Id %q X-Stytch-Request-Id %q", code, hdr.Get("X-Request-Id"), hdr.Get("X-Stytch-Request-Id"))
		}
	})
}

// TestAuditLog: exactly one audit event per attest, on both protocols,
// success and failure, with the token only as its fingerprint.
func TestAuditLog(t *testing.T) {
	h := start(t)
	var fixture struct {
		RequestID    string `json:"request_id"`
		MemberID     string `json:"member_id"`
		Organization struct {
			ID string `json:"organization_id"`
		} `json:"organization"`
		MemberSession struct {
			ID string `json:"member_session_id"`
		} `json:"member_session"`
	}
	if err := json.Unmarshal(stytchtest.Typical(), &fixture); err != nil {
		t.Fatal(err)
	}
	attestGRPC := func(id string, req *b2bsessionv1.AttestRequest) error {
		_, err := h.client.Attest(metadata.AppendToOutgoingContext(ctx(t), "x-request-id", id), req)
		return err
	}
	if err := attestGRPC("audit-grpc-ok", validRequest()); err != nil {
		t.Fatal(err)
	}
	if code, _, b := h.post(t, "/v1/b2b/sessions/attest", validJSON, "X-Request-Id", "audit-rest-ok"); code != 200 {
		t.Fatalf("REST: %d %s", code, b)
	}
	h.stytch.Handle(stytchtest.Error(400, "invalid_trusted_auth_token", "bad"))
	failing := validRequest()
	failing.OrganizationId = proto.String("organization-from-request")
	if err := attestGRPC("audit-grpc-fail", failing); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("gRPC failure: %v", err)
	}
	if code, _, b := h.post(t, "/v1/b2b/sessions/attest", validJSON, "X-Request-Id", "audit-rest-fail"); code != 400 {
		t.Fatalf("REST failure: %d %s", code, b)
	}

	type want struct {
		protocol, outcome, code, errorType, org, member, session, stytchID string
	}
	wants := map[string]want{
		"audit-grpc-ok":   {"grpc", "success", "OK", "", fixture.Organization.ID, fixture.MemberID, fixture.MemberSession.ID, fixture.RequestID},
		"audit-rest-ok":   {"rest", "success", "OK", "", fixture.Organization.ID, fixture.MemberID, fixture.MemberSession.ID, fixture.RequestID},
		"audit-grpc-fail": {"grpc", "failure", "InvalidArgument", "invalid_trusted_auth_token", "organization-from-request", "", "", "request-id-test-fake-0001"},
		"audit-rest-fail": {"rest", "failure", "InvalidArgument", "invalid_trusted_auth_token", "", "", "", "request-id-test-fake-0001"},
	}
	seen := map[string]int{}
	audits := 0
	for _, l := range h.logs.Lines(t) {
		if l["msg"] != "audit" {
			if l["log_type"] == "audit" {
				t.Errorf("non-audit line %q has log_type audit", l["msg"])
			}
			continue
		}
		audits++
		id, _ := l["request_id"].(string)
		w, ok := wants[id]
		if !ok {
			t.Errorf("audit line for unknown request_id %q: %v", id, l)
			continue
		}
		seen[id]++
		str := map[string]string{
			"log_type": "audit", "event": "attest", "outcome": w.outcome, "code": w.code, "error_type": w.errorType,
			"caller": "", "caller_via": "anonymous", "peer": "127.0.0.1", "protocol": w.protocol,
			"profile_id": "trusted-token-profile-test-1", "organization_id": w.org, "member_id": w.member,
			"member_session_id": w.session, "token_fp": security.Fingerprint(obsToken), "stytch_request_id": w.stytchID,
		}
		for k, v := range str {
			got, present := l[k]
			if !present {
				t.Errorf("audit %s lacks %s", id, k)
			} else if got != v {
				t.Errorf("audit %s: %s = %v, want %q", id, k, got, v)
			}
		}
		if ms, ok := l["latency_ms"].(float64); !ok || ms <= 0 {
			t.Errorf("audit %s: latency_ms %v, want > 0", id, l["latency_ms"])
		}
	}
	if audits != len(wants) {
		t.Errorf("%d audit lines for %d attests", audits, len(wants))
	}
	for id := range wants {
		if seen[id] != 1 {
			t.Errorf("attest %s has %d audit lines, want 1", id, seen[id])
		}
	}
	logs := h.logs.String()
	for what, s := range fixtureSecrets(t) { // the audit names members by ID, never by email
		if strings.Contains(logs, s) {
			t.Errorf("the %s appears in the logs", what)
		}
	}
}

// TestReadinessDuringShutdown: /readyz answers 200 while serving and 503
// once shutdown begins, while an in-flight call is still draining; /healthz
// stays 200 until the listener closes.
func TestReadinessDuringShutdown(t *testing.T) {
	h := start(t)
	for _, p := range []string{"/readyz", "/healthz"} {
		if code, _, err := adminGet(t, h, p); err != nil || code != http.StatusOK {
			t.Fatalf("%s while serving: %d %v", p, code, err)
		}
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.stytch.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(entered) })
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		stytchtest.Respond(200, stytchtest.Typical()).ServeHTTP(w, r)
	}))
	result := make(chan error, 1)
	c := ctx(t)
	go func() {
		_, err := h.client.Attest(c, validRequest())
		result <- err
	}()
	select {
	case <-entered:
	case <-c.Done():
		t.Fatal("the call never reached Stytch")
	}
	shut := make(chan error, 1)
	go func() { shut <- h.srv.Shutdown() }()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()

	// Wait for the flip itself: poll /readyz until it says 503.
	for {
		code, _, err := adminGet(t, h, "/readyz")
		if err != nil {
			t.Fatalf("/readyz during shutdown: %v (the admin listener must stay up while calls drain)", err)
		}
		if code == http.StatusServiceUnavailable {
			break
		}
		if code != http.StatusOK {
			t.Fatalf("/readyz during shutdown: %d", code)
		}
		if c.Err() != nil {
			t.Fatal("/readyz never turned 503 during shutdown")
		}
	}
	select {
	case err := <-result:
		t.Fatalf("the in-flight call ended before its release: %v", err)
	default:
	}
	if code, _, err := adminGet(t, h, "/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("/healthz while draining: %d %v, want 200", code, err)
	}
	close(release)
	released = true
	if err := <-result; err != nil {
		t.Errorf("in-flight call: %v", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if _, _, err := adminGet(t, h, "/readyz"); err == nil {
		t.Error("the admin listener still answers after shutdown")
	}
}

// TestLivenessIgnoresStytch: with Stytch failing every call (and the
// breaker open because of it), /healthz and /readyz still answer 200.
func TestLivenessIgnoresStytch(t *testing.T) {
	h := start(t, func(c *config.Config) { c.BreakerFailures, c.BreakerCooldown = 2, time.Hour })
	h.stytch.Handle(stytchtest.Error(503, "internal_server_error", "down"))
	if _, err := h.client.Attest(ctx(t), validRequest()); status.Code(err) != codes.Unavailable {
		t.Fatalf("gRPC with Stytch down: %v", err)
	}
	if code, _, _ := h.post(t, "/v1/b2b/sessions/attest", validJSON); code != 503 {
		t.Fatalf("REST with Stytch down: %d", code)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body, err := adminGet(t, h, p); err != nil || code != http.StatusOK {
			t.Errorf("%s with Stytch failing: %d %s %v, want 200", p, code, body, err)
		}
	}
	fams := scrape(t, h)
	if v := gauge(t, fams, "attestd_upstream_breaker_state"); v != 2 {
		t.Errorf("attestd_upstream_breaker_state = %v after 2 failures, want 2 (open)", v)
	}
	if n := histCount(t, fams, "attestd_upstream_request_duration_seconds", map[string]string{"status": "503", "error_type": "internal_server_error"}); n < 2 {
		t.Errorf("upstream attempts {503,internal_server_error} = %d, want >= 2", n)
	}
}

// attributeKV is an attribute rendered for scanning.
type attributeKV struct{ key, value string }

func kvsOf(in []attribute.KeyValue) []attributeKV {
	out := make([]attributeKV, 0, len(in))
	for _, kv := range in {
		out = append(out, attributeKV{string(kv.Key), kv.Value.Emit()})
	}
	return out
}

// TestOneEventPerAttestAtInfo: at the default level an attest leaves one
// event, its audit event (success or a Stytch verdict, over either
// protocol); the call line is debug. A failure at WARN still writes its
// call line, for alerts.
func TestOneEventPerAttestAtInfo(t *testing.T) {
	logs := &logsink.Logs{}
	h := startServerAt(t, logs, slog.LevelInfo, nil, func(c *config.Config) { c.BreakerFailures = 100 })
	if _, err := h.client.Attest(metadata.AppendToOutgoingContext(ctx(t), "x-request-id", "one-grpc-ok"), validRequest()); err != nil {
		t.Fatal(err)
	}
	if code, _, b := h.post(t, "/v1/b2b/sessions/attest", validJSON, "X-Request-Id", "one-rest-ok"); code != 200 {
		t.Fatalf("REST: %d %s", code, b)
	}
	h.stytch.Handle(stytchtest.Error(404, "member_not_found", "no such member"))
	if code, _, b := h.post(t, "/v1/b2b/sessions/attest", validJSON, "X-Request-Id", "one-rest-404"); code != 404 {
		t.Fatalf("REST with Stytch's 404: %d %s", code, b)
	}
	h.stytch.Handle(stytchtest.Error(503, "internal_server_error", "down"))
	if code, _, b := h.post(t, "/v1/b2b/sessions/attest", validJSON, "X-Request-Id", "one-rest-503"); code != 503 {
		t.Fatalf("REST with Stytch's 503: %d %s", code, b)
	}
	hc := grpc_health_v1.NewHealthClient(h.conn)
	if _, err := hc.Check(ctx(t), &grpc_health_v1.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"one-grpc-ok":  {"audit"},
		"one-rest-ok":  {"audit"},
		"one-rest-404": {"audit"},
		"one-rest-503": {"audit", "call"}, // Unavailable: WARN; audit is the inner interceptor
	}
	got := map[string][]string{}
	for _, l := range logs.Lines(t) {
		id, _ := l["request_id"].(string)
		if l["msg"] == "call" && l["method"] == "/grpc.health.v1.Health/Check" {
			t.Errorf("a health check that succeeded is logged at info: %v", l)
		}
		if _, ok := want[id]; ok {
			got[id] = append(got[id], fmt.Sprint(l["msg"]))
			if l["msg"] == "call" && l["level"] != "WARN" {
				t.Errorf("call line %v, want WARN", l)
			}
		}
	}
	for id, w := range want {
		if !slices.Equal(got[id], w) {
			t.Errorf("%s logged %v at info, want %v", id, got[id], w)
		}
	}
}
