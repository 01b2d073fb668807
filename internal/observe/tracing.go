package observe

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing is the tracer provider and propagator attestd's instrumentation
// uses. Propagation (W3C traceparent and baggage) works even with tracing
// off: a caller's trace context still reaches Stytch.
type Tracing struct {
	// Provider makes the spans (a no-op provider when tracing is off).
	Provider trace.TracerProvider
	// Propagator reads and writes traceparent/tracestate and baggage.
	Propagator propagation.TextMapPropagator
	// Exporter names what spans go to: "none", "otlp/grpc", "otlp/http" or
	// "custom".
	Exporter string
	shutdown func(context.Context) error
}

// Enabled reports whether spans are recorded and exported. When they are
// not, attestd installs no tracing instrumentation at all, only
// propagation (PropagateHTTP, PropagateUnary, PropagateTransport).
func (t *Tracing) Enabled() bool {
	if t == nil || t.Provider == nil {
		return false
	}
	_, off := t.Provider.(noop.TracerProvider)
	return !off
}

// Shutdown flushes and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// NewTracing configures tracing from the standard OpenTelemetry
// environment variables. It is off unless OTEL_TRACES_EXPORTER=otlp or an
// OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
// is set; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it off.
// The exporters read their own OTEL_EXPORTER_OTLP_* settings; the SDK reads
// OTEL_TRACES_SAMPLER, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
// A custom exporter (tests) wins over the environment.
func NewTracing(ctx context.Context, getenv func(string) string, version string, custom sdktrace.SpanExporter) (*Tracing, error) {
	t := &Tracing{
		Provider:   noop.NewTracerProvider(),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		Exporter:   "none",
	}
	exporter := custom
	if exporter != nil {
		t.Exporter = "custom"
	} else {
		var err error
		if exporter, t.Exporter, err = exporterFromEnv(ctx, getenv); err != nil || exporter == nil {
			return t, err
		}
	}
	// Schemaless: the SDK's default resource carries its own semconv schema
	// URL, and merging two different schema URLs is an error.
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName("attestd"), semconv.ServiceVersion(version)))
	if err != nil {
		return nil, err
	}
	if fromEnv, err := resource.New(ctx, resource.WithFromEnv()); err == nil { // OTEL_SERVICE_NAME etc. win
		if merged, err := resource.Merge(res, fromEnv); err == nil {
			res = merged
		}
	}
	var span sdktrace.SpanProcessor = sdktrace.NewBatchSpanProcessor(exporter)
	if custom != nil {
		span = sdktrace.NewSimpleSpanProcessor(exporter) // tests read spans as soon as they end
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(span), sdktrace.WithResource(res))
	t.Provider, t.shutdown = tp, tp.Shutdown
	return t, nil
}

func exporterFromEnv(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, string, error) {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return nil, "none", nil
	}
	kind := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")))
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") + getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	switch {
	case kind == "none" || (kind == "" && endpoint == ""):
		return nil, "none", nil
	case kind != "" && kind != "otlp":
		return nil, "", fmt.Errorf("OTEL_TRACES_EXPORTER=%q: attestd exports traces with otlp (or none)", kind)
	}
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch protocol {
	case "grpc":
		exp, err := otlptracegrpc.New(ctx)
		return exp, "otlp/grpc", err
	case "", "http/protobuf":
		exp, err := otlptracehttp.New(ctx)
		return exp, "otlp/http", err
	}
	return nil, "", errors.New("OTEL_EXPORTER_OTLP_PROTOCOL: want grpc or http/protobuf, got " + protocol)
}
