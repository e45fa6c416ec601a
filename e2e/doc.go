// Package e2e holds tests against a real Hyperledger Fabric network.
//
// It also holds the end-to-end benchmark of our shim against
// fabric-chaincode-go through the real peer and the gateway client
// (cmd/peerbench, internal/peerbench, the chaincode in chaincode/benchcc
// served by cmd/benchcc): `make e2e-bench` runs it on Fabric 2.5.16 and
// 3.1.5 (about 2 minutes each with the defaults); `make e2e` only builds
// it and smoke-runs it for a few seconds (TestPeerBenchSmoke). Results and
// method: docs/performance.md, "End to end through the real peer".
package e2e
