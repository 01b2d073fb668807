// Package config holds attestd's settings: one struct with defaults, read
// from flags and the environment (flags win), validated before anything
// starts, and printable without its secret. One table (settings.go) names
// each setting's environment variable, flag and log key; the README's
// configuration table is checked against it.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is attestd's complete configuration.
type Config struct {
	// Mode is auto, stytch or emulator (ATTESTD_MODE): stytch requires the
	// Stytch credentials, emulator refuses them, auto (the default) runs
	// the embedded emulator when none are set. See EffectiveMode.
	Mode string
	// ProjectID is the Stytch project ID (STYTCH_PROJECT_ID).
	ProjectID string
	// Secret is the Stytch project secret (STYTCH_SECRET or the contents of
	// STYTCH_SECRET_FILE). Never printed.
	Secret Secret
	// SecretFile is where Secret was read from (STYTCH_SECRET_FILE), ""
	// when it was given directly; the server re-reads it when it changes.
	SecretFile string
	// BaseURL is Stytch's API base (STYTCH_BASE_URL); empty means the SDKs'
	// default for the project ID (test or live host).
	BaseURL string
	// GRPCAddr is the gRPC listen address (ATTESTD_GRPC_ADDR).
	GRPCAddr string
	// HTTPAddr is the REST listen address (ATTESTD_HTTP_ADDR).
	HTTPAddr string
	// UpstreamTimeout caps each Stytch call; a shorter caller deadline wins
	// (ATTESTD_UPSTREAM_TIMEOUT).
	UpstreamTimeout time.Duration
	// MaxUpstreamResponseBytes caps the Stytch answer attestd reads
	// (ATTESTD_MAX_UPSTREAM_RESPONSE_BYTES).
	MaxUpstreamResponseBytes int64
	// MaxRequestBytes caps a caller's request, REST body or gRPC message
	// (ATTESTD_MAX_REQUEST_BYTES).
	MaxRequestBytes int
	// ShutdownGrace is how long in-flight calls may take to finish after
	// SIGTERM/SIGINT (ATTESTD_SHUTDOWN_GRACE).
	ShutdownGrace time.Duration
	// WriteTimeout bounds the writing of each REST answer, from its first
	// byte; a caller that does not read loses its connection
	// (ATTESTD_WRITE_TIMEOUT).
	WriteTimeout time.Duration
	// LogLevel is debug, info, warn or error (ATTESTD_LOG_LEVEL).
	LogLevel string
	// LogFormat is json or text (ATTESTD_LOG_FORMAT).
	LogFormat string
	// EmulatorAddr is where the embedded Stytch emulator listens when no
	// credentials are set (ATTESTD_EMULATOR_ADDR); loopback by default.
	EmulatorAddr string
	// EmulatorSeed is a seed file for the embedded emulator
	// (ATTESTD_EMULATOR_SEED); empty means the demo seed.
	EmulatorSeed string

	// TLSCertFile and TLSKeyFile turn on TLS for both listeners
	// (ATTESTD_TLS_CERT_FILE, ATTESTD_TLS_KEY_FILE); reloaded when the files
	// change and on SIGHUP.
	TLSCertFile, TLSKeyFile string
	// TLSClientCAFile requires callers to present a certificate signed by
	// one of these CAs: mutual TLS (ATTESTD_TLS_CLIENT_CA_FILE).
	TLSClientCAFile string
	// TLSAllowedClients is a comma-separated allow-list of client identities
	// (SAN DNS names or URIs); empty admits any certificate the CA signed
	// (ATTESTD_TLS_ALLOWED_CLIENTS).
	TLSAllowedClients string
	// AuthTokensFile holds caller bearer tokens, one "name token" per line;
	// set, every call must carry one (ATTESTD_AUTH_TOKENS_FILE).
	AuthTokensFile string
	// AuthExempt lists what needs no caller credentials: health and/or
	// reflection, comma-separated, or "none" (ATTESTD_AUTH_EXEMPT).
	AuthExempt string
	// RateLimit is each caller's sustained calls per second; 0 is no limit
	// (ATTESTD_RATE_LIMIT).
	RateLimit float64
	// RateBurst is each caller's burst above RateLimit (ATTESTD_RATE_BURST).
	RateBurst int
	// RedisURL, when set, makes RateLimit and UpstreamRateLimit hold for
	// the whole fleet of replicas sharing it (ATTESTD_REDIS_URL); see
	// internal/fleetlimit.
	RedisURL string
	// RedisPasswordFile holds the Redis password, which then overrides
	// any in RedisURL (ATTESTD_REDIS_PASSWORD_FILE).
	RedisPasswordFile string
	// RedisTimeout bounds each Redis operation; past it, or on any Redis
	// error, the local limits decide (ATTESTD_REDIS_TIMEOUT).
	RedisTimeout time.Duration
	// UpstreamRateLimit is the calls per second to Stytch allowed, every
	// attempt counted, for the whole fleet with RedisURL, else per replica;
	// 0 is no limit (ATTESTD_UPSTREAM_RATE_LIMIT).
	UpstreamRateLimit float64
	// UpstreamRateBurst is the burst above UpstreamRateLimit; 0 means the
	// rate rounded up (ATTESTD_UPSTREAM_RATE_BURST).
	UpstreamRateBurst int
	// TrustedProxies lists the CIDRs (comma-separated) whose
	// X-Forwarded-For names the caller (ATTESTD_TRUSTED_PROXIES).
	TrustedProxies string
	// MaxCallDeadline caps any call's deadline, whatever the caller asks
	// (ATTESTD_MAX_CALL_DEADLINE).
	MaxCallDeadline time.Duration
	// MaxMetadataBytes caps a call's headers: gRPC metadata or HTTP header
	// block (ATTESTD_MAX_METADATA_BYTES).
	MaxMetadataBytes int
	// UpstreamMaxConcurrent bounds calls in flight to Stytch
	// (ATTESTD_UPSTREAM_MAX_CONCURRENT).
	UpstreamMaxConcurrent int
	// UpstreamMaxQueue bounds calls waiting for an upstream slot; beyond
	// it calls are shed (ATTESTD_UPSTREAM_MAX_QUEUE).
	UpstreamMaxQueue int
	// BreakerFailures is the least number of failed upstream calls within
	// BreakerWindow that opens the circuit, if they are also at least
	// BreakerFailureRatio of the calls (ATTESTD_BREAKER_FAILURES).
	BreakerFailures int
	// BreakerFailureRatio is the least share of failed calls among failed
	// and successful ones in the window that opens the circuit
	// (ATTESTD_BREAKER_FAILURE_RATIO).
	BreakerFailureRatio float64
	// BreakerWindow is how far back the breaker counts calls
	// (ATTESTD_BREAKER_WINDOW).
	BreakerWindow time.Duration
	// BreakerSlowCall is how long a Stytch call may go unanswered before it
	// counts as a failure even if its caller then gives up
	// (ATTESTD_BREAKER_SLOW_CALL).
	BreakerSlowCall time.Duration
	// BreakerCooldown is how long the circuit stays open before a probe
	// (ATTESTD_BREAKER_COOLDOWN).
	BreakerCooldown time.Duration
	// AdminAddr is the operators' listener: /metrics, /healthz, /readyz,
	// pprof; "off" disables it (ATTESTD_ADMIN_ADDR).
	AdminAddr string
	// AdminPprof serves /debug/pprof/ on the admin listener
	// (ATTESTD_ADMIN_PPROF).
	AdminPprof bool
	// JWKSMaxStale is how long past its expiry the last good JWKS is still
	// served while Stytch cannot be reached; 0 never (ATTESTD_JWKS_MAX_STALE).
	JWKSMaxStale time.Duration
}

