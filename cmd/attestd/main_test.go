package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/service/stytchtest"
)

// build compiles the real binary once per test run.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "attestd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinaryEndToEnd runs the built attestd on random ports in front of a
// fake Stytch, calls it over gRPC and REST, and stops it with SIGTERM.
func TestBinaryEndToEnd(t *testing.T) {
	bin := build(t)
	fake := stytchtest.NewServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(),
		"STYTCH_PROJECT_ID="+stytchtest.ProjectID,
		"STYTCH_SECRET="+stytchtest.Secret,
		"STYTCH_BASE_URL="+fake.URL,
		"ATTESTD_GRPC_ADDR=127.0.0.1:0",
		"ATTESTD_HTTP_ADDR=127.0.0.1:0",
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// Synchronise on the start-up log line, which names the bound ports.
	lines := make(chan map[string]any, 64)
	var all strings.Builder
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
	}()
	var grpcAddr, httpAddr string
	for m := range lines {
		if m["msg"] == "attestd serving" {
			grpcAddr, httpAddr = m["grpc_addr"].(string), m["http_addr"].(string)
			break
		}
	}
	if grpcAddr == "" {
		t.Fatalf("attestd never reported serving")
	}

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

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines { // drain until stderr closes
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, all.String())
	}
	logs := all.String()
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
		{nil, "STYTCH_PROJECT_ID, STYTCH_SECRET (or STYTCH_SECRET_FILE): not set"},
		{[]string{"STYTCH_PROJECT_ID=project-test-x", "STYTCH_SECRET=s3cr3t-value", "ATTESTD_UPSTREAM_TIMEOUT=soon"}, "ATTESTD_UPSTREAM_TIMEOUT"},
		{[]string{"STYTCH_PROJECT_ID=project-test-x", "STYTCH_SECRET=s3cr3t-value", "STYTCH_BASE_URL=ftp://x"}, "STYTCH_BASE_URL"},
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
