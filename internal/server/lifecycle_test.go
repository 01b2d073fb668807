package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/goleak"

	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/server"
	"github.com/attestd/attestd/internal/stytchtest"
)

// shutdownExporter is a span exporter that records being shut down, which
// the tracer provider's Shutdown does.
type shutdownExporter struct{ shut atomic.Bool }

func (e *shutdownExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }

func (e *shutdownExporter) Shutdown(context.Context) error {
	e.shut.Store(true)
	return nil
}

// freeAddr is a loopback address nothing listens on (just released).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestFailedStartReleasesWhatItBuilt: whichever step of New or Serve fails
// after the tracer provider is built, the provider is shut down and every
// address attestd had bound (its listeners, the embedded emulator's) is free
// again, and no goroutine of it is left (the gRPC server's stream workers).
func TestFailedStartReleasesWhatItBuilt(t *testing.T) {
	defer noGoroutineLeft(t, goleak.IgnoreCurrent())
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	inUse := busy.Addr().String()
	malformed := filepath.Join(t.TempDir(), "malformed")
	if err := os.WriteFile(malformed, []byte("only-a-name\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		emulated bool
		mutate   func(*config.Config)
	}{
		{"gRPC port in use", false, func(c *config.Config) { c.GRPCAddr = inUse }},
		{"REST port in use", false, func(c *config.Config) { c.HTTPAddr = inUse }},
		{"admin port in use", false, func(c *config.Config) { c.AdminAddr = inUse }},
		{"emulator port in use", true, func(c *config.Config) { c.EmulatorAddr = inUse }},
		{"REST port in use, emulated", true, func(c *config.Config) { c.HTTPAddr = inUse }},
		{"malformed token file", false, func(c *config.Config) { c.AuthTokensFile = malformed }},
		{"malformed seed", true, func(c *config.Config) { c.EmulatorSeed = malformed }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			if !tc.emulated {
				cfg.ProjectID, cfg.Secret = stytchtest.ProjectID, config.Secret(stytchtest.Secret)
				cfg.BaseURL = "http://" + freeAddr(t)
			}
			addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)}
			cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr, cfg.EmulatorAddr = addrs[0], addrs[1], addrs[2], addrs[3]
			tc.mutate(&cfg)
			exp := &shutdownExporter{}
			log := slog.New(slog.NewJSONHandler(io.Discard, nil))
			if srv, err := server.Start(ctx(t), cfg, log, server.WithSpanExporter(exp)); err == nil {
				srv.Shutdown()
				t.Fatal("Start succeeded")
			}
			if !exp.shut.Load() {
				t.Error("the tracer provider was not shut down")
			}
			for _, a := range addrs {
				l, err := net.Listen("tcp", a)
				if err != nil {
					t.Errorf("%s is still held: %v", a, err)
					continue
				}
				l.Close()
			}
		})
	}
}

// noGoroutineLeft fails t if goroutines other than opts allows are still
// running after up to 10 s: stopped servers' goroutines end soon but not at
// once, later still under -race on a busy machine than goleak's own ~0.5 s
// of retries allows for.
func noGoroutineLeft(t *testing.T, opts ...goleak.Option) {
	t.Helper()
	// observe.NewTracing starts a batch span processor it then drops for a
	// custom exporter's simple one: that goroutine is observe's, not a
	// failure path's.
	opts = append(opts, goleak.IgnoreTopFunction("go.opentelemetry.io/otel/sdk/trace.(*batchSpanProcessor).processQueue"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := goleak.Find(opts...)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Error(err)
			return
		}
	}
}

// TestNewBindsNothing: New builds attestd without taking its ports, and a
// Server that never served shuts down cleanly, releasing the tracer
// provider, even with no grace at all.
func TestNewBindsNothing(t *testing.T) {
	cfg := config.Default()
	cfg.ProjectID, cfg.Secret = stytchtest.ProjectID, config.Secret(stytchtest.Secret)
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr = freeAddr(t), freeAddr(t), freeAddr(t)
	cfg.ShutdownGrace = 0
	exp := &shutdownExporter{}
	srv, err := server.New(cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), server.WithSpanExporter(exp))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, a := range []string{cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr} {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("New bound %s: %v", a, err)
			continue
		}
		l.Close()
	}
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown of a Server that never served hangs")
	}
	if !exp.shut.Load() {
		t.Error("the tracer provider was not shut down")
	}
}
