package clients_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOtherLanguageStubs generates Java, C#, PHP, Ruby and Objective-C once
// (with Debian's protoc, not committed) and checks that the package options
// in the protos put each language's stubs in sensible, importable places.
func TestOtherLanguageStubs(t *testing.T) {
	need(t, "protoc", "protobuf-compiler")
	out := t.TempDir()
	template := `{"version":"v2","inputs":[{"directory":"proto"}],"plugins":[` +
		`{"protoc_builtin":"java","out":"java"},{"protoc_builtin":"csharp","out":"csharp"},` +
		`{"protoc_builtin":"php","out":"php"},{"protoc_builtin":"ruby","out":"ruby"},{"protoc_builtin":"objc","out":"objc"}]}`
	cmd := exec.Command("go", "tool", "-modfile=tools/buf/go.mod", "buf", "generate", "--template", template, "-o", out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf generate: %v\n%s", err, b)
	}
	cases := []struct {
		file, contains string
	}{
		{"java/com/stytch/b2b/session/v1/AttestRequest.java", "package com.stytch.b2b.session.v1;"},
		{"java/com/stytch/b2b/session/v1/SessionProto.java", "public final class SessionProto"},
		{"java/com/stytch/error/v1/StytchError.java", "package com.stytch.error.v1;"},
		{"csharp/Session.cs", "namespace Stytch.B2b.Session.V1"},
		{"csharp/Error.cs", "namespace Stytch.Error.V1"},
		{"php/Stytch/B2b/Session/V1/AttestRequest.php", `namespace Stytch\B2b\Session\V1;`},
		{"php/Stytch/Error/V1/StytchError.php", `namespace Stytch\Error\V1;`},
		{"ruby/stytch/b2b/session/v1/session_pb.rb", "module Stytch\n  module B2b\n    module Session\n      module V1\n"}, // Stytch::B2b::Session::V1
		{"objc/stytch/b2b/session/v1/Session.pbobjc.h", "@interface STYAttestRequest"},
		{"objc/stytch/error/v1/Error.pbobjc.h", "@interface STYStytchError"},
	}
	for _, tc := range cases {
		b, err := os.ReadFile(filepath.Join(out, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if !strings.Contains(string(b), tc.contains) {
			t.Errorf("%s does not contain %q", tc.file, tc.contains)
		}
	}
}
