package clients_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestGoExample runs examples/goclient (the README's Go client) against
// the built attestd: a demo request succeeds, an unknown member prints
// Stytch's error from the status details.
func TestGoExample(t *testing.T) {
	s := startAttestd(t)
	bin := t.TempDir() + "/goclient"
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/attestd/attestd/examples/goclient").CombinedOutput(); err != nil {
		t.Fatalf("build examples/goclient: %v\n%s", err, out)
	}
	call := func(req string) (string, error) {
		cmd := exec.Command(bin, "-addr", s.GRPC)
		cmd.Stdin = strings.NewReader(req)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := call(demoRequest(t))
	if err != nil || !strings.Contains(out, "member member-test-demo-alice (alice@acme.example) of Acme Corp: session member-session-test-") ||
		!strings.Contains(out, "1 factor(s)") {
		t.Errorf("success: %v\n%s", err, out)
	}
	out, err = call(demoRequest(t, "--email", "nobody@acme.example"))
	if err == nil || !strings.Contains(out, "NotFound") || !strings.Contains(out, "404 member_not_found") {
		t.Errorf("unknown member: %v\n%s", err, out)
	}
}
