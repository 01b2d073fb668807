package observe

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// With tracing off attestd installs no instrumentation (no otelhttp, no
// otelgrpc: each wraps every call in a span, a response writer or a copied
// request, and grpc-go builds a stats event per message for a stats
// handler), yet a caller's W3C trace context must still reach Stytch. These
// three carry it, and only it: PropagateHTTP and PropagateUnary extract it
// into the call's context, PropagateTransport injects it into the request
// to Stytch. A call that carries no trace context costs a few header or
// metadata lookups and no allocation.

// PropagateHTTP extracts p's fields (traceparent, tracestate, baggage) from
// a REST request's headers into its context, for PropagateTransport to send
// on. A request carrying none of them passes through untouched.
func PropagateHTTP(p propagation.TextMapPropagator, next http.Handler) http.Handler {
	keys := make([]string, 0, 3)
	for _, f := range p.Fields() {
		keys = append(keys, http.CanonicalHeaderKey(f))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range keys {
			if len(r.Header[k]) > 0 {
				r = r.WithContext(p.Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
				break
			}
		}
		next.ServeHTTP(w, r)
	})
}

// PropagateUnary extracts p's fields from a gRPC call's incoming metadata
// into its context. metadata.FromIncomingContext would copy the whole
// metadata of every call; the fields are looked up one by one instead, and
// copied only when present.
func PropagateUnary(p propagation.TextMapPropagator) grpc.UnaryServerInterceptor {
	fields := p.Fields() // lower case, as metadata keys are
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var md metadata.MD
		for _, f := range fields {
			if v := metadata.ValueFromIncomingContext(ctx, f); len(v) > 0 {
				if md == nil {
					md = make(metadata.MD, len(fields))
				}
				md[f] = v
			}
		}
		if md != nil {
			ctx = p.Extract(ctx, mdCarrier(md))
		}
		return handler(ctx, req)
	}
}

// PropagateTransport injects the trace context of each request's context
// (a span's, or a caller's continued by PropagateHTTP or PropagateUnary)
// into the request it sends. OpenTelemetry propagators write only from
// the span context and baggage, so a request whose context has neither is
// sent as it is; otherwise a copy carries the fields, since a RoundTripper
// must not modify its request.
func PropagateTransport(p propagation.TextMapPropagator, next http.RoundTripper) http.RoundTripper {
	return &propagateTransport{p: p, next: next}
}

type propagateTransport struct {
	p    propagation.TextMapPropagator
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *propagateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	if !trace.SpanContextFromContext(ctx).IsValid() && baggage.FromContext(ctx).Len() == 0 {
		return t.next.RoundTrip(r)
	}
	// A RoundTripper must not change the caller's request: a shallow copy
	// with headers of its own.
	out := new(http.Request)
	*out = *r
	out.Header = r.Header.Clone()
	t.p.Inject(ctx, propagation.HeaderCarrier(out.Header))
	return t.next.RoundTrip(out)
}

// CloseIdleConnections closes the wrapped transport's idle connections
// (http.Client.CloseIdleConnections looks for this method).
func (t *propagateTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// mdCarrier reads the metadata PropagateUnary collected; its keys are
// already lower case.
type mdCarrier metadata.MD

// Get implements propagation.TextMapCarrier.
func (m mdCarrier) Get(key string) string {
	if v := m[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set implements propagation.TextMapCarrier; extraction never calls it.
func (m mdCarrier) Set(key, value string) { m[key] = []string{value} }

// Keys implements propagation.TextMapCarrier.
func (m mdCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
