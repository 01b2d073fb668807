// Package config holds attestd's settings: one struct with defaults, read
// from flags and the environment (flags win), validated before anything
// starts, and printable without its secret.
package config

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/attestd/attestd/internal/upstream"
)

// Config is attestd's complete configuration.
type Config struct {
	// ProjectID is the Stytch project ID (STYTCH_PROJECT_ID).
	ProjectID string
	// Secret is the Stytch project secret (STYTCH_SECRET or the contents of
	// STYTCH_SECRET_FILE). Never printed.
	Secret Secret
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
	MaxRequestBytes int64
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
	RateBurst int64
	// MaxCallDeadline caps any call's deadline, whatever the caller asks
	// (ATTESTD_MAX_CALL_DEADLINE).
	MaxCallDeadline time.Duration
	// MaxMetadataBytes caps a call's headers: gRPC metadata or HTTP header
	// block (ATTESTD_MAX_METADATA_BYTES).
	MaxMetadataBytes int64
	// UpstreamMaxConcurrent bounds calls in flight to Stytch
	// (ATTESTD_UPSTREAM_MAX_CONCURRENT).
	UpstreamMaxConcurrent int64
	// UpstreamMaxQueue bounds calls waiting for an upstream slot; beyond
	// it calls are shed (ATTESTD_UPSTREAM_MAX_QUEUE).
	UpstreamMaxQueue int64
	// BreakerFailures is the least number of failed upstream calls within
	// BreakerWindow that opens the circuit, if they are also at least
	// BreakerFailureRatio of the calls (ATTESTD_BREAKER_FAILURES).
	BreakerFailures int64
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
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		GRPCAddr:                 ":50051",
		HTTPAddr:                 ":8080",
		UpstreamTimeout:          upstream.DefaultTimeout,
		MaxUpstreamResponseBytes: upstream.DefaultMaxResponseBytes,
		MaxRequestBytes:          64 << 10,
		ShutdownGrace:            15 * time.Second,
		WriteTimeout:             10 * time.Second,
		LogLevel:                 "info",
		LogFormat:                "json",
		EmulatorAddr:             "127.0.0.1:0",
		AuthExempt:               "health",
		RateBurst:                20,
		MaxCallDeadline:          30 * time.Second,
		MaxMetadataBytes:         16 << 10,
		UpstreamMaxConcurrent:    64,
		UpstreamMaxQueue:         256,
		BreakerFailures:          5,
		BreakerFailureRatio:      upstream.DefaultBreakerFailureRatio,
		BreakerWindow:            upstream.DefaultBreakerWindow,
		BreakerSlowCall:          upstream.DefaultSlowCall,
		BreakerCooldown:          10 * time.Second,
		AdminAddr:                ":9464",
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

// Load reads flags (args, without the program name) over the environment
// (getenv) over the defaults, then validates the result.
func Load(args []string, getenv func(string) string) (Config, error) {
	c := Default()
	fs := flag.NewFlagSet("attestd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	secretFile := getenv("STYTCH_SECRET_FILE")

	var errs []error
	str := func(p *string, name, env, usage string) {
		if v := getenv(env); v != "" {
			*p = v
		}
		fs.StringVar(p, name, *p, usage+" ("+env+")")
	}
	dur := func(p *time.Duration, name, env, usage string) {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, &Error{env, fmt.Sprintf("%q is not a duration (e.g. 10s)", v)})
			}
			*p = d
		}
		fs.DurationVar(p, name, *p, usage+" ("+env+")")
	}
	size := func(p *int64, name, env, usage string) {
		if v := getenv(env); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				errs = append(errs, &Error{env, fmt.Sprintf("%q is not a byte count", v)})
			}
			*p = n
		}
		fs.Int64Var(p, name, *p, usage+" ("+env+")")
	}
	float := func(p *float64, name, env, usage string) {
		if v := getenv(env); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				errs = append(errs, &Error{env, fmt.Sprintf("%q is not a number", v)})
			}
			*p = f
		}
		fs.Float64Var(p, name, *p, usage+" ("+env+")")
	}
	boolean := func(p *bool, name, env, usage string) {
		if v := getenv(env); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, &Error{env, fmt.Sprintf("%q is not true or false", v)})
			}
			*p = b
		}
		fs.BoolVar(p, name, *p, usage+" ("+env+")")
	}
	str(&c.ProjectID, "project-id", "STYTCH_PROJECT_ID", "Stytch project ID")
	c.Secret = Secret(getenv("STYTCH_SECRET")) // no flag: argv is visible to every local user
	fs.StringVar(&secretFile, "secret-file", secretFile, "file holding the Stytch secret (STYTCH_SECRET_FILE)")
	str(&c.BaseURL, "base-url", "STYTCH_BASE_URL", "Stytch API base URL")
	str(&c.GRPCAddr, "grpc-addr", "ATTESTD_GRPC_ADDR", "gRPC listen address")
	str(&c.HTTPAddr, "http-addr", "ATTESTD_HTTP_ADDR", "REST listen address")
	dur(&c.UpstreamTimeout, "upstream-timeout", "ATTESTD_UPSTREAM_TIMEOUT", "cap on each Stytch call")
	size(&c.MaxUpstreamResponseBytes, "max-upstream-response-bytes", "ATTESTD_MAX_UPSTREAM_RESPONSE_BYTES", "cap on a Stytch answer")
	size(&c.MaxRequestBytes, "max-request-bytes", "ATTESTD_MAX_REQUEST_BYTES", "cap on a caller's request")
	dur(&c.ShutdownGrace, "shutdown-grace", "ATTESTD_SHUTDOWN_GRACE", "time for in-flight calls at shutdown")
	dur(&c.WriteTimeout, "write-timeout", "ATTESTD_WRITE_TIMEOUT", "bound on writing each REST answer")
	str(&c.LogLevel, "log-level", "ATTESTD_LOG_LEVEL", "debug, info, warn or error")
	str(&c.LogFormat, "log-format", "ATTESTD_LOG_FORMAT", "json or text")
	str(&c.EmulatorAddr, "emulator-addr", "ATTESTD_EMULATOR_ADDR", "embedded Stytch emulator listen address (no credentials)")
	str(&c.EmulatorSeed, "emulator-seed", "ATTESTD_EMULATOR_SEED", "embedded Stytch emulator seed file (JSON or YAML)")
	str(&c.TLSCertFile, "tls-cert-file", "ATTESTD_TLS_CERT_FILE", "TLS certificate (PEM) for both listeners")
	str(&c.TLSKeyFile, "tls-key-file", "ATTESTD_TLS_KEY_FILE", "TLS private key (PEM)")
	str(&c.TLSClientCAFile, "tls-client-ca-file", "ATTESTD_TLS_CLIENT_CA_FILE", "CA bundle for client certificates (mutual TLS)")
	str(&c.TLSAllowedClients, "tls-allowed-clients", "ATTESTD_TLS_ALLOWED_CLIENTS", "allowed client identities, comma-separated SAN DNS names or URIs")
	str(&c.AuthTokensFile, "auth-tokens-file", "ATTESTD_AUTH_TOKENS_FILE", "caller bearer tokens, one \"name token\" per line")
	str(&c.AuthExempt, "auth-exempt", "ATTESTD_AUTH_EXEMPT", "health, reflection (comma-separated) or none")
	float(&c.RateLimit, "rate-limit", "ATTESTD_RATE_LIMIT", "calls per second per caller (0: off)")
	size(&c.RateBurst, "rate-burst", "ATTESTD_RATE_BURST", "burst per caller")
	dur(&c.MaxCallDeadline, "max-call-deadline", "ATTESTD_MAX_CALL_DEADLINE", "cap on any call's deadline")
	size(&c.MaxMetadataBytes, "max-metadata-bytes", "ATTESTD_MAX_METADATA_BYTES", "cap on a call's headers")
	size(&c.UpstreamMaxConcurrent, "upstream-max-concurrent", "ATTESTD_UPSTREAM_MAX_CONCURRENT", "calls in flight to Stytch")
	size(&c.UpstreamMaxQueue, "upstream-max-queue", "ATTESTD_UPSTREAM_MAX_QUEUE", "calls waiting for Stytch before shedding")
	size(&c.BreakerFailures, "breaker-failures", "ATTESTD_BREAKER_FAILURES", "failed Stytch calls within the window that open the circuit (with the failure ratio)")
	float(&c.BreakerFailureRatio, "breaker-failure-ratio", "ATTESTD_BREAKER_FAILURE_RATIO", "share of failed Stytch calls within the window that opens the circuit (0 to 1]")
	dur(&c.BreakerWindow, "breaker-window", "ATTESTD_BREAKER_WINDOW", "sliding window in which the breaker counts Stytch calls")
	dur(&c.BreakerSlowCall, "breaker-slow-call", "ATTESTD_BREAKER_SLOW_CALL", "time unanswered after which a Stytch call counts as failed even if its caller gives up")
	dur(&c.BreakerCooldown, "breaker-cooldown", "ATTESTD_BREAKER_COOLDOWN", "time the circuit stays open")
	str(&c.AdminAddr, "admin-addr", "ATTESTD_ADMIN_ADDR", "admin listener: /metrics, /healthz, /readyz (off: none)")
	boolean(&c.AdminPprof, "admin-pprof", "ATTESTD_ADMIN_PPROF", "serve /debug/pprof/ on the admin listener")
	if len(errs) > 0 {
		return c, errs[0]
	}
	if err := fs.Parse(args); err != nil {
		return c, &Error{"flags", err.Error()}
	}
	if fs.NArg() > 0 {
		return c, &Error{"flags", fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if secretFile != "" {
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return c, &Error{"STYTCH_SECRET_FILE", "cannot be read: " + err.Error()}
		}
		c.Secret = Secret(strings.TrimSpace(string(b)))
	}
	return c, c.Validate()
}

