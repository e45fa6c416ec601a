package ccaas

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// The names inside a package, as the peer and the builder look them up.
const (
	MetadataFile   = "metadata.json"
	CodeFile       = "code.tar.gz"
	ConnectionFile = "connection.json"
	// PackageType is metadata.json's type for the ccaas builder (its
	// detect step compares it case-insensitively).
	PackageType = "ccaas"
)

// labelPattern is the peer's package label syntax
// (core/chaincode/persistence LabelRegexp).
var labelPattern = regexp.MustCompile(`^[[:alnum:]][[:alnum:]_.+-]*$`)

// ValidLabel reports whether the peer accepts label for a package:
// letters, digits and _ . + -, starting with a letter or digit.
func ValidLabel(label string) bool { return labelPattern.MatchString(label) }

func checkLabel(label string) error {
	if ValidLabel(label) {
		return nil
	}
	return &inputError{kind: ErrLabel, msg: fmt.Sprintf("package label %q: use letters, digits and _ . + - (starting with a letter or digit), e.g. basic_1.0", label)}
}

// WritePackage writes the package "peer lifecycle chaincode install"
// takes for the ccaas builder: a tar.gz holding metadata.json
// ({"type":"ccaas","label":...}) and code.tar.gz with connection.json
// (conn.Marshal). The bytes depend on label and conn only (fixed times,
// owners, modes and gzip header), so the same inputs always give the same
// package id.
//
// conn may hold templates for the builder; the rest is validated as
// Validate does, and fields the builder would drop (PEM material without
// TLS, a client certificate without client authentication, Domain) are
// refused with ErrUnused.
func WritePackage(w io.Writer, label string, conn Connection) error {
	if err := checkLabel(label); err != nil {
		return err
	}
	if err := conn.checkUnused(); err != nil {
		return err
	}
	if err := conn.check(true); err != nil {
		return err
	}
	connJSON, err := conn.Marshal()
	if err != nil {
		return err
	}
	var code bytes.Buffer
	if err := writeTarGz(&code, []entry{{ConnectionFile, connJSON}}); err != nil {
		return err
	}
	meta, err := json.Marshal(metadata{Type: PackageType, Label: label})
	if err != nil {
		return fmt.Errorf("encode %s: %w", MetadataFile, err)
	}
	return writeTarGz(w, []entry{{MetadataFile, meta}, {CodeFile, code.Bytes()}})
}

// metadata is metadata.json; its field order is part of every package id.
type metadata struct {
	Type  string `json:"type"`
	Label string `json:"label"`
}

// checkUnused refuses what the builder drops, naming the first field.
func (c Connection) checkUnused() error {
	unused := func(name, why string) error {
		return &FieldError{Field: name, Err: fmt.Errorf("%w: %s", ErrUnused, why)}
	}
	if !c.TLSRequired {
		for _, f := range []struct {
			name string
			set  bool
		}{{"client_auth_required", c.ClientAuthRequired}, {"root_cert", c.RootCert != ""}, {"client_cert", c.ClientCert != ""}, {"client_key", c.ClientKey != ""}} {
			if f.set {
				return unused(f.name, "tls_required is false, so the peer would not use it")
			}
		}
	} else if !c.ClientAuthRequired {
		if c.ClientCert != "" {
			return unused("client_cert", "client_auth_required is false, so the peer would not present it")
		}
		if c.ClientKey != "" {
			return unused("client_key", "client_auth_required is false, so the peer would not present it")
		}
	}
	if c.Domain != "" {
		return unused("domain", "the peer would check the server certificate against the host of address")
	}
	return nil
}

// PackageID is the id the peer gives an installed package, which the
// chaincode server must register with: label, colon, hex SHA-256 of the
// package bytes.
func PackageID(label string, pkg []byte) string {
	sum := sha256.Sum256(pkg)
	return label + ":" + hex.EncodeToString(sum[:])
}

// Bounds of ReadPackage, far above real packages: connection.json with a
// few PEM bundles is a few kilobytes.
const (
	maxPackage = 16 << 20 // the package file
	maxEntry   = 4 << 20  // each file decompressed from it
)

