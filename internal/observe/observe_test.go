package observe_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/observe"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestErrorTypeLabel(t *testing.T) {
	cases := map[string]string{
		"":                           "",
		"invalid_trusted_auth_token": "invalid_trusted_auth_token",
		"unauthorized_credentials":   "unauthorized_credentials",
		apierr.TypeUpstreamTimeout:   apierr.TypeUpstreamTimeout,
		apierr.TypeRequestTooLarge:   apierr.TypeRequestTooLarge,
		"unauthenticated":            "unauthenticated",
		"not_a_stytch_error_type":    "other",
		"member-test-1234":           "other",
		"Invalid_Trusted_Auth_Token": "other", // exact match only
	}
	for in, want := range cases {
		if got := observe.ErrorTypeLabel(in); got != want {
			t.Errorf("ErrorTypeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// gather collects the registry's families by name.
func gather(t *testing.T, m *observe.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// labelsOf is a metric's label pairs as a map.
func labelsOf(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// find returns the series of family name whose labels are exactly want.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
	for _, m := range f.GetMetric() {
		got := labelsOf(m)
		if len(got) != len(want) {
			continue
		}
		match := true
		for k, v := range want {
			if gv, ok := got[k]; !ok || gv != v {
				match = false
				break
			}
		}
		if match {
			return m
		}
	}
	t.Fatalf("%s has no series %v; series: %v", name, want, f.GetMetric())
	return nil
}

// labelNames checks every series of a family has exactly these label names.
func labelNames(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
	for _, m := range f.GetMetric() {
		got := labelsOf(m)
		if len(got) != len(want) {
			t.Errorf("%s series %v: want exactly labels %v", name, got, want)
			continue
		}
		for _, k := range want {
			if _, ok := got[k]; !ok {
				t.Errorf("%s series %v lacks label %q", name, got, k)
			}
		}
	}
}

func TestMetricsRecorders(t *testing.T) {
	m := observe.NewMetrics("9.9.9-test", nil)

	fams := gather(t, m)
	// Both rate-limit reasons exist at 0 before any refusal.
	for _, r := range []string{"caller", "auth_failure"} {
		if v := find(t, fams, "attestd_rate_limited_total", map[string]string{"reason": r}).GetCounter().GetValue(); v != 0 {
			t.Errorf("attestd_rate_limited_total{reason=%q} = %v at start, want 0", r, v)
		}
	}
	if bi := find(t, fams, "attestd_build_info", map[string]string{"version": "9.9.9-test"}); bi.GetGauge().GetValue() != 1 {
		t.Errorf("attestd_build_info = %v, want 1", bi.GetGauge().GetValue())
	}
	if _, ok := fams["attestd_upstream_unknown_keys_total"]; ok {
		t.Error("drift counter registered without a drift log")
	}

	m.Call("grpc", "OK", "", 5*time.Millisecond)
	m.Call("grpc", "OK", "", 7*time.Millisecond)
	m.Call("rest", "InvalidArgument", "invalid_trusted_auth_token", time.Millisecond)
	m.Call("rest", "Internal", "something_stytch_invented", time.Millisecond)
	m.RateLimited("caller")
	m.RateLimited("caller")
	m.UpstreamAttempt(200, "", 20*time.Millisecond)
	m.UpstreamAttempt(400, "invalid_trusted_auth_token", 10*time.Millisecond)
	m.UpstreamAttempt(400, "invalid_trusted_auth_token", 10*time.Millisecond)
	m.UpstreamAttempt(0, apierr.TypeUpstreamUnavailable, time.Second)

	fams = gather(t, m)
	labelNames(t, fams, "attestd_attest_calls_total", "protocol", "code", "error_type")
	labelNames(t, fams, "attestd_attest_duration_seconds", "protocol")
	labelNames(t, fams, "attestd_upstream_request_duration_seconds", "status", "error_type")
	labelNames(t, fams, "attestd_rate_limited_total", "reason")
	labelNames(t, fams, "attestd_build_info", "version")

	counters := []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"protocol": "grpc", "code": "OK", "error_type": ""}, 2},
		{map[string]string{"protocol": "rest", "code": "InvalidArgument", "error_type": "invalid_trusted_auth_token"}, 1},
		{map[string]string{"protocol": "rest", "code": "Internal", "error_type": "other"}, 1},
	}
	for _, c := range counters {
		if v := find(t, fams, "attestd_attest_calls_total", c.labels).GetCounter().GetValue(); v != c.want {
			t.Errorf("attestd_attest_calls_total%v = %v, want %v", c.labels, v, c.want)
		}
	}
	if n := len(fams["attestd_attest_calls_total"].GetMetric()); n != 3 {
		t.Errorf("attestd_attest_calls_total has %d series, want 3 (unknown error types fold into \"other\")", n)
	}
	for proto, want := range map[string]uint64{"grpc": 2, "rest": 2} {
		h := find(t, fams, "attestd_attest_duration_seconds", map[string]string{"protocol": proto}).GetHistogram()
		if h.GetSampleCount() != want {
			t.Errorf("attestd_attest_duration_seconds{protocol=%q} count = %d, want %d", proto, h.GetSampleCount(), want)
		}
	}
	if h := find(t, fams, "attestd_attest_duration_seconds", map[string]string{"protocol": "grpc"}).GetHistogram(); h.GetSampleSum() < 0.011 || h.GetSampleSum() > 0.013 {
		t.Errorf("grpc latency sum %v, want 0.012", h.GetSampleSum())
	}
	upstream := []struct {
		labels map[string]string
		want   uint64
	}{
		{map[string]string{"status": "200", "error_type": ""}, 1},
		{map[string]string{"status": "400", "error_type": "invalid_trusted_auth_token"}, 2},
		{map[string]string{"status": "0", "error_type": apierr.TypeUpstreamUnavailable}, 1},
	}
	for _, u := range upstream {
		if n := find(t, fams, "attestd_upstream_request_duration_seconds", u.labels).GetHistogram().GetSampleCount(); n != u.want {
			t.Errorf("attestd_upstream_request_duration_seconds%v count = %d, want %d", u.labels, n, u.want)
		}
	}
	if v := find(t, fams, "attestd_rate_limited_total", map[string]string{"reason": "caller"}).GetCounter().GetValue(); v != 2 {
		t.Errorf("rate_limited{caller} = %v, want 2", v)
	}
	if v := find(t, fams, "attestd_rate_limited_total", map[string]string{"reason": "auth_failure"}).GetCounter().GetValue(); v != 0 {
		t.Errorf("rate_limited{auth_failure} = %v, want 0", v)
	}
	// The Go and process collectors are on the same registry; calls are
	// counted once, by attestd's own metrics: no grpc_server_* series.
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("registry lacks %s", name)
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "grpc_") {
			t.Errorf("registry exposes %s: calls are counted by attestd_attest_* alone", name)
		}
	}
}

