package stubareas

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ccserver/ccserver/shim"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/statebased"
)

type endorsement struct {
	Collection string   `json:"collection,omitempty"`
	Key        string   `json:"key"`
	Set        bool     `json:"set"`
	Orgs       []string `json:"orgs"`
}

// policyFor is the key-level policy "every listed organisation's peer
// endorses", as statebased builds it.
func policyFor(orgs []string) ([]byte, error) {
	ep, err := statebased.NewStateEP(nil)
	if err != nil {
		return nil, err
	}
	if err := ep.AddOrgs(statebased.RoleTypePeer, orgs...); err != nil {
		return nil, err
	}
	return ep.Policy()
}

func orgsOf(policy []byte) ([]string, error) {
	if policy == nil {
		return []string{}, nil
	}
	ep, err := statebased.NewStateEP(policy)
	if err != nil {
		return nil, fmt.Errorf("decode the validation parameter: %w", err)
	}
	orgs := ep.ListOrgs()
	slices.Sort(orgs) // ListOrgs comes from a map
	return orgs, nil
}

// setKeyEP insists that the key exists: the peer silently drops the
// validation parameter of a key that has no value, which would make a
// test pass for the wrong reason.
func setKeyEP(stub shim.ChaincodeStubInterface, args []string) (endorsement, error) {
	key, orgs := args[0], args[1:]
	if v, err := stub.GetState(key); err != nil {
		return endorsement{}, err
	} else if v == nil {
		return endorsement{}, fmt.Errorf("key %q does not exist; put it first, the peer ignores endorsement policies of missing keys", key)
	}
	policy, err := policyFor(orgs)
	if err != nil {
		return endorsement{}, err
	}
	return endorsement{Key: key, Set: true, Orgs: sorted(orgs)}, stub.SetStateValidationParameter(key, policy)
}

func getKeyEP(stub shim.ChaincodeStubInterface, args []string) (endorsement, error) {
	policy, err := stub.GetStateValidationParameter(args[0])
	if err != nil {
		return endorsement{}, err
	}
	orgs, err := orgsOf(policy)
	return endorsement{Key: args[0], Set: policy != nil, Orgs: orgs}, err
}

// setPrivateKeyEP checks existence through the hash, which every peer of
// the channel has, member of the collection or not.
func setPrivateKeyEP(stub shim.ChaincodeStubInterface, args []string) (endorsement, error) {
	coll, key, orgs := args[0], args[1], args[2:]
	if h, err := stub.GetPrivateDataHash(coll, key); err != nil {
		return endorsement{}, err
	} else if h == nil {
		return endorsement{}, fmt.Errorf("private key %q does not exist in %s; put it first, the peer ignores endorsement policies of missing keys", key, coll)
	}
	policy, err := policyFor(orgs)
	if err != nil {
		return endorsement{}, err
	}
	return endorsement{Collection: coll, Key: key, Set: true, Orgs: sorted(orgs)}, stub.SetPrivateDataValidationParameter(coll, key, policy)
}

func getPrivateKeyEP(stub shim.ChaincodeStubInterface, args []string) (endorsement, error) {
	policy, err := stub.GetPrivateDataValidationParameter(args[0], args[1])
	if err != nil {
		return endorsement{}, err
	}
	orgs, err := orgsOf(policy)
	return endorsement{Collection: args[0], Key: args[1], Set: policy != nil, Orgs: orgs}, err
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

type eventResult struct {
	Name    string `json:"name"`
	Payload string `json:"payload"`
}

func event(stub shim.ChaincodeStubInterface, args []string) (eventResult, error) {
	return eventResult{args[0], args[1]}, stub.SetEvent(args[0], []byte(args[1]))
}

type txInfoResult struct {
	TxID      string `json:"tx_id"`
	ChannelID string `json:"channel_id"`
	Timestamp string `json:"timestamp"`
}

func txInfo(stub shim.ChaincodeStubInterface, _ []string) (txInfoResult, error) {
	ts, err := stub.GetTxTimestamp()
	if err != nil {
		return txInfoResult{}, err
	}
	return txInfoResult{
		TxID: stub.GetTxID(), ChannelID: stub.GetChannelID(),
		Timestamp: ts.AsTime().UTC().Format(time.RFC3339Nano),
	}, nil
}

type attribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Found bool   `json:"found"`
}

