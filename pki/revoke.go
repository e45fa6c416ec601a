package pki

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/ccserver/ccserver/internal/fsutil"
)

// DefaultCRLValidity is how long a CRL made by WriteCRL stays current; a
// server treats a CRL past its nextUpdate as stale, so sign it afresh well
// before.
const DefaultCRLValidity = 7 * 24 * time.Hour

// revocationList is the local CA's record of revoked certificates, kept in
// revoked.json beside the CA keys.
type revocationList struct {
	// CRLNumber is the number of the last CRL signed (RFC 5280 §5.2.3).
	CRLNumber int64          `json:"crl_number"`
	Revoked   []revokedEntry `json:"revoked"`
}

// revokedEntry is one revoked certificate.
type revokedEntry struct {
	Serial    string           `json:"serial"` // hex
	Subject   string           `json:"subject"`
	NotAfter  time.Time        `json:"not_after"`
	RevokedAt time.Time        `json:"revoked_at"`
	Reason    RevocationReason `json:"reason"`
}

// readRevocationList reads a revoked.json; a missing file is an empty list.
func readRevocationList(path string) (*revocationList, error) {
	data, err := fsutil.ReadFile(path, maxPEMFile)
	if errors.Is(err, os.ErrNotExist) {
		return &revocationList{}, nil
	}
	if err != nil {
		return nil, err
	}
	var rl revocationList
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rl); err != nil {
		return nil, fmt.Errorf("%s: not a revocation list of this CA's kind: %w", path, err)
	}
	for i, e := range rl.Revoked {
		if _, ok := new(big.Int).SetString(e.Serial, 16); !ok {
			return nil, fmt.Errorf("%s: entry %d: serial %q is not hexadecimal", path, i+1, e.Serial)
		}
	}
	return &rl, nil
}

func (rl *revocationList) write(path string) error {
	data, err := json.MarshalIndent(rl, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(path, append(data, '\n'), 0o644)
}

// lockWait bounds how long a revocation-list update waits for another
// process (another revoke or CRL of the same CA) to finish with the list.
const lockWait = 2 * time.Minute

// lockRevocations takes the CA's revocation lock (revoked.json.lock), so
// concurrent processes update revoked.json and crl.pem one at a time and
// no entry or CRL number is lost.
func (l *Local) lockRevocations(ctx context.Context) (func(), error) {
	ctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	unlock, err := fsutil.LockFile(ctx, filepath.Join(l.dir, revocationFile+".lock"))
	if err != nil {
		return nil, fmt.Errorf("revocation list of CA %s: %w", l.dir, err)
	}
	return func() { _ = unlock() }, nil
}

// Revoke records cert as revoked in the CA's revoked.json. Revoking a
// certificate twice keeps the first record. WriteCRL publishes it.
func (l *Local) Revoke(ctx context.Context, cert *x509.Certificate, reason RevocationReason) error {
	if err := cert.CheckSignatureFrom(l.cert); err != nil {
		return fmt.Errorf("serial %s (%q): %w (signer %q)", cert.SerialNumber.Text(16), cert.Subject.CommonName, errNotIssuedHere, l.cert.Subject.CommonName)
	}
	if !reason.valid() {
		return fmt.Errorf("revocation reason %d is not supported", reason)
	}
	unlock, err := l.lockRevocations(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	path := filepath.Join(l.dir, revocationFile)
	rl, err := readRevocationList(path)
	if err != nil {
		return err
	}
	serial := cert.SerialNumber.Text(16)
	for _, e := range rl.Revoked {
		if e.Serial == serial {
			return nil
		}
	}
	rl.Revoked = append(rl.Revoked, revokedEntry{
		Serial: serial, Subject: cert.Subject.String(), NotAfter: cert.NotAfter.UTC(),
		RevokedAt: l.now().UTC().Truncate(time.Second), Reason: reason,
	})
	return rl.write(path)
}

// crlLocked signs a CRL naming every revoked certificate, valid for
// validity (default DefaultCRLValidity), and bumps the CRL number; the
// caller holds the revocation lock. Entries whose certificates expired
// more than a CRL period ago are left out.
func (l *Local) crlLocked(validity time.Duration) ([]byte, error) {
	if validity <= 0 {
		validity = DefaultCRLValidity
	}
	path := filepath.Join(l.dir, revocationFile)
	rl, err := readRevocationList(path)
	if err != nil {
		return nil, err
	}
	now := l.now().UTC()
	var entries []x509.RevocationListEntry
	for _, e := range rl.Revoked {
		if now.Sub(e.NotAfter) > validity {
			continue
		}
		serial, _ := new(big.Int).SetString(e.Serial, 16)
		entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: e.RevokedAt, ReasonCode: int(e.Reason)})
	}
	rl.CRLNumber++
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(rl.CRLNumber),
		ThisUpdate:                now.Add(-backdate),
		NextUpdate:                now.Add(validity),
		RevokedCertificateEntries: entries,
	}, l.cert, l.key)
	if err != nil {
		return nil, fmt.Errorf("sign CRL: %w", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	rootCRL, err := l.rootCRL(rl.CRLNumber, now, validity)
	if err != nil {
		return nil, err
	}
	if err := rl.write(path); err != nil {
		return nil, err
	}
	return append(out, rootCRL...), nil
}

// rootCRL is the root's CRL, added when the CA signs with an intermediate
// and root.key is at hand, so a server that demands a CRL for every link
// (tlsconfig.WithCRLRequireFullChain) also finds one for the intermediate.
// With root.key moved offline it is left out; by default tlsconfig only
// requires the leaf issuer's CRL.
func (l *Local) rootCRL(number int64, now time.Time, validity time.Duration) ([]byte, error) {
	if len(l.intermediates) == 0 {
		return nil, nil
	}
	keyPath := filepath.Join(l.dir, rootKeyFile)
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	key, err := l.readKey(keyPath)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:     big.NewInt(number),
		ThisUpdate: now.Add(-backdate),
		NextUpdate: now.Add(validity),
	}, l.root, key)
	if err != nil {
		return nil, fmt.Errorf("sign the root CRL: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}

// WriteCRL signs a CRL valid for validity (0: DefaultCRLValidity) and
// writes it atomically to path (default: crl.pem in the CA directory). It
// returns the path written. ctx bounds the wait for another process
// updating the same CA.
func (l *Local) WriteCRL(ctx context.Context, path string, validity time.Duration) (string, error) {
	if path == "" {
		path = filepath.Join(l.dir, CRLFile)
	}
	// Sign and write under one lock, so a CRL never replaces a newer one.
	unlock, err := l.lockRevocations(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	data, err := l.crlLocked(validity)
	if err != nil {
		return "", err
	}
	return path, fsutil.WriteFile(path, data, 0o644)
}
