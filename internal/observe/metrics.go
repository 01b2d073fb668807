// Package observe is how operators see attestd: Prometheus metrics,
// OpenTelemetry tracing (with tracing off, W3C trace-context propagation
// alone), and the admin listener that serves /metrics, /healthz, /readyz
// and (optionally) pprof. Nothing here ever carries a token, a secret, an
// email or an ID in a label.
package observe

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/attestd/attestd/internal/apierr"
)

// knownErrorTypes bounds the error_type label: the names apierr knows,
// Stytch's and attestd's own. Anything else is "other", so a misbehaving
// upstream cannot mint label values.
var knownErrorTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range apierr.Types() {
		m[t] = true
	}
	return m
}()

// ErrorTypeLabel is t when it is a known error type, "" for none, else
// "other".
func ErrorTypeLabel(t string) string {
	if t == "" || knownErrorTypes[t] {
		return t
	}
	return "other"
}

// Metrics are attestd's Prometheus metrics, on a registry of their own.
// Calls are counted once, by attestd_attest_calls_total and
// attestd_attest_duration_seconds: grpc-ecosystem's grpc_server_* series
// counted every call again, without the error_type or the protocol (REST
// reaches the services in process, as gRPC), so they are gone.
type Metrics struct {
	// Registry holds every attestd metric plus Go and process collectors.
	Registry *prometheus.Registry

	calls           *prometheus.CounterVec
	callDuration    *prometheus.HistogramVec
	upstreamLatency *prometheus.HistogramVec
	rateLimited     *prometheus.CounterVec
	fleetDecisions  *prometheus.CounterVec
	redisErrors     prometheus.Counter
	redisLatency    prometheus.Histogram
	fileReloads     *prometheus.CounterVec
	fileStale       *prometheus.GaugeVec
}

// UpstreamState reads the upstream client's live state.
type UpstreamState interface {
	InFlight() int
	Queued() int
	BreakerState() string
	CredentialsRejected() bool
}

// breakerStates are the breaker gauge's values.
var breakerStates = map[string]float64{"closed": 0, "half_open": 1, "open": 2}

// NewMetrics registers every metric; drift may be nil (no drift counter).
// The upstream gauges come with WatchUpstream, once the client exists.
func NewMetrics(version string, drift *DriftLog) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "attestd_attest_calls_total",
			Help: "Attest calls by protocol (grpc, rest), gRPC code and error_type (\"\" on success).",
		}, []string{"protocol", "code", "error_type"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "attestd_attest_duration_seconds",
			Help:    "Attest call latency inside attestd, by protocol.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"protocol"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "attestd_upstream_request_duration_seconds",
			Help:    "Each HTTP attempt to Stytch, by HTTP status (\"0\": no answer) and Stytch error_type.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"status", "error_type"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "attestd_rate_limited_total",
			Help: "Calls refused by a rate limit, by reason (caller: over its rate; auth_failure: too many failed authentications from an address; upstream_budget: the budget on calls to Stytch is spent).",
		}, []string{"reason"}),
		fileReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "attestd_file_reloads_total",
			Help: "Reloads of a file read again on change or SIGHUP (file: stytch_secret, auth_tokens), by result (ok, error: the previous value stays in use).",
		}, []string{"file", "result"}),
		fileStale: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "attestd_file_reload_failing",
			Help: "1 while the latest reload of the file failed and its previous value stays in use, else 0.",
		}, []string{"file"}),
	}
	m.Registry.MustRegister(m.calls, m.callDuration, m.upstreamLatency, m.rateLimited, m.fileReloads, m.fileStale,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "attestd_build_info", Help: "Always 1; the version label says which attestd runs.",
			ConstLabels: prometheus.Labels{"version": version},
		}, func() float64 { return 1 }))
	m.fleetDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "attestd_fleet_limit_decisions_total",
		Help: "Decisions of the fleet-wide limits on Redis, by limit (caller, upstream) and decision (allowed, refused: by the fleet's count; local_refused: by this replica's bucket, Redis not asked; fail_open: Redis failed, this replica's bucket decided).",
	}, []string{"limit", "decision"})
	m.redisErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "attestd_redis_errors_total",
		Help: "Redis operations of the fleet-wide limits that failed or timed out (the local limits then decided).",
	})
	m.redisLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "attestd_redis_duration_seconds",
		Help:    "Latency of each Redis operation of the fleet-wide limits, failed ones included.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
	})
	m.Registry.MustRegister(m.fleetDecisions, m.redisErrors, m.redisLatency)
	for _, r := range []string{"caller", "auth_failure", "upstream_budget"} {
		m.rateLimited.WithLabelValues(r) // present at 0 from the start
	}
	if drift != nil {
		m.Registry.MustRegister(driftCollector{drift})
	}
	return m
}

// WatchUpstream registers the gauges read from the upstream client: calls
// in flight, calls queued, the breaker's state.
func (m *Metrics) WatchUpstream(up UpstreamState) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "attestd_upstream_in_flight", Help: "Calls to Stytch in flight now.",
		}, func() float64 { return float64(up.InFlight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "attestd_upstream_queued", Help: "Calls waiting for a slot to call Stytch.",
		}, func() float64 { return float64(up.Queued()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "attestd_upstream_breaker_state", Help: "The circuit breaker on Stytch: 0 closed, 1 half-open, 2 open.",
		}, func() float64 { return breakerStates[up.BreakerState()] }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "attestd_upstream_credentials_rejected",
			Help: "1 while Stytch rejects attestd's own project credentials (attestd is misconfigured and unready), else 0.",
		}, func() float64 {
			if up.CredentialsRejected() {
				return 1
			}
			return 0
		}))
}

