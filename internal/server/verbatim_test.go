package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/stytchtest"
)

// replace is typical with each old string (which must occur) replaced.
func replace(t *testing.T, body string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(body, pairs[i]) {
			t.Fatalf("fixture lacks %q", pairs[i])
		}
		body = strings.Replace(body, pairs[i], pairs[i+1], 1)
	}
	return body
}

// verbatimCases are Stytch answers whose JSON the protobuf mirror cannot
// reproduce byte for byte: REST must serve them as they are.
func verbatimCases(t *testing.T) map[string]string {
	typical := string(stytchtest.Typical())
	compact := func(s string) string {
		var b bytes.Buffer
		if err := json.Compact(&b, []byte(s)); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	return map[string]string{
		"typical (pretty-printed)": typical,
		"typical (compact)":        compact(typical),
		"full":                     string(stytchtest.Full()),
		"explicit nulls": replace(t, typical,
			`"mfa_phone_number": "+15555550123"`, `"mfa_phone_number": null`,
			`"external_id": "acme-emp-1815"`, `"external_id": null`),
		"unknown keys": replace(t, typical,
			`"member_id": "member-test-a2d4f6b8-1c3e-4a5b-9d7f-e8c6b4a29013",`,
			`"member_id": "member-test-a2d4f6b8-1c3e-4a5b-9d7f-e8c6b4a29013", "brand_new_key": {"nested": [1, null, "x"]},`,
			`"ui_theme": "dark",`, `"ui_theme": "dark", "member_pronouns": "they/them",`),
		"fractional seconds": replace(t, typical,
			`"started_at": "2026-03-14T09:26:53Z"`, `"started_at": "2026-03-14T09:26:53.1Z"`,
			`"expires_at": "2026-03-14T10:26:53Z"`, `"expires_at": "2026-03-14T10:26:53.123456789Z"`),
		"big integers in free-form objects": replace(t, typical,
			`"purchased": 25,`, `"purchased": 12345678901234567890,`,
			`"used": 19`, `"used": 1e2`),
		"unicode": replace(t, typical,
			`"ui_theme": "dark"`, `"ui_theme": "d\u00e9j\u00e0 vu \ud83d\ude80 — ünïcødé ✓"`),
	}
}

// TestRESTServesStytchBytes: a successful REST answer is exactly the body
// Stytch sent (bytes and parsed value), for every fixture and edge case,
// while gRPC gets the decoded mirror, which carries none of Stytch's bytes.
func TestRESTServesStytchBytes(t *testing.T) {
	h := start(t)
	for name, body := range verbatimCases(t) {
		t.Run(name, func(t *testing.T) {
			h.stytch.Handle(stytchtest.Respond(http.StatusOK, []byte(body)))
			code, hdr, got := h.post(t, "/v1/b2b/sessions/attest", validJSON)
			if code != http.StatusOK {
				t.Fatalf("HTTP %d %s", code, got)
			}
			if !bytes.Equal(got, []byte(body)) {
				t.Errorf("REST body differs from Stytch's:\n got %.300s\nwant %.300s", got, body)
			}
			var gotV, wantV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(body), &wantV); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotV, wantV) {
				t.Error("REST body parses to another value than Stytch's")
			}
			if ct, cl := hdr.Get("Content-Type"), hdr.Get("Content-Length"); ct != "application/json" || cl != fmt.Sprint(len(body)) {
				t.Errorf("Content-Type %q, Content-Length %q (body %d bytes)", ct, cl, len(body))
			}

			resp, err := h.client.Attest(ctx(t), validRequest())
			if err != nil {
				t.Fatal(err)
			}
			want := &b2bsessionv1.AttestResponse{}
			if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(body), want); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(resp, want) {
				t.Errorf("gRPC answer differs from protojson's decoding of Stytch's body")
			}
			if u := resp.ProtoReflect().GetUnknown(); len(u) > 0 {
				t.Errorf("gRPC answer carries %d unknown bytes", len(u))
			}
		})
	}
}