// fakeUpstream is an UpstreamState with settable values.
type fakeUpstream struct {
	inFlight, queued atomic.Int64
	breaker          atomic.Value // string
	rejected         atomic.Bool
}

func (f *fakeUpstream) InFlight() int             { return int(f.inFlight.Load()) }
func (f *fakeUpstream) Queued() int               { return int(f.queued.Load()) }
func (f *fakeUpstream) BreakerState() string      { return f.breaker.Load().(string) }
func (f *fakeUpstream) CredentialsRejected() bool { return f.rejected.Load() }

func TestWatchUpstream(t *testing.T) {
	m := observe.NewMetrics("test", nil)
	up := &fakeUpstream{}
	up.inFlight.Store(3)
	up.queued.Store(1)
	up.breaker.Store("open")
	m.WatchUpstream(up)

	gauge := func(name string) float64 {
		t.Helper()
		return find(t, gather(t, m), name, map[string]string{}).GetGauge().GetValue()
	}
	if v := gauge("attestd_upstream_in_flight"); v != 3 {
		t.Errorf("in_flight %v, want 3", v)
	}
	if v := gauge("attestd_upstream_queued"); v != 1 {
		t.Errorf("queued %v, want 1", v)
	}
	if v := gauge("attestd_upstream_breaker_state"); v != 2 {
		t.Errorf("breaker_state %v with the breaker open, want 2", v)
	}
	// The gauges are read live at each scrape.
	up.breaker.Store("half_open")
	up.inFlight.Store(0)
	if v := gauge("attestd_upstream_breaker_state"); v != 1 {
		t.Errorf("breaker_state %v half-open, want 1", v)
	}
	if v := gauge("attestd_upstream_in_flight"); v != 0 {
		t.Errorf("in_flight %v, want 0", v)
	}
	up.breaker.Store("closed")
	if v := gauge("attestd_upstream_breaker_state"); v != 0 {
		t.Errorf("breaker_state %v closed, want 0", v)
	}
	if v := gauge("attestd_upstream_credentials_rejected"); v != 0 {
		t.Errorf("credentials_rejected %v, want 0", v)
	}
	up.rejected.Store(true)
	if v := gauge("attestd_upstream_credentials_rejected"); v != 1 {
		t.Errorf("credentials_rejected %v with Stytch rejecting them, want 1", v)
	}
}

