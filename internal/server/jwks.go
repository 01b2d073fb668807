package server

import (
	"context"
	"log/slog"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/attest"
	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/jwks"
	"github.com/attestd/attestd/internal/version"
)

// sessionService is SessionService: Attest from package attest, GetJwks
// from the JWKS cache, which also looks at every session JWT handed out
// (an unknown kid means Stytch rotated its keys: refresh).
type sessionService struct {
	*attest.Server
	jwks *jwks.Cache
}

// Attest is attest's, telling the JWKS cache of the session JWT issued.
func (s sessionService) Attest(ctx context.Context, req *b2bsessionv1.AttestRequest) (*b2bsessionv1.AttestResponse, error) {
	resp, err := s.Server.Attest(ctx, req)
	if err == nil {
		s.jwks.Notice(resp.GetSessionJwt())
	}
	return resp, err
}

// GetJwks is the JWKS cache's.
func (s sessionService) GetJwks(ctx context.Context, req *b2bsessionv1.GetJwksRequest) (*b2bsessionv1.GetJwksResponse, error) {
	return s.jwks.GetJwks(ctx, req)
}

// newJWKS builds the JWKS cache for target up: Stytch's keys, or the
// embedded emulator's in emulator mode, labelled so in logs and metrics.
func newJWKS(cfg config.Config, up target, s *Server, log *slog.Logger) *jwks.Cache {
	source := "stytch"
	if s.emulator != nil {
		source = "emulator"
	}
	m := s.metrics.JWKS(source)
	maxStale := cfg.JWKSMaxStale
	if maxStale == 0 {
		maxStale = -1 // never
	}
	c := jwks.New(jwks.Options{
		BaseURL:          up.baseURL,
		ProjectID:        up.projectID,
		Secret:           up.secret,
		SecretSource:     s.secretSource(),
		Source:           source,
		Transport:        s.stytchRT,
		Timeout:          cfg.UpstreamTimeout,
		MaxResponseBytes: int64(cfg.MaxUpstreamResponseBytes),
		UserAgent:        "attestd/" + version.Version(),
		MaxStale:         maxStale,
		Log:              log.With("component", "jwks"),
		OnHit:            m.Hit,
		OnRefresh:        m.Refresh,
	})
	m.WatchStaleness(c.Staleness)
	return c
}

// startJWKS fetches the JWKS and keeps it fresh in the background until
// stopJWKS.
func (s *Server) startJWKS() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stopJWKSRun = func() {
		cancel()
		<-done
	}
	go func() {
		defer close(done)
		s.jwks.Run(ctx)
	}()
}

// stopJWKS ends the background refreshes (a fetch under way runs out on
// its own timeout; nothing waits for it).
func (s *Server) stopJWKS() {
	if s.stopJWKSRun != nil {
		s.stopJWKSRun()
	}
}
