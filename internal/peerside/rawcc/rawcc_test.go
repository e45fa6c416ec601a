package rawcc_test

import (
	"testing"

	"github.com/ccserver/ccserver/internal/msgpipe"
	"github.com/ccserver/ccserver/internal/peerside/rawcc"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRegistersEchoesKeepaliveAndEndsOnEOF(t *testing.T) {
	b, a := msgpipe.New(64)
	defer a.Close()
	done := make(chan error, 1)
	go func() { done <- rawcc.Serve(b, "cc:1", rawcc.Demo()) }()
	m, err := a.Recv()
	if err != nil || m.Type != peer.ChaincodeMessage_REGISTER {
		t.Fatalf("first message %v %v", m, err)
	}
	id := &peer.ChaincodeID{}
	if err := proto.Unmarshal(m.Payload, id); err != nil || id.Name != "cc:1" {
		t.Fatalf("REGISTER payload %v %v", id, err)
	}
	_ = a.Send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_KEEPALIVE, Txid: "ka"})
	if m, err := a.Recv(); err != nil || m.Type != peer.ChaincodeMessage_KEEPALIVE || m.Txid != "ka" {
		t.Fatalf("keepalive echo %v %v", m, err)
	}
	_ = a.CloseSend()
	if err := <-done; err != nil {
		t.Fatalf("Serve after EOF: %v", err)
	}
}