type identity struct {
	MSPID          string            `json:"msp_id"`
	ID             string            `json:"id"`
	Subject        string            `json:"subject"`
	Issuer         string            `json:"issuer"`
	Attribute      *attribute        `json:"attribute,omitempty"`
	Attributes     map[string]string `json:"attributes"`
	SignedProposal bool              `json:"signed_proposal"`
	Binding        string            `json:"binding"`
	Decorations    map[string][]byte `json:"decorations"`
}

// whoAmI reads the creator through the client-identity library, as
// access-control code does, and the proposal fields around it.
func whoAmI(stub shim.ChaincodeStubInterface, args []string) (identity, error) {
	id, err := cid.New(stub)
	if err != nil {
		return identity{}, fmt.Errorf("client identity: %w", err)
	}
	var out identity
	if out.MSPID, err = id.GetMSPID(); err != nil {
		return identity{}, err
	}
	if out.ID, err = id.GetID(); err != nil {
		return identity{}, err
	}
	cert, err := id.GetX509Certificate()
	if err != nil {
		return identity{}, err
	}
	if out.Attributes, err = certAttributes(cert); err != nil {
		return identity{}, err
	}
	if cert != nil {
		out.Subject, out.Issuer = cert.Subject.String(), cert.Issuer.String()
	}
	if len(args) == 1 {
		v, found, err := id.GetAttributeValue(args[0])
		if err != nil {
			return identity{}, err
		}
		out.Attribute = &attribute{Name: args[0], Value: v, Found: found}
	}
	sp, err := stub.GetSignedProposal()
	if err != nil {
		return identity{}, err
	}
	out.SignedProposal = len(sp.GetProposalBytes()) > 0 && len(sp.GetSignature()) > 0
	binding, err := stub.GetBinding()
	if err != nil {
		return identity{}, err
	}
	out.Binding = hex.EncodeToString(binding)
	out.Decorations = stub.GetDecorations()
	if out.Decorations == nil {
		out.Decorations = map[string][]byte{}
	}
	return out, nil
}

// attrsOID is the extension in which Fabric CA puts enrollment attributes.
const attrsOID = "1.2.3.4.5.6.7.8.1"

// certAttributes returns all Fabric CA attributes of cert, which the
// client-identity library only answers one name at a time.
func certAttributes(cert *x509.Certificate) (map[string]string, error) {
	attrs := map[string]string{}
	if cert == nil {
		return attrs, nil
	}
	for _, ext := range cert.Extensions {
		if ext.Id.String() != attrsOID {
			continue
		}
		var v struct {
			Attrs map[string]string `json:"attrs"`
		}
		if err := json.Unmarshal(ext.Value, &v); err != nil {
			return nil, fmt.Errorf("decode the attribute extension: %w", err)
		}
		for k, a := range v.Attrs {
			attrs[k] = a
		}
	}
	return attrs, nil
}

type callResult struct {
	Status  int32  `json:"status"`
	Message string `json:"message"`
	Payload string `json:"payload"`
}

// call answers status 200 whatever the called chaincode answered, so the
// test sees the called chaincode's status and message as they came back.
func call(stub shim.ChaincodeStubInterface, args []string) (callResult, error) {
	name, channel := args[0], args[1]
	if name == "" {
		return callResult{}, errors.New("the chaincode name is empty")
	}
	if channel == "-" {
		channel = ""
	}
	ccArgs := make([][]byte, 0, len(args)-2)
	for _, a := range args[2:] {
		ccArgs = append(ccArgs, []byte(a))
	}
	resp := stub.InvokeChaincode(name, ccArgs, channel)
	return callResult{resp.GetStatus(), resp.GetMessage(), string(resp.GetPayload())}, nil
}
