// Package msgpipe connects a chaincode and a peer in memory: two ends of a
// chaincode message stream, no gRPC. shimtest runs chaincode over it, and
// the shim's and peerside's tests play one side with it.
//
// An End behaves like one side of a gRPC bidirectional stream: CloseSend
// half-closes (the other side reads what was sent, then io.EOF, and may
// still send back), Close tears the whole stream down (both sides get
// ErrClosed, like a cancelled RPC).
package msgpipe

import (
	"errors"
	"io"
	"sync"

	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

var (
	// ErrClosed is returned by Send and Recv once either end called Close.
	ErrClosed = errors.New("msgpipe: closed")
	// ErrSendClosed is returned by Send after this end's CloseSend.
	ErrSendClosed = errors.New("msgpipe: send after CloseSend")
)

// End is one side of a pipe. Send and Recv may be called from different
// goroutines; like gRPC streams, Send must not be called concurrently with
// itself, nor Recv with itself. Messages are handed over by pointer: a
// sender must not modify a message after Send.
type End struct {
	in, out chan *pb.ChaincodeMessage
	p       *pipe
	sendEOF *sync.Once
	outDone chan struct{} // closed by this end's CloseSend
	inDone  chan struct{} // closed by the other end's CloseSend
}

type pipe struct {
	once   sync.Once
	closed chan struct{}
}

// New returns two connected ends with room for buffer messages in each
// direction; Send blocks while the other side's buffer is full.
func New(buffer int) (chaincode, peer *End) {
	p := &pipe{closed: make(chan struct{})}
	toPeer, toCC := make(chan *pb.ChaincodeMessage, buffer), make(chan *pb.ChaincodeMessage, buffer)
	ccDone, peerDone := make(chan struct{}), make(chan struct{})
	chaincode = &End{in: toCC, out: toPeer, p: p, sendEOF: new(sync.Once), outDone: ccDone, inDone: peerDone}
	peer = &End{in: toPeer, out: toCC, p: p, sendEOF: new(sync.Once), outDone: peerDone, inDone: ccDone}
	return chaincode, peer
}

// Send delivers m to the other end.
func (e *End) Send(m *pb.ChaincodeMessage) error {
	select {
	case <-e.p.closed:
		return ErrClosed
	case <-e.outDone:
		return ErrSendClosed
	default:
	}
	select {
	case e.out <- m:
		return nil
	case <-e.p.closed:
		return ErrClosed
	}
}

// Recv returns the next message from the other end; io.EOF once the other
// end called CloseSend and everything it sent before has been read;
// ErrClosed once either end called Close.
func (e *End) Recv() (*pb.ChaincodeMessage, error) {
	select { // Close wins over messages still buffered
	case <-e.p.closed:
		return nil, ErrClosed
	default:
	}
	select {
	case m := <-e.in:
		return m, nil
	case <-e.p.closed:
		return nil, ErrClosed
	case <-e.inDone:
		select { // what was sent before CloseSend is still delivered
		case m := <-e.in:
			return m, nil
		default:
			return nil, io.EOF
		}
	}
}

// CloseSend tells the other end that no more messages follow. It is
// idempotent and never fails.
func (e *End) CloseSend() error {
	e.sendEOF.Do(func() { close(e.outDone) })
	return nil
}

// Close ends the pipe for both ends; messages not yet read are dropped.
// It is idempotent and never fails.
func (e *End) Close() error {
	e.p.once.Do(func() { close(e.p.closed) })
	return nil
}
