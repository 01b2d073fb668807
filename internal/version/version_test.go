package version

import (
	"runtime/debug"
	"testing"
)

func buildInfo(version string, settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
	return func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.99.0", Main: debug.Module{Version: version}, Settings: settings}, true
	}
}

// TestStampedWins: -ldflags -X values are reported as they are, whatever
// the toolchain recorded.
func TestStampedWins(t *testing.T) {
	got := resolve("1.2.3", "abc", buildInfo("v9.9.9", debug.BuildSetting{Key: "vcs.revision", Value: "def"}))
	if want := (Info{Version: "1.2.3", Commit: "abc", Go: "go1.99.0"}); got != want {
		t.Errorf("resolve = %+v, want %+v", got, want)
	}
	if s := got.String(); s != "attestd 1.2.3 (commit abc, go1.99.0)" {
		t.Errorf("String = %q", s)
	}
}

// TestFallsBackToBuildInfo: unstamped, the module version and the VCS
// revision the toolchain recorded are used; without them, dev and unknown.
func TestFallsBackToBuildInfo(t *testing.T) {
	got := resolve("", "", buildInfo("v0.2.0",
		debug.BuildSetting{Key: "vcs.revision", Value: "def"}, debug.BuildSetting{Key: "vcs.modified", Value: "true"}))
	if want := (Info{Version: "0.2.0", Commit: "def-dirty", Go: "go1.99.0"}); got != want {
		t.Errorf("resolve = %+v, want %+v", got, want)
	}
	got = resolve("", "", buildInfo("(devel)"))
	if got.Version != "dev" || got.Commit != "unknown" {
		t.Errorf("resolve without anything = %+v, want dev and unknown", got)
	}
	got = resolve("", "", func() (*debug.BuildInfo, bool) { return nil, false })
	if got.Version != "dev" || got.Commit != "unknown" || got.Go == "" {
		t.Errorf("resolve without build info = %+v", got)
	}
}
