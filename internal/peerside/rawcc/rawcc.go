// Package rawcc is a minimal chaincode side of the Fabric protocol with no
// shim: it registers, answers the handshake and runs functions that make
// state requests as raw messages. It exists to test the peer side (and to
// measure the protocol bound) without depending on a shim implementation.
package rawcc

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Stream is the chaincode's end of a chaincode stream.
type Stream interface {
	Send(*peer.ChaincodeMessage) error
	Recv() (*peer.ChaincodeMessage, error)
}

// Func is one chaincode function. Returning an error makes the chaincode
// reply ERROR instead of COMPLETED.
type Func func(tx *Tx) (*peer.Response, error)

// Chaincode maps function names (args[0]) to functions.
type Chaincode map[string]Func

// Tx is a running transaction as the chaincode sees it.
type Tx struct {
	ChannelID, TxID string
	Args            [][]byte
	Params          *peer.ChaincodeAdditionalParams
	Event           *peer.ChaincodeEvent
	proposal        *peer.SignedProposal
	s               *session
	wait            chan *peer.ChaincodeMessage
}

// Arg returns args[i] as a string ("" when absent).
func (t *Tx) Arg(i int) string {
	if i < len(t.Args) {
		return string(t.Args[i])
	}
	return ""
}

// Call sends one request and waits for its RESPONSE; an ERROR reply
// becomes an error with the peer's text.
func (t *Tx) Call(typ peer.ChaincodeMessage_Type, payload proto.Message) ([]byte, error) {
	b, err := proto.Marshal(payload)
	if err != nil {
		return nil, err
	}
	if err := t.Send(typ, b); err != nil {
		return nil, err
	}
	return t.Await()
}

// Send sends a request without waiting (Await collects the reply).
func (t *Tx) Send(typ peer.ChaincodeMessage_Type, payload []byte) error {
	return t.s.send(&peer.ChaincodeMessage{Type: typ, Payload: payload, Txid: t.TxID, ChannelId: t.ChannelID})
}

// Await waits for the reply to the last request.
func (t *Tx) Await() ([]byte, error) {
	m, ok := <-t.wait
	if !ok {
		return nil, errors.New("stream ended")
	}
	if m.Type == peer.ChaincodeMessage_ERROR {
		return nil, errors.New(string(m.Payload))
	}
	if m.Type != peer.ChaincodeMessage_RESPONSE {
		return nil, fmt.Errorf("unexpected %s", m.Type)
	}
	return m.Payload, nil
}

// Transient returns the transient map of the proposal.
func (t *Tx) Transient() (map[string][]byte, error) {
	prop, _, err := t.decode()
	if err != nil {
		return nil, err
	}
	cpp := &peer.ChaincodeProposalPayload{}
	if err := proto.Unmarshal(prop.Payload, cpp); err != nil {
		return nil, err
	}
	return cpp.TransientMap, nil
}

// Creator returns the creator identity of the proposal.
func (t *Tx) Creator() (*msp.SerializedIdentity, *common.ChannelHeader, error) {
	_, hdr, err := t.decode()
	if err != nil {
		return nil, nil, err
	}
	sh := &common.SignatureHeader{}
	ch := &common.ChannelHeader{}
	if err := proto.Unmarshal(hdr.SignatureHeader, sh); err != nil {
		return nil, nil, err
	}
	if err := proto.Unmarshal(hdr.ChannelHeader, ch); err != nil {
		return nil, nil, err
	}
	id := &msp.SerializedIdentity{}
	if err := proto.Unmarshal(sh.Creator, id); err != nil {
		return nil, nil, err
	}
	return id, ch, nil
}

func (t *Tx) decode() (*peer.Proposal, *common.Header, error) {
	if t.proposal == nil {
		return nil, nil, errors.New("no proposal")
	}
	prop := &peer.Proposal{}
	if err := proto.Unmarshal(t.proposal.ProposalBytes, prop); err != nil {
		return nil, nil, err
	}
	hdr := &common.Header{}
	if err := proto.Unmarshal(prop.Header, hdr); err != nil {
		return nil, nil, err
	}
	return prop, hdr, nil
}

