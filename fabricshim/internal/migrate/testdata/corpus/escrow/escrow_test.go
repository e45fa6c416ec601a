package escrow

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang/protobuf/proto"
	"github.com/hyperledger/fabric-chaincode-go/shim"
	"github.com/hyperledger/fabric-protos-go/msp"
)

// creator returns a serialized identity of mspid whose certificate carries
// the Fabric CA attribute role.
func creator(t *testing.T, mspid, name, role string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{
			Id:    asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1},
			Value: []byte(`{"attrs":{"role":"` + role + `"}}`),
		}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(&msp.SerializedIdentity{Mspid: mspid, IdBytes: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type fakeStub struct {
	shim.ChaincodeStubInterface
	args     []string
	creator  []byte
	state    map[string][]byte
	policies map[string][]byte
}

func (s *fakeStub) GetFunctionAndParameters() (string, []string) { return s.args[0], s.args[1:] }
func (s *fakeStub) GetCreator() ([]byte, error)                  { return s.creator, nil }
func (s *fakeStub) GetState(key string) ([]byte, error)          { return s.state[key], nil }
func (s *fakeStub) PutState(key string, value []byte) error {
	s.state[key] = value
	return nil
}
func (s *fakeStub) SetStateValidationParameter(key string, ep []byte) error {
	s.policies[key] = ep
	return nil
}
func (s *fakeStub) GetStateValidationParameter(key string) ([]byte, error) {
	return s.policies[key], nil
}

func TestEscrow(t *testing.T) {
	buyer := creator(t, "Org1MSP", "alice", "buyer")
	seller := creator(t, "Org2MSP", "bob", "seller")
	other := creator(t, "Org3MSP", "carol", "buyer")
	stub := &fakeStub{state: map[string][]byte{}, policies: map[string][]byte{}}
	tests := []struct {
		name    string
		creator []byte
		args    []string
		status  int32
		want    string
	}{
		{"a seller cannot open", seller, []string{"open", "d1", "100"}, forbidden, `not role "seller"`},
		{"the buyer opens", buyer, []string{"open", "d1", "100"}, shim.OK, `"buyerMSP":"Org1MSP"`},
		{"only the buyer's org endorses", buyer, []string{"endorsers", "d1"}, shim.OK, `["Org1MSP"]`},
		{"another org cannot release", other, []string{"release", "d1"}, forbidden, "belongs to Org1MSP"},
		{"the buyer releases", buyer, []string{"release", "d1"}, shim.OK, `"released":true`},
		{"no such escrow", buyer, []string{"release", "d9"}, shim.ERROR, "no escrow d9"},
		{"bad call", buyer, []string{"open"}, shim.ERROR, "unknown call"},
	}
	for _, tc := range tests {
		stub.creator, stub.args = tc.creator, tc.args
		res := new(Escrow).Invoke(stub)
		text := res.Message + string(res.Payload)
		if res.Status != tc.status || !strings.Contains(text, tc.want) {
			t.Errorf("%s: %d %s, want %d with %s", tc.name, res.Status, text, tc.status, tc.want)
		}
	}
}
