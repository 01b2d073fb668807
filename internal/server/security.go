package server

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/middleware"
	"github.com/attestd/attestd/internal/observe"
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
// them is a configuration error naming its setting. The token file is
// re-read when it changes (reported through report, as "auth_tokens").
func loadPolicy(cfg config.Config, log *slog.Logger, report func(file string) func(error)) (policy, error) {
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
		tokens, err := security.WatchTokens(cfg.AuthTokensFile, report(authTokensFile))
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
	p.chain.Auth.TrustedProxies, _ = cfg.Proxies() // validated
	return p, nil
}

// The names the reloaded files go by in logs and metrics.
const (
	authTokensFile   = "auth_tokens"
	stytchSecretFile = "stytch_secret"
)

// fileReports reports each reload of a watched file: an error log (the
// previous value stays in use) or an info one, and the metrics.
func fileReports(log *slog.Logger, m *observe.Metrics) func(file string) func(error) {
	return func(file string) func(error) {
		m.WatchFile(file)
		return func(err error) {
			m.FileReload(file, err)
			if err != nil {
				log.Error("file reload failed; the previous value stays in use", "file", file, "error", err.Error())
				return
			}
			log.Info("file reloaded", "file", file)
		}
	}
}

// secretFromFile is the Stytch secret file's content, whitespace trimmed;
// an empty file is refused (the previous secret stays).
func secretFromFile(b []byte) (string, error) {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", errors.New("holds no secret")
	}
	return s, nil
}

// grpcCredentials are the gRPC server's transport credentials: TLS, or
// none.
func (p policy) grpcCredentials() credentials.TransportCredentials {
	if p.tls == nil {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(p.tls)
}
