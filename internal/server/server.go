// Package server wires attestd together: the upstream client, the gRPC server
// with its interceptor chain, health and reflection, and the REST gateway on a
// second listener. It owns start-up and graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/attestd/attestd/emulator"
	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/attest"
	"github.com/attestd/attestd/internal/codec"
	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/gateway"
	"github.com/attestd/attestd/internal/inproc"
	"github.com/attestd/attestd/internal/jwks"
	"github.com/attestd/attestd/internal/middleware"
	"github.com/attestd/attestd/internal/observe"
	"github.com/attestd/attestd/internal/security"
	"github.com/attestd/attestd/internal/upstream"
	"github.com/attestd/attestd/internal/version"
)

// Server is attestd: built by New (nothing bound yet), serving after Serve,
// stopped by Shutdown.
type Server struct {
	cfg      config.Config
	log      *slog.Logger
	grpc     *grpc.Server
	health   *health.Server
	http     *http.Server
	grpcLis  *countingListener // nil until Serve
	httpLis  *countingListener // nil until Serve
	drift    *observe.DriftLog
	emulator *emulator.Listener // nil unless in emulator mode
	direct   *inproc.Direct     // the gateway's way in
	upstream *upstream.Client
	metrics  *observe.Metrics
	tracing  *observe.Tracing
	admin    *observe.Admin     // nil when ATTESTD_ADMIN_ADDR=off, or until Serve
	tls      *tls.Config        // nil: plaintext
	reloader *security.Reloader // nil without TLS
	tokens   *security.Tokens   // nil without bearer tokens
	// secret follows STYTCH_SECRET_FILE; nil without one (or in emulator
	// mode).
	secret *security.File[string]
	creds  *credentialsWatch
	fleet  *fleet // the limits on Redis; nil until built
	// jwks serves GetJwks; stopJWKSRun ends its background refreshes
	// (nil until Serve).
	jwks        *jwks.Cache
	stytchRT    http.RoundTripper // the connection pool to Stytch (upstream client and JWKS)
	stopJWKSRun func()
	serveErr    chan error

	// For the "attestd serving" line.
	bearerTokens bool
	interceptors []string

	shutdownOnce sync.Once
	shutdownErr  error
}

// streamWorkersPerCPU sizes the gRPC server's worker pool (see
// grpc.NumStreamWorkers in New): 16 per CPU kept morestack out of the
// profile at 16 concurrent calls on 2 CPUs, for ~1 MiB of idle stacks.
const streamWorkersPerCPU = 16

// Start is New then Serve: attestd built, bound and serving, as Run and the
// tests want it. The returned Server runs until Shutdown; Wait reports a
// listener failing on its own. ctx is what the span exporter is built with.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*Server, error) {
	s, err := build(ctx, cfg, log, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Serve(); err != nil {
		return nil, err
	}
	return s, nil
}

// New builds attestd from the configuration without binding a listener of
// its own or serving: the tracer provider, metrics, the interceptor chain,
// the gRPC server, the upstream client, the REST gateway. Certificate, token
// and seed files are read here, so their problems surface before any port
// is taken. One exception binds: in emulator mode the embedded Stytch
// emulator is started, as the upstream client is built against its
// address. On failure, what was built is released; on success, Serve or
// Shutdown must follow.
func New(cfg config.Config, log *slog.Logger, opts ...Option) (*Server, error) {
	return build(context.Background(), cfg, log, opts)
}