func TestDriftCollector(t *testing.T) {
	drift := observe.NewDriftLog(slog.New(slog.NewTextHandler(io.Discard, nil)))
	m := observe.NewMetrics("test", drift)

	fams := gather(t, m)
	if f, ok := fams["attestd_upstream_unknown_keys_total"]; ok && len(f.GetMetric()) != 0 {
		t.Errorf("drift series before any drift: %v", f.GetMetric())
	}

	for _, p := range []string{"brand_new_key", "member.pronouns", "member.pronouns", "organization.new_setting", "member.pronouns"} {
		drift.UnknownKey(p)
	}
	fams = gather(t, m)
	f := fams["attestd_upstream_unknown_keys_total"]
	if f.GetType() != dto.MetricType_COUNTER {
		t.Errorf("drift metric type %v, want counter", f.GetType())
	}
	if n := len(f.GetMetric()); n != 3 {
		t.Errorf("%d drift series, want 3", n)
	}
	labelNames(t, fams, "attestd_upstream_unknown_keys_total", "path")
	for path, want := range map[string]float64{"brand_new_key": 1, "member.pronouns": 3, "organization.new_setting": 1} {
		if v := find(t, fams, "attestd_upstream_unknown_keys_total", map[string]string{"path": path}).GetCounter().GetValue(); v != want {
			t.Errorf("unknown_keys{path=%q} = %v, want %v", path, v, want)
		}
	}
}

// get fetches url and returns the status, content type and body.
func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func newAdmin(t *testing.T, m *observe.Metrics, pprof bool) (*observe.Admin, string) {
	t.Helper()
	a, err := observe.NewAdmin("127.0.0.1:0", m, pprof)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("admin close: %v", err)
		}
	})
	return a, "http://" + a.Addr().String()
}

func TestAdmin(t *testing.T) {
	m := observe.NewMetrics("1.2.3", nil)
	m.Call("grpc", "OK", "", time.Millisecond)
	a, base := newAdmin(t, m, false)

	code, ct, body := get(t, base+"/metrics")
	if code != http.StatusOK || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics: %d %q", code, ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not the text exposition: %v", err)
	}
	if v := find(t, fams, "attestd_attest_calls_total", map[string]string{"protocol": "grpc", "code": "OK", "error_type": ""}).GetCounter().GetValue(); v != 1 {
		t.Errorf("scraped attestd_attest_calls_total = %v, want 1", v)
	}
	find(t, fams, "attestd_build_info", map[string]string{"version": "1.2.3"})

	if code, _, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz before ready: %d, want 200 (liveness is unconditional)", code)
	}
	if code, _, _ := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before SetReady: %d, want 503", code)
	}
	a.SetReady(true)
	if code, _, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after SetReady(true): %d, want 200", code)
	}
	if code, _, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz when ready: %d", code)
	}
	a.SetReady(false)
	if code, _, _ := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after SetReady(false): %d, want 503", code)
	}
	if code, _, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz when not ready: %d, want 200", code)
	}
	if code, _, _ := get(t, base+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ with pprof off: %d, want 404", code)
	}
}

// TestAdminConditions: a serving attestd is unready while any condition
// fails, /readyz names why, and it is ready again once all hold.
func TestAdminConditions(t *testing.T) {
	a, base := newAdmin(t, observe.NewMetrics("1.2.3", nil), false)
	a.SetReady(true)
	a.SetCondition("stytch_credentials", false, "Stytch rejects the project credentials")
	a.SetCondition("other", false, "something else")
	code, _, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "stytch_credentials: Stytch rejects the project credentials") ||
		!strings.Contains(body, "other: something else") {
		t.Errorf("/readyz with failing conditions: %d %q", code, body)
	}
	a.SetCondition("other", true, "")
	if code, _, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || strings.Contains(body, "other") {
		t.Errorf("/readyz with one condition left: %d %q", code, body)
	}
	a.SetCondition("stytch_credentials", true, "")
	if code, _, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz with every condition met: %d", code)
	}
}

