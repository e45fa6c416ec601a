package shim

import (
	"sync"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/msgpipe"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// testPeer plays the peer's side of one stream in memory.
type testPeer struct {
	t     testing.TB
	end   *msgpipe.End
	ran   chan error // the handler's Run result
	ccid  chan string
	alive chan *pb.ChaincodeMessage

	mu       sync.Mutex
	results  map[string]chan *pb.ChaincodeMessage
	requests []*pb.ChaincodeMessage
	// serve answers a chaincode request; nil means no reply.
	serve func(*pb.ChaincodeMessage) *pb.ChaincodeMessage
}

type peerOpts struct {
	params   *pb.ChaincodeAdditionalParams
	maxTx    int
	observer Observer
	serve    func(*pb.ChaincodeMessage) *pb.ChaincodeMessage
}

func startPeer(t testing.TB, cc Chaincode, o peerOpts) *testPeer {
	t.Helper()
	ccEnd, peerEnd := msgpipe.New(64)
	p := &testPeer{t: t, end: peerEnd, ran: make(chan error, 1), ccid: make(chan string, 1),
		alive: make(chan *pb.ChaincodeMessage, 8), results: map[string]chan *pb.ChaincodeMessage{}, serve: o.serve}
	h := newHandler(ccEnd, cc, runOptions{ccid: "test:1", maxConcurrentTx: o.maxTx, observer: o.observer})
	go func() { p.ran <- h.eng.Run() }()
	// Handshake as the peer does it.
	reg := p.recvRaw()
	if reg.Type != pb.ChaincodeMessage_REGISTER {
		t.Fatalf("first message %s, want REGISTER", reg.Type)
	}
	var id pb.ChaincodeID
	if err := proto.Unmarshal(reg.Payload, &id); err != nil {
		t.Fatalf("REGISTER payload: %v", err)
	}
	p.ccid <- id.Name
	var ready []byte
	if o.params != nil {
		ready, _ = proto.Marshal(o.params)
	}
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_REGISTERED})
	p.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_READY, Payload: ready})
	go p.loop()
	t.Cleanup(func() {
		p.end.Close()
		select {
		case <-p.ran:
		case <-time.After(10 * time.Second):
			t.Errorf("engine did not stop after the stream closed")
		}
	})
	return p
}

func (p *testPeer) recvRaw() *pb.ChaincodeMessage {
	p.t.Helper()
	m, err := p.end.Recv()
	if err != nil {
		p.t.Fatalf("peer recv: %v", err)
	}
	return m
}

func (p *testPeer) send(m *pb.ChaincodeMessage) {
	if err := p.end.Send(m); err != nil {
		p.t.Errorf("peer send %s: %v", m.Type, err)
	}
}

func (p *testPeer) loop() {
	for {
		m, err := p.end.Recv()
		if err != nil {
			return
		}
		switch m.Type {
		case pb.ChaincodeMessage_COMPLETED, pb.ChaincodeMessage_ERROR:
			p.resultChan(m.ChannelId + "/" + m.Txid) <- m
		case pb.ChaincodeMessage_KEEPALIVE:
			p.alive <- m
		default:
			p.mu.Lock()
			p.requests = append(p.requests, m)
			serve := p.serve
			p.mu.Unlock()
			if serve == nil {
				continue
			}
			if r := serve(m); r != nil {
				r.Txid, r.ChannelId = m.Txid, m.ChannelId
				_ = p.end.Send(r)
			}
		}
	}
}

func (p *testPeer) resultChan(key string) chan *pb.ChaincodeMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.results[key]
	if !ok {
		c = make(chan *pb.ChaincodeMessage, 4)
		p.results[key] = c
	}
	return c
}

// start sends a TRANSACTION (or INIT) with args.
func (p *testPeer) start(typ pb.ChaincodeMessage_Type, channel, txid string, args ...string) {
	in := &pb.ChaincodeInput{}
	for _, a := range args {
		in.Args = append(in.Args, []byte(a))
	}
	payload, _ := proto.Marshal(in)
	p.send(&pb.ChaincodeMessage{Type: typ, Payload: payload, Txid: txid, ChannelId: channel})
}

// result waits for the reply to txid.
func (p *testPeer) result(channel, txid string) *pb.ChaincodeMessage {
	p.t.Helper()
	select {
	case m := <-p.resultChan(channel + "/" + txid):
		return m
	case <-time.After(20 * time.Second):
		p.t.Fatalf("no reply to %s/%s", channel, txid)
		return nil
	}
}

// invoke runs one TRANSACTION and returns its reply.
func (p *testPeer) invoke(txid string, args ...string) *pb.ChaincodeMessage {
	p.t.Helper()
	p.start(pb.ChaincodeMessage_TRANSACTION, "ch", txid, args...)
	return p.result("ch", txid)
}

// response decodes a COMPLETED reply.
func response(t testing.TB, m *pb.ChaincodeMessage) *pb.Response {
	t.Helper()
	if m.Type != pb.ChaincodeMessage_COMPLETED {
		t.Fatalf("reply %s %q, want COMPLETED", m.Type, m.Payload)
	}
	var r pb.Response
	if err := proto.Unmarshal(m.Payload, &r); err != nil {
		t.Fatalf("COMPLETED payload: %v", err)
	}
	return &r
}

func (p *testPeer) seen() []*pb.ChaincodeMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*pb.ChaincodeMessage(nil), p.requests...)
}

// funcCC is a chaincode made of functions, keyed by the first argument.
type funcCC struct {
	init  func(ChaincodeStubInterface) *pb.Response
	funcs map[string]func(ChaincodeStubInterface) *pb.Response
}

func (c *funcCC) Init(stub ChaincodeStubInterface) *pb.Response {
	if c.init != nil {
		return c.init(stub)
	}
	return Success(nil)
}

func (c *funcCC) Invoke(stub ChaincodeStubInterface) *pb.Response {
	fn, _ := stub.GetFunctionAndParameters()
	if f, ok := c.funcs[fn]; ok {
		return f(stub)
	}
	return Error("unknown function " + fn)
}

func rsp(payload []byte) *pb.ChaincodeMessage {
	return &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Payload: payload}
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