func build(ctx context.Context, cfg config.Config, log *slog.Logger, opts []Option) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := collectOptions(opts)
	s := &Server{cfg: cfg, log: log, drift: observe.NewDriftLog(log), serveErr: make(chan error, 2)}
	defer func() {
		if err != nil {
			s.release()
		}
	}()
	// The OTLP exporters read their own OTEL_* settings from the process
	// environment, so whether tracing is on is decided from it too.
	if s.tracing, err = observe.NewTracing(ctx, os.Getenv, version.Version(), o.spanExporter); err != nil {
		return nil, &config.Error{Setting: "OTEL_*", Problem: err.Error()}
	}
	s.metrics = observe.NewMetrics(version.Version(), s.drift)
	s.metrics.SetMode(cfg.EffectiveMode())
	report := fileReports(log, s.metrics)

	validator, err := protovalidate.New(protovalidate.WithMessages(&b2bsessionv1.AttestRequest{}))
	if err != nil {
		return nil, fmt.Errorf("build request validator: %w", err)
	}
	pol, err := loadPolicy(cfg, log, report)
	if err != nil {
		return nil, err
	}
	s.tls, s.reloader, s.tokens, s.bearerTokens = pol.tls, pol.reloader, pol.chain.Auth.Tokens, pol.chain.Auth.Tokens != nil
	if s.fleet, err = newFleet(cfg, log, s.metrics); err != nil {
		return nil, err
	}
	pol.chain.Limiter = s.fleet.callers(cfg, pol.chain.Limiter)
	pol.chain.Metrics = s.metrics
	pol.chain.Audit = log.With("log_type", "audit")
	callLog := middleware.NewCallLog(log)
	pol.chain.CallLog = callLog
	chain := middleware.Default(log, validator, pol.chain)
	s.interceptors = chain.Names()
	chainOpts, err := chain.ServerOptions()
	if err != nil {
		return nil, err
	}
	s.grpc = grpc.NewServer(append(chainOpts,
		grpc.Creds(pol.grpcCredentials()),
		grpcServerTracing(s.tracing),
		grpc.MaxRecvMsgSize(cfg.MaxRequestBytes),
		grpc.MaxHeaderListSize(uint32(cfg.MaxMetadataBytes)),
		// Bounded nesting, and decode failures answered by the chain's
		// "decode" interceptor instead of grpc-go's Internal.
		grpc.ForceServerCodecV2(codec.Codec{}),
		// Calls run on long-lived workers, whose stacks have already grown to
		// what the chain and the decoder need, instead of a fresh goroutine
		// per call that grows its stack again (morestack copying was ~6% of
		// gRPC CPU at c1 and at c16). Enough workers for a busy replica's
		// concurrent calls; calls beyond them still get their own goroutine,
		// so this bounds nothing.
		grpc.NumStreamWorkers(uint32(streamWorkersPerCPU*runtime.GOMAXPROCS(0))))...)

	up := target{baseURL: cfg.StytchBaseURL(), projectID: cfg.ProjectID, secret: cfg.Secret.Reveal()}
	if cfg.Emulated() {
		if s.emulator, up, err = startEmulator(cfg, log); err != nil {
			return nil, err
		}
	} else if cfg.SecretFile != "" {
		// Read again as it changes: a rotated Secret needs no restart.
		if s.secret, err = security.WatchFile(cfg.SecretFile, secretFromFile, report(stytchSecretFile)); err != nil {
			return nil, &config.Error{Setting: "STYTCH_SECRET_FILE", Problem: err.Error()}
		}
	}
	s.creds = newCredentialsWatch(log, up.projectID)
	// One connection pool to Stytch, for attests and JWKS fetches alike.
	s.stytchRT = upstreamTransport(s.tracing)
	s.upstream = upstream.New(upstreamOptions(cfg, up, s))
	s.metrics.WatchUpstream(s.upstream)
	// The gateway calls the same services in process (inproc.Direct): the
	// whole interceptor chain (never Register…HandlerServer, which skips
	// it), without serializing, HTTP/2 or a socket.
	s.direct = inproc.NewDirect(chain.Interceptor(), cfg.MaxRequestBytes)
	s.jwks = newJWKS(cfg, up, s, log)
	svc := sessionService{Server: attest.New(s.upstream), jwks: s.jwks}
	s.health = health.NewServer()
	for _, r := range []grpc.ServiceRegistrar{s.grpc, s.direct} {
		b2bsessionv1.RegisterSessionServiceServer(r, svc)
		grpc_health_v1.RegisterHealthServer(r, s.health)
	}
	reflection.Register(s.grpc)

	handler, err := gateway.New(ctx, s.direct, gateway.Limits{
		MaxBody: int64(cfg.MaxRequestBytes),
		// Calls beyond what the upstream stage can hold or queue would be
		// shed there anyway; refusing them here bounds their decoding too.
		MaxInFlight:  cfg.UpstreamMaxConcurrent + cfg.UpstreamMaxQueue,
		WriteTimeout: cfg.WriteTimeout,
		MaxCallTime:  cfg.MaxCallDeadline,
		Refused:      restRefused(callLog, s.metrics),
	})
	if err != nil {
		return nil, err
	}
	s.http = &http.Server{
		Handler:           restTracing(s.tracing, handler),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second, // bodies are small; a trickle is an attack
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    cfg.MaxMetadataBytes,
		TLSConfig:         pol.tls,
	}
	return s, nil
}

// secretSource reads the Stytch secret file as it is now (it is re-read on
// change), or is nil when the secret is not from a file.
func (s *Server) secretSource() func() string {
	if s.secret == nil {
		return nil
	}
	return s.secret.Get
}

