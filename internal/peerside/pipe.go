package peerside

import (
	"errors"
	"io"
	"sync"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// Stream is one bidirectional chaincode message stream as the peer sees
// it. Send is never called concurrently by this package.
type Stream interface {
	Send(*peer.ChaincodeMessage) error
	Recv() (*peer.ChaincodeMessage, error)
}

// ErrPipeClosed is returned by a PipeEnd after Close.
var ErrPipeClosed = errors.New("peerside: pipe closed")

// PipeEnd is one end of an in-memory stream made by Pipe. Messages are
// handed over by pointer; senders must not modify a message after Send.
type PipeEnd struct {
	in, out chan *peer.ChaincodeMessage
	p       *pipe
	sendEOF *sync.Once
	outDone chan struct{} // closed by CloseSend of this end
	inDone  chan struct{} // closed by CloseSend of the other end
}

type pipe struct {
	once   sync.Once
	closed chan struct{}
}

// Pipe returns two connected in-memory stream ends, e.g. the peer's and
// the chaincode's, so the protocol can run in one process without gRPC.
// Sends are buffered; Recv returns io.EOF after the other end's CloseSend
// and ErrPipeClosed after Close of either end.
func Pipe() (a, b *PipeEnd) {
	p := &pipe{closed: make(chan struct{})}
	ab, ba := make(chan *peer.ChaincodeMessage, 64), make(chan *peer.ChaincodeMessage, 64)
	aDone, bDone := make(chan struct{}), make(chan struct{})
	a = &PipeEnd{in: ba, out: ab, p: p, sendEOF: new(sync.Once), outDone: aDone, inDone: bDone}
	b = &PipeEnd{in: ab, out: ba, p: p, sendEOF: new(sync.Once), outDone: bDone, inDone: aDone}
	return a, b
}

// Send delivers m to the other end.
func (e *PipeEnd) Send(m *peer.ChaincodeMessage) error {
	select {
	case <-e.p.closed:
		return ErrPipeClosed
	case <-e.outDone:
		return errors.New("peerside: send after CloseSend")
	default:
	}
	select {
	case e.out <- m:
		return nil
	case <-e.p.closed:
		return ErrPipeClosed
	}
}

// Recv waits for the next message from the other end.
func (e *PipeEnd) Recv() (*peer.ChaincodeMessage, error) {
	select {
	case m := <-e.in:
		return m, nil
	case <-e.p.closed:
		return nil, ErrPipeClosed
	case <-e.inDone:
		select { // drain what was sent before CloseSend
		case m := <-e.in:
			return m, nil
		default:
			return nil, io.EOF
		}
	}
}

// CloseSend tells the other end no more messages follow (it sees io.EOF).
func (e *PipeEnd) CloseSend() error {
	e.sendEOF.Do(func() { close(e.outDone) })
	return nil
}

// Close ends the pipe for both ends.
func (e *PipeEnd) Close() error {
	e.p.once.Do(func() { close(e.p.closed) })
	return nil
}
