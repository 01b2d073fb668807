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

	"github.com/attestd/attestd/service/upstream"
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
		LogLevel:                 "info",
		LogFormat:                "json",
		EmulatorAddr:             "127.0.0.1:0",
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
	str(&c.LogLevel, "log-level", "ATTESTD_LOG_LEVEL", "debug, info, warn or error")
	str(&c.LogFormat, "log-format", "ATTESTD_LOG_FORMAT", "json or text")
	str(&c.EmulatorAddr, "emulator-addr", "ATTESTD_EMULATOR_ADDR", "embedded Stytch emulator listen address (no credentials)")
	str(&c.EmulatorSeed, "emulator-seed", "ATTESTD_EMULATOR_SEED", "embedded Stytch emulator seed file (JSON or YAML)")
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
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return &Error{"STYTCH_BASE_URL", fmt.Sprintf("%q is not an absolute http(s) URL", c.BaseURL)}
		}
	}
	for _, a := range []struct{ env, addr string }{{"ATTESTD_GRPC_ADDR", c.GRPCAddr}, {"ATTESTD_HTTP_ADDR", c.HTTPAddr}, {"ATTESTD_EMULATOR_ADDR", c.EmulatorAddr}} {
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
		slog.String("stytch_base_url", c.StytchBaseURL()),
		slog.String("grpc_addr", c.GRPCAddr),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("upstream_timeout", c.UpstreamTimeout.String()),
		slog.Int64("max_upstream_response_bytes", c.MaxUpstreamResponseBytes),
		slog.Int64("max_request_bytes", c.MaxRequestBytes),
		slog.String("shutdown_grace", c.ShutdownGrace.String()),
		slog.String("log_level", c.LogLevel),
		slog.String("log_format", c.LogFormat),
		slog.String("emulator_addr", c.EmulatorAddr),
		slog.String("emulator_seed", c.EmulatorSeed),
	)
}

// String is the redacted form, so %v and %s never print the secret either.
func (c Config) String() string { return c.LogValue().String() }

// GoString keeps %#v from printing the secret.
func (c Config) GoString() string { return c.String() }
