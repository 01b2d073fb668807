package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestd/attestd/internal/config"
)

const (
	testProjectID = "project-test-00000000-0000-4000-8000-000000000000"
	testSecret    = "secret-test-c2VjcmV0LWZvci10ZXN0cy1vbmx5"
)

// env is a map-backed getenv holding the credentials plus kv pairs; an empty
// value removes a key.
func env(kv ...string) func(string) string {
	m := map[string]string{"STYTCH_PROJECT_ID": testProjectID, "STYTCH_SECRET": testSecret}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return func(k string) string { return m[k] }
}

// configErr asserts err is a *config.Error and returns it.
func configErr(t *testing.T, err error) *config.Error {
	t.Helper()
	var e *config.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	if !strings.HasPrefix(e.Error(), e.Setting+": ") || e.Problem == "" {
		t.Errorf("error text %q does not lead with its setting %q and a problem", e.Error(), e.Setting)
	}
	return e
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	got, err := config.Load(nil, env())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := config.Default()
	want.ProjectID, want.Secret = testProjectID, testSecret
	if got != want {
		t.Errorf("Load with credentials only:\n got %s\nwant %s", fields(got), fields(want))
	}
	if d := config.Default(); d.ProjectID != "" || d.Secret != "" || d.BaseURL != "" {
		t.Errorf("Default() carries credentials or a base URL: %s", fields(d))
	}
	if u := got.StytchBaseURL(); u != "https://test.stytch.com" {
		t.Errorf("StytchBaseURL() = %q", u)
	}
	if l, err := got.Level(); err != nil || l != slog.LevelInfo {
		t.Errorf("Level() = %v, %v", l, err)
	}
}

// fields prints a Config's fields, secret included, for failure messages of
// this test file only (Config's own formatting hides the secret).
func fields(c config.Config) string {
	type plain config.Config
	return fmt.Sprintf("%+v", plain(c))
}

func TestLoadFromEnv(t *testing.T) {
	got, err := config.Load(nil, env(
		"STYTCH_PROJECT_ID", "project-live-11111111-1111-4111-8111-111111111111",
		"STYTCH_SECRET", "secret-live-env",
		"STYTCH_BASE_URL", "http://127.0.0.1:9999/",
		"ATTESTD_GRPC_ADDR", "127.0.0.1:6000",
		"ATTESTD_HTTP_ADDR", "[::1]:6001",
		"ATTESTD_UPSTREAM_TIMEOUT", "2500ms",
		"ATTESTD_MAX_UPSTREAM_RESPONSE_BYTES", "2048",
		"ATTESTD_MAX_REQUEST_BYTES", "1024",
		"ATTESTD_SHUTDOWN_GRACE", "0s",
		"ATTESTD_WRITE_TIMEOUT", "3s",
		"ATTESTD_LOG_LEVEL", "debug",
		"ATTESTD_LOG_FORMAT", "text",
		"ATTESTD_EMULATOR_ADDR", "127.0.0.1:6002",
		"ATTESTD_TLS_CERT_FILE", "/tls/cert.pem",
		"ATTESTD_TLS_KEY_FILE", "/tls/key.pem",
		"ATTESTD_TLS_CLIENT_CA_FILE", "/tls/ca.pem",
		"ATTESTD_TLS_ALLOWED_CLIENTS", "svc-a.internal, spiffe://corp/svc-b",
		"ATTESTD_AUTH_TOKENS_FILE", "/tokens",
		"ATTESTD_AUTH_EXEMPT", "health,reflection",
		"ATTESTD_RATE_LIMIT", "12.5",
		"ATTESTD_RATE_BURST", "30",
		"ATTESTD_REDIS_URL", "rediss://:pw@redis.internal:6380/2",
		"ATTESTD_REDIS_PASSWORD_FILE", "/redis/password",
		"ATTESTD_REDIS_TIMEOUT", "20ms",
		"ATTESTD_UPSTREAM_RATE_LIMIT", "99.5",
		"ATTESTD_UPSTREAM_RATE_BURST", "150",
		"ATTESTD_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8",
		"ATTESTD_MAX_CALL_DEADLINE", "20s",
		"ATTESTD_MAX_METADATA_BYTES", "8192",
		"ATTESTD_UPSTREAM_MAX_CONCURRENT", "8",
		"ATTESTD_UPSTREAM_MAX_QUEUE", "16",
		"ATTESTD_BREAKER_FAILURES", "3",
		"ATTESTD_BREAKER_FAILURE_RATIO", "0.25",
		"ATTESTD_BREAKER_WINDOW", "30s",
		"ATTESTD_BREAKER_SLOW_CALL", "1500ms",
		"ATTESTD_BREAKER_COOLDOWN", "5s",
		"ATTESTD_ADMIN_ADDR", "127.0.0.1:6003",
		"ATTESTD_ADMIN_PPROF", "true",
		"ATTESTD_JWKS_MAX_STALE", "10m",
		"ATTESTD_MODE", "stytch",
	))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := config.Config{
		Mode:                     "stytch",
		ProjectID:                "project-live-11111111-1111-4111-8111-111111111111",
		Secret:                   "secret-live-env",
		BaseURL:                  "http://127.0.0.1:9999/",
		GRPCAddr:                 "127.0.0.1:6000",
		HTTPAddr:                 "[::1]:6001",
		UpstreamTimeout:          2500 * time.Millisecond,
		MaxUpstreamResponseBytes: 2048,
		MaxRequestBytes:          1024,
		ShutdownGrace:            0,
		WriteTimeout:             3 * time.Second,
		LogLevel:                 "debug",
		LogFormat:                "text",
		EmulatorAddr:             "127.0.0.1:6002",
		TLSCertFile:              "/tls/cert.pem",
		TLSKeyFile:               "/tls/key.pem",
		TLSClientCAFile:          "/tls/ca.pem",
		TLSAllowedClients:        "svc-a.internal, spiffe://corp/svc-b",
		AuthTokensFile:           "/tokens",
		AuthExempt:               "health,reflection",
		RateLimit:                12.5,
		RateBurst:                30,
		RedisURL:                 "rediss://:pw@redis.internal:6380/2",
		RedisPasswordFile:        "/redis/password",
		RedisTimeout:             20 * time.Millisecond,
		UpstreamRateLimit:        99.5,
		UpstreamRateBurst:        150,
		TrustedProxies:           "10.0.0.0/8, fd00::/8",
		MaxCallDeadline:          20 * time.Second,
		MaxMetadataBytes:         8192,
		UpstreamMaxConcurrent:    8,
		UpstreamMaxQueue:         16,
		BreakerFailures:          3,
		BreakerFailureRatio:      0.25,
		BreakerWindow:            30 * time.Second,
		BreakerSlowCall:          1500 * time.Millisecond,
		BreakerCooldown:          5 * time.Second,
		AdminAddr:                "127.0.0.1:6003",
		AdminPprof:               true,
		JWKSMaxStale:             10 * time.Minute,
	}
	if got != want {
		t.Errorf("Load from env:\n got %s\nwant %s", fields(got), fields(want))
	}
	if u := got.StytchBaseURL(); u != "http://127.0.0.1:9999" {
		t.Errorf("StytchBaseURL() = %q, want the trailing slash trimmed", u)
	}
	if l, _ := got.Level(); l != slog.LevelDebug {
		t.Errorf("Level() = %v", l)
	}
}

