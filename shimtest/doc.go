// Package shimtest runs chaincode in unit tests the way a peer runs it.
//
// A Ledger starts the chaincode on the real engine of package shim and
// connects it, over an in-memory stream, to a peer with its own world
// state. Init, Invoke and Query send the same messages a Fabric peer sends;
// every stub call the chaincode makes travels to that peer and back. So a
// test exercises the code that runs in production, and the state behaves
// like Fabric's: reads see committed state only, a failed transaction
// commits nothing, range queries and composite keys page with bookmarks,
// rich queries run against JSON values, private data has hashes and can be
// purged, history and events are recorded.
//
//	func TestCreateAsset(t *testing.T) {
//		l := shimtest.New(t, assettransfer.New())
//		l.MustInvoke(t, "CreateAsset", "a1", "blue", "5", "Tom", "100")
//		if r := l.Invoke("CreateAsset", "a1", "red", "1", "Ann", "1"); r.Status != 500 {
//			t.Errorf("duplicate asset: %s", r)
//		}
//		if got := l.State("a1"); !bytes.Contains(got, []byte(`"color":"blue"`)) {
//			t.Errorf("state %s", got)
//		}
//	}
//
// # What the peer provides
//
// Every call is a signed proposal from a creator identity made at start: a
// client certificate issued by a throwaway CA of the organisation, in an
// msp.SerializedIdentity with the MSP ID (WithMSPID, default Org1MSP;
// WithAttributes adds Fabric CA attributes for attribute-based access
// control). GetCreator, GetSignedProposal, GetBinding and client-identity
// libraries therefore work unchanged. NewIdentity issues more clients, in
// the same or other organisations; Call.As submits a call as one of them.
//
// Transaction IDs are derived from a random nonce as Fabric does, or
// numbered with WithDeterministicIDs (see TxID); timestamps come from
// WithClock. A Call can set its own ID, time, channel and transient data.
//
// The peer announces what a Fabric 3.1 peer announces: write batches
// (StartWriteBatch) and multi-key reads (GetMultipleStates) in one round
// trip. WithOlderPeer turns both off, to test a chaincode against an
// older peer.
//
// Rich queries (GetQueryResult and friends) accept a subset of CouchDB's
// Mango selectors, evaluated in memory: implicit and explicit $eq, $ne,
// $gt, $gte, $lt, $lte, $in, $nin, $exists, $type, $size, $all, $regex (Go
// RE2 syntax), $and, $or, $nor, $not, nested fields by dot path, sort,
// limit, skip and fields; index hints are ignored. Values that are not
// JSON objects never match, strings compare by bytes and numbers as
// float64. The full rules are in internal/peerside/selector.go of this
// module.
//
// InvokeChaincode answers status 500 with "not supported locally": this
// peer serves one chaincode. Test the called chaincode on its own.
//
// # Moving from fabric-chaincode-go's MockStub
//
// The old shimtest.MockStub was a fake stub: it called Init and Invoke
// directly, wrote straight into maps, and did not implement history, rich
// queries, pagination, private data hashes or a creator. Tests move over
// like this:
//
//	stub := shimtest.NewMockStub("mycc", cc)    l := shimtest.New(t, cc, shimtest.WithName("mycc"))
//	res := stub.MockInit("tx1", args)           res := l.Init("arg1", "arg2")
//	res := stub.MockInvoke("tx1", [][]byte{     res := l.Invoke("CreateAsset", "a1")
//	    []byte("CreateAsset"), []byte("a1")})
//	res.Status, res.Payload, res.Message        the same fields on *Result
//	stub.MockTransactionStart("t")              l.SetState("k", v)
//	stub.PutState("k", v)
//	stub.MockTransactionEnd("t")
//	stub.State["k"]                             l.State("k")
//	stub.Keys                                   l.Keys() (and l.Dump())
//	stub.PvtState[coll][k]                      l.PrivateState(coll, k)
//	stub.EndorsementPolicies[""][k]             l.Metadata(k)["VALIDATION_PARAMETER"]
//	stub.TransientMap = m                       l.Do(shimtest.Call{Args: ..., Transient: m})
//	stub.Creator = serializedIdentity           WithMSPID, WithAttributes (always set);
//	                                            NewIdentity and Call.As per call
//	stub.TxTimestamp = ts                       WithClock, or Call.Time
//	txid "tx1" passed to every call             WithDeterministicIDs, or Call.TxID
//	<-stub.ChaincodeEventsChannel               res.Event, l.Events()
//	stub.MockPeerChaincode(...)                 not supported; test each chaincode alone
//
// Behaviour that changes, because the peer behaves like Fabric:
//
//   - A transaction does not read its own writes: GetState after PutState
//     in the same call returns the committed value, as on a real peer.
//   - A call that answers status 400 or more commits nothing; MockStub kept
//     whatever was written before the error.
//   - Query never commits; use it for read-only functions.
//   - An Init that fails is an ERROR reply to the peer: Result.Err is set.
//   - A panic in the chaincode becomes status 500; the test carries on.
//   - Private data cannot be written or read in Init, as on a peer.
//   - Transactions run concurrently when called from several goroutines.
//
// The Must helpers (MustInit, MustInvoke, MustQuery) fail the test on a
// status of 400 or more and return the payload; the other methods never
// fail the test, so error answers can be checked. Outside tests, Start and
// Close do what New does with the test's cleanup.
package shimtest
