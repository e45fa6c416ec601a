package lean

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

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

// modes are the two responders: lean's state machine and leansync.
var modes = []struct {
	name  string
	serve func(grpc.ServerStream, string) error
}{{"lean", serve}, {"leansync", serveSync}}

func TestRegister(t *testing.T) {
	for _, mode := range modes {
		f := &fakeStream{t: t}
		if err := mode.serve(f, "cc:1"); err != nil {
			t.Fatal(mode.name, err)
		}
		var id peer.ChaincodeID
		if len(f.sent) != 1 || f.sent[0].Type != peer.ChaincodeMessage_REGISTER || proto.Unmarshal(f.sent[0].Payload, &id) != nil || id.Name != "cc:1" {
			t.Fatalf("%s: sent %v (id %v)", mode.name, f.sent, &id)
		}
	}
}

func msg(typ peer.ChaincodeMessage_Type, txid string, payload []byte) *peer.ChaincodeMessage {
	return &peer.ChaincodeMessage{Type: typ, Txid: txid, ChannelId: "ch", Payload: payload}
}

func input(fn string) []byte {
	b, _ := proto.Marshal(&peer.ChaincodeInput{Args: [][]byte{[]byte(fn)}})
	return b
}

// page is a QueryResponse of keys from..to-1 (values "vv", so 6 bytes of
// key and value each) with iterator id it1.
func page(from, to int, more bool) []byte {
	qr := &peer.QueryResponse{HasMore: more, Id: "it1"}
	for i := from; i < to; i++ {
		kv, _ := proto.Marshal(&queryresult.KV{Namespace: "bench", Key: fmt.Sprintf("k%03d", i), Value: []byte("vv")})
		qr.Results = append(qr.Results, &peer.QueryResultBytes{ResultBytes: kv})
	}
	b, _ := proto.Marshal(qr)
	return b
}

