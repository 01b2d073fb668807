package server_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/version"
)

// rotate replaces path's content as a Kubernetes Secret volume does: a new
// file renamed over the old one.
func rotate(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// eventually retries check until it holds, for up to 5 s (files are
// looked at once a second, when a call needs them).
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !check(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
	}
}

// reloads is attestd_file_reloads_total for file and result.
func reloads(t *testing.T, h *harness, file, result string) float64 {
	t.Helper()
	return counter(t, scrape(t, h), "attestd_file_reloads_total", map[string]string{"file": file, "result": result})
}

// TestStytchSecretFileRotation: a changed STYTCH_SECRET_FILE is sent to
// Stytch from the next call that looks (at most a second later), without a
// restart; an empty file keeps the last good secret, with an error log and
// the reload metrics.
func TestStytchSecretFileRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	rotate(t, path, "secret-one\n")
	// A Stytch that accepts any secret and records it.
	var mu sync.Mutex
	var sent []string
	stytch := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, secret, _ := r.BasicAuth()
		mu.Lock()
		sent = append(sent, secret)
		mu.Unlock()
		stytchtest.Respond(http.StatusOK, stytchtest.Typical()).ServeHTTP(w, r)
	}))
	t.Cleanup(stytch.Close)
	h := startWith(t, nil, func(c *config.Config) { c.Secret, c.SecretFile, c.BaseURL = "secret-one", path, stytch.URL })
	last := func() string {
		if _, err := h.client.Attest(ctx(t), validRequest()); err != nil {
			t.Fatalf("Attest: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		return sent[len(sent)-1]
	}
	if got := last(); got != "secret-one" {
		t.Fatalf("at start Stytch got %q", got)
	}

	rotate(t, path, "secret-two\n")
	eventually(t, "the rotated secret reaches Stytch", func() bool { return last() == "secret-two" })
	if n := reloads(t, h, "stytch_secret", "ok"); n != 1 {
		t.Errorf("reloads ok = %v, want 1", n)
	}

	rotate(t, path, "\n")
	eventually(t, "the empty file is reported", func() bool { last(); return reloads(t, h, "stytch_secret", "error") == 1 })
	if got := last(); got != "secret-two" {
		t.Errorf("after an empty secret file Stytch got %q, want the last good secret", got)
	}
	if g := series(t, scrape(t, h), "attestd_file_reload_failing", map[string]string{"file": "stytch_secret"}); g.GetGauge().GetValue() != 1 {
		t.Errorf("attestd_file_reload_failing{file=stytch_secret} = %v, want 1", g.GetGauge().GetValue())
	}
	if !strings.Contains(h.logs.String(), `"msg":"file reload failed; the previous value stays in use","file":"stytch_secret"`) {
		t.Errorf("no error log for the failed reload:\n%s", h.logs)
	}

	// SIGHUP's path: read at once.
	rotate(t, path, "secret-three")
	if err := h.srv.ReloadFiles(); err != nil {
		t.Fatalf("ReloadFiles: %v", err)
	}
	if got := last(); got != "secret-three" {
		t.Errorf("after ReloadFiles Stytch got %q", got)
	}
	if strings.Contains(h.logs.String(), "secret-two") || strings.Contains(h.logs.String(), "secret-three") {
		t.Error("a secret appears in the logs")
	}
}

// TestAuthTokensFileRotation: a changed ATTESTD_AUTH_TOKENS_FILE admits the
// new token and refuses the rotated-out one from the next call that looks;
// a malformed file keeps the previous tokens, with an error log and the
// reload metrics.
func TestAuthTokensFileRotation(t *testing.T) {
	const (
		oldToken = "tok-old-5d41402abc4b2a76b9719d91"
		newToken = "tok-new-7d793037a0760186574b0282"
	)
	path := filepath.Join(t.TempDir(), "tokens")
	rotate(t, path, "svc-a "+oldToken+"\n")
	h := startWith(t, nil, func(c *config.Config) { c.AuthTokensFile = path })
	call := func(token string) codes.Code {
		c := metadata.AppendToOutgoingContext(ctx(t), "authorization", "Bearer "+token)
		_, err := h.client.Attest(c, validRequest())
		return status.Code(err)
	}
	if got := call(oldToken); got != codes.OK {
		t.Fatalf("at start the token is refused: %v", got)
	}

	rotate(t, path, "svc-a "+newToken+"\n")
	eventually(t, "the rotated token is accepted", func() bool { return call(newToken) == codes.OK })
	if got := call(oldToken); got != codes.Unauthenticated {
		t.Errorf("the rotated-out token: %v, want Unauthenticated", got)
	}

	rotate(t, path, "svc-a "+newToken+"\nsvc-b\n")
	eventually(t, "the malformed file is reported", func() bool { call(newToken); return reloads(t, h, "auth_tokens", "error") == 1 })
	if got := call(newToken); got != codes.OK {
		t.Errorf("after a malformed tokens file: %v, want the previous tokens kept", got)
	}
	if err := h.srv.ReloadFiles(); err == nil {
		t.Error("ReloadFiles of a malformed tokens file succeeded")
	}
	for _, tok := range []string{oldToken, newToken} {
		if strings.Contains(h.logs.String(), tok) {
			t.Error("a token appears in the logs")
		}
	}
}

// TestModeIsVisible: the effective mode is in the "attestd serving" line
// (with the version), in attestd_mode and, for emulator mode, in /readyz's
// body.
func TestModeIsVisible(t *testing.T) {
	for _, c := range []struct {
		mode   string
		mutate func(*config.Config)
		ready  string
	}{
		{"stytch", func(c *config.Config) { c.Mode = config.ModeStytch }, "ready\n"},
		{"emulator", func(c *config.Config) { emulated(c); c.Mode = config.ModeEmulator }, "ready (emulator mode: fake sessions, not for production)\n"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			h := startWith(t, nil, c.mutate)
			code, body, err := adminGet(t, h, "/readyz")
			if err != nil || code != http.StatusOK || string(body) != c.ready {
				t.Errorf("/readyz = %d %q %v, want 200 %q", code, body, err, c.ready)
			}
			if g := series(t, scrape(t, h), "attestd_mode", map[string]string{"mode": c.mode}); g.GetGauge().GetValue() != 1 {
				t.Errorf("attestd_mode{mode=%q} = %v, want 1", c.mode, g.GetGauge().GetValue())
			}
			var serving map[string]any
			for _, l := range h.logs.Lines(t) {
				if l["msg"] == "attestd serving" {
					serving = l
				}
			}
			if serving["mode"] != c.mode || serving["version"] != version.Version() || serving["commit"] == "" {
				t.Errorf("attestd serving: mode %v version %v commit %v", serving["mode"], serving["version"], serving["commit"])
			}
		})
	}
}