// TestRESTBytesBelongToTheirCall: concurrent REST calls with different
// answers each get their own Stytch's bytes, while gRPC calls beside them
// hand their read buffers back to the pool at once (a buffer reused while a
// REST call still holds it would show here, and to the race detector).
func TestRESTBytesBelongToTheirCall(t *testing.T) {
	h := start(t)
	typical := string(stytchtest.Typical())
	// Stytch answers each call with its own request_id, from the caller's
	// profile_id, so every answer is different and known to its caller.
	h.stytch.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ProfileID string `json:"profile_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		stytchtest.Respond(http.StatusOK, []byte(strings.Replace(typical,
			"request-id-test-3f6a1c2e-9b8d-4e7f-a1b2-c3d4e5f60718", "request-id-"+in.ProfileID, 1))).ServeHTTP(w, r)
	}))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				profile := fmt.Sprintf("trusted-token-profile-test-%d-%d", w, i)
				if w%4 == 3 {
					req := validRequest()
					req.ProfileId = profile
					resp, err := h.client.Attest(ctx(t), req)
					if err != nil || resp.GetRequestId() != "request-id-"+profile {
						t.Errorf("gRPC %s: request_id %q, %v", profile, resp.GetRequestId(), err)
						return
					}
					continue
				}
				req, _ := http.NewRequestWithContext(ctx(t), http.MethodPost, h.rest+"/v1/b2b/sessions/attest",
					strings.NewReader(`{"profile_id":"`+profile+`","token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}`))
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				var got bytes.Buffer
				_, _ = got.ReadFrom(resp.Body)
				resp.Body.Close()
				want := strings.Replace(typical, "request-id-test-3f6a1c2e-9b8d-4e7f-a1b2-c3d4e5f60718", "request-id-"+profile, 1)
				if got.String() != want {
					t.Errorf("%s got another call's answer or a re-rendering: %.200s", profile, got.String())
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestRESTInvalidAnswerIsNotServed: a success body that is valid JSON but
// not a valid attest response is a 502, not Stytch's bytes.
func TestRESTInvalidAnswerIsNotServed(t *testing.T) {
	h := start(t)
	for name, body := range map[string]string{
		"wrong type":        replace(t, string(stytchtest.Typical()), `"session_token": "Xq3vT9bL0sKp2mW7aZ4cR8yN1dF6hJ5uE0iO3gB7tY2w"`, `"session_token": 42`),
		"no member_session": `{"request_id":"r","status_code":200,"member_id":"m"}`,
		"not an object":     `[1,2,3]`,
	} {
		t.Run(name, func(t *testing.T) {
			h.stytch.Handle(stytchtest.Respond(http.StatusOK, []byte(body)))
			code, _, got := h.post(t, "/v1/b2b/sessions/attest", validJSON)
			m := stytchErrorOf(t, code, got)
			if code != http.StatusBadGateway || m["error_type"] != "upstream_invalid_response" {
				t.Errorf("HTTP %d %s", code, got)
			}
		})
	}
}

// TestJWKSInStytchMode: with Stytch credentials, the JWKS route serves the
// key set Stytch answers for attestd's project, byte for byte, fetched with
// attestd's Basic credentials, and never the embedded emulator's (which does
// not run); another project id is 404 project_not_found without a call.
func TestJWKSInStytchMode(t *testing.T) {
	h := start(t)
	const keys = `{"keys":[{"alg":"RS256","e":"AQAB","kid":"jwk-test-from-fake-stytch","kty":"RSA","n":"u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw"}],"request_id":"request-id-test-jwks","status_code":200}`
	var sawAuth string
	h.stytch.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/b2b/sessions/jwks/"+stytchtest.ProjectID {
			http.NotFound(w, r)
			return
		}
		sawAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write([]byte(keys))
	}))
	get := func(project string) (int, http.Header, []byte) {
		req, _ := http.NewRequestWithContext(ctx(t), http.MethodGet, h.rest+"/v1/b2b/sessions/jwks/"+project, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	code, hdr, body := get(stytchtest.ProjectID)
	if code != http.StatusOK || string(body) != keys {
		t.Fatalf("HTTP %d: %.200s, want Stytch's key set byte for byte", code, body)
	}
	if cc := hdr.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") {
		t.Errorf("Cache-Control %q", cc)
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(stytchtest.ProjectID+":"+stytchtest.Secret))
	if sawAuth != wantAuth {
		t.Errorf("Stytch saw Authorization %q, want attestd's Basic credentials", sawAuth)
	}
	calls := h.stytch.Calls()
	if code, _, body := get("project-test-someone-else"); code != http.StatusNotFound || stytchErrorOf(t, code, body)["error_type"] != "project_not_found" {
		t.Errorf("another project: HTTP %d %s", code, body)
	}
	if h.stytch.Calls() != calls {
		t.Error("another project's key set was asked of Stytch")
	}
}
