// Package clientbuilder is a Fabric external builder for chaincode run as a
// client: the peer launches the program through bin/run and the program
// dials the peer's chaincode listener (shim.Start).
//
// One binary serves as bin/detect, bin/build and bin/run; it dispatches on
// the name it was started under, so Install can lay it out with links.
// The peer's side of the contract is core/container/externalbuilder in the
// Fabric source:
//
//	bin/detect CHAINCODE_SOURCE_DIR CHAINCODE_METADATA_DIR
//	bin/build  CHAINCODE_SOURCE_DIR CHAINCODE_METADATA_DIR BUILD_OUTPUT_DIR
//	bin/run    BUILD_OUTPUT_DIR RUN_METADATA_DIR
//
// There is no bin/release: the peer skips that step when it is absent.
package clientbuilder

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// PackageType is the metadata.json "type" this builder claims. Any other
// type makes detect fail, so the peer tries its next builder (ccaas...).
const PackageType = "ccserver-client"

// ProgramName is the executable the package's code.tar.gz holds, and the
// name build gives it in BUILD_OUTPUT_DIR.
const ProgramName = "chaincode"

// packageMetadata is metadata.json, at the top of the package and in
// CHAINCODE_METADATA_DIR.
type packageMetadata struct {
	Type  string `json:"type"`
	Label string `json:"label"`
}

// Main runs the command named by filepath.Base(args[0]) — or by args[1]
// when the binary runs under another name, which helps by hand — and
// returns the exit code. Errors go to stderr, which the peer logs. For
// run, success means the process became the chaincode and Main never
// returns.
func Main(args, environ []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "clientbuilder: no program name in argv")
		return 2
	}
	cmd, rest := filepath.Base(args[0]), args[1:]
	if !isCommand(cmd) {
		if len(rest) == 0 || !isCommand(rest[0]) {
			fmt.Fprintf(stderr, "clientbuilder: run me as bin/detect, bin/build or bin/run (or give one of those as first argument), not as %q\n", cmd)
			return 2
		}
		cmd, rest = rest[0], rest[1:]
	}
	if err := dispatch(cmd, rest, environ); err != nil {
		fmt.Fprintf(stderr, "clientbuilder %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func isCommand(name string) bool {
	switch name {
	case "detect", "build", "run":
		return true
	}
	return false
}

func dispatch(cmd string, args, environ []string) error {
	want := map[string]int{"detect": 2, "build": 3, "run": 2}[cmd]
	if len(args) != want {
		return fmt.Errorf("expected %d directory arguments, got %d: %q", want, len(args), args)
	}
	switch cmd {
	case "detect":
		return Detect(args[0], args[1])
	case "build":
		return Build(args[0], args[1], args[2])
	default:
		l, err := PrepareRun(args[0], args[1], environ)
		if err != nil {
			return err
		}
		return l.Exec()
	}
}

// Detect claims the package when its metadata type is PackageType. It
// does not look at the source: a package of ours without a program
// should fail loudly in Build rather than fall through to other builders.
func Detect(sourceDir, metadataDir string) error {
	md, err := readMetadata(metadataDir)
	if err != nil {
		return err
	}
	if md.Type != PackageType {
		return fmt.Errorf("package type %q is not %q: not ours", md.Type, PackageType)
	}
	return nil
}

func readMetadata(metadataDir string) (packageMetadata, error) {
	var md packageMetadata
	p := filepath.Join(metadataDir, "metadata.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return md, fmt.Errorf("read package metadata: %w", err)
	}
	if err := json.Unmarshal(b, &md); err != nil {
		return md, fmt.Errorf("parse package metadata %s: %w", p, err)
	}
	return md, nil
}

// Build copies the program from the unpacked code package into the build
// output, executable, since the peer keeps only BUILD_OUTPUT_DIR for run.
func Build(sourceDir, metadataDir, outputDir string) error {
	src := filepath.Join(sourceDir, ProgramName)
	fi, err := os.Lstat(src)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the package has no program: code.tar.gz must hold an executable file named %q at its top (%s is absent): %w", ProgramName, src, err)
	}
	if err != nil {
		return fmt.Errorf("inspect the program: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("the program %s is not a regular file (mode %v)", src, fi.Mode())
	}
	if err := copyFile(src, filepath.Join(outputDir, ProgramName), 0o755); err != nil {
		return fmt.Errorf("copy the program to the build output: %w", err)
	}
	return nil
}

// copyFile writes dst with exactly mode perm: the umask and an older
// file's mode must not decide whether the program can run.
func copyFile(src, dst string, perm os.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", dst, err)
	}
	return nil
}

// Install lays out dir/bin/detect, build and run from builtBinary (this
// package's command, already built), so core.yaml's
// chaincode.externalBuilders can name dir as a builder's path. It hard
// links where it can and copies otherwise (another file system).
func Install(dir, builtBinary string) error {
	fi, err := os.Stat(builtBinary)
	if err != nil {
		return fmt.Errorf("install the client builder: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("install the client builder: %s is not a regular file", builtBinary)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return fmt.Errorf("install the client builder: %w", err)
	}
	for _, name := range []string{"detect", "build", "run"} {
		dst := filepath.Join(bin, name)
		if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("install the client builder: replace %s: %w", dst, err)
		}
		if os.Link(builtBinary, dst) == nil && fi.Mode().Perm()&0o111 == 0o111 {
			continue
		}
		// Either linking failed or the binary is not executable for
		// everyone; a copy fixes both. Drop a link first, or copying
		// would chmod builtBinary itself.
		if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("install the client builder: replace %s: %w", dst, err)
		}
		if err := copyFile(builtBinary, dst, 0o755); err != nil {
			return fmt.Errorf("install the client builder: %w", err)
		}
	}
	return nil
}
