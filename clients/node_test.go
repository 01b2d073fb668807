package clients_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
)

// nodeBuild compiles clients/node (and the gen/ts stubs it imports) once per
// test binary; nodeBuilt records that it succeeded.
var (
	nodeBuild sync.Once
	nodeBuilt bool
)

// buildNodeClients checks for Node.js, npm and the installed packages, then
// runs `npm run clients:build` (tsc → clients/node/dist) once for all tests.
func buildNodeClients(t *testing.T) {
	t.Helper()
	need(t, "node", "Node.js")
	need(t, "npm", "Node.js's package manager")
	for _, p := range []string{"node_modules/.bin/tsc", "node_modules/stytch", "node_modules/@connectrpc/connect-node"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Fatalf("%s is missing: run `npm ci` in the repository root (or `bash .ci/deps`)", p)
		}
	}
	nodeBuild.Do(func() {
		runClient(t, nil, "npm", "run", "--silent", "clients:build")
		nodeBuilt = true
	})
	if !nodeBuilt {
		t.Fatal("`npm run clients:build` failed in an earlier test")
	}
}

// runNodeTest runs one compiled node:test program with env added and checks
// its TAP summary: at least min tests, all of them passed.
func runNodeTest(t *testing.T, env []string, file string, min int) {
	t.Helper()
	out := runClient(t, env, "node", "--test", "--test-reporter=tap", filepath.Join("clients/node/dist/clients/node", file))
	t.Logf("node --test %s:\n%s", file, out)

	summary := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$`).FindAllStringSubmatch(out, -1) {
		summary[m[1]], _ = strconv.Atoi(m[2])
	}
	if _, ok := summary["pass"]; !ok {
		t.Fatalf("no TAP summary (# pass N) in the output of %s", file)
	}
	if summary["fail"] != 0 || summary["cancelled"] != 0 || summary["pass"] != summary["tests"] {
		t.Errorf("%s: %d tests, %d passed, %d failed, %d cancelled, %d skipped, %d todo",
			file, summary["tests"], summary["pass"], summary["fail"], summary["cancelled"], summary["skipped"], summary["todo"])
	}
	if summary["pass"] < min {
		t.Errorf("%s: %d tests passed, want at least %d", file, summary["pass"], min)
	}
}

// TestNodeGRPCClient runs clients/node/grpc_client.test.ts: the committed
// TypeScript stubs (gen/ts) with Connect for Node over gRPC, through
// clients/node/attestd_client.ts — a session, and Stytch errors decoded from
// the status details (member_not_found, invalid_trusted_auth_token,
// invalid_session_duration_minutes).
func TestNodeGRPCClient(t *testing.T) {
	buildNodeClients(t)
	s := startAttestd(t)
	runNodeTest(t, []string{
		"ATTESTD_GRPC_URL=http://" + s.GRPC,
		"ATTESTD_DEMO_REQUEST=" + demoRequest(t),
		"ATTESTD_UNKNOWN_MEMBER_REQUEST=" + demoRequest(t, "--email", "nobody@acme.example"),
		"ATTESTD_BAD_TOKEN_REQUEST=" + badTokenRequest(t, demoRequest(t)),
	}, "grpc_client.test.js", 4)
}

// TestStytchNodeSDK runs clients/node/stytch_sdk.test.ts: Stytch's official
// Node SDK pointed at attestd's REST gateway (answers and StytchErrors as
// Stytch's) and straight at the embedded emulator (same shape, Member and
// Organization; 401 on a wrong secret; local verification of the session
// JWT against the emulator's JWKS).
func TestStytchNodeSDK(t *testing.T) {
	buildNodeClients(t)
	s := startAttestd(t)
	runNodeTest(t, []string{
		"ATTESTD_HTTP_URL=http://" + s.HTTP,
		"ATTESTD_EMULATOR_URL=" + s.Emulator,
		"ATTESTD_DEMO_REQUEST=" + demoRequest(t),
		"ATTESTD_UNKNOWN_MEMBER_REQUEST=" + demoRequest(t, "--email", "nobody@acme.example"),
	}, "stytch_sdk.test.js", 11)
}

// TestStytchNodeSDKCallerAuth runs clients/node/stytch_sdk_auth.test.ts:
// with caller authentication on (ATTESTD_AUTH_TOKENS_FILE), Stytch's Node
// SDK authenticates to attestd with its project_id and secret set to the
// caller's name and token (HTTP Basic); a wrong secret, or another caller's
// name, is StytchError 401 unauthorized_credentials.
func TestStytchNodeSDKCallerAuth(t *testing.T) {
	buildNodeClients(t)
	const token = "tok-node-sdk-5f4dcc3b5aa765d61d8327de"
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("svc-node "+token+"\nsvc-other tok-other-0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startAttestd(t, "ATTESTD_AUTH_TOKENS_FILE="+tokens)
	runNodeTest(t, []string{
		"ATTESTD_HTTP_URL=http://" + s.HTTP,
		"ATTESTD_CALLER=svc-node",
		"ATTESTD_CALLER_TOKEN=" + token,
		"ATTESTD_DEMO_REQUEST=" + demoRequest(t),
	}, "stytch_sdk_auth.test.js", 4)
}