func TestFlagsOverrideEnv(t *testing.T) {
	envFile := writeFile(t, "secret-from-env-file")
	flagFile := writeFile(t, "secret-from-flag-file\n")
	getenv := env(
		"STYTCH_PROJECT_ID", "project-test-env",
		"STYTCH_SECRET_FILE", envFile,
		"STYTCH_BASE_URL", "https://env.example",
		"ATTESTD_GRPC_ADDR", ":1",
		"ATTESTD_HTTP_ADDR", ":2",
		"ATTESTD_UPSTREAM_TIMEOUT", "1s",
		"ATTESTD_MAX_UPSTREAM_RESPONSE_BYTES", "5000",
		"ATTESTD_MAX_REQUEST_BYTES", "6000",
		"ATTESTD_SHUTDOWN_GRACE", "7s",
		"ATTESTD_LOG_LEVEL", "error",
		"ATTESTD_LOG_FORMAT", "text",
	)
	got, err := config.Load([]string{
		"-project-id", "project-live-flag",
		"-secret-file", flagFile,
		"-base-url=https://flag.example/prefix",
		"-grpc-addr", "127.0.0.1:7001",
		"-http-addr", "127.0.0.1:7002",
		"-upstream-timeout", "3s",
		"-max-upstream-response-bytes", "8192",
		"-max-request-bytes", "4096",
		"-shutdown-grace", "30s",
		"-write-timeout", "4s",
		"-log-level", "warn",
		"-log-format", "json",
		"-emulator-addr", "127.0.0.1:7003",
		"-auth-exempt", "none",
		"-rate-limit", "2",
		"-rate-burst", "4",
		"-redis-url", "redis://127.0.0.1:6379",
		"-redis-timeout", "1s",
		"-upstream-rate-limit", "3",
		"-trusted-proxies", "127.0.0.1",
		"-max-call-deadline", "1m",
		"-max-metadata-bytes", "4096",
		"-upstream-max-concurrent", "2",
		"-upstream-max-queue", "0",
		"-breaker-failures", "9",
		"-breaker-failure-ratio", "1",
		"-breaker-window", "1m",
		"-breaker-slow-call", "500ms",
		"-breaker-cooldown", "1s",
		"-admin-addr", "off",
		"-mode", "stytch",
	}, getenv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := config.Config{
		Mode:                     "stytch",
		ProjectID:                "project-live-flag",
		Secret:                   "secret-from-flag-file",
		SecretFile:               flagFile,
		BaseURL:                  "https://flag.example/prefix",
		GRPCAddr:                 "127.0.0.1:7001",
		HTTPAddr:                 "127.0.0.1:7002",
		UpstreamTimeout:          3 * time.Second,
		MaxUpstreamResponseBytes: 8192,
		MaxRequestBytes:          4096,
		ShutdownGrace:            30 * time.Second,
		WriteTimeout:             4 * time.Second,
		LogLevel:                 "warn",
		LogFormat:                "json",
		EmulatorAddr:             "127.0.0.1:7003",
		AuthExempt:               "none",
		RateLimit:                2,
		RateBurst:                4,
		RedisURL:                 "redis://127.0.0.1:6379",
		RedisTimeout:             time.Second,
		UpstreamRateLimit:        3,
		TrustedProxies:           "127.0.0.1",
		MaxCallDeadline:          time.Minute,
		MaxMetadataBytes:         4096,
		UpstreamMaxConcurrent:    2,
		UpstreamMaxQueue:         0,
		BreakerFailures:          9,
		BreakerFailureRatio:      1,
		BreakerWindow:            time.Minute,
		BreakerSlowCall:          500 * time.Millisecond,
		BreakerCooldown:          time.Second,
		AdminAddr:                "off",
		JWKSMaxStale:             time.Hour,
	}
	if got != want {
		t.Errorf("flags over env:\n got %s\nwant %s", fields(got), fields(want))
	}

	// Only the flags given override; the rest still comes from the env.
	got, err = config.Load([]string{"-log-level=debug"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if got.LogLevel != "debug" || got.LogFormat != "text" || got.GRPCAddr != ":1" || got.Secret != "secret-from-env-file" {
		t.Errorf("partial flags: %s", fields(got))
	}
}

func TestSecretFile(t *testing.T) {
	cases := []struct {
		name, content, want string
	}{
		{"trailing newline", "secret-from-file\n", "secret-from-file"},
		{"surrounding whitespace", " \t secret-from-file \r\n\n", "secret-from-file"},
		{"inner spaces kept", "secret with spaces\n", "secret with spaces"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The file wins over STYTCH_SECRET.
			got, err := config.Load(nil, env("STYTCH_SECRET_FILE", writeFile(t, tc.content)))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got.Secret.Reveal() != tc.want {
				t.Errorf("Secret %q, want %q", got.Secret.Reveal(), tc.want)
			}
		})
	}

	t.Run("whitespace only", func(t *testing.T) {
		_, err := config.Load(nil, env("STYTCH_SECRET", "", "STYTCH_SECRET_FILE", writeFile(t, " \n")))
		if e := configErr(t, err); !strings.Contains(e.Setting, "STYTCH_SECRET") {
			t.Errorf("Setting %q does not name STYTCH_SECRET", e.Setting)
		}
	})
}

func TestUnreadableSecretFile(t *testing.T) {
	cases := []struct {
		name string
		path func(t *testing.T) string
	}{
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }},
		{"a directory", func(t *testing.T) string { return t.TempDir() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(nil, env("STYTCH_SECRET_FILE", tc.path(t)))
			if e := configErr(t, err); e.Setting != "STYTCH_SECRET_FILE" {
				t.Errorf("Setting %q, want STYTCH_SECRET_FILE (%v)", e.Setting, err)
			}
		})
	}
}

