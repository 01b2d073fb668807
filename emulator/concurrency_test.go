package emulator_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/attestd/attestd/emulator"
	"github.com/attestd/attestd/emulator/demo"
)

func TestConcurrentAttests(t *testing.T) {
	h := newHarness(t, emulator.Options{})

	const sessions = 64
	bodies := make([]obj, sessions)
	for i := range bodies {
		bodies[i] = h.alice(t)
	}
	resps, errs := concurrently(sessions, func(i int) (response, error) { return h.send(bodies[i]) })
	tokens := map[string]bool{}
	created := make([]attested, sessions)
	for i, r := range resps {
		if errs[i] != nil {
			t.Fatalf("attest %d: %v", i, errs[i])
		}
		created[i] = decodeOK(t, r)
		tokens[created[i].SessionToken] = true
	}
	if len(tokens) != sessions {
		t.Fatalf("%d distinct session tokens from %d attests", len(tokens), sessions)
	}

	// Every session survived its siblings: each can be extended.
	for i := range bodies {
		bodies[i] = h.alice(t, "session_token", created[i].SessionToken)
	}
	resps, errs = concurrently(sessions, func(i int) (response, error) { return h.send(bodies[i]) })
	for i, r := range resps {
		if errs[i] != nil {
			t.Fatalf("extension %d: %v", i, errs[i])
		}
		ext := decodeOK(t, r)
		if ext.MemberSession.MemberSessionID != created[i].MemberSession.MemberSessionID || len(ext.MemberSession.AuthenticationFactors) != 2 {
			t.Errorf("extension %d: session %s with %d factors, want %s with 2", i,
				ext.MemberSession.MemberSessionID, len(ext.MemberSession.AuthenticationFactors), created[i].MemberSession.MemberSessionID)
		}
	}

	// Many extensions of one fresh session at once: no factor is lost.
	const extensions = 32
	first := h.alice(t)
	target := h.ok(t, first)
	tokenIDs := []string{jtiOf(t, first["token"].(string))}
	extBodies := make([]obj, extensions)
	for i := range extBodies {
		extBodies[i] = h.alice(t, "session_token", target.SessionToken, "session_custom_claims", obj{fmt.Sprintf("k%02d", i): i})
		tokenIDs = append(tokenIDs, jtiOf(t, extBodies[i]["token"].(string)))
	}
	resps, errs = concurrently(extensions, func(i int) (response, error) { return h.send(extBodies[i]) })
	var counts []int
	var last attested
	for i, r := range resps {
		if errs[i] != nil {
			t.Fatalf("extension %d: %v", i, errs[i])
		}
		ext := decodeOK(t, r)
		n := len(ext.MemberSession.AuthenticationFactors)
		counts = append(counts, n)
		if n > len(last.MemberSession.AuthenticationFactors) {
			last = ext
		}
	}
	slices.Sort(counts)
	for i, n := range counts {
		if n != i+2 {
			t.Fatalf("factor counts seen by the %d extensions: %v, want each of 2..%d once", extensions, counts, extensions+1)
		}
	}
	if n := len(last.MemberSession.AuthenticationFactors); n != extensions+1 {
		t.Errorf("final session has %d factors, want %d", n, extensions+1)
	}
	var got []string
	for _, f := range last.MemberSession.AuthenticationFactors {
		got = append(got, f.TrustedAuthTokenFactor.TokenID)
	}
	slices.Sort(got)
	slices.Sort(tokenIDs)
	if !slices.Equal(got, tokenIDs) {
		t.Errorf("final session token IDs\n got  %v\n want %v", got, tokenIDs)
	}
	if n := len(last.MemberSession.CustomClaims); n != extensions {
		t.Errorf("final session has %d custom claims, want %d (one per extension)", n, extensions)
	}
}

// TestConcurrentJIT: simultaneous first attests of an unknown member create
// one member, not several.
func TestConcurrentJIT(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	const n = 16
	bodies := make([]obj, n)
	for i := range bodies {
		tok := h.token(t, demo.TokenOptions{Profile: demo.JITProfileID, Email: "rush@acme.example"})
		bodies[i] = jitReq(tok)
	}
	resps, errs := concurrently(n, func(i int) (response, error) { return h.send(bodies[i]) })
	ids := map[string]bool{}
	for i, r := range resps {
		if errs[i] != nil {
			t.Fatalf("attest %d: %v", i, errs[i])
		}
		ids[decodeOK(t, r).MemberID] = true
	}
	if len(ids) != 1 {
		t.Errorf("%d member IDs for one JIT member: %v", len(ids), ids)
	}
}
