// Package version says which attestd this is: the release version and the
// commit it was built from, stamped at link time with
//
//	go build -ldflags "-X github.com/attestd/attestd/internal/version.version=0.1.0 -X github.com/attestd/attestd/internal/version.commit=$(git rev-parse HEAD)"
//
// (`make build` and `make image` do), because VCS stamping may be off on a
// build machine. Unstamped, both fall back to what the Go toolchain recorded
// (runtime/debug.ReadBuildInfo): the module version and vcs.revision.
package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
)

// Stamped with -ldflags -X; empty when the build did not set them.
var (
	version string
	commit  string
)

// Info is one build's identity.
type Info struct {
	// Version is the release version ("0.1.0"), the module version the
	// toolchain recorded, or "dev" when neither is known.
	Version string
	// Commit is the git commit ("unknown" when not recorded), suffixed
	// "-dirty" when the toolchain saw local changes.
	Commit string
	// Go is the toolchain that built the binary ("go1.26.0").
	Go string
}

var (
	once sync.Once
	info Info
)

// Get is this binary's Info, computed once.
func Get() Info {
	once.Do(func() { info = resolve(version, commit, debug.ReadBuildInfo) })
	return info
}

// Version is Get().Version: what the User-Agent, the start-up log and the
// attestd_build_info metric report.
func Version() string { return Get().Version }

// resolve prefers the stamped values and fills what is missing from the
// build info.
func resolve(stampedVersion, stampedCommit string, read func() (*debug.BuildInfo, bool)) Info {
	i := Info{Version: stampedVersion, Commit: stampedCommit, Go: runtime.Version()}
	if bi, ok := read(); ok {
		i.Go = bi.GoVersion
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = strings.TrimPrefix(bi.Main.Version, "v")
		}
		if i.Commit == "" {
			var rev string
			var dirty bool
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					dirty = s.Value == "true"
				}
			}
			if rev != "" && dirty {
				rev += "-dirty"
			}
			i.Commit = rev
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	return i
}

// String is the --version line: "attestd 0.1.0 (commit abc…, go1.26.0)".
func (i Info) String() string {
	return "attestd " + i.Version + " (commit " + i.Commit + ", " + i.Go + ")"
}
