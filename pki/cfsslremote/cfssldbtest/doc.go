// Package cfssldbtest tests cfsslremote's Revoke against a real cfssl
// server with a certificate database (cfssl's SQL certdb on SQLite). It is
// its own package because the SQLite driver needs cgo and is slow to
// compile; without cgo the test skips and says why.
package cfssldbtest
