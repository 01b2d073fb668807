package main_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
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
	"google.golang.org/protobuf/encoding/protojson"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	errorv1 "github.com/attestd/attestd/gen/go/stytch/error/v1"
)

// demoRequest runs `attestd demo-token --request` with extra flags and
// returns the request body it prints.
func demoRequest(t *testing.T, bin string, flags ...string) []byte {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"demo-token", "--request"}, flags...)...).Output()
	if err != nil {
		t.Fatalf("demo-token %v: %v", flags, err)
	}
	return out
}

// postAttest is `curl -sS <base>/v1/b2b/sessions/attest -d @-`.
func postAttest(t *testing.T, ctx context.Context, base string, body []byte, basicAuth ...string) (int, map[string]any) {
	t.Helper()
	auth := ""
	if len(basicAuth) == 2 {
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(basicAuth[0]+":"+basicAuth[1]))
	}
	return postAttestWith(t, ctx, base, body, auth)
}

// postAttestWith is postAttest with an Authorization header ("" for none).
func postAttestWith(t *testing.T, ctx context.Context, base string, body []byte, authorization string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/b2b/sessions/attest", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("answer is not JSON: %q", raw)
	}
	return resp.StatusCode, m
}

// TestQuickStart is the README's quick start: attestd with no credentials
// and no network runs on the embedded emulator; a demo request minted by
// `attestd demo-token --request` attests over REST and over gRPC.
func TestQuickStart(t *testing.T) {
	bin := build(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, serving := startBinary(t, ctx, bin, nil, []string{"ATTESTD_GRPC_ADDR=127.0.0.1:0", "ATTESTD_HTTP_ADDR=127.0.0.1:0"}, "attestd serving")
	grpcAddr, httpAddr := serving["grpc_addr"].(string), serving["http_addr"].(string)
	if serving["config"].(map[string]any)["mode"] != "emulator" {
		t.Errorf("mode = %v, want emulator", serving["config"])
	}

	// REST, as `attestd demo-token --request | curl … -d @-`.
	reqBody := demoRequest(t, bin)
	code, resp := postAttest(t, ctx, "http://"+httpAddr, reqBody)
	if code != 200 || resp["status_code"] != 200.0 {
		t.Fatalf("REST attest: %d %v", code, resp)
	}
	member := resp["member"].(map[string]any)
	session := resp["member_session"].(map[string]any)
	if member["email_address"] != "alice@acme.example" || resp["organization"].(map[string]any)["organization_slug"] != "acme" ||
		session["member_id"] != resp["member_id"] || len(resp["session_token"].(string)) != 44 || resp["session_jwt"] == "" {
		t.Errorf("REST attest answer: %v", resp)
	}

	// gRPC, with the same kind of request.
	var req b2bsessionv1.AttestRequest
	if err := protojson.Unmarshal(demoRequest(t, bin, "--email", "bob@acme.example"), &req); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := b2bsessionv1.NewSessionServiceClient(conn)
	got, err := client.Attest(ctx, &req)
	if err != nil {
		t.Fatalf("gRPC attest: %v", err)
	}
	f := got.GetMemberSession().GetAuthenticationFactors()
	if got.GetMember().GetEmailAddress() != "bob@acme.example" || len(f) != 1 || f[0].GetType() != "trusted_auth_token" ||
		f[0].GetDeliveryMethod() != "trusted_token_exchange" || !strings.HasPrefix(f[0].GetTrustedAuthTokenFactor().GetTokenId(), "demo-") ||
		got.GetMemberSession().GetExpiresAt().AsTime().Sub(got.GetMemberSession().GetStartedAt().AsTime()) != time.Hour {
		t.Errorf("gRPC attest answer: %v", got)
	}

	// A member the demo seed lacks: NotFound carrying Stytch's error.
	if err := protojson.Unmarshal(demoRequest(t, bin, "--email", "nobody@acme.example"), &req); err != nil {
		t.Fatal(err)
	}
	_, err = client.Attest(ctx, &req)
	st := status.Convert(err)
	var stytchErr *errorv1.StytchError
	for _, d := range st.Details() {
		if e, ok := d.(*errorv1.StytchError); ok {
			stytchErr = e
		}
	}
	if st.Code() != codes.NotFound || stytchErr.GetErrorType() != "member_not_found" || stytchErr.GetStatusCode() != 404 {
		t.Errorf("unknown member: %v (%v)", err, stytchErr)
	}

	logs := p.Stop(t)
	if !strings.Contains(logs, "emulator mode — not for production") {
		t.Errorf("emulator mode is not announced:\n%s", logs)
	}
	for _, secret := range []string{req.GetToken(), resp["session_token"].(string), resp["session_jwt"].(string), got.GetSessionToken(), "secret-test-attestd-demo"} {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret appears in the logs: %.12s…", secret)
		}
	}
}