// Validate checks every setting and names the first one at fault.
func (c Config) Validate() error {
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

// Emulated reports emulator mode: no Stytch credentials, so attestd starts
// the embedded Stytch emulator and uses it as its upstream.
func (c Config) Emulated() bool { return c.ProjectID == "" && c.Secret == "" }

// StytchBaseURL is the effective Stytch base URL ("" in emulator mode, where
// the emulator's address is known only once it listens).
func (c Config) StytchBaseURL() string {
	if c.Emulated() {
		return ""
	}
	if c.BaseURL != "" {
		return strings.TrimSuffix(c.BaseURL, "/")
	}
	return upstream.DefaultBaseURL(c.ProjectID)
}

// LogValue prints the configuration with the secret redacted, so the whole
// struct can be logged at start-up.
func (c Config) LogValue() slog.Value {
	mode := "stytch"
	if c.Emulated() {
		mode = "emulator"
	}
	return slog.GroupValue(
		slog.String("mode", mode),
		slog.String("project_id", c.ProjectID),
		slog.Any("secret", c.Secret),
		slog.String("stytch_base_url", redactURL(c.StytchBaseURL())),
		slog.String("grpc_addr", c.GRPCAddr),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("upstream_timeout", c.UpstreamTimeout.String()),
		slog.Int64("max_upstream_response_bytes", c.MaxUpstreamResponseBytes),
		slog.Int64("max_request_bytes", c.MaxRequestBytes),
		slog.String("shutdown_grace", c.ShutdownGrace.String()),
		slog.String("write_timeout", c.WriteTimeout.String()),
		slog.String("log_level", c.LogLevel),
		slog.String("log_format", c.LogFormat),
		slog.String("emulator_addr", c.EmulatorAddr),
		slog.String("emulator_seed", c.EmulatorSeed),
		slog.String("tls_cert_file", c.TLSCertFile),
		slog.String("tls_key_file", c.TLSKeyFile),
		slog.String("tls_client_ca_file", c.TLSClientCAFile),
		slog.String("tls_allowed_clients", c.TLSAllowedClients),
		slog.String("auth_tokens_file", c.AuthTokensFile),
		slog.String("auth_exempt", c.AuthExempt),
		slog.Float64("rate_limit", c.RateLimit),
		slog.Int64("rate_burst", c.RateBurst),
		slog.String("max_call_deadline", c.MaxCallDeadline.String()),
		slog.Int64("max_metadata_bytes", c.MaxMetadataBytes),
		slog.Int64("upstream_max_concurrent", c.UpstreamMaxConcurrent),
		slog.Int64("upstream_max_queue", c.UpstreamMaxQueue),
		slog.Int64("breaker_failures", c.BreakerFailures),
		slog.Float64("breaker_failure_ratio", c.BreakerFailureRatio),
		slog.String("breaker_window", c.BreakerWindow.String()),
		slog.String("breaker_slow_call", c.BreakerSlowCall.String()),
		slog.String("breaker_cooldown", c.BreakerCooldown.String()),
		slog.String("admin_addr", c.AdminAddr),
		slog.Bool("admin_pprof", c.AdminPprof),
	)
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
