package main_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/testkit/proctest"
)

// binary is the attestd built once for all tests (TestMain).
var binary string

func TestMain(m *testing.M) { proctest.MainWithAttestd(m, ".", &binary) }

// build returns the path of the real binary.
func build(*testing.T) string { return binary }

// startBinary is proctest.Start.
func startBinary(t *testing.T, ctx context.Context, bin string, args, env []string, msg string) (*proctest.Proc, map[string]any) {
	t.Helper()
	return proctest.Start(t, ctx, bin, args, env, msg)
}

// TestBinaryEndToEnd runs the built attestd on random ports in front of a
// fake Stytch, calls it over gRPC and REST, and stops it with SIGTERM.
func TestBinaryEndToEnd(t *testing.T) {
	bin := build(t)
	fake := stytchtest.NewServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	p, serving := startBinary(t, ctx, bin, nil, []string{
		"STYTCH_PROJECT_ID=" + stytchtest.ProjectID,
		"STYTCH_SECRET=" + stytchtest.Secret,
		"STYTCH_BASE_URL=" + fake.URL,
		"ATTESTD_GRPC_ADDR=127.0.0.1:0",
		"ATTESTD_HTTP_ADDR=127.0.0.1:0",
	}, "attestd serving")
	grpcAddr, httpAddr := serving["grpc_addr"].(string), serving["http_addr"].(string)

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := b2bsessionv1.NewSessionServiceClient(conn)
	resp, err := client.Attest(ctx, &b2bsessionv1.AttestRequest{ProfileId: "p", Token: "token-value-never-logged"})
	if err != nil || resp.GetMemberSession().GetAuthenticationFactors()[0].GetTrustedAuthTokenFactor().GetTokenId() != "tat-test-jti-77f1c0de" {
		t.Fatalf("gRPC Attest: %v %v", resp, err)
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+httpAddr+"/v1/b2b/sessions/attest",
		strings.NewReader(`{"profile_id":"p","token":"token-value-never-logged"}`))
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !stytchtest.JSONEqual(t, body, stytchtest.Typical()) {
		t.Errorf("REST: %d %s", r.StatusCode, body)
	}

	fake.Handle(stytchtest.Error(400, "invalid_trusted_auth_token", "bad token"))
	if _, err := client.Attest(ctx, &b2bsessionv1.AttestRequest{ProfileId: "p", Token: "token-value-never-logged"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("gRPC error: %v", err)
	}

	logs := p.Stop(t)
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"stopped"`, `"secret":"(redacted)"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	for _, secret := range []string{stytchtest.Secret, "token-value-never-logged", "Xq3vT9bL0sKp2mW7aZ4cR8yN1dF6hJ5uE0iO3gB7tY2w", "eyJhbGciOiJSUzI1NiIsImtpZCI6"} {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret appears in the logs: %.12s…", secret)
		}
	}
}

// TestBinaryConfigErrors: a bad setting is one line naming it, exit code 2.
func TestBinaryConfigErrors(t *testing.T) {
	bin := build(t)
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"STYTCH_PROJECT_ID=project-test-x"}, "STYTCH_SECRET (or STYTCH_SECRET_FILE): not set"},
		{[]string{"STYTCH_SECRET=s3cr3t-value"}, "STYTCH_PROJECT_ID: not set"},
		{[]string{"STYTCH_PROJECT_ID=project-test-x", "STYTCH_SECRET=s3cr3t-value", "ATTESTD_UPSTREAM_TIMEOUT=soon"}, "ATTESTD_UPSTREAM_TIMEOUT"},
		{[]string{"STYTCH_PROJECT_ID=project-test-x", "STYTCH_SECRET=s3cr3t-value", "STYTCH_BASE_URL=ftp://x"}, "STYTCH_BASE_URL"},
		{[]string{"ATTESTD_MODE=stytch"}, "STYTCH_PROJECT_ID: not set; ATTESTD_MODE=stytch needs the Stytch credentials"},
		{[]string{"ATTESTD_MODE=emulator", "STYTCH_PROJECT_ID=project-test-x", "STYTCH_SECRET=s3cr3t-value"}, "STYTCH_PROJECT_ID: set with ATTESTD_MODE=emulator"},
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tc.env...)
		out, err := cmd.CombinedOutput()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%v: exit %v, want 2", tc.env, err)
		}
		text := strings.TrimSpace(string(out))
		if strings.Count(text, "\n") != 0 || !strings.Contains(text, tc.want) {
			t.Errorf("%v: output %q, want one line naming %s", tc.env, text, tc.want)
		}
		if strings.Contains(text, "s3cr3t-value") {
			t.Errorf("the secret is printed: %q", text)
		}
	}
}

// TestBinaryVersion: --version and -version print the version, commit and
// Go version on one line and exit 0; -ldflags -X stamps the first two.
func TestBinaryVersion(t *testing.T) {
	stamped := filepath.Join(t.TempDir(), "attestd")
	const pkg = "github.com/attestd/attestd/internal/version"
	build := exec.Command("go", "build", "-ldflags", "-X "+pkg+".version=9.8.7 -X "+pkg+".commit=0123abcd", "-o", stamped, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, c := range []struct{ bin, arg, want string }{
		{binary, "--version", "attestd "},
		{binary, "-version", "attestd "},
		{stamped, "--version", "attestd 9.8.7 (commit 0123abcd, go"},
	} {
		out, err := exec.Command(c.bin, c.arg).Output()
		if err != nil {
			t.Errorf("%s %s: %v", c.bin, c.arg, err)
		}
		if line := string(out); !strings.HasPrefix(line, c.want) || strings.Count(line, "\n") != 1 || !strings.Contains(line, "(commit ") {
			t.Errorf("%s %s printed %q, want a line starting %q", c.bin, c.arg, line, c.want)
		}
	}
}

// TestBinaryHelp: -h, -help and --help print usage on stdout and exit 0,
// for the service and for each subcommand; the service's lists every flag
// with its environment variable.
func TestBinaryHelp(t *testing.T) {
	for _, c := range []struct {
		args     []string
		mentions []string
	}{
		{[]string{"--help"}, []string{"attestd emulator [flags]", "-grpc-addr", "ATTESTD_GRPC_ADDR", "-mode", "ATTESTD_MODE"}},
		{[]string{"-h"}, []string{"-http-addr", "ATTESTD_HTTP_ADDR"}},
		{[]string{"emulator", "--help"}, []string{"Usage: attestd emulator [flags]", "-addr", "-seed"}},
		{[]string{"demo-token", "-help"}, []string{"Usage: attestd demo-token [flags]", "-email", "-request"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, binary, c.args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("%v: %v, stderr %q", c.args, err, stderr.String())
		}
		for _, m := range c.mentions {
			if !strings.Contains(string(out), m) {
				t.Errorf("%v: usage lacks %q:\n%s", c.args, m, out)
			}
		}
	}
}
