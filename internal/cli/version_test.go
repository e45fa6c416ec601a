package cli

import (
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionString(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"
	ours := debug.Module{Path: runtimeModule, Version: "v1.2.0"}
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.8", Main: ours,
			Settings: settings("GOOS", "linux", "GOARCH", "amd64", "vcs.revision", rev, "vcs.time", "2026-11-30T12:00:00Z", "vcs.modified", "false")},
			"v1.2.0, module github.com/ccserver/ccserver, revision 1a2b3c4d5e6f (2026-11-30T12:00:00Z), go1.26.8 linux/amd64"},
		{"work tree with changes", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: runtimeModule, Version: "(devel)"},
			Settings: settings("GOOS", "darwin", "GOARCH", "arm64", "vcs.revision", rev, "vcs.time", "2026-11-30T12:00:00Z", "vcs.modified", "true")},
			"(devel), module github.com/ccserver/ccserver, revision 1a2b3c4d5e6f-dirty (2026-11-30T12:00:00Z), go1.26.8 darwin/arm64"},
		{"pseudo-version of a modified tree", debug.BuildInfo{GoVersion: "go1.26.8",
			Main:     debug.Module{Path: runtimeModule, Version: "v0.0.0-20261130120000-1a2b3c4d5e6f+dirty"},
			Settings: settings("GOOS", "linux", "GOARCH", "amd64", "vcs.revision", rev, "vcs.modified", "true")},
			"v0.0.0-20261130120000-1a2b3c4d5e6f+dirty, module github.com/ccserver/ccserver, revision 1a2b3c4d5e6f-dirty, go1.26.8 linux/amd64"},
		{"not stamped (go test, -buildvcs=false)", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: runtimeModule},
			Settings: settings("GOOS", "linux", "GOARCH", "amd64")},
			"(devel), module github.com/ccserver/ccserver, no VCS revision, go1.26.8 linux/amd64"},
		{"a chaincode of its own on serve.Main", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "example.com/mycc", Version: "v0.3.1"},
			Deps:     []*debug.Module{{Path: "google.golang.org/grpc", Version: "v1.85.0"}, {Path: runtimeModule, Version: "v1.2.0"}},
			Settings: settings("GOOS", "linux", "GOARCH", "amd64", "vcs.revision", "abc", "vcs.modified", "false")},
			"v0.3.1, module example.com/mycc, github.com/ccserver/ccserver v1.2.0, revision abc, go1.26.8 linux/amd64"},
		{"ours replaced by a local copy", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "example.com/mycc", Version: "(devel)"},
			Deps:     []*debug.Module{{Path: runtimeModule, Version: "v1.2.0", Replace: &debug.Module{Path: "../ccserver"}}},
			Settings: settings("GOOS", "linux", "GOARCH", "amd64")},
			"(devel), module example.com/mycc, github.com/ccserver/ccserver (devel, replaced by ../ccserver), no VCS revision, go1.26.8 linux/amd64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionOf(&tt.bi).String(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if got := (Version{Go: "go1.26.8 linux/amd64"}).String(); got != "unknown (no build information), go1.26.8 linux/amd64" {
		t.Errorf("without build info: %s", got)
	}
}

// The test binary itself has build info: the module and the toolchain
// show, whatever the VCS state.
func TestReadVersion(t *testing.T) {
	v := ReadVersion()
	if v.Module != runtimeModule || !strings.HasPrefix(v.Go, "go") {
		t.Fatalf("ReadVersion = %+v", v)
	}
	if !regexp.MustCompile(`^\S+, module github\.com/ccserver/ccserver, .*go1\.\d+`).MatchString(v.String()) {
		t.Errorf("String = %q", v.String())
	}
}
