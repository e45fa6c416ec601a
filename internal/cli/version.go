package cli

import (
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// runtimeModule is this project's module; a binary whose main module is
// another one (a chaincode built on serve.Main or fabricshim) reports the
// version of ours it links as well.
const runtimeModule = "github.com/ccserver/ccserver"

// Version is what the build info says about the running binary. The go
// command stamps it (module version from the VCS tag or a pseudo-version,
// revision, commit time, whether the work tree was modified), so no
// -ldflags are needed and the answer cannot drift from the source.
type Version struct {
	Module   string    // main module path
	Version  string    // main module version; "(devel)" for a build without a version
	Revision string    // VCS revision; empty when the build was not stamped (go test, -buildvcs=false)
	Time     time.Time // commit time of Revision
	Modified bool      // built from a work tree with uncommitted changes
	Runtime  string    // version of github.com/ccserver/ccserver when it is a dependency, not the main module
	Go       string    // toolchain and platform, e.g. "go1.26.8 linux/amd64"
}

// ReadVersion reads the running binary's build info.
func ReadVersion() Version {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Version{Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) Version {
	v := Version{Module: bi.Main.Path, Version: bi.Main.Version}
	goos, goarch := runtime.GOOS, runtime.GOARCH
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time, _ = time.Parse(time.RFC3339, s.Value)
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	if v.Module != runtimeModule {
		for _, d := range bi.Deps {
			if d.Path == runtimeModule {
				v.Runtime = d.Version
				if d.Replace != nil {
					v.Runtime = d.Replace.Version
					if v.Runtime == "" {
						v.Runtime = "(devel, replaced by " + d.Replace.Path + ")"
					}
				}
			}
		}
	}
	goVersion := bi.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	v.Go = goVersion + " " + goos + "/" + goarch
	return v
}

// String is one line, for scripts and bug reports alike, e.g.
//
//	v1.2.0, module github.com/ccserver/ccserver, revision 1a2b3c4d5e6f (2026-11-30T12:00:00Z), go1.26.8 linux/amd64
//	(devel), module github.com/ccserver/ccserver, revision 1a2b3c4d5e6f-dirty (2026-11-30T12:00:00Z), go1.26.8 linux/amd64
func (v Version) String() string {
	if v.Module == "" {
		return "unknown (no build information), " + v.Go
	}
	parts := []string{v.Version, "module " + v.Module}
	if v.Runtime != "" {
		parts = append(parts, runtimeModule+" "+v.Runtime)
	}
	switch {
	case v.Revision == "":
		parts = append(parts, "no VCS revision")
	default:
		rev := v.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if v.Modified {
			rev += "-dirty"
		}
		if !v.Time.IsZero() {
			rev += " (" + v.Time.UTC().Format(time.RFC3339) + ")"
		}
		parts = append(parts, "revision "+rev)
	}
	parts = append(parts, v.Go)
	return strings.Join(parts, ", ")
}
