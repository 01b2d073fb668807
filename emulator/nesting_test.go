package emulator_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/attestd/attestd/emulator"
	"github.com/attestd/attestd/internal/jsonlimit"
)

// nestedClaims is a claims object nesting levels deep (itself level 1),
// objects and arrays alternating below it.
func nestedClaims(levels int) obj {
	var v any = "leaf"
	for i := 1; i < levels; i++ {
		if i%2 == 0 {
			v = []any{v}
		} else {
			v = obj{"a": v}
		}
	}
	return obj{"k": v}
}

// TestAttestNestingLimit: a body nesting deeper than jsonlimit.MaxDepth
// (the request being level 1) is Stytch's 400 bad_request before any
// decoding; at the limit the attest succeeds and keeps the claims.
func TestAttestNestingLimit(t *testing.T) {
	const msg = "The request body nests objects and arrays deeper than 32 levels."
	runErrorCases(t, []errorCase{
		{"claims one level over", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_custom_claims", nestedClaims(jsonlimit.MaxDepth)))
		}, badRequest, "bad_request", msg},
		{"60 KB of nesting", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, `{"profile_id":"p","session_custom_claims":`+strings.Repeat(`[`, 60<<10))
		}, badRequest, "bad_request", msg},
		{"nesting checked before the fields", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, strings.Repeat(`{"a":`, jsonlimit.MaxDepth+1))
		}, badRequest, "bad_request", msg},
	})

	h := newHarness(t, emulator.Options{})
	a := h.ok(t, h.alice(t, "session_custom_claims", nestedClaims(jsonlimit.MaxDepth-1)))
	kept, err := json.Marshal(path(a.json, "member_session", "custom_claims"))
	if err != nil {
		t.Fatal(err)
	}
	if d := jsonlimit.Depth(kept); d != jsonlimit.MaxDepth-1 {
		t.Errorf("claims at the limit came back %d levels deep: %s", d, kept)
	}
}