func TestAdminPprof(t *testing.T) {
	_, base := newAdmin(t, observe.NewMetrics("test", nil), true)
	code, _, body := get(t, base+"/debug/pprof/")
	if code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/ with pprof on: %d", code)
	}
	if code, _, _ := get(t, base+"/debug/pprof/cmdline"); code != http.StatusOK {
		t.Errorf("/debug/pprof/cmdline: %d", code)
	}
}

// env is a getenv over a fixed map.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// shutdownQuickly stops a tracing setup within a short deadline.
func shutdownQuickly(t *testing.T, tr *observe.Tracing) {
	t.Helper()
	c, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
	defer cancel()
	if err := tr.Shutdown(c); err != nil {
		t.Errorf("tracing shutdown: %v", err)
	}
}

func wantNoop(t *testing.T, tr *observe.Tracing) {
	t.Helper()
	if tr.Exporter != "none" {
		t.Errorf("Exporter %q, want none", tr.Exporter)
	}
	if _, ok := tr.Provider.(noop.TracerProvider); !ok {
		t.Errorf("Provider %T, want the no-op provider", tr.Provider)
	}
	_, span := tr.Provider.Tracer("t").Start(testCtx(t), "s")
	if span.IsRecording() {
		t.Error("a span from the tracing-off provider records")
	}
	span.End()
	if tr.Propagator == nil {
		t.Error("no propagator with tracing off: traceparent would not reach Stytch")
	} else if f := strings.Join(tr.Propagator.Fields(), ","); !strings.Contains(f, "traceparent") || !strings.Contains(f, "baggage") {
		t.Errorf("propagator fields %q, want traceparent and baggage", f)
	}
	if err := tr.Shutdown(testCtx(t)); err != nil {
		t.Errorf("Shutdown with tracing off: %v", err)
	}
}