// TestStandaloneEmulator: `attestd emulator` with chosen credentials, and
// attestd pointed at it with STYTCH_BASE_URL behaves as against Stytch.
func TestStandaloneEmulator(t *testing.T) {
	bin := build(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const projectID, secret = "project-test-standalone", "secret-test-standalone-value"
	emu, serving := startBinary(t, ctx, bin, []string{"emulator", "--addr", "127.0.0.1:0", "--project-id", projectID},
		[]string{"STYTCH_SECRET=" + secret}, "Stytch emulator serving — not for production")
	url := serving["url"].(string)

	// Straight at the emulator, as a Stytch SDK would call it.
	if code, resp := postAttest(t, ctx, url, demoRequest(t, bin), projectID, "wrong"); code != 401 || resp["error_type"] != "unauthorized_credentials" {
		t.Errorf("wrong secret: %d %v", code, resp)
	}
	if code, resp := postAttest(t, ctx, url, demoRequest(t, bin), projectID, secret); code != 200 || resp["member_id"] != "member-test-demo-alice" {
		t.Errorf("direct attest: %d %v", code, resp)
	}

	// attestd in Stytch mode, pointed at the emulator.
	p, s := startBinary(t, ctx, bin, nil, []string{
		"STYTCH_PROJECT_ID=" + projectID, "STYTCH_SECRET=" + secret, "STYTCH_BASE_URL=" + url,
		"ATTESTD_GRPC_ADDR=127.0.0.1:0", "ATTESTD_HTTP_ADDR=127.0.0.1:0",
	}, "attestd serving")
	if s["config"].(map[string]any)["mode"] != "stytch" {
		t.Errorf("mode = %v, want stytch", s["config"])
	}
	code, resp := postAttest(t, ctx, "http://"+s["http_addr"].(string), demoRequest(t, bin, "--org", "acme", "--email", "carol@acme.example"))
	if code != 200 || resp["member"].(map[string]any)["status"] != "active" {
		t.Errorf("attest through attestd: %d %v", code, resp)
	}
	code, resp = postAttest(t, ctx, "http://"+s["http_addr"].(string), demoRequest(t, bin, "--org", "suspended-co", "--email", "dave@suspended.example"))
	if code != 403 || resp["error_type"] != "organization_suspended" {
		t.Errorf("suspended organization through attestd: %d %v", code, resp)
	}
	p.Stop(t)
	if logs := emu.Stop(t); strings.Contains(logs, secret) {
		t.Errorf("the emulator logs its secret")
	}
}

// TestBinaryUsageErrors: a malformed seed or a bad flag is one line and
// exit code 2, for the service, the emulator and demo-token alike.
func TestBinaryUsageErrors(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(bad, []byte("projects:\n  - organizations:\n      - organization_id: organization-test-x\n        organization_name: X\n        organization_slug: \"!\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantSeed := "seed file " + bad + ": projects[0].organizations[0].organization_slug: \"!\" must be 2..128 characters of A-Z a-z 0-9 - . _ ~"
	cases := []struct {
		args, env []string
		want      string
	}{
		{nil, []string{"ATTESTD_EMULATOR_SEED=" + bad}, "attestd: invalid configuration: ATTESTD_EMULATOR_SEED: " + wantSeed},
		{nil, []string{"ATTESTD_EMULATOR_SEED=" + filepath.Join(dir, "missing.yaml")}, "attestd: invalid configuration: ATTESTD_EMULATOR_SEED: seed file " + filepath.Join(dir, "missing.yaml") + ": cannot be read: no such file or directory"},
		{[]string{"emulator", "--seed", bad}, nil, "attestd emulator: " + wantSeed},
		{[]string{"emulator", "--project-id", "project-test-only-id"}, nil, "attestd emulator: emulator: set both the project ID and the secret, or neither"},
		{[]string{"demo-token", "--profile", "nope"}, nil, "attestd demo-token: profile \"nope\" is not a demo profile"},
		{[]string{"demo-token", "--bogus"}, nil, "attestd demo-token: flag provided but not defined: -bogus"},
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, bin, tc.args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "ATTESTD_GRPC_ADDR=127.0.0.1:0", "ATTESTD_HTTP_ADDR=127.0.0.1:0"}, tc.env...)
		out, err := cmd.CombinedOutput()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%v %v: exit %v, want 2 (%s)", tc.args, tc.env, err, out)
		}
		if text := strings.TrimSpace(string(out)); strings.Count(text, "\n") != 0 || !strings.HasPrefix(text, tc.want) {
			t.Errorf("%v %v:\n got %q\nwant %q", tc.args, tc.env, text, tc.want)
		}
	}
}
