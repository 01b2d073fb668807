package clients_test

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// python is Debian's interpreter, which has python3-grpcio and
// python3-protobuf; a pyenv python3 earlier on PATH has neither.
const python = "/usr/bin/python3"

// TestPythonClient runs clients/python/test_attestd_client.py, the unittest
// program of the Python client (clients/python/attestd_client.py over the
// committed stubs in gen/python), against attestd in emulator mode.
func TestPythonClient(t *testing.T) {
	need(t, python, "Debian's python3 with python3-grpcio")
	if out, err := exec.Command(python, "-c", "import grpc, google.protobuf").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import grpc and google.protobuf (%v): apt-get install python3-grpcio python3-protobuf (or run `bash .ci/deps` as root)\n%s", python, err, out)
	}

	s := startAttestd(t)
	env := []string{
		// No __pycache__ in clients/python or gen/python (generated code is diffed).
		"PYTHONDONTWRITEBYTECODE=1",
		"ATTESTD_GRPC_ADDR=" + s.GRPC,
		"ATTESTD_DEMO_REQUEST=" + demoRequest(t),
		"ATTESTD_SECOND_DEMO_REQUEST=" + demoRequest(t),
		"ATTESTD_UNKNOWN_MEMBER_REQUEST=" + demoRequest(t, "--email", "nobody@acme.example"),
		"ATTESTD_BAD_TOKEN_REQUEST=" + badTokenRequest(t, demoRequest(t)),
	}
	out := runClient(t, env, python, "clients/python/test_attestd_client.py", "-v")
	t.Logf("python client tests:\n%s", out)

	m := regexp.MustCompile(`(?m)^Ran (\d+) tests? in `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no unittest summary (Ran N tests) in the output:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < 5 {
		t.Errorf("ran %d Python tests, want at least 5", n)
	}
	if !regexp.MustCompile(`(?m)^OK$`).MatchString(out) {
		t.Errorf("unittest did not report a plain OK (failures or skips):\n%s", out)
	}
}

// badTokenRequest is request (a demo Attest body) with its JWT's signature
// corrupted: flipping characters in the middle of the signature segment
// changes its bytes (the last character may only carry padding bits), so
// the token still parses but fails verification.
func badTokenRequest(t *testing.T, request string) string {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal([]byte(request), &body); err != nil {
		t.Fatalf("demo request %q: %v", request, err)
	}
	token, _ := body["token"].(string)
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[2]) < 16 {
		t.Fatalf("demo token is not a signed JWT: %q", token)
	}
	sig := []byte(parts[2])
	for i := len(sig) / 2; i < len(sig)/2+4; i++ {
		if sig[i] == 'A' {
			sig[i] = 'B'
		} else {
			sig[i] = 'A'
		}
	}
	parts[2] = string(sig)
	body["token"] = strings.Join(parts, ".")
	out, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