func TestInvalidSettings(t *testing.T) {
	cases := []struct {
		name    string
		kv      []string
		args    []string
		setting string
	}{
		{"duration without unit", []string{"ATTESTD_UPSTREAM_TIMEOUT", "10"}, nil, "ATTESTD_UPSTREAM_TIMEOUT"},
		{"duration garbage", []string{"ATTESTD_SHUTDOWN_GRACE", "soon"}, nil, "ATTESTD_SHUTDOWN_GRACE"},
		{"byte count with unit", []string{"ATTESTD_MAX_REQUEST_BYTES", "64KB"}, nil, "ATTESTD_MAX_REQUEST_BYTES"},
		{"byte count float", []string{"ATTESTD_MAX_UPSTREAM_RESPONSE_BYTES", "1e6"}, nil, "ATTESTD_MAX_UPSTREAM_RESPONSE_BYTES"},
		{"grpc addr without port", []string{"ATTESTD_GRPC_ADDR", "localhost"}, nil, "ATTESTD_GRPC_ADDR"},
		{"grpc addr port only", []string{"ATTESTD_GRPC_ADDR", "50051"}, nil, "ATTESTD_GRPC_ADDR"},
		{"http addr without port", []string{"ATTESTD_HTTP_ADDR", "0.0.0.0"}, nil, "ATTESTD_HTTP_ADDR"},
		{"base URL ftp", []string{"STYTCH_BASE_URL", "ftp://api.stytch.com"}, nil, "STYTCH_BASE_URL"},
		{"base URL relative", []string{"STYTCH_BASE_URL", "api.stytch.com"}, nil, "STYTCH_BASE_URL"},
		{"base URL path only", []string{"STYTCH_BASE_URL", "/v1"}, nil, "STYTCH_BASE_URL"},
		{"base URL without host", []string{"STYTCH_BASE_URL", "https://"}, nil, "STYTCH_BASE_URL"},
		{"base URL with query", []string{"STYTCH_BASE_URL", "https://api.stytch.com?x=1"}, nil, "STYTCH_BASE_URL"},
		{"base URL with fragment", []string{"STYTCH_BASE_URL", "https://api.stytch.com#x"}, nil, "STYTCH_BASE_URL"},
		{"base URL with userinfo", []string{"STYTCH_BASE_URL", "https://u:pw@api.stytch.com"}, nil, "STYTCH_BASE_URL"},
		{"write timeout 0", []string{"ATTESTD_WRITE_TIMEOUT", "0s"}, nil, "ATTESTD_WRITE_TIMEOUT"},
		{"log level loud", []string{"ATTESTD_LOG_LEVEL", "loud"}, nil, "ATTESTD_LOG_LEVEL"},
		{"log format xml", []string{"ATTESTD_LOG_FORMAT", "xml"}, nil, "ATTESTD_LOG_FORMAT"},
		{"upstream timeout 0", []string{"ATTESTD_UPSTREAM_TIMEOUT", "0"}, nil, "ATTESTD_UPSTREAM_TIMEOUT"},
		{"upstream timeout negative", []string{"ATTESTD_UPSTREAM_TIMEOUT", "-1s"}, nil, "ATTESTD_UPSTREAM_TIMEOUT"},
		{"shutdown grace negative", []string{"ATTESTD_SHUTDOWN_GRACE", "-1s"}, nil, "ATTESTD_SHUTDOWN_GRACE"},
		{"upstream response cap 1023", []string{"ATTESTD_MAX_UPSTREAM_RESPONSE_BYTES", "1023"}, nil, "ATTESTD_MAX_UPSTREAM_RESPONSE_BYTES"},
		{"request cap 1023", []string{"ATTESTD_MAX_REQUEST_BYTES", "1023"}, nil, "ATTESTD_MAX_REQUEST_BYTES"},
		{"request cap 0", []string{"ATTESTD_MAX_REQUEST_BYTES", "0"}, nil, "ATTESTD_MAX_REQUEST_BYTES"},
		{"request cap negative", []string{"ATTESTD_MAX_REQUEST_BYTES", "-4096"}, nil, "ATTESTD_MAX_REQUEST_BYTES"},
		{"TLS cert without key", []string{"ATTESTD_TLS_CERT_FILE", "c.pem"}, nil, "ATTESTD_TLS_CERT_FILE, ATTESTD_TLS_KEY_FILE"},
		{"TLS key without cert", []string{"ATTESTD_TLS_KEY_FILE", "k.pem"}, nil, "ATTESTD_TLS_CERT_FILE, ATTESTD_TLS_KEY_FILE"},
		{"client CA without TLS", []string{"ATTESTD_TLS_CLIENT_CA_FILE", "ca.pem"}, nil, "ATTESTD_TLS_CLIENT_CA_FILE"},
		{"allow-list without client CA", []string{"ATTESTD_TLS_CERT_FILE", "c", "ATTESTD_TLS_KEY_FILE", "k", "ATTESTD_TLS_ALLOWED_CLIENTS", "a"}, nil, "ATTESTD_TLS_ALLOWED_CLIENTS"},
		{"auth exempt unknown", []string{"ATTESTD_AUTH_EXEMPT", "health,metrics"}, nil, "ATTESTD_AUTH_EXEMPT"},
		{"rate limit negative", []string{"ATTESTD_RATE_LIMIT", "-1"}, nil, "ATTESTD_RATE_LIMIT"},
		{"rate limit not a number", []string{"ATTESTD_RATE_LIMIT", "fast"}, nil, "ATTESTD_RATE_LIMIT"},
		{"rate burst 0", []string{"ATTESTD_RATE_BURST", "0"}, nil, "ATTESTD_RATE_BURST"},
		{"max call deadline 0", []string{"ATTESTD_MAX_CALL_DEADLINE", "0s"}, nil, "ATTESTD_MAX_CALL_DEADLINE"},
		{"metadata cap 100", []string{"ATTESTD_MAX_METADATA_BYTES", "100"}, nil, "ATTESTD_MAX_METADATA_BYTES"},
		{"upstream concurrency 0", []string{"ATTESTD_UPSTREAM_MAX_CONCURRENT", "0"}, nil, "ATTESTD_UPSTREAM_MAX_CONCURRENT"},
		{"upstream queue negative", []string{"ATTESTD_UPSTREAM_MAX_QUEUE", "-1"}, nil, "ATTESTD_UPSTREAM_MAX_QUEUE"},
		{"breaker failures 0", []string{"ATTESTD_BREAKER_FAILURES", "0"}, nil, "ATTESTD_BREAKER_FAILURES"},
		{"breaker cooldown 0", []string{"ATTESTD_BREAKER_COOLDOWN", "0s"}, nil, "ATTESTD_BREAKER_COOLDOWN"},
		{"breaker failure ratio 0", []string{"ATTESTD_BREAKER_FAILURE_RATIO", "0"}, nil, "ATTESTD_BREAKER_FAILURE_RATIO"},
		{"breaker failure ratio over 1", []string{"ATTESTD_BREAKER_FAILURE_RATIO", "1.01"}, nil, "ATTESTD_BREAKER_FAILURE_RATIO"},
		{"breaker failure ratio NaN", []string{"ATTESTD_BREAKER_FAILURE_RATIO", "NaN"}, nil, "ATTESTD_BREAKER_FAILURE_RATIO"},
		{"breaker failure ratio a percentage", []string{"ATTESTD_BREAKER_FAILURE_RATIO", "50%"}, nil, "ATTESTD_BREAKER_FAILURE_RATIO"},
		{"breaker window under 1s", []string{"ATTESTD_BREAKER_WINDOW", "500ms"}, nil, "ATTESTD_BREAKER_WINDOW"},
		{"breaker window over 1h", []string{"ATTESTD_BREAKER_WINDOW", "2h"}, nil, "ATTESTD_BREAKER_WINDOW"},
		{"breaker slow call 0", []string{"ATTESTD_BREAKER_SLOW_CALL", "0s"}, nil, "ATTESTD_BREAKER_SLOW_CALL"},
		{"breaker slow call without unit", []string{"ATTESTD_BREAKER_SLOW_CALL", "2"}, nil, "ATTESTD_BREAKER_SLOW_CALL"},
		{"admin addr without port", []string{"ATTESTD_ADMIN_ADDR", "localhost"}, nil, "ATTESTD_ADMIN_ADDR"},
		{"admin pprof not a boolean", []string{"ATTESTD_ADMIN_PPROF", "sometimes"}, nil, "ATTESTD_ADMIN_PPROF"},
		{"flag value bad", nil, []string{"-upstream-timeout", "soon"}, "flags"},
		{"flag cap below 1024", nil, []string{"-max-request-bytes", "10"}, "ATTESTD_MAX_REQUEST_BYTES"},
		{"unknown flag", nil, []string{"-verbose"}, "flags"},
		{"no secret flag", nil, []string{"-secret", "s"}, "flags"},
		{"positional argument", nil, []string{"serve"}, "flags"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(tc.args, env(tc.kv...))
			if e := configErr(t, err); e.Setting != tc.setting {
				t.Errorf("Setting %q, want %q (%v)", e.Setting, tc.setting, err)
			}
		})
	}
}

