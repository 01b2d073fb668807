package server

import (
	"crypto/tls"
	"log/slog"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/middleware"
	"github.com/attestd/attestd/internal/ratelimit"
	"github.com/attestd/attestd/internal/security"
)

// policy is everything that decides who may call: the listeners' TLS and
// the chain's caller rules.
type policy struct {
	tls      *tls.Config // nil: plaintext
	reloader *security.Reloader
	chain    middleware.Options
}

// loadPolicy reads the certificate and token files. A problem with one of
// them is a configuration error naming its setting.
func loadPolicy(cfg config.Config, log *slog.Logger) (policy, error) {
	var p policy
	if cfg.TLSCertFile != "" {
		var err error
		p.tls, p.reloader, err = security.ServerConfig(security.TLSOptions{
			CertFile: cfg.TLSCertFile, KeyFile: cfg.TLSKeyFile,
			ClientCAFile: cfg.TLSClientCAFile, AllowedClients: cfg.AllowedClients(),
		})
		if err != nil {
			return p, &config.Error{Setting: "ATTESTD_TLS_*", Problem: err.Error()}
		}
	}
	health, reflection, _ := cfg.Exempt() // validated
	p.chain = middleware.Options{
		Auth:        middleware.AuthOptions{ExemptHealth: health, ExemptReflection: reflection, AllowedClients: cfg.AllowedClients()},
		MaxDeadline: cfg.MaxCallDeadline,
	}
	if cfg.AuthTokensFile != "" {
		tokens, err := security.LoadTokens(cfg.AuthTokensFile)
		if err != nil {
			return p, &config.Error{Setting: "ATTESTD_AUTH_TOKENS_FILE", Problem: err.Error()}
		}
		p.chain.Auth.Tokens = tokens
		if p.tls == nil {
			log.Warn("bearer tokens travel in plaintext: set ATTESTD_TLS_CERT_FILE and ATTESTD_TLS_KEY_FILE")
		}
	}
	if cfg.RateLimit > 0 {
		p.chain.Limiter = ratelimit.New(cfg.RateLimit, cfg.RateBurst, nil)
	}
	return p, nil
}

// grpcCredentials are the gRPC server's transport credentials: TLS, or
// none.
func (p policy) grpcCredentials() credentials.TransportCredentials {
	if p.tls == nil {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(p.tls)
}
