// Package internal_test holds the architecture's one rule: attestd's
// packages are layered, and every import points down.
package internal_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/attestd/attestd/"

// layers ranks every package of the product, bottom first; a package may
// import only packages of a lower rank. The request path reads upwards:
// caller → server → gateway/inproc → middleware → attest → upstream →
// translate → gen. The README's "Layout" section shows the same picture.
var layers = [][]string{
	// Leaves: errors, limits, the verbatim hand-over, TLS and tokens,
	// buckets, the breaker, settings, the build's version.
	{"internal/apierr", "internal/jsonlimit", "internal/verbatim", "internal/security", "internal/ratelimit",
		"internal/upstream/breaker", "internal/config", "internal/version"},
	// The wire: JSON ↔ protobuf, and the gRPC codec; the fleet-wide
	// limits on Redis (over the buckets).
	{"internal/translate", "internal/codec", "internal/fleetlimit"},
	// Stytch's client, and the JWKS cache beside it.
	{"internal/upstream", "internal/jwks"},
	// The service, and what observes it.
	{"internal/attest", "internal/observe"},
	// The interceptor chain both protocols run.
	{"internal/middleware"},
	// The ways in: REST and the in-process connection.
	{"internal/gateway", "internal/inproc"},
	// Wiring.
	{"internal/server"},
	// The binary.
	{"cmd/attestd"},
}

// emulatorMay is what the emulator, a product of its own, may use from
// attestd's internals: leaves only, never the request path.
var emulatorMay = layers[0]

func TestImportsPointDown(t *testing.T) {
	rank := map[string]int{}
	for i, l := range layers {
		for _, p := range l {
			rank[p] = i
		}
	}
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		from := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			to, ok := strings.CutPrefix(imp, module)
			if !ok || strings.HasPrefix(to, "gen/") {
				continue
			}
			check(t, rank, from, to)
		}
	}
}

func check(t *testing.T, rank map[string]int, from, to string) {
	t.Helper()
	product := strings.HasPrefix(from, "internal/") || strings.HasPrefix(from, "cmd/") ||
		strings.HasPrefix(from, "emulator")
	switch {
	case !product || isTestKit(from):
		return // tests' helpers, tools, the harness, the attack suite: outside the layers
	case isTestKit(to):
		t.Errorf("%s imports the test helper %s", from, to)
	case strings.HasPrefix(from, "emulator"):
		if strings.HasPrefix(to, "emulator") || slices.Contains(emulatorMay, to) {
			return
		}
		t.Errorf("the emulator (%s) imports %s: only leaves %v", from, to, emulatorMay)
	case strings.HasPrefix(to, "emulator"):
		if from != "internal/server" && from != "cmd/attestd" {
			t.Errorf("%s imports the emulator (%s): only the wiring and the binary start it", from, to)
		}
	default:
		rf, okf := rank[from]
		rt, okt := rank[to]
		if !okf || !okt {
			t.Errorf("%s → %s: a package missing from the layers (internal/layers_test.go)", from, to)
			return
		}
		if rt >= rf {
			t.Errorf("%s (layer %d) imports %s (layer %d): imports must point down", from, rf, to, rt)
		}
	}
}

// isTestKit reports whether p is one of the test helpers, which only tests
// may import.
func isTestKit(p string) bool {
	return strings.HasPrefix(p, "internal/stytchtest") || strings.HasPrefix(p, "internal/testkit")
}