type session struct {
	stream Stream
	cc     Chaincode
	sendMu sync.Mutex
	mu     sync.Mutex
	txs    map[string]*Tx
	params *peer.ChaincodeAdditionalParams
	wg     sync.WaitGroup
}

func (s *session) send(m *peer.ChaincodeMessage) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.stream.Send(m)
}

// Serve registers as ccid and serves transactions until the stream ends.
// It returns nil on io.EOF, else the receive error.
func Serve(stream Stream, ccid string, cc Chaincode) error {
	s := &session{stream: stream, cc: cc, txs: map[string]*Tx{}, params: &peer.ChaincodeAdditionalParams{}}
	defer s.wg.Wait()
	id, _ := proto.Marshal(&peer.ChaincodeID{Name: ccid})
	if err := s.send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_REGISTER, Payload: id}); err != nil {
		return err
	}
	defer func() {
		s.mu.Lock()
		for k, tx := range s.txs {
			close(tx.wait)
			delete(s.txs, k)
		}
		s.mu.Unlock()
	}()
	for {
		m, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch m.Type {
		case peer.ChaincodeMessage_REGISTERED:
		case peer.ChaincodeMessage_READY:
			p := &peer.ChaincodeAdditionalParams{}
			if proto.Unmarshal(m.Payload, p) == nil {
				s.mu.Lock()
				s.params = p
				s.mu.Unlock()
			}
		case peer.ChaincodeMessage_KEEPALIVE:
			if err := s.send(m); err != nil {
				return err
			}
		case peer.ChaincodeMessage_RESPONSE, peer.ChaincodeMessage_ERROR:
			s.mu.Lock()
			tx := s.txs[m.ChannelId+m.Txid]
			s.mu.Unlock()
			if tx != nil {
				tx.wait <- m
			}
		case peer.ChaincodeMessage_TRANSACTION, peer.ChaincodeMessage_INIT:
			in := &peer.ChaincodeInput{}
			if err := proto.Unmarshal(m.Payload, in); err != nil {
				return err
			}
			s.mu.Lock()
			tx := &Tx{ChannelID: m.ChannelId, TxID: m.Txid, Args: in.Args, Params: s.params, proposal: m.Proposal, s: s, wait: make(chan *peer.ChaincodeMessage, 1)}
			s.txs[m.ChannelId+m.Txid] = tx
			s.mu.Unlock()
			s.wg.Add(1)
			go s.run(tx)
		default:
			return fmt.Errorf("rawcc: unexpected %s", m.Type)
		}
	}
}

func (s *session) run(tx *Tx) {
	defer s.wg.Done()
	fn := s.cc[tx.Arg(0)]
	var resp *peer.Response
	var err error
	if fn == nil {
		resp = &peer.Response{Status: 500, Message: fmt.Sprintf("unknown function %q", tx.Arg(0))}
	} else {
		resp, err = fn(tx)
	}
	s.mu.Lock()
	delete(s.txs, tx.ChannelID+tx.TxID)
	s.mu.Unlock()
	reply := &peer.ChaincodeMessage{Type: peer.ChaincodeMessage_COMPLETED, Txid: tx.TxID, ChannelId: tx.ChannelID, ChaincodeEvent: tx.Event}
	if err != nil {
		reply.Type, reply.Payload = peer.ChaincodeMessage_ERROR, []byte(err.Error())
	} else {
		reply.Payload, _ = proto.Marshal(resp)
	}
	_ = s.send(reply)
}

// Server adapts a Chaincode to the gRPC protos.Chaincode service, so it can
// be registered on a grpc.Server with peer.RegisterChaincodeServer.
type Server struct {
	CCID string
	CC   Chaincode
}

// Connect implements peer.ChaincodeServer.
func (s Server) Connect(stream peer.Chaincode_ConnectServer) error {
	return Serve(stream, s.CCID, s.CC)
}