func TestTracingOff(t *testing.T) {
	cases := map[string]func(string) string{
		"no environment":            env(),
		"OTEL_TRACES_EXPORTER=none": env("OTEL_TRACES_EXPORTER", "none", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
		"OTEL_TRACES_EXPORTER=NONE": env("OTEL_TRACES_EXPORTER", " NONE "),
		"OTEL_SDK_DISABLED=true":    env("OTEL_SDK_DISABLED", "true", "OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
		"OTEL_SDK_DISABLED=TRUE":    env("OTEL_SDK_DISABLED", "TRUE", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
	}
	for name, getenv := range cases {
		t.Run(name, func(t *testing.T) {
			tr, err := observe.NewTracing(testCtx(t), getenv, "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			wantNoop(t, tr)
		})
	}
}

func TestTracingBadEnvironment(t *testing.T) {
	for name, getenv := range map[string]func(string) string{
		"OTEL_TRACES_EXPORTER=console":     env("OTEL_TRACES_EXPORTER", "console"),
		"OTEL_TRACES_EXPORTER=zipkin":      env("OTEL_TRACES_EXPORTER", "zipkin", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
		"OTEL_EXPORTER_OTLP_PROTOCOL=json": env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
	} {
		t.Run(name, func(t *testing.T) {
			tr, err := observe.NewTracing(testCtx(t), getenv, "test", nil)
			if err == nil {
				exporter := ""
				if tr != nil {
					exporter = tr.Exporter
					shutdownQuickly(t, tr)
				}
				t.Fatalf("no error; exporter %q", exporter)
			}
			t.Logf("refused as expected: %v", err)
		})
	}
}

func TestTracingOTLP(t *testing.T) {
	// The OTLP exporters read their endpoint from the process environment
	// themselves; point it at a port nothing listens on. Nothing is exported:
	// the setups are only built and shut down.
	const endpoint = "http://127.0.0.1:1"
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
	cases := []struct {
		name   string
		getenv func(string) string
		want   string
	}{
		{"endpoint only", env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint), "otlp/http"},
		{"traces endpoint only", env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint+"/v1/traces"), "otlp/http"},
		{"exporter otlp", env("OTEL_TRACES_EXPORTER", "otlp"), "otlp/http"},
		{"http/protobuf", env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"), "otlp/http"},
		{"grpc", env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), "otlp/grpc"},
		{"traces protocol wins", env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint,
			"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"), "otlp/grpc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := observe.NewTracing(testCtx(t), tc.getenv, "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Exporter != tc.want {
				t.Errorf("Exporter %q, want %q", tr.Exporter, tc.want)
			}
			if _, ok := tr.Provider.(noop.TracerProvider); ok {
				t.Error("no-op provider with an exporter configured")
			}
			_, span := tr.Provider.Tracer("t").Start(testCtx(t), "s")
			if !span.IsRecording() {
				t.Error("spans do not record with an exporter configured")
			}
			// End no span: a batch would try to reach the endpoint.
			shutdownQuickly(t, tr)
		})
	}
}

func TestTracingCustomExporter(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	// A custom exporter wins even over an environment that says none.
	tr, err := observe.NewTracing(testCtx(t), env("OTEL_TRACES_EXPORTER", "none"), "4.5.6", exp)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdownQuickly(t, tr)
	if tr.Exporter != "custom" {
		t.Errorf("Exporter %q, want custom", tr.Exporter)
	}
	_, span := tr.Provider.Tracer("t").Start(testCtx(t), "unit-span")
	span.End()
	// The simple processor hands each span over as it ends.
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "unit-span" {
		t.Fatalf("exported %v, want the one span at once", spans)
	}
	attrs := map[string]string{}
	for _, kv := range spans[0].Resource.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs["service.name"] != "attestd" || attrs["service.version"] != "4.5.6" {
		t.Errorf("resource %v, want service.name attestd and service.version 4.5.6", attrs)
	}
}

// TestTracingEnabled: off means the no-op provider, and attestd then
// installs propagation only.
func TestTracingEnabled(t *testing.T) {
	off, err := observe.NewTracing(testCtx(t), env(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if off.Enabled() {
		t.Error("Enabled with tracing off")
	}
	on, err := observe.NewTracing(testCtx(t), env(), "test", tracetest.NewInMemoryExporter())
	if err != nil {
		t.Fatal(err)
	}
	defer shutdownQuickly(t, on)
	if !on.Enabled() {
		t.Error("not Enabled with an exporter")
	}
	if (*observe.Tracing)(nil).Enabled() {
		t.Error("a nil Tracing is Enabled")
	}
}

// The caller's trace context in these tests: sampled, with tracestate and
// baggage, as a traced caller sends them.
const (
	callerTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	callerTracestate  = "vendor=opaque"
	callerBaggage     = "tenant=acme"
)

// propagator is the one attestd uses with tracing off.
func propagator(t *testing.T) propagation.TextMapPropagator {
	t.Helper()
	tr, err := observe.NewTracing(testCtx(t), env(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr.Propagator
}

// wantCallerContext checks ctx holds the caller's trace context, as
// extracted from traceparent, tracestate and baggage.
func wantCallerContext(t *testing.T, ctx context.Context) {
	t.Helper()
	sc := trace.SpanContextFromContext(ctx)
	if got := sc.TraceID().String() + "/" + sc.SpanID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736/00f067aa0ba902b7" {
		t.Errorf("span context %s, want the caller's", got)
	}
	if !sc.IsRemote() || !sc.IsSampled() || sc.TraceState().String() != callerTracestate {
		t.Errorf("span context remote %v sampled %v tracestate %q", sc.IsRemote(), sc.IsSampled(), sc.TraceState().String())
	}
	if v := baggage.FromContext(ctx).Member("tenant").Value(); v != "acme" {
		t.Errorf("baggage tenant %q, want acme", v)
	}
}

// TestPropagateHTTP: a REST caller's trace context reaches the handler's
// context; a request without one passes through as it is, allocation-free.
func TestPropagateHTTP(t *testing.T) {
	p := propagator(t)
	var seen *http.Request
	h := observe.PropagateHTTP(p, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r }))

	traced := httptest.NewRequestWithContext(testCtx(t), http.MethodPost, "/v1/b2b/sessions/attest", nil)
	traced.Header.Set("traceparent", callerTraceparent)
	traced.Header.Set("tracestate", callerTracestate)
	traced.Header.Set("baggage", callerBaggage)
	h.ServeHTTP(httptest.NewRecorder(), traced)
	wantCallerContext(t, seen.Context())

	plain := httptest.NewRequestWithContext(testCtx(t), http.MethodPost, "/v1/b2b/sessions/attest", nil)
	plain.Header.Set("Content-Type", "application/json")
	plain.Header.Set("X-Request-Id", "req-1")
	w := httptest.NewRecorder()
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, plain) }); n != 0 {
		t.Errorf("%v allocations for a request without trace context, want 0", n)
	}
	if seen != plain {
		t.Error("a request without trace context was replaced")
	}
}

