package peerside

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// identity is the proposal creator.
type identity struct {
	creator []byte // serialized msp.SerializedIdentity
	signer  crypto.Signer
}

// newIdentity serializes the configured creator, or mints a self-signed
// one when none was configured.
func newIdentity(o *options) (*identity, error) {
	mspid, certPEM, signer := o.mspid, o.certPEM, o.signer
	if certPEM == nil {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate creator key: %w", err)
		}
		now := o.clock()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: defaultCreatorCommonNam, Organization: []string{"ccpeer"}, OrganizationalUnit: []string{"client"}},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			return nil, fmt.Errorf("create creator certificate: %w", err)
		}
		certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		signer = key
		if mspid == "" {
			mspid = DefaultMSPID
		}
	}
	creator, err := proto.Marshal(&msp.SerializedIdentity{Mspid: mspid, IdBytes: certPEM})
	if err != nil {
		return nil, err
	}
	return &identity{creator: creator, signer: signer}, nil
}

// TxIDFor computes a Fabric transaction ID: hex(SHA-256(nonce ‖ creator)).
func TxIDFor(nonce, creator []byte) string {
	h := sha256.New()
	h.Write(nonce)
	h.Write(creator)
	return hex.EncodeToString(h.Sum(nil))
}

// signedProposal builds the SignedProposal a client application would send
// for tx: ENDORSER_TRANSACTION channel header, signature header with
// creator and nonce, chaincode proposal payload with the transient map.
func signedProposal(id *identity, rnd io.Reader, ns string, tx *Tx, input *peer.ChaincodeInput) (sp *peer.SignedProposal, txid string, err error) {
	nonce := make([]byte, defaultNonceSize)
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, "", fmt.Errorf("read nonce: %w", err)
	}
	txid = tx.TxID
	if txid == "" {
		txid = TxIDFor(nonce, id.creator)
	}
	ext, err := proto.Marshal(&peer.ChaincodeHeaderExtension{ChaincodeId: &peer.ChaincodeID{Name: ns}})
	if err != nil {
		return nil, "", err
	}
	chdr, err := proto.Marshal(&common.ChannelHeader{
		Type:      int32(common.HeaderType_ENDORSER_TRANSACTION),
		ChannelId: tx.ChannelID,
		TxId:      txid,
		Timestamp: timestamppb.New(tx.Timestamp),
		Extension: ext,
	})
	if err != nil {
		return nil, "", err
	}
	shdr, err := proto.Marshal(&common.SignatureHeader{Creator: id.creator, Nonce: nonce})
	if err != nil {
		return nil, "", err
	}
	hdr, err := proto.Marshal(&common.Header{ChannelHeader: chdr, SignatureHeader: shdr})
	if err != nil {
		return nil, "", err
	}
	cis, err := proto.Marshal(&peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		Type: peer.ChaincodeSpec_GOLANG, ChaincodeId: &peer.ChaincodeID{Name: ns}, Input: input,
	}})
	if err != nil {
		return nil, "", err
	}
	payload, err := proto.Marshal(&peer.ChaincodeProposalPayload{Input: cis, TransientMap: tx.Transient})
	if err != nil {
		return nil, "", err
	}
	propBytes, err := proto.Marshal(&peer.Proposal{Header: hdr, Payload: payload})
	if err != nil {
		return nil, "", err
	}
	sp = &peer.SignedProposal{ProposalBytes: propBytes}
	if id.signer != nil {
		digest := sha256.Sum256(propBytes)
		sig, err := id.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return nil, "", fmt.Errorf("sign proposal: %w", err)
		}
		sp.Signature = sig
	}
	return sp, txid, nil
}
