package main_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/security"
)

// TestNoSecretInOutput runs a full flow of successes and failures through
// the built attestd (holding a Stytch secret and callers' bearer tokens, in
// front of a standalone emulator) and fails if any secret, IdP token,
// session token or session JWT appears in anything either process printed.
// Tokens show up only as fingerprints.
func TestNoSecretInOutput(t *testing.T) {
	bin := build(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const projectID, stytchSecret = "project-test-secrets", "secret-test-must-never-be-printed"
	const callerToken, wrongToken = "caller-token-must-never-be-printed", "wrong-token-must-never-be-printed-either"
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# callers\nsvc-a "+callerToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emu, serving := startBinary(t, ctx, bin, []string{"emulator", "--addr", "127.0.0.1:0"},
		[]string{"STYTCH_PROJECT_ID=" + projectID, "STYTCH_SECRET=" + stytchSecret}, "Stytch emulator serving — not for production")
	p, s := startBinary(t, ctx, bin, nil, []string{
		"STYTCH_PROJECT_ID=" + projectID, "STYTCH_SECRET=" + stytchSecret, "STYTCH_BASE_URL=" + serving["url"].(string),
		"ATTESTD_GRPC_ADDR=127.0.0.1:0", "ATTESTD_HTTP_ADDR=127.0.0.1:0", "ATTESTD_AUTH_TOKENS_FILE=" + tokens,
	}, "attestd serving")
	rest := "http://" + s["http_addr"].(string)
	conn, err := grpc.NewClient(s["grpc_addr"].(string), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := b2bsessionv1.NewSessionServiceClient(conn)
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+callerToken)

	var secrets []string
	var idpTokens []string
	mint := func(flags ...string) *b2bsessionv1.AttestRequest {
		var req b2bsessionv1.AttestRequest
		if err := protojson.Unmarshal(demoRequest(t, bin, flags...), &req); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, req.GetToken())
		idpTokens = append(idpTokens, req.GetToken())
		return &req
	}

	// Success over gRPC, then extensions by session_token and session_jwt.
	created, err := client.Attest(authed, mint())
	if err != nil {
		t.Fatalf("gRPC attest: %v", err)
	}
	secrets = append(secrets, created.GetSessionToken(), created.GetSessionJwt())
	ext := mint()
	ext.SessionToken = &created.SessionToken
	extended, err := client.Attest(authed, ext)
	if err != nil {
		t.Fatalf("extension by session_token: %v", err)
	}
	secrets = append(secrets, extended.GetSessionJwt())
	ext = mint()
	ext.SessionJwt = &extended.SessionJwt
	if _, err := client.Attest(authed, ext); err != nil {
		t.Fatalf("extension by session_jwt: %v", err)
	}

	// Success over REST.
	body, _ := json.Marshal(map[string]any{"profile_id": mint().GetProfileId(), "token": idpTokens[len(idpTokens)-1]})
	code, resp := postAttestWith(t, ctx, rest, body, "Bearer "+callerToken)
	if code != 200 {
		t.Fatalf("REST attest: %d %v", code, resp)
	}
	secrets = append(secrets, resp["session_token"].(string), resp["session_jwt"].(string))

	// Failures: wrong and missing caller tokens, an unknown member, a
	// garbage session JWT, an unknown session token, an invalid request.
	wrong := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+wrongToken)
	if _, err := client.Attest(wrong, mint()); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong caller token: %v", err)
	}
	if code, _ := postAttestWith(t, ctx, rest, body, "Bearer "+wrongToken); code != 401 {
		t.Errorf("REST wrong caller token: %d", code)
	}
	if _, err := client.Attest(authed, mint("--email", "nobody@acme.example")); status.Code(err) != codes.NotFound {
		t.Errorf("unknown member: %v", err)
	}
	bad := mint()
	garbageJWT, unknownSession := "eyJhbGciOiJSUzI1NiJ9.garbage-session-jwt-never-printed.sig", "unknown-session-token-never-printed-000000"
	secrets = append(secrets, garbageJWT, unknownSession)
	bad.SessionJwt = &garbageJWT
	if _, err := client.Attest(authed, bad); status.Code(err) != codes.InvalidArgument {
		t.Errorf("garbage session JWT: %v", err)
	}
	bad = mint()
	bad.SessionToken = &unknownSession
	if _, err := client.Attest(authed, bad); status.Code(err) != codes.NotFound {
		t.Errorf("unknown session token: %v", err)
	}
	bad = mint()
	bad.SessionDurationMinutes = new(int32)
	if _, err := client.Attest(authed, bad); status.Code(err) != codes.InvalidArgument {
		t.Errorf("invalid request: %v", err)
	}

	output := p.Stop(t) + emu.Stop(t)
	for _, secret := range append(secrets, stytchSecret, callerToken, wrongToken) {
		if secret != "" && strings.Contains(output, secret) {
			t.Errorf("a secret appears in the output: %.16s…", secret)
		}
	}
	if !strings.Contains(output, `"token_fp":"`+security.Fingerprint(idpTokens[0])+`"`) {
		t.Errorf("the IdP token's fingerprint is not logged")
	}
	if !strings.Contains(output, `"caller":"svc-a"`) {
		t.Errorf("the caller's name is not logged")
	}
}