// Stytch's hosts, chosen by project-ID prefix as Stytch's SDKs do.
const (
	liveBaseURL = "https://api.stytch.com"
	testBaseURL = "https://test.stytch.com"
)

// Default returns the configuration used when nothing is set. The upstream
// settings' defaults are also what the upstream client falls back to for
// zero options; the server's TestConfigDefaultsMatchUpstream holds the two
// equal (config imports none of the request path's packages).
func Default() Config {
	return Config{
		Mode:                     ModeAuto,
		GRPCAddr:                 ":50051",
		HTTPAddr:                 ":8080",
		UpstreamTimeout:          10 * time.Second,
		MaxUpstreamResponseBytes: 1 << 20,
		MaxRequestBytes:          64 << 10,
		ShutdownGrace:            15 * time.Second,
		WriteTimeout:             10 * time.Second,
		LogLevel:                 "info",
		LogFormat:                "json",
		EmulatorAddr:             "127.0.0.1:0",
		AuthExempt:               "health",
		RateBurst:                20,
		RedisTimeout:             50 * time.Millisecond,
		MaxCallDeadline:          30 * time.Second,
		MaxMetadataBytes:         16 << 10,
		UpstreamMaxConcurrent:    64,
		UpstreamMaxQueue:         256,
		BreakerFailures:          5,
		BreakerFailureRatio:      0.5,
		BreakerWindow:            10 * time.Second,
		BreakerSlowCall:          2 * time.Second,
		BreakerCooldown:          10 * time.Second,
		AdminAddr:                ":9464",
		JWKSMaxStale:             time.Hour,
	}
}