// TestPropagateUnary: a gRPC caller's trace context in its metadata
// reaches the handler's context; a call without one costs no allocation.
func TestPropagateUnary(t *testing.T) {
	ic := observe.PropagateUnary(propagator(t))
	var seen context.Context
	handler := func(ctx context.Context, _ any) (any, error) { seen = ctx; return nil, nil }
	info := &grpc.UnaryServerInfo{FullMethod: "/stytch.b2b.session.v1.SessionService/Attest"}

	traced := metadata.NewIncomingContext(testCtx(t), metadata.Pairs(
		"traceparent", callerTraceparent, "tracestate", callerTracestate, "baggage", callerBaggage, "x-request-id", "req-1"))
	if _, err := ic(traced, nil, info, handler); err != nil {
		t.Fatal(err)
	}
	wantCallerContext(t, seen)

	plain := metadata.NewIncomingContext(testCtx(t), metadata.Pairs(
		"content-type", "application/grpc", "user-agent", "grpc-go", "x-request-id", "req-1"))
	if n := testing.AllocsPerRun(100, func() { _, _ = ic(plain, nil, info, handler) }); n != 0 {
		t.Errorf("%v allocations for a call without trace context, want 0", n)
	}
	if seen != plain {
		t.Error("a call without trace context got a new context")
	}
	if _, err := ic(testCtx(t), nil, info, handler); err != nil { // no metadata at all
		t.Fatal(err)
	}
}

// roundTripFunc is a RoundTripper that records what it is given.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type idleCloser struct {
	roundTripFunc
	closed *bool
}

func (c idleCloser) CloseIdleConnections() { *c.closed = true }

// TestPropagateTransport: the trace context of a request's context is sent
// on (the caller's span as the parent) on a copy of the request; without
// one the request goes as it is, allocation-free.
func TestPropagateTransport(t *testing.T) {
	p := propagator(t)
	var sent *http.Request
	closed := false
	rt := observe.PropagateTransport(p, idleCloser{func(r *http.Request) (*http.Response, error) {
		sent = r
		return nil, nil
	}, &closed})

	caller := p.Extract(testCtx(t), propagation.MapCarrier{
		"traceparent": callerTraceparent, "tracestate": callerTracestate, "baggage": callerBaggage})
	req := httptest.NewRequestWithContext(caller, http.MethodPost, "https://stytch.example/v1/b2b/sessions/attest", nil)
	req.Header.Set("Authorization", "Basic xyz")
	_, _ = rt.RoundTrip(req)
	if sent == req {
		t.Fatal("the caller's request was modified in place")
	}
	if got := sent.Header.Get("traceparent"); got != callerTraceparent {
		t.Errorf("traceparent %q, want the caller's %q", got, callerTraceparent)
	}
	if sent.Header.Get("tracestate") != callerTracestate || sent.Header.Get("baggage") != callerBaggage {
		t.Errorf("tracestate %q baggage %q", sent.Header.Get("tracestate"), sent.Header.Get("baggage"))
	}
	if sent.Header.Get("Authorization") != "Basic xyz" || sent.URL != req.URL || sent.Context() != req.Context() {
		t.Error("the copy lost the request's headers, URL or context")
	}
	if len(req.Header) != 1 {
		t.Errorf("the original request's headers changed: %v", req.Header)
	}

	plain := httptest.NewRequestWithContext(testCtx(t), http.MethodPost, "https://stytch.example/v1/b2b/sessions/attest", nil)
	if n := testing.AllocsPerRun(100, func() { _, _ = rt.RoundTrip(plain) }); n != 0 {
		t.Errorf("%v allocations for a request without trace context, want 0", n)
	}
	if sent != plain || len(plain.Header) != 0 {
		t.Error("a request without trace context was copied or changed")
	}

	(&http.Client{Transport: rt}).CloseIdleConnections()
	if !closed {
		t.Error("CloseIdleConnections did not reach the wrapped transport")
	}
}