// TestWork: getput reads and writes back the key, range reads two pages
// to the end, noop answers at once, and each completes with the status
// and payload the shims' chaincode returns. The peer's messages are
// scripted, so this is lean's exact order of sends; TestWorkModes checks
// the same work of both modes against a peer that answers requests.
func TestWork(t *testing.T) {
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
		got = append(got, describe(m))
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

// describe is a sent message as the tests compare it: type, txid and the
// decoded request or response.
func describe(m *peer.ChaincodeMessage) string {
	s := m.Type.String() + " " + m.Txid
	switch m.Type {
	case peer.ChaincodeMessage_COMPLETED:
		var r peer.Response
		_ = proto.Unmarshal(m.Payload, &r)
		s += fmt.Sprintf(" %d %q %s", r.Status, r.Message, r.Payload)
	case peer.ChaincodeMessage_ERROR:
		s += " " + string(m.Payload)
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
	return s
}

// peerStream plays a peer that answers: the test queues messages for the
// responder on in, and answer sees every message the responder sends (in
// the order sent, one at a time) and may queue replies or close in.
type peerStream struct {
	fakeStream
	in     chan *peer.ChaincodeMessage
	mu     sync.Mutex
	answer func(p *peerStream, m *peer.ChaincodeMessage)
	closed bool
}

func newPeer(t *testing.T, answer func(*peerStream, *peer.ChaincodeMessage), first ...*peer.ChaincodeMessage) *peerStream {
	p := &peerStream{fakeStream: fakeStream{t: t}, in: make(chan *peer.ChaincodeMessage, 1024), answer: answer}
	for _, m := range first {
		p.in <- m
	}
	return p
}

func (p *peerStream) SendMsg(m any) error {
	data, err := codec{}.Marshal(m)
	if err != nil {
		return err
	}
	var out peer.ChaincodeMessage
	err = proto.Unmarshal(data.Materialize(), &out)
	data.Free()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, &out)
	if out.Type != peer.ChaincodeMessage_REGISTER {
		p.answer(p, &out)
	}
	return nil
}

// end closes in: the responder's RecvMsg then reports io.EOF.
func (p *peerStream) end() {
	if !p.closed {
		p.closed = true
		close(p.in)
	}
}

func (p *peerStream) RecvMsg(m any) error {
	next, ok := <-p.in
	if !ok {
		return io.EOF
	}
	b, err := proto.Marshal(next)
	if err != nil {
		return err
	}
	c := codec{}
	enc, _ := c.Marshal(&frame{buf: &b})
	return c.Unmarshal(enc, m)
}

// byTx is what the responder sent (after REGISTER), one line per message,
// grouped by transaction in the order of ids.
func (p *peerStream) byTx(ids ...string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var lines []string
	for _, id := range ids {
		for _, m := range p.sent[1:] {
			if m.Txid == id {
				lines = append(lines, describe(m))
			}
		}
	}
	return strings.Join(lines, "\n")
}

// terminal reports whether m ends its transaction.
func terminal(m *peer.ChaincodeMessage) bool {
	return m.Type == peer.ChaincodeMessage_COMPLETED || m.Type == peer.ChaincodeMessage_ERROR
}

// TestWorkModes runs TestWork's transactions on both modes, all in flight
// at once, against a peer that answers each request as it comes, plus an
// ERROR reply (the transaction fails with its text) and an unknown
// function.
func TestWorkModes(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			done := 0
			p := newPeer(t, func(p *peerStream, m *peer.ChaincodeMessage) {
				var reply []byte
				typ := peer.ChaincodeMessage_RESPONSE
				switch {
				case terminal(m):
					if done++; done == 6 {
						p.end()
					}
					return
				case m.Type == peer.ChaincodeMessage_GET_STATE && m.Txid == "t1":
					reply = []byte("value")
				case m.Type == peer.ChaincodeMessage_GET_STATE && m.Txid == "t5":
					typ, reply = peer.ChaincodeMessage_ERROR, []byte("boom")
				case m.Type == peer.ChaincodeMessage_GET_STATE_BY_RANGE:
					reply = page(0, 60, true)
				case m.Type == peer.ChaincodeMessage_QUERY_STATE_NEXT:
					reply = page(60, 100, false)
				}
				p.in <- msg(typ, m.Txid, reply) // PUT_STATE and t4's GET_STATE: empty
			},
				&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_REGISTERED}, &peer.ChaincodeMessage{Type: peer.ChaincodeMessage_READY},
				msg(peer.ChaincodeMessage_TRANSACTION, "t1", input("getput")),
				msg(peer.ChaincodeMessage_TRANSACTION, "t2", input("range")),
				msg(peer.ChaincodeMessage_TRANSACTION, "t3", input("noop")),
				msg(peer.ChaincodeMessage_TRANSACTION, "t4", input("getput")),
				msg(peer.ChaincodeMessage_TRANSACTION, "t5", input("getput")),
				msg(peer.ChaincodeMessage_INIT, "t6", input("nosuch")),
			)
			if err := mode.serve(p, "cc:1"); err != nil {
				t.Fatal(err)
			}
			got := p.byTx("t1", "t2", "t3", "t4", "t5", "t6")
			want := strings.Join([]string{
				"GET_STATE t1 k042", "PUT_STATE t1 k042=value", `COMPLETED t1 200 "" `,
				"GET_STATE_BY_RANGE t2 k000..k100", "QUERY_STATE_NEXT t2 it1", `COMPLETED t2 200 "" 600`,
				`COMPLETED t3 200 "" `,
				"GET_STATE t4 k042", `COMPLETED t4 500 "k042 is not in the state: seed it" `,
				"GET_STATE t5 k042", "ERROR t5 boom",
				`COMPLETED t6 500 "unknown function \"nosuch\" (want noop, getput or range)" `,
			}, "\n")
			if got != want {
				t.Fatalf("sent\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestConcurrentOutOfOrder: 8 getput and 4 range transactions in flight at
// once on one stream; the peer holds every request until all 12 of a
// round are in, then answers them in reverse order, each getput with a
// value of its own, so every reply must be routed to its transaction.
// leansync runs them on 12 workers, one per transaction in flight.
func TestConcurrentOutOfOrder(t *testing.T) {
	const getputs, ranges = 8, 4
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			var held []*peer.ChaincodeMessage
			done := 0
			first := []*peer.ChaincodeMessage{{Type: peer.ChaincodeMessage_REGISTERED}, {Type: peer.ChaincodeMessage_READY}}
			var ids, want []string
			for i := range getputs + ranges {
				id := fmt.Sprintf("c%02d", i)
				ids = append(ids, id)
				if i < getputs {
					first = append(first, msg(peer.ChaincodeMessage_TRANSACTION, id, input("getput")))
					want = append(want, "GET_STATE "+id+" k042", "PUT_STATE "+id+" k042=v-"+id, "COMPLETED "+id+` 200 "" `)
				} else {
					first = append(first, msg(peer.ChaincodeMessage_TRANSACTION, id, input("range")))
					want = append(want, "GET_STATE_BY_RANGE "+id+" k000..k100", "QUERY_STATE_NEXT "+id+" it1", "COMPLETED "+id+` 200 "" 600`)
				}
			}
			p := newPeer(t, func(p *peerStream, m *peer.ChaincodeMessage) {
				if terminal(m) {
					if done++; done == len(ids) {
						p.end()
					}
					return
				}
				if held = append(held, m); len(held) < len(ids) {
					return
				}
				for i := len(held) - 1; i >= 0; i-- {
					r := held[i]
					var reply []byte
					switch r.Type {
					case peer.ChaincodeMessage_GET_STATE:
						reply = []byte("v-" + r.Txid)
					case peer.ChaincodeMessage_GET_STATE_BY_RANGE:
						reply = page(0, 60, true)
					case peer.ChaincodeMessage_QUERY_STATE_NEXT:
						reply = page(60, 100, false)
					}
					p.in <- msg(peer.ChaincodeMessage_RESPONSE, r.Txid, reply)
				}
				held = held[:0]
			}, first...)
			if mode.name == "leansync" {
				ss := newSyncSession(p)
				if err := ss.serve("cc:1"); err != nil {
					t.Fatal(err)
				}
				if ss.started != len(ids) {
					t.Errorf("%d workers started for %d transactions in flight", ss.started, len(ids))
				}
			} else if err := mode.serve(p, "cc:1"); err != nil {
				t.Fatal(err)
			}
			if got := p.byTx(ids...); got != strings.Join(want, "\n") {
				t.Fatalf("sent\n%s\nwant\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

// TestSyncReusesWorkers: transactions one after the other run on a parked
// worker instead of a new goroutine each. With one P the worker parks
// before the receive loop reads the next transaction, so reuse does not
// depend on timing (a preemption could still start a second worker).
func TestSyncReusesWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n = 20
	sent := 0
	p := newPeer(t, func(p *peerStream, m *peer.ChaincodeMessage) {
		if m.Type == peer.ChaincodeMessage_GET_STATE {
			p.in <- msg(peer.ChaincodeMessage_RESPONSE, m.Txid, []byte("x"))
			return
		}
		if m.Type == peer.ChaincodeMessage_PUT_STATE {
			p.in <- msg(peer.ChaincodeMessage_RESPONSE, m.Txid, nil)
			return
		}
		if sent++; sent == n {
			p.end()
			return
		}
		p.in <- msg(peer.ChaincodeMessage_TRANSACTION, fmt.Sprintf("s%02d", sent), input([]string{"noop", "getput"}[sent%2]))
	}, msg(peer.ChaincodeMessage_TRANSACTION, "s00", input("noop")))
	ss := newSyncSession(p)
	if err := ss.serve("cc:1"); err != nil {
		t.Fatal(err)
	}
	if ss.started > 3 {
		t.Errorf("%d workers started for %d transactions one after the other", ss.started, n)
	}
	for _, m := range p.sent[1:] {
		if m.Type == peer.ChaincodeMessage_COMPLETED && describe(m) != "COMPLETED "+m.Txid+` 200 "" ` {
			t.Errorf("sent %s", describe(m))
		}
	}
}

// TestSyncStreamEnd: when the stream ends, a worker blocked in a call and a
// parked one both stop, and serve returns.
func TestSyncStreamEnd(t *testing.T) {
	p := newPeer(t, func(p *peerStream, m *peer.ChaincodeMessage) {
		if m.Type == peer.ChaincodeMessage_GET_STATE {
			p.end() // never answered
			return
		}
		p.in <- msg(peer.ChaincodeMessage_TRANSACTION, "e2", input("getput"))
	}, msg(peer.ChaincodeMessage_TRANSACTION, "e1", input("noop")))
	done := make(chan error, 1)
	go func() { done <- serveSync(p, "cc:1") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after the stream ended")
	}
	if got := p.byTx("e1", "e2"); got != "COMPLETED e1 200 \"\" \nGET_STATE e2 k042" {
		t.Fatalf("sent\n%s", got)
	}
}
