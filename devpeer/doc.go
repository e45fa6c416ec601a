// Package devpeer is a development peer: it dials a chaincode server the
// way a Fabric peer does (the same connection.json as ccaas.Connection,
// keepalive, message sizes and TLS client settings), runs the peer side of
// the chaincode protocol against an in-memory or bbolt world state, and
// can probe a server's TLS setup or load it with a closed-loop benchmark.
// ccpeer is its command line.
//
// Why it is public, and why in its own types: it has users outside this
// module (the bench module drives Bench against three servers; tests of a
// chaincode server can Dial and Execute as a peer), so it stays a public
// package rather than moving under internal/ beneath ccpeer. The protocol
// engine behind it, internal/peerside, is shared with shimtest and changes
// with it; so no type of that package appears in devpeer's API (code
// outside the module could not name it). Options, transactions, results
// and write sets are devpeer's own types, converted at the boundary, and
// the sentinel errors are the engine's values under devpeer names, so
// errors.Is works on both. internal/archtest keeps it that way.
package devpeer