func TestLowestAcceptedValues(t *testing.T) {
	got, err := config.Load(nil, env(
		"ATTESTD_MAX_UPSTREAM_RESPONSE_BYTES", "1024",
		"ATTESTD_MAX_REQUEST_BYTES", "1024",
		"ATTESTD_UPSTREAM_TIMEOUT", "1ns",
		"ATTESTD_SHUTDOWN_GRACE", "0s",
		"ATTESTD_LOG_LEVEL", "ERROR",
		"ATTESTD_GRPC_ADDR", ":0",
		"ATTESTD_BREAKER_FAILURE_RATIO", "0.001",
		"ATTESTD_BREAKER_WINDOW", "1s",
		"ATTESTD_BREAKER_SLOW_CALL", "1ns",
	))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.MaxUpstreamResponseBytes != 1024 || got.MaxRequestBytes != 1024 || got.UpstreamTimeout != 1 || got.ShutdownGrace != 0 ||
		got.BreakerFailureRatio != 0.001 || got.BreakerWindow != time.Second || got.BreakerSlowCall != 1 {
		t.Errorf("got %s", fields(got))
	}
	if l, _ := got.Level(); l != slog.LevelError {
		t.Errorf("Level() = %v", l)
	}
}

func TestHalfCredentials(t *testing.T) {
	cases := []struct {
		name    string
		kv      []string
		setting string
	}{
		{"no project ID", []string{"STYTCH_PROJECT_ID", ""}, "STYTCH_PROJECT_ID"},
		{"no secret", []string{"STYTCH_SECRET", ""}, "STYTCH_SECRET (or STYTCH_SECRET_FILE)"},
		{"base URL without credentials", []string{"STYTCH_PROJECT_ID", "", "STYTCH_SECRET", "", "STYTCH_BASE_URL", "http://127.0.0.1:9"}, "STYTCH_BASE_URL"},
		{"seed with credentials", []string{"ATTESTD_EMULATOR_SEED", "seed.yaml"}, "ATTESTD_EMULATOR_SEED"},
		{"bad emulator address", []string{"STYTCH_PROJECT_ID", "", "STYTCH_SECRET", "", "ATTESTD_EMULATOR_ADDR", "nope"}, "ATTESTD_EMULATOR_ADDR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(nil, env(tc.kv...))
			if e := configErr(t, err); e.Setting != tc.setting {
				t.Errorf("Setting %q, want %q (%v)", e.Setting, tc.setting, err)
			}
		})
	}
}

