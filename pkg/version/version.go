// Package version identifies a build of the operator and the agent: the version and commit
// the build sets, the Go version, the build_info metric both binaries export, and the
// version skew an operator accepts from the agents it drives.
//
// A release build sets both variables with the linker:
//
//	go build -ldflags "-X github.com/cassbackup/cassandra-backup-operator/pkg/version.Version=v0.2.0 \
//	  -X github.com/cassbackup/cassandra-backup-operator/pkg/version.Commit=$(git rev-parse HEAD)"
//
// Without them the module version and VCS revision Go records in the binary are used
// (`go install …@v0.2.0`, or a build in a clone with -buildvcs), else "dev" and "unknown".
package version

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set at build time with -ldflags -X; empty in a plain `go build`.
var (
	// Version is the release, e.g. v0.2.0.
	Version string
	// Commit is the VCS revision the binary was built from.
	Commit string
)

// Info describes one build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns this binary's build information, with fallbacks for builds that set none.
func Get() Info {
	return get(Version, Commit, debug.ReadBuildInfo)
}

func get(version, commit string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := read(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			var rev, modified string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value
				}
			}
			if rev != "" && modified == "true" {
				rev += "-dirty"
			}
			info.Commit = rev
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

// String is the one line --version prints after the program's name.
func (i Info) String() string {
	return fmt.Sprintf("%s (commit %s, %s, %s)", i.Version, i.Commit, i.GoVersion, i.Platform)
}

// Print writes the --version line of the program called name.
func Print(w io.Writer, name string) {
	fmt.Fprintf(w, "%s %s\n", name, Get())
}

// LDFlags returns the -ldflags value that sets Version and Commit in a build.
func LDFlags(version, commit string) string {
	const pkg = "github.com/cassbackup/cassandra-backup-operator/pkg/version"
	return fmt.Sprintf("-X %s.Version=%s -X %s.Commit=%s", pkg, version, pkg, commit)
}
