// Package peerside is the peer's half of the Fabric chaincode protocol for
// one chaincode stream: it waits for the chaincode's REGISTER, checks its
// CCID, answers REGISTERED and READY, then runs transactions (INIT or
// TRANSACTION) and serves every state request the chaincode makes while a
// transaction runs, the way a Fabric peer's chaincode handler does.
//
// It is transport-agnostic: any Stream with Send and Recv works, a gRPC
// /protos.Chaincode/Connect client stream (devpeer) or an in-memory
// internal/msgpipe end (shimtest). State comes from a Store; reads see
// committed state only and a transaction's writes are collected in an
// Update that is applied only when the caller asks for a commit.
//
// Rich queries (GET_QUERY_RESULT) are evaluated in memory against JSON
// values with the CouchDB selector subset described in selector.go.
package peerside
