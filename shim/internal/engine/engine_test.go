package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/msgpipe"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 20 * time.Second

type rig struct {
	t    *testing.T
	peer *msgpipe.End
	eng  *Engine
	ran  chan error
}

// start runs an engine with handler h; ready does the handshake.
func start(t *testing.T, cfg Config, ready bool) *rig {
	t.Helper()
	ccEnd, peerEnd := msgpipe.New(32)
	cfg.CCID = "cc:1"
	r := &rig{t: t, peer: peerEnd, eng: New(ccEnd, cfg), ran: make(chan error, 1)}
	go func() { r.ran <- r.eng.Run() }()
	t.Cleanup(func() {
		peerEnd.Close()
		select {
		case <-r.ran:
		case <-time.After(wait):
			t.Error("engine did not end")
		}
	})
	if m := r.recv(); m.Type != pb.ChaincodeMessage_REGISTER {
		t.Fatalf("first message %s", m.Type)
	}
	if ready {
		r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_REGISTERED})
		r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_READY})
	}
	return r
}

func (r *rig) send(m *pb.ChaincodeMessage) {
	r.t.Helper()
	if err := r.peer.Send(m); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) recv() *pb.ChaincodeMessage {
	r.t.Helper()
	type res struct {
		m   *pb.ChaincodeMessage
		err error
	}
	c := make(chan res, 1)
	go func() { m, err := r.peer.Recv(); c <- res{m, err} }()
	select {
	case x := <-c:
		if x.err != nil {
			r.t.Fatal(x.err)
		}
		return x.m
	case <-time.After(wait):
		r.t.Fatal("nothing received")
		return nil
	}
}

func TestCallOutcomes(t *testing.T) {
	errs := make(chan error, 1)
	payloads := make(chan []byte, 1)
	cfg := Config{CallTimeout: 200 * time.Millisecond, Handler: func(tx *Tx) Outcome {
		p, err := tx.Call(pb.ChaincodeMessage_GET_STATE, []byte("req"))
		payloads <- p
		errs <- err
		return Outcome{Response: &pb.Response{Status: 200}}
	}}
	r := start(t, cfg, true)
	tests := []struct {
		name    string
		reply   *pb.ChaincodeMessage // nil: no reply
		want    string
		wantErr error
	}{
		{"RESPONSE", &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Payload: []byte("value")}, "value", nil},
		{"ERROR", &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_ERROR, Payload: []byte("peer says no")}, "peer says no", nil},
		{"other types are not replies", &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_GET_STATE}, "after", nil},
		{"no reply", nil, "", ErrCallTimeout},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			txid := string(rune('a' + i))
			r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: txid, ChannelId: "ch"})
			req := r.recv()
			if req.Type != pb.ChaincodeMessage_GET_STATE || req.Txid != txid || req.ChannelId != "ch" || string(req.Payload) != "req" {
				t.Fatalf("request %v", req)
			}
			if tc.reply != nil {
				tc.reply.Txid, tc.reply.ChannelId = txid, "ch"
				r.send(tc.reply)
			}
			if tc.want == "after" {
				// The stray message was dropped; the call still takes the real reply.
				r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: txid, ChannelId: "ch", Payload: []byte("after")})
			}
			p, err := <-payloads, <-errs
			switch tc.name {
			case "RESPONSE":
				if err != nil || string(p) != tc.want {
					t.Fatalf("got %q %v", p, err)
				}
			case "ERROR":
				var pe *PeerError
				if !errors.As(err, &pe) || pe.Text != tc.want {
					t.Fatalf("got %v, want PeerError %q", err, tc.want)
				}
			case "other types are not replies":
				if err != nil || string(p) != "after" {
					t.Fatalf("got %q %v", p, err)
				}
			default:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
			}
			if m := r.recv(); m.Type != pb.ChaincodeMessage_COMPLETED || m.Txid != txid {
				t.Fatalf("result %s %s", m.Type, m.Txid)
			}
		})
	}
	// A reply arriving after the call timed out is dropped, and the next
	// call of another transaction is unaffected.
	r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: "d", ChannelId: "ch", Payload: []byte("late")})
	r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "e", ChannelId: "ch"})
	r.recv()
	r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: "e", ChannelId: "ch", Payload: []byte("fresh")})
	if p, err := <-payloads, <-errs; err != nil || string(p) != "fresh" {
		t.Fatalf("after a late reply: %q %v", p, err)
	}
	r.recv()
}

