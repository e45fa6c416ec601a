package peerside

import (
	"crypto"
	"crypto/rand"
	"io"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// Defaults taken from the Fabric peer.
const (
	DefaultExecuteTimeout   = 30 * time.Second // chaincode.executetimeout
	DefaultTotalQueryLimit  = 10000            // ledger.state.totalQueryLimit
	MaxResultsPerPage       = 100              // the peer's query batch size
	DefaultMaxSizeBatch     = 1000             // chaincode.runtimeParams.maxSize*
	DefaultMSPID            = "Org1MSP"
	defaultNonceSize        = 24
	defaultCreatorCommonNam = "ccpeer-client"
)

type options struct {
	ccid            string
	namespace       string
	store           Store
	params          *peer.ChaincodeAdditionalParams
	mspid           string
	certPEM         []byte
	signer          crypto.Signer
	clock           func() time.Time
	rand            io.Reader
	executeTimeout  time.Duration
	totalQueryLimit int
	keepalive       time.Duration
	collections     map[string]bool // nil: any collection
	logf            func(format string, args ...any)
}

// Option configures a Conn.
type Option func(*options)

// WithCCID sets the CCID the chaincode must send in REGISTER. Without it
// any non-empty CCID is accepted (and reported by Conn.CCID).
func WithCCID(ccid string) Option { return func(o *options) { o.ccid = ccid } }

// WithNamespace sets the chaincode name used as the namespace in query
// results and events. The default is the CCID's label (the part before ':').
func WithNamespace(ns string) Option { return func(o *options) { o.namespace = ns } }

// WithStore sets the world state. The default is a fresh MemStore.
func WithStore(s Store) Option { return func(o *options) { o.store = s } }

// WithAdditionalParams sets the READY payload. The default is what a
// Fabric 3.1 peer with the sample core.yaml sends: write batches and
// multi-key reads on, both limited to 1000. Pass an empty message to act
// as a peer that supports neither.
func WithAdditionalParams(p *peer.ChaincodeAdditionalParams) Option {
	return func(o *options) { o.params = p }
}

// WithIdentity sets the creator put in every proposal: an MSP ID and a PEM
// certificate; signer, if not nil, signs the proposal bytes. The default is
// a fresh self-signed P-256 identity in DefaultMSPID.
func WithIdentity(mspid string, certPEM []byte, signer crypto.Signer) Option {
	return func(o *options) { o.mspid, o.certPEM, o.signer = mspid, certPEM, signer }
}

// WithClock sets the source of proposal and history timestamps, for
// deterministic tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithRand sets the source of nonces (and so of generated transaction IDs),
// for deterministic tests.
func WithRand(r io.Reader) Option { return func(o *options) { o.rand = r } }

// WithExecuteTimeout bounds a transaction when the caller's context has no
// deadline (the peer's chaincode.executetimeout, 30 s by default).
func WithExecuteTimeout(d time.Duration) Option { return func(o *options) { o.executeTimeout = d } }

// WithTotalQueryLimit caps the results of one unpaginated query.
func WithTotalQueryLimit(n int) Option { return func(o *options) { o.totalQueryLimit = n } }

// WithKeepalive makes the Conn send an application KEEPALIVE every d, as a
// peer with chaincode.keepalive set does. Zero (the default) sends none.
func WithKeepalive(d time.Duration) Option { return func(o *options) { o.keepalive = d } }

// WithCollections names the private data collections of the chaincode's
// definition. A request for any other collection then fails with the
// peer's error, as it does for a chaincode whose definition lacks that
// collection. Without it every collection is accepted, since a
// development peer has no chaincode definition.
func WithCollections(names ...string) Option {
	return func(o *options) {
		o.collections = map[string]bool{}
		for _, n := range names {
			o.collections[n] = true
		}
	}
}

// WithLogf receives diagnostics about messages the peer would only log
// (dropped or unexpected messages).
func WithLogf(f func(format string, args ...any)) Option { return func(o *options) { o.logf = f } }

func buildOptions(opts []Option) options {
	o := options{
		clock:           time.Now,
		rand:            rand.Reader,
		executeTimeout:  DefaultExecuteTimeout,
		totalQueryLimit: DefaultTotalQueryLimit,
		params: &peer.ChaincodeAdditionalParams{
			UseWriteBatch: true, MaxSizeWriteBatch: DefaultMaxSizeBatch,
			UseGetMultipleKeys: true, MaxSizeGetMultipleKeys: DefaultMaxSizeBatch,
		},
		logf: func(string, ...any) {},
	}
	for _, f := range opts {
		f(&o)
	}
	if o.store == nil {
		o.store = NewMemStore()
	}
	if o.totalQueryLimit <= 0 {
		o.totalQueryLimit = DefaultTotalQueryLimit
	}
	return o
}
