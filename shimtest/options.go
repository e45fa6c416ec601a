package shimtest

import (
	"time"

	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// Defaults, chosen to look like the Fabric test network.
const (
	DefaultName    = "mycc"
	DefaultChannel = "mychannel"
	DefaultMSPID   = "Org1MSP"
	// DefaultTimeout is the peer's chaincode.executetimeout.
	DefaultTimeout = 30 * time.Second
)

type options struct {
	name          string
	channel       string
	mspid         string
	attrs         map[string]string
	clock         func() time.Time
	deterministic bool
	olderPeer     bool
	timeout       time.Duration
	tap           func(*pb.ChaincodeMessage) // tests only: sees what the chaincode sends
}

// Option configures a Ledger.
type Option func(*options)

// WithName sets the chaincode name: the namespace of its state, the
// chaincode ID in its events. The default is DefaultName.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithChannel sets the channel a Call runs on when it names none. The
// default is DefaultChannel.
func WithChannel(channel string) Option { return func(o *options) { o.channel = channel } }

// WithMSPID sets the MSP ID of the generated creator identity. The default
// is DefaultMSPID.
func WithMSPID(mspid string) Option { return func(o *options) { o.mspid = mspid } }

// WithAttributes puts Fabric CA attributes into the creator certificate
// (the extension that attribute-based access control reads, e.g. with the
// client identity library's GetAttributeValue).
func WithAttributes(attrs map[string]string) Option {
	return func(o *options) { o.attrs = attrs }
}

// WithClock sets where transaction timestamps (GetTxTimestamp, history
// entries) come from. The default is time.Now. A Call's Time overrides it.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithDeterministicIDs numbers transactions instead of deriving their IDs
// from a random nonce: the n-th call (from 1, queries included) gets
// TxID(n), and the proposal nonces repeat from run to run. A Call's TxID
// overrides it and still consumes a number.
func WithDeterministicIDs() Option { return func(o *options) { o.deterministic = true } }

// WithOlderPeer makes the peer announce no optional features, as a peer
// before Fabric 3.1 does: StartWriteBatch then does nothing (every write
// goes to the peer on its own) and GetMultipleStates reads key by key. By
// default the peer acts like Fabric 3.1, which accepts write batches and
// serves multi-key reads in one round trip. A chaincode sees the
// difference only in when a write that cannot be sent fails: at the write
// on an older peer, at the end of the transaction with a batch.
func WithOlderPeer() Option { return func(o *options) { o.olderPeer = true } }

// WithTimeout bounds one transaction, like the peer's
// chaincode.executetimeout. The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

func buildOptions(opts []Option) options {
	o := options{
		name:    DefaultName,
		channel: DefaultChannel,
		mspid:   DefaultMSPID,
		clock:   time.Now,
		timeout: DefaultTimeout,
	}
	for _, f := range opts {
		f(&o)
	}
	return o
}
