package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/attestd/attestd/emulator/demo"
	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/config"
)

func emulated(c *config.Config) { c.ProjectID, c.Secret, c.BaseURL = "", "", "" }

// shape is a JSON value's structure: object keys with their shapes, the
// shape of array elements, or the scalar's kind.
func shape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = shape(e)
		}
		return out
	case []any:
		seen := map[string]any{}
		for _, e := range x {
			b, _ := json.Marshal(shape(e))
			seen[string(b)] = shape(e)
		}
		keys := make([]string, 0, len(seen))
		for k := range seen {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "bool"
	default:
		return "number"
	}
}

// TestEmulatorModeBothProtocols: without credentials attestd attests on
// its embedded emulator over gRPC and REST; a session created over gRPC is
// extended over REST; what attestd answers has exactly the shape the
// emulator puts on the wire, and no key is unknown to the protos.
func TestEmulatorModeBothProtocols(t *testing.T) {
	h := start(t, emulated)
	if h.srv.EmulatorURL() == "" || !strings.Contains(h.logs.String(), "emulator mode — not for production") {
		t.Fatalf("emulator mode not started or not announced: %q", h.srv.EmulatorURL())
	}
	token, orgID, err := demo.Token(demo.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := structpb.NewStruct(map[string]any{"tier": 2, "flags": []any{"beta"}})
	created, err := h.client.Attest(ctx(t), &b2bsessionv1.AttestRequest{
		ProfileId: demo.ProfileID, Token: token, OrganizationId: &orgID, SessionCustomClaims: claims,
	})
	if err != nil {
		t.Fatalf("gRPC attest: %v", err)
	}
	ms := created.GetMemberSession()
	if created.GetMemberId() != "member-test-demo-alice" || ms.GetOrganizationSlug() != "acme" ||
		ms.GetExpiresAt().AsTime().Sub(ms.GetStartedAt().AsTime()) != time.Hour ||
		ms.GetCustomClaims().GetFields()["tier"].GetNumberValue() != 2 ||
		created.GetOrganization().GetTrustedMetadata().GetFields()["plan"].GetStringValue() != "enterprise" {
		t.Errorf("gRPC attest answer: %v", created)
	}

	// Extend it over REST with a second token, deleting a claim.
	token2, _, _ := demo.Token(demo.TokenOptions{})
	body, _ := json.Marshal(map[string]any{
		"profile_id": demo.ProfileID, "token": token2, "organization_id": orgID,
		"session_token": created.GetSessionToken(), "session_duration_minutes": 120,
		"session_custom_claims": map[string]any{"tier": nil},
	})
	code, _, raw := h.post(t, "/v1/b2b/sessions/attest", string(body))
	var viaAttestd map[string]any
	if err := json.Unmarshal(raw, &viaAttestd); err != nil || code != 200 {
		t.Fatalf("REST extension: %d %s", code, raw)
	}
	session := viaAttestd["member_session"].(map[string]any)
	if session["member_session_id"] != ms.GetMemberSessionId() || viaAttestd["session_token"] != created.GetSessionToken() ||
		len(session["authentication_factors"].([]any)) != 2 {
		t.Errorf("REST extension did not extend the session: %v", session)
	}
	if c := session["custom_claims"].(map[string]any); c["tier"] != nil || c["flags"] == nil {
		t.Errorf("custom claims after deleting tier: %v", c)
	}

	// The same call straight at the emulator, as Stytch's SDKs would make it.
	token3, _, _ := demo.Token(demo.TokenOptions{})
	body, _ = json.Marshal(map[string]any{"profile_id": demo.ProfileID, "token": token3, "session_token": created.GetSessionToken()})
	req, _ := http.NewRequestWithContext(ctx(t), http.MethodPost, h.srv.EmulatorURL()+"/v1/b2b/sessions/attest", strings.NewReader(string(body)))
	req.SetBasicAuth(demo.ProjectID, demo.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var fromEmulator map[string]any
	if err := json.Unmarshal(direct, &fromEmulator); err != nil || resp.StatusCode != 200 {
		t.Fatalf("direct emulator call: %d %s", resp.StatusCode, direct)
	}
	a, _ := json.Marshal(shape(viaAttestd))
	b, _ := json.Marshal(shape(fromEmulator))
	if string(a) != string(b) {
		t.Errorf("attestd's answer and the emulator's differ in shape:\nattestd  %s\nemulator %s", a, b)
	}
	if n := h.srv.Drift().Counts(); len(n) != 0 {
		t.Errorf("the emulator's answers have keys the protos lack: %v", n)
	}
}