// Upper bounds of the size settings: far above any real attest exchange,
// low enough that no arithmetic on them overflows.
const (
	maxUpstreamResponseBytes = 64 << 20
	maxRequestBytes          = 4 << 20
)

// Error is a configuration problem: one line naming the setting.
type Error struct {
	// Setting is the environment variable (or flag) at fault.
	Setting string
	// Problem says what is wrong with it.
	Problem string
}

// Error renders the problem as "SETTING: problem".
func (e *Error) Error() string { return e.Setting + ": " + e.Problem }

// ErrHelp is Load's answer to -h, -help or --help: the caller prints Usage
// and exits 0.
var ErrHelp = flag.ErrHelp

// Usage writes the service's flags, each with its environment variable and
// default, from the same table Load reads.
func Usage(w io.Writer) {
	fs := flag.NewFlagSet("attestd", flag.ContinueOnError)
	src := source{Config: Default()}
	for _, s := range settings {
		if name := s.flagName(); name != "" {
			fs.Var(s.field(&src), name, s.usage+" ("+s.env+")")
		}
	}
	fmt.Fprint(w, `Usage:
  attestd [flags]              serve Attest over gRPC and REST (on the embedded Stytch emulator without credentials)
  attestd emulator [flags]     serve the Stytch emulator on its own
  attestd demo-token [flags]   mint a token the emulator's demo profiles accept
  attestd --version            print the version, commit and Go version

Every flag can also be set by the environment variable named after it; flags win.

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// Load reads flags (args, without the program name) over the environment
// (getenv) over the defaults, then validates the result. Every setting comes
// from the table in settings.go.
func Load(args []string, getenv func(string) string) (Config, error) {
	src := source{Config: Default()}
	fs := flag.NewFlagSet("attestd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, s := range settings {
		v := s.field(&src)
		if e := getenv(s.env); e != "" {
			if err := v.Set(e); err != nil {
				return src.Config, &Error{s.env, fmt.Sprintf("%q is not %s", e, v.what())}
			}
		}
		if name := s.flagName(); name != "" {
			fs.Var(v, name, s.usage+" ("+s.env+")")
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return src.Config, ErrHelp
		}
		return src.Config, &Error{"flags", err.Error()}
	}
	if fs.NArg() > 0 {
		return src.Config, &Error{"flags", fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	// Read once flags and environment have settled which file: one that a
	// flag overrides is never opened.
	if src.SecretFile != "" {
		b, err := os.ReadFile(src.SecretFile)
		if err != nil {
			return src.Config, &Error{"STYTCH_SECRET_FILE", "cannot be read: " + err.Error()}
		}
		src.Secret = Secret(strings.TrimSpace(string(b)))
	}
	return src.Config, src.Validate()
}

// The modes ATTESTD_MODE takes.
const (
	// ModeAuto runs on Stytch with credentials, on the embedded emulator
	// without: the newcomer's default.
	ModeAuto = "auto"
	// ModeStytch runs on Stytch; missing credentials are a start-up error.
	ModeStytch = "stytch"
	// ModeEmulator runs on the embedded emulator, for development; Stytch
	// credentials are refused, so a production secret is never ignored.
	ModeEmulator = "emulator"
)

// validateMode checks ATTESTD_MODE against the credentials.
func (c Config) validateMode() error {
	switch c.Mode {
	case ModeAuto:
	case ModeStytch:
		switch {
		case c.ProjectID == "":
			return &Error{"STYTCH_PROJECT_ID", "not set; ATTESTD_MODE=stytch needs the Stytch credentials (STYTCH_PROJECT_ID and STYTCH_SECRET or STYTCH_SECRET_FILE)"}
		case c.Secret == "" && c.SecretFile != "":
			return &Error{"STYTCH_SECRET_FILE", fmt.Sprintf("%s is empty; ATTESTD_MODE=stytch needs the Stytch secret", c.SecretFile)}
		case c.Secret == "":
			return &Error{"STYTCH_SECRET (or STYTCH_SECRET_FILE)", "not set; ATTESTD_MODE=stytch needs the Stytch credentials (STYTCH_PROJECT_ID and STYTCH_SECRET or STYTCH_SECRET_FILE)"}
		}
	case ModeEmulator:
		for _, set := range []struct {
			env string
			on  bool
		}{{"STYTCH_PROJECT_ID", c.ProjectID != ""}, {"STYTCH_SECRET", c.Secret != ""}, {"STYTCH_SECRET_FILE", c.SecretFile != ""}, {"STYTCH_BASE_URL", c.BaseURL != ""}} {
			if set.on {
				return &Error{set.env, "set with ATTESTD_MODE=emulator, which never calls Stytch: unset it, or use ATTESTD_MODE=stytch (or auto)"}
			}
		}
	default:
		return &Error{"ATTESTD_MODE", fmt.Sprintf("%q is not auto, stytch or emulator", c.Mode)}
	}
	return nil
}

// Validate checks every setting and names the first one at fault.
func (c Config) Validate() error {
	if err := c.validateMode(); err != nil {
		return err
	}
	switch {
	case c.ProjectID != "" && c.Secret == "":
		return &Error{"STYTCH_SECRET (or STYTCH_SECRET_FILE)", "not set; set it with STYTCH_PROJECT_ID to use Stytch, or unset both to run on the embedded emulator"}
	case c.ProjectID == "" && c.Secret != "":
		return &Error{"STYTCH_PROJECT_ID", "not set; set it with STYTCH_SECRET to use Stytch, or unset both to run on the embedded emulator"}
	case c.Emulated() && c.BaseURL != "":
		return &Error{"STYTCH_BASE_URL", "set without STYTCH_PROJECT_ID and STYTCH_SECRET; a Stytch API (or a standalone `attestd emulator`) needs its credentials"}
	case !c.Emulated() && c.EmulatorSeed != "":
		return &Error{"ATTESTD_EMULATOR_SEED", "set together with Stytch credentials; the embedded emulator only runs without them"}
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
			return &Error{"STYTCH_BASE_URL", fmt.Sprintf("%q is not an absolute http(s) URL", redactURL(c.BaseURL))}
		case u.User != nil:
			// attestd sends the project's credentials itself; a userinfo
			// part would be ignored at best and printed at worst.
			return &Error{"STYTCH_BASE_URL", fmt.Sprintf("%q carries credentials (user:password@); give them as STYTCH_PROJECT_ID and STYTCH_SECRET", redactURL(c.BaseURL))}
		}
	}
	addrs := []struct{ env, addr string }{{"ATTESTD_GRPC_ADDR", c.GRPCAddr}, {"ATTESTD_HTTP_ADDR", c.HTTPAddr}, {"ATTESTD_EMULATOR_ADDR", c.EmulatorAddr}}
	if c.AdminAddr != "off" {
		addrs = append(addrs, struct{ env, addr string }{"ATTESTD_ADMIN_ADDR", c.AdminAddr})
	}
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return &Error{a.env, fmt.Sprintf("%q is not a host:port listen address", a.addr)}
		}
	}
	switch {
	case c.UpstreamTimeout <= 0:
		return &Error{"ATTESTD_UPSTREAM_TIMEOUT", "must be positive"}
	case c.MaxUpstreamResponseBytes < 1024 || c.MaxUpstreamResponseBytes > maxUpstreamResponseBytes:
		return &Error{"ATTESTD_MAX_UPSTREAM_RESPONSE_BYTES", fmt.Sprintf("must be between 1024 and %d", maxUpstreamResponseBytes)}
	case c.MaxRequestBytes < 1024 || c.MaxRequestBytes > maxRequestBytes:
		return &Error{"ATTESTD_MAX_REQUEST_BYTES", fmt.Sprintf("must be between 1024 and %d", maxRequestBytes)}
	case c.ShutdownGrace < 0:
		return &Error{"ATTESTD_SHUTDOWN_GRACE", "must not be negative"}
	case c.WriteTimeout <= 0:
		return &Error{"ATTESTD_WRITE_TIMEOUT", "must be positive"}
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		return &Error{"ATTESTD_TLS_CERT_FILE, ATTESTD_TLS_KEY_FILE", "set both or neither"}
	case c.TLSClientCAFile != "" && c.TLSCertFile == "":
		return &Error{"ATTESTD_TLS_CLIENT_CA_FILE", "mutual TLS needs ATTESTD_TLS_CERT_FILE and ATTESTD_TLS_KEY_FILE"}
	case c.TLSAllowedClients != "" && c.TLSClientCAFile == "":
		return &Error{"ATTESTD_TLS_ALLOWED_CLIENTS", "an allow-list needs client certificates: set ATTESTD_TLS_CLIENT_CA_FILE"}
	case c.RateLimit < 0 || c.RateLimit > 1e6:
		return &Error{"ATTESTD_RATE_LIMIT", "must be between 0 (off) and 1000000 calls per second"}
	case c.RateBurst < 1 || c.RateBurst > 1e6:
		return &Error{"ATTESTD_RATE_BURST", "must be between 1 and 1000000"}
	case c.MaxCallDeadline <= 0:
		return &Error{"ATTESTD_MAX_CALL_DEADLINE", "must be positive"}
	case c.JWKSMaxStale < 0 || c.JWKSMaxStale > 7*24*time.Hour:
		return &Error{"ATTESTD_JWKS_MAX_STALE", "must be between 0 (never) and 168h"}
	case c.MaxMetadataBytes < 1024 || c.MaxMetadataBytes > 1<<20:
		return &Error{"ATTESTD_MAX_METADATA_BYTES", "must be between 1024 and 1048576"}
	case c.UpstreamMaxConcurrent < 1 || c.UpstreamMaxConcurrent > 1e5:
		return &Error{"ATTESTD_UPSTREAM_MAX_CONCURRENT", "must be between 1 and 100000"}
	case c.UpstreamMaxQueue < 0 || c.UpstreamMaxQueue > 1e6:
		return &Error{"ATTESTD_UPSTREAM_MAX_QUEUE", "must be between 0 and 1000000"}
	case c.BreakerFailures < 1 || c.BreakerFailures > 1e6:
		return &Error{"ATTESTD_BREAKER_FAILURES", "must be between 1 and 1000000"}
	case c.BreakerCooldown <= 0:
		return &Error{"ATTESTD_BREAKER_COOLDOWN", "must be positive"}
	case !(c.BreakerFailureRatio > 0 && c.BreakerFailureRatio <= 1): // NaN too
		return &Error{"ATTESTD_BREAKER_FAILURE_RATIO", "must be above 0 and at most 1"}
	case c.BreakerWindow < time.Second || c.BreakerWindow > time.Hour:
		return &Error{"ATTESTD_BREAKER_WINDOW", "must be between 1s and 1h"}
	case c.BreakerSlowCall <= 0:
		return &Error{"ATTESTD_BREAKER_SLOW_CALL", "must be positive"}
	}
	if err := c.validateFleet(); err != nil {
		return err
	}
	if _, _, err := c.Exempt(); err != nil {
		return err
	}
	if _, err := c.Level(); err != nil {
		return err
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return &Error{"ATTESTD_LOG_FORMAT", fmt.Sprintf("%q is neither json nor text", c.LogFormat)}
	}
	return nil
}

// Level is the parsed log level.
func (c Config) Level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return l, &Error{"ATTESTD_LOG_LEVEL", fmt.Sprintf("%q is not one of debug, info, warn, error", c.LogLevel)}
	}
	return l, nil
}

// Exempt parses AuthExempt: which of "health" and "reflection" need no
// caller credentials.
func (c Config) Exempt() (health, reflection bool, err error) {
	for _, f := range strings.Split(c.AuthExempt, ",") {
		switch strings.TrimSpace(f) {
		case "health":
			health = true
		case "reflection":
			reflection = true
		case "none", "":
		default:
			return false, false, &Error{"ATTESTD_AUTH_EXEMPT", fmt.Sprintf("%q is not health, reflection or none", strings.TrimSpace(f))}
		}
	}
	return health, reflection, nil
}

// AllowedClients splits TLSAllowedClients.
func (c Config) AllowedClients() []string {
	var out []string
	for _, id := range strings.Split(c.TLSAllowedClients, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// Emulated reports emulator mode: ATTESTD_MODE=emulator, or auto without
// Stytch credentials, so attestd starts the embedded Stytch emulator and
// uses it as its upstream.
func (c Config) Emulated() bool {
	return c.Mode == ModeEmulator || (c.Mode != ModeStytch && c.ProjectID == "" && c.Secret == "")
}

// EffectiveMode is the mode attestd runs in, auto resolved: stytch or
// emulator.
func (c Config) EffectiveMode() string {
	if c.Emulated() {
		return ModeEmulator
	}
	return ModeStytch
}

// StytchBaseURL is the effective Stytch base URL ("" in emulator mode, where
// the emulator's address is known only once it listens): STYTCH_BASE_URL, or
// the host Stytch's SDKs would use for the project (live for
// `project-live-…` IDs, test otherwise).
func (c Config) StytchBaseURL() string {
	if c.Emulated() {
		return ""
	}
	if c.BaseURL != "" {
		return strings.TrimSuffix(c.BaseURL, "/")
	}
	if strings.HasPrefix(c.ProjectID, "project-live-") {
		return liveBaseURL
	}
	return testBaseURL
}

// LogValue prints the configuration with the secret redacted, so the whole
// struct can be logged at start-up: every setting of the table under its
// key, the effective mode (stytch or emulator) first.
func (c Config) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(settings))
	src := source{Config: c}
	for _, s := range settings {
		if key := s.logKey(); key != "" {
			attrs = append(attrs, slog.Attr{Key: key, Value: s.logValue(&src)})
		}
	}
	return slog.GroupValue(attrs...)
}

// String is the redacted form, so %v and %s never print the secret either.
func (c Config) String() string { return c.LogValue().String() }

// GoString keeps %#v from printing the secret.
func (c Config) GoString() string { return c.String() }

// redactURL hides a URL's userinfo (user:password@), however malformed the
// rest of it: configuration is printed, and a password must never be.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		scheme, rest = "", raw
	}
	// The authority ends at the first '/', '?' or '#'; its userinfo at the
	// last '@' before that.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return raw
	}
	rest = "REDACTED@" + rest[at+1:]
	if ok {
		return scheme + "://" + rest
	}
	return rest
}