func TestExemptAndAllowedClients(t *testing.T) {
	for in, want := range map[string][2]bool{"health": {true, false}, "reflection, health": {true, true}, "none": {false, false}, "": {false, false}} {
		c := config.Default()
		c.AuthExempt = in
		if h, r, err := c.Exempt(); err != nil || h != want[0] || r != want[1] {
			t.Errorf("Exempt(%q) = %v %v %v", in, h, r, err)
		}
	}
	c := config.Default()
	c.TLSAllowedClients = " a.internal, ,spiffe://x/y "
	if got := c.AllowedClients(); len(got) != 2 || got[0] != "a.internal" || got[1] != "spiffe://x/y" {
		t.Errorf("AllowedClients() = %q", got)
	}
}

// Without credentials attestd runs on the embedded emulator.
func TestEmulatorMode(t *testing.T) {
	c, err := config.Load([]string{"-emulator-seed", "my-seed.yaml"}, env("STYTCH_PROJECT_ID", "", "STYTCH_SECRET", ""))
	if err != nil {
		t.Fatalf("Load without credentials: %v", err)
	}
	if !c.Emulated() || c.StytchBaseURL() != "" || c.EmulatorAddr != "127.0.0.1:0" || c.EmulatorSeed != "my-seed.yaml" {
		t.Errorf("emulator mode: Emulated=%v base=%q addr=%q seed=%q", c.Emulated(), c.StytchBaseURL(), c.EmulatorAddr, c.EmulatorSeed)
	}
	if !strings.Contains(c.String(), "mode=emulator") {
		t.Errorf("String() = %s, want mode=emulator", c)
	}
	if c, _ := config.Load(nil, env()); c.Emulated() || !strings.Contains(c.String(), "mode=stytch") {
		t.Errorf("with credentials: Emulated=%v, %s", c.Emulated(), c)
	}
}

