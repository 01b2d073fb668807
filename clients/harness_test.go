// Package clients_test runs attestd's clients in other languages (Python,
// TypeScript, Stytch's own Node SDK) against the built attestd in emulator
// mode. Missing runtimes fail the tests with what to install (.ci/deps
// installs them); they are never skipped.
package clients_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/attestd/attestd/internal/testkit/proctest"
)

// attestd is the binary built once for all tests; root is the repository.
var attestd, root string

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	root = filepath.Dir(filepath.Dir(file))
	proctest.MainWithAttestd(m, "github.com/attestd/attestd/cmd/attestd", &attestd)
}

// server is a running attestd in emulator mode.
type server struct {
	// GRPC and HTTP are host:port of the API listeners.
	GRPC, HTTP string
	// Emulator is the embedded Stytch emulator's base URL.
	Emulator string
	proc     *proctest.Proc
}

// startAttestd runs the built attestd with no Stytch credentials (emulator
// mode, demo seed, demo credentials) on free loopback ports.
func startAttestd(t *testing.T, env ...string) *server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	p, emu := proctest.Start(t, ctx, attestd, nil, append([]string{
		"ATTESTD_GRPC_ADDR=127.0.0.1:0", "ATTESTD_HTTP_ADDR=127.0.0.1:0", "ATTESTD_EMULATOR_ADDR=127.0.0.1:0",
	}, env...), "emulator mode — not for production: no Stytch credentials, so attestd answers from an embedded Stytch emulator")
	s := &server{Emulator: emu["emulator_url"].(string), proc: p}
	for m := range p.Lines {
		if m["msg"] == "attestd serving" {
			s.GRPC, s.HTTP = m["grpc_addr"].(string), m["http_addr"].(string)
			return s
		}
	}
	t.Fatal("attestd never reported serving")
	return nil
}

// demoRequest is `attestd demo-token --request [flags]`: a complete Attest
// request body signed by the demo profile's key.
func demoRequest(t *testing.T, flags ...string) string {
	t.Helper()
	out, err := exec.Command(attestd, append([]string{"demo-token", "--request"}, flags...)...).Output()
	if err != nil {
		t.Fatalf("demo-token %v: %v", flags, err)
	}
	var check map[string]string
	if err := json.Unmarshal(out, &check); err != nil || check["token"] == "" {
		t.Fatalf("demo-token printed %q", out)
	}
	return strings.TrimSpace(string(out))
}

// need fails the test, naming the fix, when a runtime is missing.
func need(t *testing.T, path, what string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("%s is missing (%s): run `bash .ci/deps` (as root it installs it)", path, what)
	}
}

// runClient runs a client program from the repository root with env added,
// bounded in time, and fails the test with its output if it fails.
func runClient(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
