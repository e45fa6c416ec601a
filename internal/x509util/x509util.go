// Package x509util reads private keys, certificate bundles and CRLs in every
// encoding that real peers and tools write, so that each caller does not
// grow its own, narrower PEM loop.
//
// Fabric's own TLS code writes PKCS#8 under the label "EC PRIVATE KEY",
// openssl writes "EC PARAMETERS" before a SEC 1 key, cryptogen and
// fabric-ca write PKCS#8 under "PRIVATE KEY", and some tools hand over raw
// DER. The parsers here treat a PEM label as a hint, not a promise.
//
// It depends on the standard library only. Errors wrap the sentinels below
// and never contain key bytes.
package x509util

import (
	"bytes"
	"encoding/pem"
	"errors"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrNoKey: the input holds no private key at all (empty, only
	// certificates, or neither PEM nor DER).
	ErrNoKey = errors.New("no private key found")
	// ErrEncryptedKey: the key is password protected; it must be decrypted
	// before use.
	ErrEncryptedKey = errors.New("private key is encrypted")
	// ErrMalformedKey: a private key block (or DER input) is truncated or is
	// not PKCS#8, SEC 1 or PKCS#1.
	ErrMalformedKey = errors.New("malformed private key")
	// ErrUnsupportedKey: the key is well formed but of a kind that cannot
	// sign for TLS here (DSA, X25519, an unknown curve, OpenSSH format).
	ErrUnsupportedKey = errors.New("unsupported private key")

	// ErrNoCertificate: the input holds no CERTIFICATE block.
	ErrNoCertificate = errors.New("no PEM certificate found")
	// ErrMalformedCertificate: a CERTIFICATE block is truncated or does not
	// parse.
	ErrMalformedCertificate = errors.New("malformed certificate")

	// ErrNoCRL: the input holds no CRL.
	ErrNoCRL = errors.New("no CRL found")
	// ErrMalformedCRL: an "X509 CRL" block or DER CRL does not parse.
	ErrMalformedCRL = errors.New("malformed CRL")
)

// block is one PEM block of the input plus the labels of the corrupt or
// truncated blocks that pem.Decode silently stepped over before it. A
// half-written file must not read as a shorter valid one.
type block struct {
	*pem.Block
	skipped []string
}

// pemBlocks decodes every PEM block of data. tail lists the labels of
// corrupt blocks after the last good one.
func pemBlocks(data []byte) (blocks []block, tail []string) {
	rest := data
	for {
		b, next := pem.Decode(rest)
		if b == nil {
			return blocks, beginLabels(rest)
		}
		labels := beginLabels(rest[:len(rest)-len(next)])
		if len(labels) > 0 {
			labels = labels[:len(labels)-1] // the last one is b itself
		}
		blocks = append(blocks, block{Block: b, skipped: labels})
		rest = next
	}
}

var beginMarker = []byte("-----BEGIN ")

// beginLabels returns the labels of the "-----BEGIN ...-----" lines of
// data, the way pem.Decode finds them (at the start of data or of a line).
func beginLabels(data []byte) []string {
	var labels []string
	for i := 0; i < len(data); {
		j := bytes.Index(data[i:], beginMarker)
		if j < 0 {
			break
		}
		j += i
		if j == 0 || data[j-1] == '\n' {
			line := data[j+len(beginMarker):]
			if k := bytes.IndexByte(line, '\n'); k >= 0 {
				line = line[:k]
			}
			if k := bytes.Index(line, []byte("-----")); k >= 0 {
				line = line[:k]
			}
			labels = append(labels, string(bytes.TrimSpace(line)))
		}
		i = j + len(beginMarker)
	}
	return labels
}

// hasBegin reports whether data holds a PEM begin line.
func hasBegin(data []byte) bool { return len(beginLabels(data)) > 0 }

// label returns a PEM type fit for an error message: labels come from the
// input, so anything but a short upper-case name is not repeated.
func label(t string) string {
	if t == "" || len(t) > 40 {
		return "(unnamed)"
	}
	for _, r := range t {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != ' ' {
			return "(unnamed)"
		}
	}
	return t
}
