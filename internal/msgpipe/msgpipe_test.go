package msgpipe_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/msgpipe"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func msg(txid string) *pb.ChaincodeMessage {
	return &pb.ChaincodeMessage{Type: pb.ChaincodeMessage_KEEPALIVE, Txid: txid}
}

func TestSemantics(t *testing.T) {
	for _, tc := range []struct {
		name string
		// act runs on a fresh pipe of buffer 4 and returns what to check.
		act  func(cc, peer *msgpipe.End) []result
		want []result
	}{
		{
			name: "messages arrive in order, both ways",
			act: func(cc, peer *msgpipe.End) []result {
				_ = cc.Send(msg("1"))
				_ = cc.Send(msg("2"))
				_ = peer.Send(msg("back"))
				return []result{recv(peer), recv(peer), recv(cc)}
			},
			want: []result{{txid: "1"}, {txid: "2"}, {txid: "back"}},
		},
		{
			name: "CloseSend delivers what was sent, then EOF; the other way stays open",
			act: func(cc, peer *msgpipe.End) []result {
				_ = cc.Send(msg("last"))
				_ = cc.CloseSend()
				_ = cc.CloseSend() // idempotent
				sendErr := peer.Send(msg("reply"))
				return []result{recv(peer), recv(peer), recv(peer), {err: sendErr}, recv(cc)}
			},
			want: []result{{txid: "last"}, {err: io.EOF}, {err: io.EOF}, {}, {txid: "reply"}},
		},
		{
			name: "Send after own CloseSend fails",
			act: func(cc, peer *msgpipe.End) []result {
				_ = peer.CloseSend()
				return []result{{err: peer.Send(msg("x"))}}
			},
			want: []result{{err: msgpipe.ErrSendClosed}},
		},
		{
			name: "Close ends both sides and drops unread messages",
			act: func(cc, peer *msgpipe.End) []result {
				_ = cc.Send(msg("dropped"))
				_ = peer.Close()
				_ = cc.Close() // idempotent, either end
				return []result{{err: cc.Send(msg("x"))}, {err: peer.Send(msg("x"))}, recv(cc), recv(peer)}
			},
			want: []result{{err: msgpipe.ErrClosed}, {err: msgpipe.ErrClosed}, {err: msgpipe.ErrClosed}, {err: msgpipe.ErrClosed}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, peer := msgpipe.New(4)
			defer cc.Close()
			got := tc.act(cc, peer)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d results, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i].txid != tc.want[i].txid || !errors.Is(got[i].err, tc.want[i].err) || (got[i].err == nil) != (tc.want[i].err == nil) {
					t.Errorf("step %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

type result struct {
	txid string
	err  error
}

func recv(e *msgpipe.End) result {
	m, err := e.Recv()
	if err != nil {
		return result{err: err}
	}
	return result{txid: m.Txid}
}

// A blocked Send or Recv is released by Close of either end.
func TestCloseReleasesBlockedCalls(t *testing.T) {
	cc, peer := msgpipe.New(1)
	_ = cc.Send(msg("fills the buffer"))
	errs := make(chan error, 2)
	go func() { errs <- cc.Send(msg("blocks")) }()
	go func() { _, err := cc.Recv(); errs <- err }()
	_ = peer.Close()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, msgpipe.ErrClosed) {
				t.Errorf("err = %v, want ErrClosed", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a blocked call was not released by Close")
		}
	}
}