// SetMode registers attestd_mode{mode} at 1: the mode attestd runs in
// (stytch or emulator), for alerts on a production replica in emulator mode.
// Called once.
func (m *Metrics) SetMode(mode string) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "attestd_mode", Help: "Always 1; the mode label says whether attestd calls Stytch (stytch) or its embedded emulator (emulator: fake sessions, not for production).",
		ConstLabels: prometheus.Labels{"mode": mode},
	}, func() float64 { return 1 }))
}

// WatchFile makes a reloaded file's series present from the start, at 0.
func (m *Metrics) WatchFile(file string) {
	m.fileReloads.WithLabelValues(file, "ok")
	m.fileReloads.WithLabelValues(file, "error")
	m.fileStale.WithLabelValues(file).Set(0)
}

// FileReload records a reload of file: err nil for a success.
func (m *Metrics) FileReload(file string, err error) {
	if err != nil {
		m.fileReloads.WithLabelValues(file, "error").Inc()
		m.fileStale.WithLabelValues(file).Set(1)
		return
	}
	m.fileReloads.WithLabelValues(file, "ok").Inc()
	m.fileStale.WithLabelValues(file).Set(0)
}

// Call records one finished call.
func (m *Metrics) Call(protocol, code, errorType string, took time.Duration) {
	m.calls.WithLabelValues(protocol, code, ErrorTypeLabel(errorType)).Inc()
	m.callDuration.WithLabelValues(protocol).Observe(took.Seconds())
}

// RateLimited records a rate-limit refusal.
func (m *Metrics) RateLimited(reason string) { m.rateLimited.WithLabelValues(reason).Inc() }

// RedisOp records one Redis operation of the fleet-wide limits
// (fleetlimit.Observer).
func (m *Metrics) RedisOp(took time.Duration, err error) {
	m.redisLatency.Observe(took.Seconds())
	if err != nil {
		m.redisErrors.Inc()
	}
}

// FleetDecision records one decision of a fleet-wide limit
// (fleetlimit.Observer).
func (m *Metrics) FleetDecision(limit, decision string) {
	m.fleetDecisions.WithLabelValues(limit, decision).Inc()
}

// UpstreamAttempt records one HTTP attempt to Stytch (upstream.Options.Observe).
func (m *Metrics) UpstreamAttempt(status int, errorType string, took time.Duration) {
	m.upstreamLatency.WithLabelValues(strconv.Itoa(status), ErrorTypeLabel(errorType)).Observe(took.Seconds())
}

// driftCollector exposes the drift log's counts: one series per unknown
// key path, at most 257 (the log folds the rest into "(other)").
type driftCollector struct{ d *DriftLog }

var driftDesc = prometheus.NewDesc("attestd_upstream_unknown_keys_total",
	"Unknown keys seen in Stytch's answers, by JSON path: the protobuf mirror must grow.", []string{"path"}, nil)

func (c driftCollector) Describe(ch chan<- *prometheus.Desc) { ch <- driftDesc }

func (c driftCollector) Collect(ch chan<- prometheus.Metric) {
	for path, n := range c.d.Counts() {
		ch <- prometheus.MustNewConstMetric(driftDesc, prometheus.CounterValue, float64(n), path)
	}
}

// JWKSMetrics are the JWKS cache's series (attestd_jwks_*), every one
// labelled with the keys' source: "stytch", or "emulator" in emulator mode.
type JWKSMetrics struct {
	m         *Metrics
	source    string
	hits      prometheus.Counter
	refreshes *prometheus.CounterVec
}

// JWKS registers the JWKS cache's counters for keys from source; the
// staleness gauge follows with WatchStaleness, once the cache exists.
func (m *Metrics) JWKS(source string) *JWKSMetrics {
	labels := prometheus.Labels{"source": source}
	j := &JWKSMetrics{
		m:      m,
		source: source,
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "attestd_jwks_cache_hits_total", Help: "JWKS calls served from the cache without waiting for a fetch.",
			ConstLabels: labels,
		}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "attestd_jwks_refreshes_total",
			Help:        "JWKS fetches, by trigger (initial, background, expired, unknown_kid) and result (ok, not_modified, error).",
			ConstLabels: labels,
		}, []string{"trigger", "result"}),
	}
	m.Registry.MustRegister(j.hits, j.refreshes)
	for _, r := range []string{"ok", "not_modified", "error"} {
		j.refreshes.WithLabelValues("background", r) // present at 0 from the start
	}
	return j
}

// Hit counts a call served from the cache (jwks.Options.OnHit).
func (j *JWKSMetrics) Hit() { j.hits.Inc() }

// Refresh counts a fetch (jwks.Options.OnRefresh).
func (j *JWKSMetrics) Refresh(trigger, result string) {
	j.refreshes.WithLabelValues(trigger, result).Inc()
}

// WatchStaleness registers attestd_jwks_staleness_seconds, read from the
// cache: how long past its expiry the set served now is (0 while fresh).
func (j *JWKSMetrics) WatchStaleness(staleness func() time.Duration) {
	j.m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "attestd_jwks_staleness_seconds", Help: "How long past its expiry the JWKS served now is (0 while fresh): Stytch has not confirmed it since.",
		ConstLabels: prometheus.Labels{"source": j.source},
	}, func() float64 { return staleness().Seconds() }))
}