// upstreamOptions maps the configuration onto the upstream client's
// options, calling target up and reporting to s's drift log, metrics,
// tracing and credentials watch.
func upstreamOptions(cfg config.Config, up target, s *Server) upstream.Options {
	return upstream.Options{
		BaseURL:             up.baseURL,
		ProjectID:           up.projectID,
		Secret:              up.secret,
		SecretSource:        s.secretSource(),
		Timeout:             cfg.UpstreamTimeout,
		MaxResponseBytes:    cfg.MaxUpstreamResponseBytes,
		UserAgent:           "attestd/" + version.Version(),
		Drift:               s.drift,
		MaxConcurrent:       cfg.UpstreamMaxConcurrent,
		MaxQueue:            queue(cfg.UpstreamMaxQueue),
		BreakerFailures:     cfg.BreakerFailures,
		BreakerCooldown:     cfg.BreakerCooldown,
		BreakerFailureRatio: cfg.BreakerFailureRatio,
		BreakerWindow:       cfg.BreakerWindow,
		SlowCall:            cfg.BreakerSlowCall,
		Transport:           s.stytchRT,
		Observe:             s.metrics.UpstreamAttempt,
		OnCredentials:       s.creds.changed,
		Budget:              s.fleet.budget,
	}
}

// Serve binds the gRPC, REST and admin listeners and starts serving on
// them; it returns once attestd serves, and Wait reports a listener
// failing later. If a listener cannot be bound, the ones bound are closed
// and everything New built is released, as by Shutdown.
func (s *Server) Serve() error {
	if err := s.listen(); err != nil {
		s.closeListeners()
		_ = s.Shutdown()
		return err
	}
	go func() { s.serveErr <- s.grpc.Serve(s.grpcLis) }()
	go func() {
		serve := s.http.Serve
		if s.tls != nil {
			serve = func(l net.Listener) error { return s.http.ServeTLS(l, "", "") }
		}
		if err := serve(s.httpLis); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr <- err
		}
	}()
	if s.admin != nil {
		if s.cfg.Emulated() {
			s.admin.SetNote("emulator mode: fake sessions, not for production")
		}
		s.admin.SetReady(true)
	}
	s.health.SetServingStatus("", grpc_health_v1.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(b2bsessionv1.SessionService_ServiceDesc.ServiceName, grpc_health_v1.HealthCheckResponse_SERVING)
	s.creds.run(s.upstream, s.admin, s.health)
	s.startJWKS()
	v := version.Get()
	s.log.Info("attestd serving",
		"version", v.Version,
		"commit", v.Commit,
		"mode", s.cfg.EffectiveMode(),
		"grpc_addr", s.grpcLis.Addr().String(),
		"http_addr", s.httpLis.Addr().String(),
		"tls", s.tls != nil,
		"mtls", s.tls != nil && s.tls.ClientCAs != nil,
		"bearer_tokens", s.bearerTokens,
		"admin_addr", s.AdminAddr(),
		"tracing", s.tracing.Exporter,
		"interceptors", s.interceptors,
		"config", s.cfg)
	return nil
}

// listen binds the listeners, the admin one last: it serves as soon as it
// is bound, and nothing after it can fail.
func (s *Server) listen() error {
	l, err := net.Listen("tcp", s.cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("ATTESTD_GRPC_ADDR: %w", err)
	}
	s.grpcLis = &countingListener{Listener: l}
	if l, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("ATTESTD_HTTP_ADDR: %w", err)
	}
	s.httpLis = &countingListener{Listener: l}
	if s.cfg.AdminAddr != "off" {
		if s.admin, err = observe.NewAdmin(s.cfg.AdminAddr, s.metrics, s.cfg.AdminPprof); err != nil {
			return fmt.Errorf("ATTESTD_ADMIN_ADDR: %w", err)
		}
	}
	return nil
}

