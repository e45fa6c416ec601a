package migrate

import "strings"

// Modules ccmigrate adds requirements on, and the versions it adds.
const (
	CCServerModule = "github.com/ccserver/ccserver"
	protosModule   = "github.com/hyperledger/fabric-protos-go-apiv2"
	protosVersion  = "v0.3.7" // what ccserver's shim is built with
	// pkgModule holds cid, statebased and attrmgr built on the new protos.
	// v2.0.0 is the lowest version that has them, so requiring it raises
	// nobody's copy.
	pkgModule      = "github.com/hyperledger/fabric-chaincode-go/v2"
	pkgVersion     = "v2.0.0"
	protobufModule = "google.golang.org/protobuf"
	// protobufVersion is ccserver's; only needed for the timestamp rewrite.
	protobufVersion = "v1.36.12"
	// MinGo is the go directive ccserver's module has; a chaincode module
	// requiring it needs at least the same.
	MinGo = "1.26.0"
)

// oldModules are the modules a v1 chaincode requires that ccmigrate drops
// once nothing imports them any more.
func oldModules() []string {
	return []string{
		"github.com/hyperledger/fabric-chaincode-go",
		"github.com/hyperledger/fabric-protos-go",
		"github.com/hyperledger/fabric",
	}
}

// newModules are the modules rewritten imports may land in, with the
// version to require when the chaincode's go.mod does not already.
func newModules(ccserverVersion string) [][2]string {
	return [][2]string{
		{CCServerModule, ccserverVersion},
		{pkgModule, pkgVersion},
		{protosModule, protosVersion},
		{protobufModule, protobufVersion},
	}
}

// pathRule maps an import path of v1 chaincode to its replacement. With
// prefix set, every path under from maps to the same path under to.
type pathRule struct {
	from, to string
	prefix   bool
}

// rules are tried in order; the first match wins.
//
// cid, statebased and attrmgr move to fabric-chaincode-go/v2's copies,
// not to their v1 ones: the API is the same, and the v2 ones are built on
// fabric-protos-go-apiv2, which ccserver's shim uses, where the v1 ones
// would link the deprecated fabric-protos-go and golang/protobuf v1 as a
// second set of Fabric protos. cid needs only GetCreator from the stub,
// which ccserver's has.
func rules() []pathRule {
	const v2pkg = "github.com/hyperledger/fabric-chaincode-go/v2/pkg/"
	return []pathRule{
		{from: "github.com/hyperledger/fabric-chaincode-go/shim", to: CCServerModule + "/shim"},
		{from: "github.com/hyperledger/fabric-chaincode-go/pkg/cid", to: v2pkg + "cid"},
		{from: "github.com/hyperledger/fabric-chaincode-go/pkg/statebased", to: v2pkg + "statebased"},
		{from: "github.com/hyperledger/fabric-chaincode-go/pkg/attrmgr", to: v2pkg + "attrmgr"},
		{from: "github.com/hyperledger/fabric-chaincode-go/shim/ext/cid", to: v2pkg + "cid"},
		{from: "github.com/hyperledger/fabric-chaincode-go/shim/ext/statebased", to: v2pkg + "statebased"},
		{from: "github.com/hyperledger/fabric-chaincode-go/shim/ext/attrmgr", to: v2pkg + "attrmgr"},
		{from: "github.com/hyperledger/fabric-protos-go", to: protosModule, prefix: true},
		// Chaincode from the Fabric 1.x days imported the shim and protos
		// from Fabric itself.
		{from: "github.com/hyperledger/fabric/core/chaincode/shim", to: CCServerModule + "/shim"},
		{from: "github.com/hyperledger/fabric/core/chaincode/shim/ext/cid", to: v2pkg + "cid"},
		{from: "github.com/hyperledger/fabric/core/chaincode/lib/cid", to: v2pkg + "cid"},
		{from: "github.com/hyperledger/fabric/core/chaincode/shim/ext/statebased", to: v2pkg + "statebased"},
		{from: "github.com/hyperledger/fabric/core/chaincode/shim/ext/attrmgr", to: v2pkg + "attrmgr"},
		{from: "github.com/hyperledger/fabric/protos", to: protosModule, prefix: true},
		// The stub's GetTxTimestamp returns the new protobuf's Timestamp;
		// golang/protobuf's package is an alias of it, kept by its old name.
		{from: "github.com/golang/protobuf/ptypes/timestamp", to: protobufModule + "/types/known/timestamppb"},
	}
}

// mapPath returns the replacement of an import path, or "" if it stays.
func mapPath(path string) string {
	for _, r := range rules() {
		switch {
		case path == r.from:
			return r.to
		case r.prefix && strings.HasPrefix(path, r.from+"/"):
			return r.to + strings.TrimPrefix(path, r.from)
		}
	}
	return ""
}

// isV1Peer reports whether path is a v1 package holding peer.Response.
func isV1Peer(path string) bool {
	return path == "github.com/hyperledger/fabric-protos-go/peer" || path == "github.com/hyperledger/fabric/protos/peer"
}

// unsupported are v1 imports with no drop-in replacement: they stay, with
// a note saying what to do.
func unsupported(path string) string {
	switch path {
	case "github.com/hyperledger/fabric-chaincode-go/shimtest", "github.com/hyperledger/fabric/core/chaincode/shim/shimtest":
		return "shimtest.MockStub has no drop-in replacement: move these tests to github.com/ccserver/ccserver/shimtest " +
			"(shimtest.New(t, cc), then l.Init/l.Invoke; see its package doc), or to a fake stub of ccserver's interface"
	}
	return ""
}

// inModule reports whether import path p belongs to module mod, telling
// mod apart from its major versions (mod/v2 is another module).
func inModule(p, mod string) bool {
	if p == mod {
		return true
	}
	if !strings.HasPrefix(p, mod+"/") {
		return false
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(p, mod+"/"), "/")
	return !isMajorSuffix(first)
}

// isMajorSuffix reports whether elem is a path element like v2.
func isMajorSuffix(elem string) bool {
	if len(elem) < 2 || elem[0] != 'v' {
		return false
	}
	for _, c := range elem[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// shimNames are the exported names of ccserver's shim package (a test
// keeps the list equal to the source). A v1 chaincode using another name
// of its shim gets a note.
func shimNames() map[string]bool {
	names := map[string]bool{}
	for _, n := range strings.Fields(`Chaincode ChaincodeServer ChaincodeStub ChaincodeStubInterface ClientStream
		CommonIterator CommonIteratorInterface CreateCompositeKey ERROR ERRORTHRESHOLD ErrNotCompositeKey Error
		GetMSPID Handler HistoryQueryIterator HistoryQueryIteratorInterface HistoryQueryResult OK Observer
		PeerChaincodeStream Start StartInProc StateQueryIterator StateQueryIteratorInterface StateQueryResult
		PeerOrg StreamInfo StreamObserver Success TLSProperties TxInfo`) {
		names[n] = true
	}
	return names
}
