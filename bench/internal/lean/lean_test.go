package lean

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// fakeStream plays the peer: it feeds in, and decodes what the responder
// sends with the generated code.
type fakeStream struct {
	t    *testing.T
	in   []*peer.ChaincodeMessage
	sent []*peer.ChaincodeMessage
}

var _ grpc.ServerStream = (*fakeStream)(nil)

func (f *fakeStream) SetHeader(metadata.MD) error  { return nil }
func (f *fakeStream) SendHeader(metadata.MD) error { return nil }
func (f *fakeStream) SetTrailer(metadata.MD)       {}
func (f *fakeStream) Context() context.Context     { return context.Background() }

func (f *fakeStream) SendMsg(m any) error {
	data, err := codec{}.Marshal(m)
	if err != nil {
		return err
	}
	var out peer.ChaincodeMessage
	err = proto.Unmarshal(data.Materialize(), &out)
	data.Free()
	f.sent = append(f.sent, &out)
	return err
}

func (f *fakeStream) RecvMsg(m any) error {
	if len(f.in) == 0 {
		return io.EOF
	}
	b, err := proto.Marshal(f.in[0])
	if err != nil {
		return err
	}
	f.in = f.in[1:]
	c := codec{}
	enc, _ := c.Marshal(&frame{buf: &b})
	return c.Unmarshal(enc, m)
}

func TestRegister(t *testing.T) {
	f := &fakeStream{t: t}
	if err := serve(f, "cc:1"); err != nil {
		t.Fatal(err)
	}
	var id peer.ChaincodeID
	if len(f.sent) != 1 || f.sent[0].Type != peer.ChaincodeMessage_REGISTER || proto.Unmarshal(f.sent[0].Payload, &id) != nil || id.Name != "cc:1" {
		t.Fatalf("sent %v (id %v)", f.sent, &id)
	}
}

// TestWork: getput reads and writes back the key, range reads two pages
// to the end, noop answers at once, and each completes with the status
// and payload the shims' chaincode returns.
func TestWork(t *testing.T) {
	msg := func(typ peer.ChaincodeMessage_Type, txid string, payload []byte) *peer.ChaincodeMessage {
		return &peer.ChaincodeMessage{Type: typ, Txid: txid, ChannelId: "ch", Payload: payload}
	}
	input := func(fn string) []byte {
		b, _ := proto.Marshal(&peer.ChaincodeInput{Args: [][]byte{[]byte(fn)}})
		return b
	}
	page := func(from, to int, more bool) []byte {
		qr := &peer.QueryResponse{HasMore: more, Id: "it1"}
		for i := from; i < to; i++ {
			kv, _ := proto.Marshal(&queryresult.KV{Namespace: "bench", Key: fmt.Sprintf("k%03d", i), Value: []byte("vv")})
			qr.Results = append(qr.Results, &peer.QueryResultBytes{ResultBytes: kv})
		}
		b, _ := proto.Marshal(qr)
		return b
	}
	f := &fakeStream{t: t, in: []*peer.ChaincodeMessage{
		{Type: peer.ChaincodeMessage_REGISTERED}, {Type: peer.ChaincodeMessage_READY},
		msg(peer.ChaincodeMessage_TRANSACTION, "t1", input("getput")),
		msg(peer.ChaincodeMessage_TRANSACTION, "t2", input("range")),
		msg(peer.ChaincodeMessage_TRANSACTION, "t3", input("noop")),
		msg(peer.ChaincodeMessage_RESPONSE, "t1", []byte("value")),
		msg(peer.ChaincodeMessage_RESPONSE, "t2", page(0, 60, true)),
		msg(peer.ChaincodeMessage_RESPONSE, "t1", nil),
		msg(peer.ChaincodeMessage_RESPONSE, "t2", page(60, 100, false)),
		msg(peer.ChaincodeMessage_TRANSACTION, "t4", input("getput")),
		msg(peer.ChaincodeMessage_RESPONSE, "t4", nil), // not seeded
	}}
	if err := serve(f, "cc:1"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range f.sent[1:] {
		s := m.Type.String() + " " + m.Txid
		switch m.Type {
		case peer.ChaincodeMessage_COMPLETED:
			var r peer.Response
			_ = proto.Unmarshal(m.Payload, &r)
			s += fmt.Sprintf(" %d %q %s", r.Status, r.Message, r.Payload)
		case peer.ChaincodeMessage_GET_STATE:
			var r peer.GetState
			_ = proto.Unmarshal(m.Payload, &r)
			s += " " + r.Key
		case peer.ChaincodeMessage_PUT_STATE:
			var r peer.PutState
			_ = proto.Unmarshal(m.Payload, &r)
			s += " " + r.Key + "=" + string(r.Value)
		case peer.ChaincodeMessage_GET_STATE_BY_RANGE:
			var r peer.GetStateByRange
			_ = proto.Unmarshal(m.Payload, &r)
			s += " " + r.StartKey + ".." + r.EndKey
		case peer.ChaincodeMessage_QUERY_STATE_NEXT:
			var r peer.QueryStateNext
			_ = proto.Unmarshal(m.Payload, &r)
			s += " " + r.Id
		}
		if m.ChannelId != "ch" {
			s += " wrong channel " + m.ChannelId
		}
		got = append(got, s)
	}
	want := []string{
		"GET_STATE t1 k042", "GET_STATE_BY_RANGE t2 k000..k100", `COMPLETED t3 200 "" `,
		"PUT_STATE t1 k042=value", "QUERY_STATE_NEXT t2 it1", `COMPLETED t1 200 "" `,
		`COMPLETED t2 200 "" 600`, "GET_STATE t4 k042", `COMPLETED t4 500 "k042 is not in the state: seed it" `,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("sent\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
