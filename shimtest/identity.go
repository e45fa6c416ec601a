package shimtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// attrOID is the extension in which Fabric CA puts enrollment attributes.
var attrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// Identity is a client that submits calls: a certificate issued by a
// throwaway CA of its organisation, as cryptogen or Fabric CA would issue
// it, and the key that signs its proposals.
type Identity struct {
	mspid   string
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	creator []byte // msp.SerializedIdentity
}

// MSPID returns the identity's MSP ID.
func (id *Identity) MSPID() string { return id.mspid }

// Certificate returns the identity's certificate.
func (id *Identity) Certificate() *x509.Certificate { return id.cert }

// Serialized returns the msp.SerializedIdentity the chaincode sees in
// GetCreator.
func (id *Identity) Serialized() []byte { return append([]byte(nil), id.creator...) }

// org is the CA of one MSP; identities of the same MSP share it, so
// client-identity code sees them as users of one organisation.
type org struct {
	mspid, domain string
	ca            *x509.Certificate
	key           *ecdsa.PrivateKey
}

func newOrg(mspid string, now time.Time) (*org, error) {
	domain := strings.ToLower(strings.TrimSuffix(mspid, "MSP")) + ".example.com"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "ca." + domain, Organization: []string{domain}},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	ca, err := sign(tmpl, nil, key, key, now)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate for %s: %w", mspid, err)
	}
	return &org{mspid: mspid, domain: domain, ca: ca, key: key}, nil
}

// issue makes the client identity name@domain with Fabric CA attributes.
func (o *org) issue(name string, attrs map[string]string, now time.Time) (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate client key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:  pkix.Name{CommonName: name + "@" + o.domain, Organization: []string{o.domain}, OrganizationalUnit: []string{"client"}},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if len(attrs) > 0 {
		v, err := json.Marshal(map[string]map[string]string{"attrs": attrs})
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: attrOID, Value: v}}
	}
	cert, err := sign(tmpl, o.ca, key, o.key, now)
	if err != nil {
		return nil, fmt.Errorf("create certificate for %s: %w", tmpl.Subject.CommonName, err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	creator, err := proto.Marshal(&msp.SerializedIdentity{Mspid: o.mspid, IdBytes: certPEM})
	if err != nil {
		return nil, err
	}
	return &Identity{mspid: o.mspid, cert: cert, key: key, creator: creator}, nil
}

// sign completes tmpl (serial, validity) and signs it; a nil parent
// makes it self-signed.
func sign(tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey, now time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(10*365*24*time.Hour)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// NewIdentity issues another client identity, name@<org domain> in the
// MSP mspid, with optional Fabric CA attributes. Identities of one MSP
// share its CA. Use it with Call.As to test access control.
func (l *Ledger) NewIdentity(mspid, name string, attrs map[string]string) (*Identity, error) {
	if mspid == "" || name == "" {
		return nil, errors.New("shimtest: NewIdentity needs an MSP ID and a name (e.g. \"Org2MSP\", \"User2\")")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	o := l.orgs[mspid]
	if o == nil {
		var err error
		if o, err = newOrg(mspid, time.Now()); err != nil {
			return nil, fmt.Errorf("shimtest: %w", err)
		}
		l.orgs[mspid] = o
	}
	id, err := o.issue(name, attrs, time.Now())
	if err != nil {
		return nil, fmt.Errorf("shimtest: %w", err)
	}
	return id, nil
}