func TestStytchBaseURL(t *testing.T) {
	cases := []struct {
		projectID, baseURL, want string
	}{
		{"project-live-11111111-1111-4111-8111-111111111111", "", "https://api.stytch.com"},
		{"project-test-00000000-0000-4000-8000-000000000000", "", "https://test.stytch.com"},
		{"some-other-project", "", "https://test.stytch.com"},
		{"project-live-1", "https://api.stytch.com/", "https://api.stytch.com"},
		{"project-test-1", "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"project-test-1", "https://proxy.example/stytch/", "https://proxy.example/stytch"},
	}
	for _, tc := range cases {
		t.Run(tc.projectID+" "+tc.baseURL, func(t *testing.T) {
			kv := []string{"STYTCH_PROJECT_ID", tc.projectID}
			if tc.baseURL != "" {
				kv = append(kv, "STYTCH_BASE_URL", tc.baseURL)
			}
			c, err := config.Load(nil, env(kv...))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := c.StytchBaseURL(); got != tc.want {
				t.Errorf("StytchBaseURL() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDefaultHost: without STYTCH_BASE_URL the host is the one Stytch's SDKs
// pick, live only for the exact "project-live-" prefix.
func TestDefaultHost(t *testing.T) {
	for projectID, want := range map[string]string{
		"project-live-00000000-0000-4000-8000-000000000000": "https://api.stytch.com",
		"project-test-00000000-0000-4000-8000-000000000000": "https://test.stytch.com",
		"project-live-":     "https://api.stytch.com",
		"project-livefoo":   "https://test.stytch.com",
		"PROJECT-LIVE-0000": "https://test.stytch.com",
		"live-project-0000": "https://test.stytch.com",
	} {
		c := config.Config{ProjectID: projectID, Secret: testSecret}
		if got := c.StytchBaseURL(); got != want {
			t.Errorf("StytchBaseURL() for %q = %q, want %q", projectID, got, want)
		}
	}
}

// TestBaseURLCredentialsNeverPrinted: a userinfo part in STYTCH_BASE_URL
// is refused, and the refusal, however malformed the URL, never quotes it.
func TestBaseURLCredentialsNeverPrinted(t *testing.T) {
	for _, u := range []string{
		"https://user:hunter2-pw@api.stytch.com",
		"https://hunter2-pw@api.stytch.com/v1",
		"http://user:hunter2-pw@127.0.0.1:9/x?y",
		"ftp://user:hunter2-pw@host",
		"user:hunter2-pw@host",
		"https://a@b:hunter2-pw@host",
	} {
		_, err := config.Load(nil, env("STYTCH_BASE_URL", u))
		e := configErr(t, err)
		if e.Setting != "STYTCH_BASE_URL" || strings.Contains(err.Error(), "hunter2-pw") {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	cfg, err := config.Load(nil, env())
	if err != nil {
		t.Fatal(err)
	}
	var logLine bytes.Buffer
	slog.New(slog.NewJSONHandler(&logLine, nil)).Info("starting", "config", cfg)
	var logPtrLine bytes.Buffer
	slog.New(slog.NewJSONHandler(&logPtrLine, nil)).Info("starting", "config", &cfg)
	var textLine bytes.Buffer
	slog.New(slog.NewTextHandler(&textLine, nil)).Info("starting", "config", cfg)

	renderings := map[string]string{
		"Sprint":        fmt.Sprint(cfg),
		"Sprint ptr":    fmt.Sprint(&cfg),
		"%v":            fmt.Sprintf("%v", cfg),
		"%+v":           fmt.Sprintf("%+v", cfg),
		"%#v":           fmt.Sprintf("%#v", cfg),
		"%s":            fmt.Sprintf("%s", cfg),
		"%+v slice":     fmt.Sprintf("%+v", []config.Config{cfg}),
		"String":        cfg.String(),
		"JSON":          mustJSON(t, cfg),
		"slog JSON":     logLine.String(),
		"slog JSON ptr": logPtrLine.String(),
		"slog text":     textLine.String(),
	}
	for name, s := range renderings {
		if strings.Contains(s, testSecret) {
			t.Errorf("%s prints the secret: %s", name, s)
		}
		if !strings.Contains(s, "(redacted)") || !strings.Contains(s, testProjectID) {
			t.Errorf("%s lacks \"(redacted)\" or the project ID: %s", name, s)
		}
	}

	var line map[string]any
	if err := json.Unmarshal(logLine.Bytes(), &line); err != nil {
		t.Fatalf("slog line is not JSON: %v: %s", err, logLine.String())
	}
	group, ok := line["config"].(map[string]any)
	if !ok {
		t.Fatalf("config is not a JSON object in %s", logLine.String())
	}
	if group["secret"] != "(redacted)" || group["project_id"] != testProjectID ||
		group["stytch_base_url"] != "https://test.stytch.com" || group["grpc_addr"] != ":50051" {
		t.Errorf("logged config %v", group)
	}

	for _, verb := range []string{"%v", "%s", "%q", "%x", "%X", "%#v", "%+v", "%10s"} {
		if got := strings.TrimSpace(fmt.Sprintf(verb, cfg.Secret)); got != "(redacted)" {
			t.Errorf("Secret printed with %s: %q", verb, got)
		}
	}

	unset := config.Default()
	if s := fmt.Sprint(unset); !strings.Contains(s, "secret=(unset)") {
		t.Errorf("an unset secret is not shown as (unset): %s", s)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExplicitMode: ATTESTD_MODE=stytch makes missing or empty credentials
// a configuration error naming the setting; ATTESTD_MODE=emulator refuses
// any Stytch credential; auto keeps the newcomer's default.
func TestExplicitMode(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name    string
		args    []string
		getenv  func(string) string
		setting string
	}{
		{"stytch without credentials", []string{"-mode", "stytch"}, env("STYTCH_PROJECT_ID", "", "STYTCH_SECRET", ""), "STYTCH_PROJECT_ID"},
		{"stytch without secret", nil, env("ATTESTD_MODE", "stytch", "STYTCH_SECRET", ""), "STYTCH_SECRET (or STYTCH_SECRET_FILE)"},
		{"stytch with an empty secret file", nil, env("ATTESTD_MODE", "stytch", "STYTCH_SECRET", "", "STYTCH_SECRET_FILE", empty), "STYTCH_SECRET_FILE"},
		{"emulator with credentials", []string{"-mode", "emulator"}, env(), "STYTCH_PROJECT_ID"},
		{"emulator with a secret", nil, env("ATTESTD_MODE", "emulator", "STYTCH_PROJECT_ID", ""), "STYTCH_SECRET"},
		{"emulator with a base URL", nil, env("ATTESTD_MODE", "emulator", "STYTCH_PROJECT_ID", "", "STYTCH_SECRET", "", "STYTCH_BASE_URL", "https://x.example"), "STYTCH_BASE_URL"},
		{"unknown mode", []string{"-mode", "production"}, env(), "ATTESTD_MODE"},
	}
	for _, c := range bad {
		_, err := config.Load(c.args, c.getenv)
		var cfgErr *config.Error
		if !errors.As(err, &cfgErr) || cfgErr.Setting != c.setting {
			t.Errorf("%s: Load = %v, want a configuration error naming %s", c.name, err, c.setting)
		}
	}
	good := []struct {
		name   string
		args   []string
		getenv func(string) string
		mode   string
	}{
		{"auto with credentials", nil, env(), "stytch"},
		{"auto without", nil, env("STYTCH_PROJECT_ID", "", "STYTCH_SECRET", ""), "emulator"},
		{"stytch", []string{"-mode=stytch"}, env(), "stytch"},
		{"emulator", nil, env("ATTESTD_MODE", "emulator", "STYTCH_PROJECT_ID", "", "STYTCH_SECRET", ""), "emulator"},
	}
	for _, c := range good {
		cfg, err := config.Load(c.args, c.getenv)
		if err != nil {
			t.Errorf("%s: Load: %v", c.name, err)
			continue
		}
		if cfg.EffectiveMode() != c.mode || cfg.Emulated() != (c.mode == "emulator") || !strings.Contains(cfg.String(), "mode="+c.mode) {
			t.Errorf("%s: EffectiveMode %q, Emulated %v, logged %s; want %s", c.name, cfg.EffectiveMode(), cfg.Emulated(), cfg, c.mode)
		}
	}
}

// TestFleetSettings: the Redis URL, the upstream budget and the trusted
// proxies are checked, and the Redis password never reaches the log.
func TestFleetSettings(t *testing.T) {
	for _, tc := range []struct {
		env     []string
		setting string // "" when valid
	}{
		{[]string{"ATTESTD_REDIS_URL", "redis://localhost:6379"}, ""},
		{[]string{"ATTESTD_REDIS_URL", "http://localhost:6379"}, "ATTESTD_REDIS_URL"},
		{[]string{"ATTESTD_REDIS_URL", "redis://"}, "ATTESTD_REDIS_URL"},
		{[]string{"ATTESTD_REDIS_PASSWORD_FILE", "/pw"}, "ATTESTD_REDIS_PASSWORD_FILE"},
		{[]string{"ATTESTD_REDIS_TIMEOUT", "0s"}, "ATTESTD_REDIS_TIMEOUT"},
		{[]string{"ATTESTD_UPSTREAM_RATE_LIMIT", "-1"}, "ATTESTD_UPSTREAM_RATE_LIMIT"},
		{[]string{"ATTESTD_UPSTREAM_RATE_LIMIT", "NaN"}, "ATTESTD_UPSTREAM_RATE_LIMIT"},
		{[]string{"ATTESTD_UPSTREAM_RATE_BURST", "5"}, "ATTESTD_UPSTREAM_RATE_BURST"},
		{[]string{"ATTESTD_TRUSTED_PROXIES", "10.0.0.0/8,192.168.1.7, ::1"}, ""},
		{[]string{"ATTESTD_TRUSTED_PROXIES", "10.0.0.0/33"}, "ATTESTD_TRUSTED_PROXIES"},
		{[]string{"ATTESTD_TRUSTED_PROXIES", "proxy.internal"}, "ATTESTD_TRUSTED_PROXIES"},
	} {
		_, err := config.Load(nil, env(tc.env...))
		var cerr *config.Error
		switch {
		case tc.setting == "" && err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case tc.setting != "" && (!errors.As(err, &cerr) || cerr.Setting != tc.setting):
			t.Errorf("%v: error %v, want one naming %s", tc.env, err, tc.setting)
		}
	}
	c, err := config.Load(nil, env("ATTESTD_REDIS_URL", "redis://user:hunter2@redis:6379/0", "ATTESTD_UPSTREAM_RATE_LIMIT", "2.5"))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.String(); strings.Contains(s, "hunter2") || !strings.Contains(s, "redis://REDACTED@redis:6379/0") {
		t.Errorf("logged configuration: %s", s)
	}
	if b := c.UpstreamBurst(); b != 3 {
		t.Errorf("upstream burst %d, want the rate rounded up: 3", b)
	}
	p, _ := config.Config{TrustedProxies: "10.1.2.3/8, 192.168.1.7"}.Proxies()
	if fmt.Sprint(p) != "[10.0.0.0/8 192.168.1.7/32]" {
		t.Errorf("proxies %v", p)
	}
}
