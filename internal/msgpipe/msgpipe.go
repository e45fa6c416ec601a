// Package msgpipe connects a chaincode and a peer in memory: two ends of a
// chaincode message stream, no gRPC. shimtest runs chaincode over it and
// the shim's tests play the peer with it.
package msgpipe

import (
	"errors"
	"io"
	"sync"

	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// ErrClosed is returned by Send on a closed pipe.
var ErrClosed = errors.New("msgpipe: closed")

// End is one side of a pipe. Send and Recv may be called from different
// goroutines; like gRPC streams, Send must not be called concurrently.
type End struct {
	in, out chan *pb.ChaincodeMessage
	p       *pipe
}

type pipe struct {
	once   sync.Once
	closed chan struct{}
}

// New returns two connected ends with the given buffer per direction.
func New(buffer int) (chaincode, peer *End) {
	p := &pipe{closed: make(chan struct{})}
	a := make(chan *pb.ChaincodeMessage, buffer)
	b := make(chan *pb.ChaincodeMessage, buffer)
	return &End{in: a, out: b, p: p}, &End{in: b, out: a, p: p}
}

// Send delivers m to the other end.
func (e *End) Send(m *pb.ChaincodeMessage) error {
	select {
	case <-e.p.closed:
		return ErrClosed
	default:
	}
	select {
	case e.out <- m:
		return nil
	case <-e.p.closed:
		return ErrClosed
	}
}

// Recv returns the next message, or io.EOF once the pipe is closed and
// drained of nothing more to read.
func (e *End) Recv() (*pb.ChaincodeMessage, error) {
	select {
	case m := <-e.in:
		return m, nil
	case <-e.p.closed:
		return nil, io.EOF
	}
}

// CloseSend closes the whole pipe: both ends see io.EOF.
func (e *End) CloseSend() error {
	e.Close()
	return nil
}

// Close ends the pipe for both sides.
func (e *End) Close() {
	e.p.once.Do(func() { close(e.p.closed) })
}
