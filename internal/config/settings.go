package config

import (
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// setting is one row of the table that drives Load (the environment variable
// and the flag it registers), LogValue (the key it prints) and the README's
// check (readme_test.go): a setting is spelled in Config and here only.
type setting struct {
	// env is the environment variable. The flag and the log key are derived
	// from it ("ATTESTD_GRPC_ADDR": -grpc-addr, grpc_addr; "STYTCH_" goes
	// the same way) unless flag or key says otherwise.
	env   string
	usage string
	// flag and key override the derived names; "-" means none.
	flag, key string
	// field is where the setting lives, typed.
	field func(*source) value
	// show, when set, is what is logged instead of the field's value.
	show func(Config) slog.Value
}

// source is what Load fills: the configuration.
type source struct {
	Config
}

// settings lists every setting, in the order LogValue prints them.
var settings = []setting{
	// The log shows the effective mode (stytch or emulator), auto resolved.
	{env: "ATTESTD_MODE", usage: "auto, stytch or emulator", field: func(s *source) value { return text(&s.Mode) },
		show: func(c Config) slog.Value { return slog.StringValue(c.EffectiveMode()) }},
	{env: "STYTCH_PROJECT_ID", usage: "Stytch project ID", field: func(s *source) value { return text(&s.ProjectID) }},
	// No flag: a process's arguments are visible to every local user.
	{env: "STYTCH_SECRET", flag: "-", usage: "Stytch project secret", field: func(s *source) value { return secret(&s.Secret) }},
	{env: "STYTCH_SECRET_FILE", key: "-", usage: "file holding the Stytch secret", field: func(s *source) value { return text(&s.SecretFile) }},
	// The log shows the effective URL, a default host included, without
	// any userinfo.
	{env: "STYTCH_BASE_URL", key: "stytch_base_url", usage: "Stytch API base URL", field: func(s *source) value { return text(&s.BaseURL) },
		show: func(c Config) slog.Value { return slog.StringValue(redactURL(c.StytchBaseURL())) }},
	{env: "ATTESTD_GRPC_ADDR", usage: "gRPC listen address", field: func(s *source) value { return text(&s.GRPCAddr) }},
	{env: "ATTESTD_HTTP_ADDR", usage: "REST listen address", field: func(s *source) value { return text(&s.HTTPAddr) }},
	{env: "ATTESTD_UPSTREAM_TIMEOUT", usage: "cap on each Stytch call", field: func(s *source) value { return duration(&s.UpstreamTimeout) }},
	{env: "ATTESTD_MAX_UPSTREAM_RESPONSE_BYTES", usage: "cap on a Stytch answer", field: func(s *source) value { return count(&s.MaxUpstreamResponseBytes) }},
	{env: "ATTESTD_MAX_REQUEST_BYTES", usage: "cap on a caller's request", field: func(s *source) value { return count(&s.MaxRequestBytes) }},
	{env: "ATTESTD_SHUTDOWN_GRACE", usage: "time for in-flight calls at shutdown", field: func(s *source) value { return duration(&s.ShutdownGrace) }},
	{env: "ATTESTD_WRITE_TIMEOUT", usage: "bound on writing each REST answer", field: func(s *source) value { return duration(&s.WriteTimeout) }},
	{env: "ATTESTD_LOG_LEVEL", usage: "debug, info, warn or error", field: func(s *source) value { return text(&s.LogLevel) }},
	{env: "ATTESTD_LOG_FORMAT", usage: "json or text", field: func(s *source) value { return text(&s.LogFormat) }},
	{env: "ATTESTD_EMULATOR_ADDR", usage: "embedded Stytch emulator listen address (no credentials)", field: func(s *source) value { return text(&s.EmulatorAddr) }},
	{env: "ATTESTD_EMULATOR_SEED", usage: "embedded Stytch emulator seed file (JSON or YAML)", field: func(s *source) value { return text(&s.EmulatorSeed) }},
	{env: "ATTESTD_TLS_CERT_FILE", usage: "TLS certificate (PEM) for both listeners", field: func(s *source) value { return text(&s.TLSCertFile) }},
	{env: "ATTESTD_TLS_KEY_FILE", usage: "TLS private key (PEM)", field: func(s *source) value { return text(&s.TLSKeyFile) }},
	{env: "ATTESTD_TLS_CLIENT_CA_FILE", usage: "CA bundle for client certificates (mutual TLS)", field: func(s *source) value { return text(&s.TLSClientCAFile) }},
	{env: "ATTESTD_TLS_ALLOWED_CLIENTS", usage: "allowed client identities, comma-separated SAN DNS names or URIs", field: func(s *source) value { return text(&s.TLSAllowedClients) }},
	{env: "ATTESTD_AUTH_TOKENS_FILE", usage: "caller bearer tokens, one \"name token\" per line", field: func(s *source) value { return text(&s.AuthTokensFile) }},
	{env: "ATTESTD_AUTH_EXEMPT", usage: "health, reflection (comma-separated) or none", field: func(s *source) value { return text(&s.AuthExempt) }},
	{env: "ATTESTD_RATE_LIMIT", usage: "calls per second per caller (0: off)", field: func(s *source) value { return number(&s.RateLimit) }},
	{env: "ATTESTD_RATE_BURST", usage: "burst per caller", field: func(s *source) value { return count(&s.RateBurst) }},
	// The log shows the URL without its userinfo (a password).
	{env: "ATTESTD_REDIS_URL", usage: "Redis (redis:// or rediss://) that makes the rate limits fleet-wide", field: func(s *source) value { return text(&s.RedisURL) },
		show: func(c Config) slog.Value { return slog.StringValue(redactURL(c.RedisURL)) }},
	{env: "ATTESTD_REDIS_PASSWORD_FILE", usage: "file holding the Redis password", field: func(s *source) value { return text(&s.RedisPasswordFile) }},
	{env: "ATTESTD_REDIS_TIMEOUT", usage: "bound on each Redis operation (then the local limits decide)", field: func(s *source) value { return duration(&s.RedisTimeout) }},
	{env: "ATTESTD_UPSTREAM_RATE_LIMIT", usage: "calls per second to Stytch for the whole fleet, retries included (0: off)", field: func(s *source) value { return number(&s.UpstreamRateLimit) }},
	{env: "ATTESTD_UPSTREAM_RATE_BURST", usage: "burst of calls to Stytch above the rate (0: the rate, rounded up)", field: func(s *source) value { return count(&s.UpstreamRateBurst) }},
	{env: "ATTESTD_TRUSTED_PROXIES", usage: "CIDRs of proxies whose X-Forwarded-For names the caller, comma-separated", field: func(s *source) value { return text(&s.TrustedProxies) }},
	{env: "ATTESTD_MAX_CALL_DEADLINE", usage: "cap on any call's deadline", field: func(s *source) value { return duration(&s.MaxCallDeadline) }},
	{env: "ATTESTD_MAX_METADATA_BYTES", usage: "cap on a call's headers", field: func(s *source) value { return count(&s.MaxMetadataBytes) }},
	{env: "ATTESTD_UPSTREAM_MAX_CONCURRENT", usage: "calls in flight to Stytch", field: func(s *source) value { return count(&s.UpstreamMaxConcurrent) }},
	{env: "ATTESTD_UPSTREAM_MAX_QUEUE", usage: "calls waiting for Stytch before shedding", field: func(s *source) value { return count(&s.UpstreamMaxQueue) }},
	{env: "ATTESTD_BREAKER_FAILURES", usage: "failed Stytch calls within the window that open the circuit (with the failure ratio)", field: func(s *source) value { return count(&s.BreakerFailures) }},
	{env: "ATTESTD_BREAKER_FAILURE_RATIO", usage: "share of failed Stytch calls within the window that opens the circuit (0 to 1]", field: func(s *source) value { return number(&s.BreakerFailureRatio) }},
	{env: "ATTESTD_BREAKER_WINDOW", usage: "sliding window in which the breaker counts Stytch calls", field: func(s *source) value { return duration(&s.BreakerWindow) }},
	{env: "ATTESTD_BREAKER_SLOW_CALL", usage: "time unanswered after which a Stytch call counts as failed even if its caller gives up", field: func(s *source) value { return duration(&s.BreakerSlowCall) }},
	{env: "ATTESTD_BREAKER_COOLDOWN", usage: "time the circuit stays open", field: func(s *source) value { return duration(&s.BreakerCooldown) }},
	{env: "ATTESTD_JWKS_MAX_STALE", usage: "how long past its expiry the last good JWKS is served while Stytch cannot be reached (0: never)", field: func(s *source) value { return duration(&s.JWKSMaxStale) }},
	{env: "ATTESTD_ADMIN_ADDR", usage: "admin listener: /metrics, /healthz, /readyz (off: none)", field: func(s *source) value { return text(&s.AdminAddr) }},
	{env: "ATTESTD_ADMIN_PPROF", usage: "serve /debug/pprof/ on the admin listener", field: func(s *source) value { return boolean(&s.AdminPprof) }},
}

// name is env without its ATTESTD_ or STYTCH_ prefix, in lower case, words
// joined by sep.
func (s setting) name(sep string) string {
	n, ok := strings.CutPrefix(s.env, "ATTESTD_")
	if !ok {
		n = strings.TrimPrefix(s.env, "STYTCH_")
	}
	return strings.ReplaceAll(strings.ToLower(n), "_", sep)
}

// flagName is the setting's flag ("" for none).
func (s setting) flagName() string { return overridden(s.flag, s.name("-")) }

// logKey is the setting's key in the logged configuration ("" for none).
func (s setting) logKey() string { return overridden(s.key, s.name("_")) }

// overridden is derived unless override says otherwise: "-" for none.
func overridden(override, derived string) string {
	switch override {
	case "":
		return derived
	case "-":
		return ""
	}
	return override
}

// logValue is what the configuration's log shows for the setting.
func (s setting) logValue(src *source) slog.Value {
	if s.show != nil {
		return s.show(src.Config)
	}
	return s.field(src).logValue()
}

// value is a setting's field as a flag.Value that also names its kind, for
// errors, and logs itself.
type value interface {
	flag.Value
	what() string
	logValue() slog.Value
}

// typed is a field of type T read by parse; kind names what parse accepts.
type typed[T any] struct {
	p     *T
	parse func(string) (T, error)
	kind  string
}

// Set implements flag.Value.
func (v *typed[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.p = x
	return nil
}

// String implements flag.Value: the value as it is written in a setting
// (a Secret stays redacted). The flag package calls it on a zero typed too.
func (v *typed[T]) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return fmt.Sprint(*v.p)
}

// IsBoolFlag lets a boolean flag stand alone (-admin-pprof), as
// flag.BoolVar's does.
func (v *typed[T]) IsBoolFlag() bool {
	_, ok := any(v.p).(*bool)
	return ok
}

func (v *typed[T]) what() string { return v.kind }

// logValue prints durations as they are written (10s), everything else as
// slog would (numbers as numbers; a Secret as its redacted LogValue).
func (v *typed[T]) logValue() slog.Value {
	if d, ok := any(*v.p).(time.Duration); ok {
		return slog.StringValue(d.String())
	}
	return slog.AnyValue(*v.p)
}

func text(p *string) value {
	return &typed[string]{p: p, parse: func(s string) (string, error) { return s, nil }}
}

func secret(p *Secret) value {
	return &typed[Secret]{p: p, parse: func(s string) (Secret, error) { return Secret(s), nil }}
}

func duration(p *time.Duration) value {
	return &typed[time.Duration]{p: p, parse: time.ParseDuration, kind: "a duration (e.g. 10s)"}
}

func number(p *float64) value {
	return &typed[float64]{p: p, parse: func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }, kind: "a number"}
}

func boolean(p *bool) value {
	return &typed[bool]{p: p, parse: strconv.ParseBool, kind: "true or false"}
}

// count reads a whole number into the field's own integer type, refusing
// one the type cannot hold rather than wrapping it; Validate bounds it.
func count[T ~int | ~int64](p *T) value {
	return &typed[T]{p: p, kind: "a whole number", parse: func(s string) (T, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil && int64(T(n)) != n {
			err = strconv.ErrRange
		}
		return T(n), err
	}}
}
