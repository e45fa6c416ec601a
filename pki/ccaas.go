package pki

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"
)

// Connection is the connection.json the peer's ccaas builder reads to dial
// a chaincode server. The booleans are JSON booleans (strings break the
// peer's decoding) and the PEM material is inlined, not file paths.
type Connection struct {
	Address            string `json:"address"`
	DialTimeout        string `json:"dial_timeout"`
	TLSRequired        bool   `json:"tls_required"`
	ClientAuthRequired bool   `json:"client_auth_required"`
	RootCert           string `json:"root_cert,omitempty"`
	ClientCert         string `json:"client_cert,omitempty"`
	ClientKey          string `json:"client_key,omitempty"`
}

// labelPattern is the label syntax the peer accepts.
var labelPattern = regexp.MustCompile(`^[[:alnum:]][[:alnum:]_.+-]*$`)

// Check validates a connection against what the peer requires.
func (c *Connection) Check() error {
	host, port, err := net.SplitHostPort(c.Address)
	if err != nil || host == "" {
		return fmt.Errorf("address %q: want host:port, the address the peer dials", c.Address)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("address %q: bad port", c.Address)
	}
	if c.DialTimeout != "" {
		if d, err := time.ParseDuration(c.DialTimeout); err != nil || d <= 0 {
			return fmt.Errorf("dial timeout %q: want a positive duration like 10s", c.DialTimeout)
		}
	}
	if !c.TLSRequired {
		if c.ClientAuthRequired || c.RootCert != "" || c.ClientCert != "" || c.ClientKey != "" {
			return errors.New("TLS material given but TLS is off; the peer would ignore it")
		}
		return nil
	}
	if c.RootCert == "" {
		return errors.New("TLS needs the root certificate(s) of the chaincode server's CA (root_cert)")
	}
	if _, err := ParseCertificatesPEM([]byte(c.RootCert)); err != nil {
		return fmt.Errorf("root_cert: %w", err)
	}
	if c.ClientAuthRequired {
		if c.ClientCert == "" || c.ClientKey == "" {
			return errors.New("client authentication needs the peer's client certificate and key")
		}
		certs, err := ParseCertificatesPEM([]byte(c.ClientCert))
		if err != nil {
			return fmt.Errorf("client_cert: %w", err)
		}
		key, err := ParseKeyPEM([]byte(c.ClientKey))
		if err != nil {
			return fmt.Errorf("client_key: %w", err)
		}
		if !KeyMatches(certs[0], key) {
			return errors.New("client_key does not match client_cert")
		}
	} else if c.ClientCert != "" || c.ClientKey != "" {
		return errors.New("client certificate given but client authentication is off")
	}
	return nil
}

// CCaaSPackage builds the chaincode package `peer lifecycle chaincode
// install` takes for the ccaas builder: a tar.gz holding metadata.json
// ({"type":"ccaas","label":...}) and code.tar.gz with connection.json.
// The bytes are deterministic (fixed times, owners, modes and gzip
// header), so the same inputs always give the same package id.
func CCaaSPackage(label string, conn Connection) ([]byte, error) {
	if !labelPattern.MatchString(label) {
		return nil, fmt.Errorf("label %q: use letters, digits and _ . + - (starting with a letter or digit), e.g. basic_1.0", label)
	}
	if err := conn.Check(); err != nil {
		return nil, err
	}
	connJSON, err := json.MarshalIndent(conn, "", "  ")
	if err != nil {
		return nil, err
	}
	code, err := tarGz([]tarEntry{{"connection.json", append(connJSON, '\n')}})
	if err != nil {
		return nil, err
	}
	meta, err := json.Marshal(struct {
		Type  string `json:"type"`
		Label string `json:"label"`
	}{"ccaas", label})
	if err != nil {
		return nil, err
	}
	return tarGz([]tarEntry{{"metadata.json", meta}, {"code.tar.gz", code}})
}

// PackageID is the id the peer gives an installed package and the server
// must register with: label, colon, hex SHA-256 of the package bytes.
func PackageID(label string, pkg []byte) string {
	sum := sha256.Sum256(pkg)
	return label + ":" + hex.EncodeToString(sum[:])
}

type tarEntry struct {
	name string
	data []byte
}

// epoch is the fixed modification time of every package entry.
var epoch = time.Unix(0, 0).UTC()

func tarGz(entries []tarEntry) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	zw.ModTime = epoch // gzip header MTIME 0; Name and Comment stay empty
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg, Name: e.name, Size: int64(len(e.data)), Mode: 0o100644,
			ModTime: epoch, Format: tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
