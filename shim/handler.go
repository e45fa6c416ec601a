package shim

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/ccserver/ccserver/shim/internal/engine"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// PeerChaincodeStream is the bidirectional stream between chaincode and
// peer, in either direction of dialing.
type PeerChaincodeStream interface {
	Send(*peer.ChaincodeMessage) error
	Recv() (*peer.ChaincodeMessage, error)
}

// ClientStream is a PeerChaincodeStream the chaincode opened and must close.
type ClientStream interface {
	PeerChaincodeStream
	CloseSend() error
}

// Handler runs the chaincode side of the protocol on one stream. It is
// exported for compatibility with the original shim; use ChaincodeServer,
// Start or StartInProc instead of building one.
type Handler struct {
	eng *engine.Engine
}

// TxInfo describes a finished transaction to an Observer.
type TxInfo struct {
	ChannelID string
	TxID      string
	// CCID is the package id the stream registered with, and PeerOrg the
	// org the server admitted the peer as ("" without an allow list).
	CCID, PeerOrg string
	// Function is the first argument, or "" when the input could not be read.
	Function string
	Init     bool
	// Status is the chaincode's response status; Failed is set when the
	// peer received ERROR instead of COMPLETED.
	Status   int32
	Failed   bool
	Message  string
	Panicked bool
	Duration time.Duration
}

// Observer hears about streams and transactions, for metrics and logs. Its
// methods are called synchronously from the engine and must return quickly.
type Observer interface {
	StreamStarted(peer string)
	StreamEnded(peer string, err error)
	TxStarted(channelID, txID string)
	TxFinished(TxInfo)
}

// StreamInfo describes a peer stream to a StreamObserver.
type StreamInfo struct {
	Peer    string // address and certificate subject
	CCID    string // the package id the stream registers with
	PeerOrg string // the org the allow list admitted the peer as, or ""
}

// StreamObserver is an Observer that also wants each stream's package id
// and org (a server that serves several package ids or orgs). When the
// Observer implements it, these are called instead of StreamStarted and
// StreamEnded.
type StreamObserver interface {
	PeerStreamStarted(StreamInfo)
	PeerStreamEnded(StreamInfo, error)
}

// options shared by the server and client modes.
type runOptions struct {
	ccid            string
	logger          *slog.Logger
	observer        Observer
	maxConcurrentTx int
	peer            string
	peerOrg         string
	// frames: the stream is gRPC with engine.Codec (see engine.Config.Frames).
	frames bool
}

type observerAdapter struct {
	o             Observer
	ccid, peerOrg string
}

func (a observerAdapter) TxStarted(tx *engine.Tx) { a.o.TxStarted(tx.ChannelID(), tx.TxID()) }

func (a observerAdapter) TxFinished(tx *engine.Tx, o engine.Outcome, d time.Duration) {
	info := TxInfo{ChannelID: tx.ChannelID(), TxID: tx.TxID(), CCID: a.ccid, PeerOrg: a.peerOrg, Function: string(tx.Function), Init: tx.IsInit(),
		Failed: o.Failed, Panicked: tx.Panicked, Duration: d}
	if o.Failed {
		info.Status, info.Message = ERROR, o.ErrText
	} else if o.Response != nil {
		info.Status, info.Message = o.Response.Status, o.Response.Message
	}
	a.o.TxFinished(info)
}

func newHandler(stream PeerChaincodeStream, cc Chaincode, o runOptions) *Handler {
	cfg := engine.Config{
		CCID:            o.ccid,
		Handler:         txHandler(cc, o.peerOrg),
		NewTx:           newTxState,
		MaxConcurrentTx: o.maxConcurrentTx,
		Logger:          o.logger,
		Peer:            o.peer,
		Frames:          o.frames,
	}
	if o.observer != nil {
		cfg.Observer = observerAdapter{o: o.observer, ccid: o.ccid, peerOrg: o.peerOrg}
	}
	return &Handler{eng: engine.New(stream, cfg)}
}

// txHandler adapts a Chaincode to the engine: it builds the stub, calls
// Init or Invoke, flushes the write batch and applies the reply rules the
// peer expects (Init failure → ERROR; Invoke, any status → COMPLETED).
func txHandler(cc Chaincode, peerOrg string) engine.HandlerFunc {
	return func(tx *engine.Tx) engine.Outcome {
		stub, err := newStub(tx)
		if err != nil {
			return engine.Outcome{Failed: true, ErrText: err.Error()}
		}
		stub.peerOrg = peerOrg
		if len(stub.args) > 0 {
			tx.Function = stub.args[0]
		}
		if tx.IsInit() {
			resp := cc.Init(stub)
			if resp == nil {
				return engine.Outcome{Failed: true, ErrText: "chaincode Init returned a nil response", Event: stub.event}
			}
			if resp.Status >= ERROR {
				return engine.Outcome{Failed: true, ErrText: resp.Message, Event: stub.event}
			}
			if err := stub.FinishWriteBatch(); err != nil {
				return engine.Outcome{Failed: true, ErrText: fmt.Sprintf("failed send batch: %v", err)}
			}
			return engine.Outcome{Response: resp, Event: stub.event}
		}
		resp := cc.Invoke(stub)
		if resp == nil {
			resp = &peer.Response{Status: ERROR, Message: "chaincode Invoke returned a nil response"}
		}
		if err := stub.FinishWriteBatch(); err != nil {
			return engine.Outcome{Failed: true, ErrText: fmt.Sprintf("failed send batch: %v", err)}
		}
		return engine.Outcome{Response: resp, Event: stub.event}
	}
}

// StartInProc runs chaincode over a stream the caller opened (the original
// shim uses it for system chaincode; shimtest uses it to drive chaincode
// in memory). It returns when the stream ends.
func StartInProc(chaincodename string, stream ClientStream, cc Chaincode) error {
	defer stream.CloseSend() //nolint:errcheck // the stream is finished either way
	h := newHandler(stream, cc, runOptions{ccid: chaincodename})
	if err := h.eng.Run(); err != nil {
		return fmt.Errorf("chaincode stream for %s: %w", chaincodename, err)
	}
	return nil
}
