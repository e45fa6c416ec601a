package fabricshim

import (
	"slices"
	"strings"
	"testing"

	anchor "github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// metadataMadeByContractAPI is what contract-api v2.2 answers GetMetadata
// with for two contracts, the first the default (trimmed to the fields
// that matter here).
const metadataMadeByContractAPI = `{
 "info": {"title": "undefined", "version": "latest"},
 "contracts": {
  "equipment": {"name": "equipment", "default": true,
   "transactions": [{"name": "Get", "tag": ["evaluate"]}, {"name": "Register", "tag": ["submit"]}]},
  "rental": {"name": "rental",
   "transactions": [{"name": "Rent"}]},
  "org.hyperledger.fabric": {"name": "org.hyperledger.fabric",
   "transactions": [{"name": "GetMetadata"}]}
 },
 "components": {}
}`

func TestParseMetadata(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"two contracts and the system one", metadataMadeByContractAPI, []string{
			"Get", "Register", "equipment:Get", "equipment:Register", "org.hyperledger.fabric:GetMetadata", "rental:Rent",
		}, ""},
		{"no default contract", `{"contracts":{"c":{"transactions":[{"name":"T"}]}}}`, []string{"c:T"}, ""},
		{"unnamed transaction skipped", `{"contracts":{"c":{"transactions":[{"name":""},{"name":"T"}]}}}`, []string{"c:T"}, ""},
		{"duplicates once", `{"contracts":{"c":{"default":true,"transactions":[{"name":"T"},{"name":"T"}]}}}`, []string{"T", "c:T"}, ""},
		{"no contracts", `{"contracts":{}}`, nil, "no contracts"},
		{"not JSON", `metadata`, nil, "contract metadata"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMetadata([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// fakeContractCC answers Invoke with fn, given the probe's stub.
type fakeContractCC struct {
	fn func(anchor.ChaincodeStubInterface) *peer.Response
}

func (f fakeContractCC) Init(anchor.ChaincodeStubInterface) *peer.Response { return nil }
func (f fakeContractCC) Invoke(s anchor.ChaincodeStubInterface) *peer.Response {
	return f.fn(s)
}

func TestContractFunctions(t *testing.T) {
	metadata := func(s anchor.ChaincodeStubInterface) *peer.Response {
		// What contract-api does before its system contract runs.
		fn, params := s.GetFunctionAndParameters()
		if _, err := s.GetCreator(); err == nil {
			return &peer.Response{Status: 500, Message: "a creator outside a transaction"}
		}
		if fn != GetMetadataFunction || len(params) != 0 || len(s.GetArgs()) != 1 {
			return &peer.Response{Status: 500, Message: "asked for " + fn}
		}
		return &peer.Response{Status: 200, Payload: []byte(metadataMadeByContractAPI)}
	}
	tests := []struct {
		name    string
		fn      func(anchor.ChaincodeStubInterface) *peer.Response
		want    int
		wantErr string
	}{
		{"metadata", metadata, 6, ""},
		{"error status", func(anchor.ChaincodeStubInterface) *peer.Response {
			return &peer.Response{Status: 500, Message: "no metadata"}
		}, 0, "status 500: no metadata"},
		{"nil response", func(anchor.ChaincodeStubInterface) *peer.Response { return nil }, 0, "no response"},
		{"a stub call the probe does not answer", func(s anchor.ChaincodeStubInterface) *peer.Response {
			_, _ = s.GetState("k")
			return nil
		}, 0, "panicked"},
		{"panic", func(anchor.ChaincodeStubInterface) *peer.Response { panic("no") }, 0, "panicked: no"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := contractFunctions(fakeContractCC{tc.fn})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("got %q, %v; want %d names", got, err, tc.want)
			}
		})
	}
}

// Only contract-api's chaincode type is asked for metadata: other
// chaincode might do anything when invoked outside a transaction.
func TestIsContractAPI(t *testing.T) {
	probed := false
	cc := fakeContractCC{func(anchor.ChaincodeStubInterface) *peer.Response {
		probed = true
		return &peer.Response{Status: 200, Payload: []byte(metadataMadeByContractAPI)}
	}}
	if isContractAPI(cc) || isContractAPI(&cc) {
		t.Error("a chaincode of this package taken for contract-api's")
	}
	if _, ok := functionNames(&cc); ok || probed {
		t.Errorf("functionNames of a chaincode that is not contract-api's: list %v, invoked %v", ok, probed)
	}
}
