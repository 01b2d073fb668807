package server

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"

	"github.com/attestd/attestd/internal/observe"
	"github.com/attestd/attestd/internal/upstream"
)

// Option adjusts New and Start beyond the configuration (tests, embedding).
type Option func(*options)

type options struct {
	spanExporter sdktrace.SpanExporter
}

// WithSpanExporter sends spans to e (tests: an in-memory exporter),
// whatever OTEL_* says.
func WithSpanExporter(e sdktrace.SpanExporter) Option {
	return func(o *options) { o.spanExporter = e }
}

func collectOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// grpcServerTracing makes the span of each incoming gRPC call, continuing
// the caller's trace. With tracing off it only carries the caller's trace
// context to the handler: an interceptor, not a stats handler, for which
// grpc-go would build an event per header and message. Installed after the
// chain, it runs innermost, only for calls the chain admits: the call to
// Stytch, in the handler, is all that reads it.
func grpcServerTracing(t *observe.Tracing) grpc.ServerOption {
	if !t.Enabled() {
		return grpc.ChainUnaryInterceptor(observe.PropagateUnary(t.Propagator))
	}
	return grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(t.Provider), otelgrpc.WithPropagators(t.Propagator)))
}

// restTracing makes the span of each REST call from the caller's
// traceparent. Span names stay bounded: the route for Stytch's path, the
// method alone otherwise. With tracing off it only extracts the caller's
// trace context.
func restTracing(t *observe.Tracing, h http.Handler) http.Handler {
	if !t.Enabled() {
		return observe.PropagateHTTP(t.Propagator, h)
	}
	return otelhttp.NewHandler(h, "attestd.rest",
		otelhttp.WithTracerProvider(t.Provider), otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.URL.Path == upstream.AttestPath {
				return r.Method + " " + upstream.AttestPath
			}
			return r.Method
		}))
}

// upstreamTransport is the HTTP transport to Stytch with a client span per
// attempt and traceparent sent along; with tracing off, traceparent alone.
func upstreamTransport(t *observe.Tracing) http.RoundTripper {
	if !t.Enabled() {
		return observe.PropagateTransport(t.Propagator, upstream.NewTransport())
	}
	return otelhttp.NewTransport(upstream.NewTransport(),
		otelhttp.WithTracerProvider(t.Provider), otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "stytch " + r.Method + " " + r.URL.Path }))
}

// shutdownTracing flushes spans; errors are logged by the caller.
func shutdownTracing(ctx context.Context, t *observe.Tracing) error {
	if t == nil {
		return nil
	}
	return t.Shutdown(ctx)
}