func TestHandshakeViolationEndsStream(t *testing.T) {
	for _, tc := range []struct {
		name string
		msgs []pb.ChaincodeMessage_Type
		want string
	}{
		{"transaction before REGISTERED", []pb.ChaincodeMessage_Type{pb.ChaincodeMessage_TRANSACTION}, "expected REGISTERED"},
		{"transaction before READY", []pb.ChaincodeMessage_Type{pb.ChaincodeMessage_REGISTERED, pb.ChaincodeMessage_TRANSACTION}, "expected READY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := start(t, Config{Handler: func(*Tx) Outcome { return Outcome{} }}, false)
			for _, typ := range tc.msgs {
				r.send(&pb.ChaincodeMessage{Type: typ, Txid: "t1"})
			}
			m := r.recv()
			if m.Type != pb.ChaincodeMessage_ERROR || !strings.Contains(string(m.Payload), tc.want) {
				t.Fatalf("got %s %q", m.Type, m.Payload)
			}
			select {
			case err := <-r.ran:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Run: %v", err)
				}
				r.ran <- err
			case <-time.After(wait):
				t.Fatal("Run did not return")
			}
		})
	}
}

func TestDrainWaitsForInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	r := start(t, Config{Handler: func(*Tx) Outcome {
		started <- struct{}{}
		<-release
		return Outcome{Response: &pb.Response{Status: 200}}
	}}, true)
	if err := r.eng.Drain(context.Background()); err != nil {
		t.Fatalf("Drain when idle: %v", err)
	}
	// Draining is sticky: a new transaction is refused.
	r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "late", ChannelId: "ch"})
	if m := r.recv(); m.Type != pb.ChaincodeMessage_ERROR || !strings.Contains(string(m.Payload), ErrDraining.Error()) {
		t.Fatalf("got %s %q", m.Type, m.Payload)
	}

	r2 := start(t, Config{Handler: func(*Tx) Outcome {
		started <- struct{}{}
		<-release
		return Outcome{Response: &pb.Response{Status: 200}}
	}}, true)
	r2.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "t", ChannelId: "ch"})
	<-started
	if running, queued := r2.eng.InFlight(); running != 1 || queued != 0 {
		t.Fatalf("InFlight %d %d", running, queued)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r2.eng.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain past deadline: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- r2.eng.Drain(context.Background()) }()
	close(release)
	if m := r2.recv(); m.Type != pb.ChaincodeMessage_COMPLETED {
		t.Fatalf("in-flight result %s", m.Type)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("Drain did not return when the transaction finished")
	}
}

func TestParamsFloor(t *testing.T) {
	p := decodeParams([]byte{0x08, 0x01, 0x10, 0x05, 0x18, 0x01, 0x20, 0x07})
	if !p.UseWriteBatch || p.MaxSizeWriteBatch != minBatch || !p.UseGetMultipleKeys || p.MaxSizeGetMultiKeys != minBatch {
		t.Fatalf("params %+v", p)
	}
	if p := decodeParams([]byte{0xff}); p != (Params{}) {
		t.Fatalf("garbage READY gave %+v", p)
	}
}

