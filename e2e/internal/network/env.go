package network

import (
	"os"
	"path/filepath"
)

// FromEnv finds the Fabric release the tests run on:
//
//	FABRIC_BIN       bin/ directory of a Fabric release (install-fabric.sh layout); wins over the archives
//	FABRIC_VERSION   2.5.16 (default) or 3.1.5
//	FABRIC_ARCHIVES  directory of fabric-VERSION-linux-amd64.tar.xz (default: shared/fabric above the working directory)
//	FABRIC_CACHE     where archives are unpacked once (default: the user cache directory, ccserver-e2e)
func FromEnv() (Fabric, error) {
	version := os.Getenv("FABRIC_VERSION")
	if bin := os.Getenv("FABRIC_BIN"); bin != "" {
		return Locate(version, bin, "", "")
	}
	if version == "" {
		version = DefaultVersion
	}
	archives := os.Getenv("FABRIC_ARCHIVES")
	if archives == "" {
		archives = findUp(filepath.Join("shared", "fabric"))
	}
	cache := os.Getenv("FABRIC_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cache = filepath.Join(base, "ccserver-e2e")
	}
	return Locate(version, "", archives, cache)
}

// findUp returns rel under the nearest ancestor of the working directory
// that has it, or rel itself when none has.
func findUp(rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		return rel
	}
	for {
		if p := filepath.Join(dir, rel); exists(p) {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return rel
		}
		dir = parent
	}
}
