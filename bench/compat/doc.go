// Package compat holds the tests that keep ccserver's shim source-compatible
// with fabric-chaincode-go/v2's (the anchor, v2.3.0): a reflective
// comparison of the two APIs and a build of the kvstore example against
// both. They live in this module because the core module must not require
// the anchor: a requirement there raises every user's copy of it by
// minimal version selection.
package compat