// A stub kept past Invoke, or a goroutine the chaincode left running, must
// not take replies meant for the next transaction on the same worker: its
// calls fail with ErrTxFinished, and the next transaction is unaffected.
func TestCallAfterTransactionFinished(t *testing.T) {
	kept := make(chan *Tx, 1)
	strayErr := make(chan error, 1)
	returnNow := make(chan struct{})
	r := start(t, Config{MaxConcurrentTx: 1, Handler: func(tx *Tx) Outcome {
		switch tx.TxID() {
		case "kept":
			kept <- tx
		case "stray":
			go func() {
				_, err := tx.Call(pb.ChaincodeMessage_GET_STATE, []byte("late"))
				strayErr <- err
			}()
			<-returnNow // the stray call is waiting for its reply
		case "next":
			p, err := tx.Call(pb.ChaincodeMessage_GET_STATE, []byte("k"))
			if err != nil || string(p) != "fresh" {
				return Outcome{Response: &pb.Response{Status: 500, Message: fmt.Sprintf("%q %v", p, err)}}
			}
		}
		return Outcome{Response: &pb.Response{Status: 200}}
	}}, true)

	r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "kept", ChannelId: "ch"})
	if m := r.recv(); m.Type != pb.ChaincodeMessage_COMPLETED {
		t.Fatalf("kept: %s", m.Type)
	}
	if _, err := (<-kept).Call(pb.ChaincodeMessage_GET_STATE, []byte("k")); !errors.Is(err, ErrTxFinished) {
		t.Fatalf("call on a finished transaction: %v, want ErrTxFinished", err)
	}

	r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "stray", ChannelId: "ch"})
	if m := r.recv(); m.Type != pb.ChaincodeMessage_GET_STATE || m.Txid != "stray" {
		t.Fatalf("stray request: %s %s", m.Type, m.Txid)
	}
	close(returnNow)
	if m := r.recv(); m.Type != pb.ChaincodeMessage_COMPLETED || m.Txid != "stray" {
		t.Fatalf("stray result: %s %s", m.Type, m.Txid)
	}
	select {
	case err := <-strayErr:
		if !errors.Is(err, ErrTxFinished) {
			t.Fatalf("stray call: %v, want ErrTxFinished", err)
		}
	case <-time.After(wait):
		t.Fatal("the stray call still waits after its transaction finished")
	}
	// The late reply to the stray call is dropped; the next transaction
	// on the same worker gets its own.
	r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: "stray", ChannelId: "ch", Payload: []byte("late")})
	r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "next", ChannelId: "ch"})
	if m := r.recv(); m.Type != pb.ChaincodeMessage_GET_STATE || m.Txid != "next" {
		t.Fatalf("next request: %s %s", m.Type, m.Txid)
	}
	r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: "next", ChannelId: "ch", Payload: []byte("fresh")})
	if m := r.recv(); m.Type != pb.ChaincodeMessage_COMPLETED || m.Txid != "next" {
		t.Fatalf("next result: %s %s %q", m.Type, m.Txid, m.Payload)
	} else if resp := decodeResponse(t, m.Payload); resp.Status != 200 {
		t.Fatalf("next: %d %s", resp.Status, resp.Message)
	}
}

// A call waiting when the stream ends fails with ErrStreamClosed.
func TestCallEndsWithStream(t *testing.T) {
	errs := make(chan error, 1)
	r := start(t, Config{Handler: func(tx *Tx) Outcome {
		_, err := tx.Call(pb.ChaincodeMessage_GET_STATE, []byte("k"))
		errs <- err
		return Outcome{Response: &pb.Response{Status: 200}}
	}}, true)
	r.send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: "t", ChannelId: "ch"})
	if m := r.recv(); m.Type != pb.ChaincodeMessage_GET_STATE {
		t.Fatalf("request %s", m.Type)
	}
	r.peer.Close()
	select {
	case err := <-errs:
		if !errors.Is(err, ErrStreamClosed) {
			t.Fatalf("call: %v, want ErrStreamClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("the call still waits after the stream ended")
	}
}

func decodeResponse(t *testing.T, b []byte) *pb.Response {
	t.Helper()
	var r pb.Response
	if err := proto.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}