// queue maps the configured queue length to upstream's (where 0 means the
// default and a negative value no queue).
func queue(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// AdminAddr is the admin listener's address ("" when it is off).
func (s *Server) AdminAddr() string {
	if s.admin == nil {
		return ""
	}
	return s.admin.Addr().String()
}

// Upstream is the client attestd calls Stytch with (its breaker state and
// load, for tests and metrics).
func (s *Server) Upstream() *upstream.Client { return s.upstream }

// ReloadTLS reads the certificate files again (SIGHUP). Without TLS it
// does nothing.
func (s *Server) ReloadTLS() error {
	if s.reloader == nil {
		return nil
	}
	return s.reloader.Reload()
}

// ReloadFiles reads the caller tokens and the Stytch secret file again
// (SIGHUP; they are also re-read when they change), each reload logged and
// counted. A failure keeps that file's previous value in use; the errors
// are joined.
func (s *Server) ReloadFiles() error {
	var errs []error
	if s.tokens != nil {
		errs = append(errs, s.tokens.Reload())
	}
	if s.secret != nil {
		errs = append(errs, s.secret.Reload())
	}
	return errors.Join(errs...)
}

// GRPCAddr is the bound gRPC address.
func (s *Server) GRPCAddr() net.Addr { return s.grpcLis.Addr() }

// HTTPAddr is the bound REST address.
func (s *Server) HTTPAddr() net.Addr { return s.httpLis.Addr() }

// EmulatorURL is the embedded Stytch emulator's base URL; "" unless in
// emulator mode.
func (s *Server) EmulatorURL() string {
	if s.emulator == nil {
		return ""
	}
	return s.emulator.URL()
}

// Drift exposes the unknown-key counts seen in Stytch's answers.
func (s *Server) Drift() *observe.DriftLog { return s.drift }

// Wait blocks until a listener fails on its own (not through Shutdown).
func (s *Server) Wait(ctx context.Context) error {
	select {
	case err := <-s.serveErr:
		return err
	case <-ctx.Done():
		return nil
	}
}

// Shutdown stops taking calls, lets in-flight ones finish within the grace
// period, then forces the rest closed. Calling it again returns the first
// result.
func (s *Server) Shutdown() error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown() })
	return s.shutdownErr
}

func (s *Server) shutdown() error {
	s.creds.close()
	s.stopJWKS()
	if s.admin != nil {
		s.admin.SetReady(false)
		defer s.admin.Close()
	}
	s.health.Shutdown() // report NOT_SERVING to load balancers first
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()

	// Both listeners stop taking calls at once and drain side by side: REST
	// calls run in process (inproc.Direct) and do not need the gRPC server.
	// What is still held when the grace ends is cut: a caller that does not
	// read its answer, or a call that outlives the grace, cannot keep
	// attestd from exiting.
	var wg sync.WaitGroup
	var cutREST, cutGRPC int64
	wg.Add(2)
	go func() {
		defer wg.Done()
		if s.http.Shutdown(ctx) != nil {
			cutREST = s.httpLis.Open()
			s.http.Close()
		}
	}()
	go func() {
		defer wg.Done()
		stopped := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			cutGRPC = s.grpcLis.Open()
			s.grpc.Stop()
			<-stopped
		}
	}()
	wg.Wait()
	if cutREST+cutGRPC > 0 {
		s.log.Warn("connections still held at the end of the shutdown grace were closed",
			"grace", s.cfg.ShutdownGrace.String(), "rest_connections", cutREST, "grpc_connections", cutGRPC)
	}
	s.release()
	return nil
}

// release frees what New built beyond memory: the gRPC server's stream
// workers, the embedded emulator and the tracer provider. The emulator
// serves only attestd's own calls, all ended by now, and spans are flushed
// last: a short wait of their own, which an exhausted grace does not take
// away.
func (s *Server) release() {
	if s.grpc != nil {
		s.grpc.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := stopEmulator(ctx, s.emulator); err != nil {
		s.log.Warn("the embedded emulator's last connections were closed", "error", err.Error())
	}
	s.fleet.close()
	if err := shutdownTracing(ctx, s.tracing); err != nil {
		s.log.Warn("spans could not be flushed", "error", err.Error())
	}
}

// closeListeners closes the listeners Serve bound before one failed: the
// servers never took them, so Shutdown would not.
func (s *Server) closeListeners() {
	for _, l := range []*countingListener{s.grpcLis, s.httpLis} {
		if l != nil {
			l.Close()
		}
	}
}

// restRefused logs and counts the REST calls the gateway answers before the
// interceptor chain (shed, too large, undecodable) as the chain would have:
// the same call line, under the same rate limit, and the same counter.
func restRefused(callLog *middleware.CallLog, m *observe.Metrics) func(*http.Request, *apierr.Error, time.Duration) {
	return func(r *http.Request, e *apierr.Error, took time.Duration) {
		method := r.Method + " " + r.URL.Path
		if r.URL.Path == upstream.AttestPath {
			method = b2bsessionv1.SessionService_Attest_FullMethodName
			m.Call("rest", e.Code.String(), e.Body.GetErrorType(), took)
		}
		peer, _, _ := net.SplitHostPort(r.RemoteAddr)
		callLog.Refused(r.Context(), method, peer, e.Body.GetRequestId(), e, took)
	}
}
