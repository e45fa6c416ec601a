package clientbuilder

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/ccserver/ccserver/ccaas"
)

// packageTime is every entry's mtime: the package id hashes the file, so
// the same program and label must give the same bytes, hence the same id.
func packageTime() time.Time { return time.Unix(0, 0).UTC() }

// WritePackage writes to out a chaincode package for this builder —
// a tar.gz of metadata.json {"type":"ccserver-client","label":label} and
// code.tar.gz holding the file at programPath as "chaincode", mode 0755 —
// and returns its package id the way the peer computes it (persistence.
// PackageID): label + ":" + hex(sha256(the package file)).
func WritePackage(out, label, programPath string) (packageID string, err error) {
	// Refuse here what install would.
	if !ccaas.ValidLabel(label) {
		return "", fmt.Errorf("package label %q: it must start with a letter or digit and hold only letters, digits and .+-_", label)
	}
	prog, err := os.ReadFile(programPath)
	if err != nil {
		return "", fmt.Errorf("read the chaincode program: %w", err)
	}
	code, err := tarGz([]tarEntry{{ProgramName, 0o755, prog}})
	if err != nil {
		return "", fmt.Errorf("make code.tar.gz: %w", err)
	}
	md, err := json.Marshal(packageMetadata{Type: PackageType, Label: label})
	if err != nil {
		return "", fmt.Errorf("make metadata.json: %w", err)
	}
	pkg, err := tarGz([]tarEntry{{"metadata.json", 0o644, md}, {"code.tar.gz", 0o644, code}})
	if err != nil {
		return "", fmt.Errorf("make the package: %w", err)
	}
	if err := os.WriteFile(out, pkg, 0o644); err != nil {
		return "", fmt.Errorf("write the package: %w", err)
	}
	return ccaas.PackageID(label, pkg), nil
}

type tarEntry struct {
	name string
	mode int64
	data []byte
}

// tarGz makes a gzipped tar of regular files (the peer accepts no other
// entry type) with no owner, time or host in any header.
func tarGz(entries []tarEntry) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf) // zero Header: no name, no mtime
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Mode:     e.mode,
			Size:     int64(len(e.data)),
			ModTime:  packageTime(),
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar header %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("close gzip: %w", err)
	}
	return buf.Bytes(), nil
}