// ReadPackage reads a package as the peer and the ccaas builder do: the
// outer tar.gz must hold only regular files, among them metadata.json
// with a valid label and type "ccaas" (in any case) and code.tar.gz
// holding connection.json, which is decoded with ParseConnection (not
// rendered, not validated). Other files are ignored, as the peer does.
// The package may be at most 16 MiB, each of the three files 4 MiB.
// Errors about the content match ErrInvalid and one of ErrPackage,
// ErrLabel or ParseConnection's.
func ReadPackage(r io.Reader) (label string, conn Connection, err error) {
	// Read it whole first, as the peer does, so that a failing reader is
	// not reported as a bad package.
	raw, err := io.ReadAll(io.LimitReader(r, maxPackage+1))
	if err != nil {
		return "", Connection{}, fmt.Errorf("read ccaas package: %w", err)
	}
	if len(raw) > maxPackage {
		return "", Connection{}, packageError(fmt.Sprintf("larger than %d bytes", maxPackage), nil)
	}
	files, err := readTarGz(bytes.NewReader(raw), "the package", true, MetadataFile, CodeFile)
	if err != nil {
		return "", Connection{}, err
	}
	metaJSON, ok := files[MetadataFile]
	if !ok {
		return "", Connection{}, packageError("no "+MetadataFile, nil)
	}
	var md metadata
	if err := json.Unmarshal(metaJSON, &md); err != nil {
		return "", Connection{}, packageError(MetadataFile, err)
	}
	if err := checkLabel(md.Label); err != nil {
		return "", Connection{}, err
	}
	if !strings.EqualFold(md.Type, PackageType) {
		return "", Connection{}, packageError(fmt.Sprintf("%s has type %q; the ccaas builder takes %q", MetadataFile, md.Type, PackageType), nil)
	}
	code, ok := files[CodeFile]
	if !ok {
		return "", Connection{}, packageError("no "+CodeFile, nil)
	}
	inner, err := readTarGz(bytes.NewReader(code), CodeFile, false, ConnectionFile)
	if err != nil {
		return "", Connection{}, err
	}
	connJSON, ok := inner[ConnectionFile]
	if !ok {
		return "", Connection{}, packageError(CodeFile+" holds no "+ConnectionFile, nil)
	}
	conn, err = ParseConnection(connJSON)
	if err != nil {
		return "", Connection{}, err
	}
	return md.Label, conn, nil
}

func packageError(msg string, err error) error {
	return &inputError{kind: ErrPackage, msg: "ccaas package: " + msg, err: err}
}

type entry struct {
	name string
	data []byte
}

// epoch is the modification time of every entry and of the gzip header.
var epoch = time.Unix(0, 0).UTC()

// writeTarGz writes entries as regular files (USTAR, mode 0644, owner 0,
// time 0) into a gzip stream at best compression with an empty header.
func writeTarGz(w io.Writer, entries []entry) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	zw.ModTime = epoch // header MTIME 0; Name and Comment stay empty
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg, Name: e.name, Size: int64(len(e.data)), Mode: 0o100644,
			ModTime: epoch, Format: tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write package: %w", err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("write package: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write package: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write package: %w", err)
	}
	return nil
}

// readTarGz returns the wanted files of a tar.gz. onlyFiles refuses any
// entry that is not a regular file, as the peer does for the outer
// archive; the code archive may also hold directories (META-INF/...).
func readTarGz(r io.Reader, what string, onlyFiles bool, want ...string) (map[string][]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, packageError(what+" is not a gzip stream", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	out := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, packageError(what+" is not a tar archive", err)
		}
		wanted := false
		for _, n := range want {
			wanted = wanted || hdr.Name == n
		}
		if hdr.Typeflag != tar.TypeReg && (onlyFiles || wanted) {
			return nil, packageError(fmt.Sprintf("%s: entry %q is not a regular file", what, hdr.Name), nil)
		}
		if !wanted {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxEntry+1))
		if err != nil {
			return nil, packageError("read "+hdr.Name, err)
		}
		if len(data) > maxEntry {
			return nil, packageError(fmt.Sprintf("%s is larger than %d bytes", hdr.Name, maxEntry), nil)
		}
		out[hdr.Name] = data
	}
}
