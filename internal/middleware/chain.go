// Package middleware holds attestd's gRPC interceptors and the one ordered,
// named chain they run in. REST calls reach the services through the
// gateway's in-process connection (inproc.Direct), which runs the same
// chain, so it serves both protocols.
package middleware

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
)

// Named is an interceptor with the name it is known by in the chain.
type Named struct {
	// Name identifies the interceptor in logs, docs and tests.
	Name string
	// Unary is the interceptor itself.
	Unary grpc.UnaryServerInterceptor
	// Stream, when set, guards streaming methods too (reflection, health
	// Watch); the chain has no streaming method of its own.
	Stream grpc.StreamServerInterceptor
}

// Chain is an ordered list of named interceptors; the first is outermost.
type Chain []Named

// Names lists the interceptors in order, outermost first.
func (c Chain) Names() []string {
	names := make([]string, len(c))
	for i, n := range c {
		names[i] = n.Name
	}
	return names
}

// ServerOptions validates the chain (unique, non-empty names) and installs
// it: the unary chain, and the stream chain of the entries that have one.
func (c Chain) ServerOptions() ([]grpc.ServerOption, error) {
	seen := make(map[string]bool, len(c))
	unary := make([]grpc.UnaryServerInterceptor, 0, len(c))
	var stream []grpc.StreamServerInterceptor
	for _, n := range c {
		if n.Name == "" || n.Unary == nil {
			return nil, fmt.Errorf("interceptor chain: entry %q is incomplete", n.Name)
		}
		if seen[n.Name] {
			return nil, fmt.Errorf("interceptor chain: %q appears twice", n.Name)
		}
		seen[n.Name] = true
		unary = append(unary, n.Unary)
		if n.Stream != nil {
			stream = append(stream, n.Stream)
		}
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...)}, nil
}

// Interceptor composes the chain's unary interceptors into one, outermost
// first, as grpc.ChainUnaryInterceptor does: for callers that run the chain
// without a grpc.Server (the gateway's in-process connection).
func (c Chain) Interceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		h := handler
		for i := len(c) - 1; i >= 0; i-- {
			next, ic := h, c[i].Unary
			h = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, next) }
		}
		return h(ctx, req)
	}
}
