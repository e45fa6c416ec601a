package network

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Supported Fabric versions: the long-term-support line and the current one.
var supportedVersions = []string{"2.5.16", "3.1.5"}

// DefaultVersion is the Fabric version the scenarios run on unless told otherwise.
const DefaultVersion = "2.5.16"

// Fabric is one Fabric release on disk: its binaries, its sample
// configuration and its ccaas builder.
type Fabric struct {
	Version   string // e.g. "2.5.16"
	BinDir    string // holds peer, orderer, configtxgen, osnadmin, cryptogen
	ConfigDir string // holds core.yaml, orderer.yaml (the release's sampleconfig)
	CCaaSDir  string // holds bin/detect, bin/build, bin/release of the ccaas builder
}

// Major reports the release's major version number.
func (f Fabric) Major() int {
	if strings.HasPrefix(f.Version, "2.") {
		return 2
	}
	if strings.HasPrefix(f.Version, "3.") {
		return 3
	}
	return 0
}

// Bin returns the path of one of the release's programs.
func (f Fabric) Bin(name string) string { return filepath.Join(f.BinDir, name) }

// ErrNoFabric means no Fabric binaries were found; its text says how to get them.
var ErrNoFabric = errors.New("no Fabric binaries")

// Locate finds the binaries of version. binDir, when set (FABRIC_BIN), is a
// directory holding peer and orderer as Fabric's install-fabric.sh lays it
// out (bin/ beside config/ and builders/ccaas/). Otherwise the release
// archive under archiveDir (../shared/fabric) is unpacked into cacheDir once.
func Locate(version, binDir, archiveDir, cacheDir string) (Fabric, error) {
	if binDir != "" {
		return fromBinDir(version, binDir)
	}
	ok := false
	for _, v := range supportedVersions {
		ok = ok || v == version
	}
	if !ok {
		return Fabric{}, fmt.Errorf("FABRIC_VERSION %q: want one of %s, or point FABRIC_BIN at your own binaries", version, strings.Join(supportedVersions, ", "))
	}
	archive := filepath.Join(archiveDir, "fabric-"+version+"-linux-amd64.tar.xz")
	if _, err := os.Stat(archive); err != nil {
		return Fabric{}, fmt.Errorf("%w: %s not found; set FABRIC_BIN to the bin/ directory of a Fabric %s release (install-fabric.sh --fabric-version %s binary)", ErrNoFabric, archive, version, version)
	}
	root := filepath.Join(cacheDir, "fabric-"+version)
	if _, err := os.Stat(filepath.Join(root, "bin", "peer")); err != nil {
		if err := unpack(archive, cacheDir, root); err != nil {
			return Fabric{}, err
		}
	}
	return fromBinDir(version, filepath.Join(root, "bin"))
}

func fromBinDir(version, binDir string) (Fabric, error) {
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return Fabric{}, err
	}
	root := filepath.Dir(binDir)
	f := Fabric{Version: version, BinDir: binDir, ConfigDir: filepath.Join(root, "config"), CCaaSDir: filepath.Join(root, "builders", "ccaas")}
	for _, p := range []string{f.Bin("peer"), f.Bin("orderer"), f.Bin("configtxgen"), f.Bin("osnadmin"), f.Bin("cryptogen"),
		filepath.Join(f.ConfigDir, "core.yaml"), filepath.Join(f.ConfigDir, "orderer.yaml"), filepath.Join(f.CCaaSDir, "bin", "release")} {
		if _, err := os.Stat(p); err != nil {
			return Fabric{}, fmt.Errorf("%w: %s missing (FABRIC_BIN=%s must be a release's bin/ with ../config and ../builders/ccaas beside it)", ErrNoFabric, p, binDir)
		}
	}
	out, err := exec.Command(f.Bin("peer"), "version").CombinedOutput()
	if err != nil {
		return Fabric{}, fmt.Errorf("%s version: %w: %s", f.Bin("peer"), err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		// Release builds print "Version: v2.5.16", source builds "Version: 2.5.16".
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Version: "); ok {
			v = strings.TrimPrefix(v, "v")
			if version != "" && v != version {
				return Fabric{}, fmt.Errorf("FABRIC_BIN=%s holds Fabric %s, but FABRIC_VERSION asks for %s", binDir, v, version)
			}
			f.Version = v
		}
	}
	if f.Version == "" {
		return Fabric{}, fmt.Errorf("%s version printed no version: %s", f.Bin("peer"), out)
	}
	return f, nil
}

// unpack extracts archive into a fresh directory beside root and renames it
// into place, so a concurrent or interrupted run never sees half a release.
func unpack(archive, cacheDir, root string) error {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(cacheDir, ".unpack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if out, err := exec.Command("tar", "-xJf", archive, "-C", tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("unpack %s: %w: %s", archive, err, out)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil || len(entries) != 1 {
		return fmt.Errorf("unpack %s: want one top directory, got %d entries (%v)", archive, len(entries), err)
	}
	if err := os.Rename(filepath.Join(tmp, entries[0].Name()), root); err != nil && !exists(filepath.Join(root, "bin", "peer")) {
		return fmt.Errorf("unpack %s: %w", archive, err)
	}
	return nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
