// Package cfsslremote tests package pki/cfsslremote against a cfssl server
// with a certificate database (testca.StartCFSSL, SQLite through cgo):
// what needs the database, revocation. The tests that need none run in the
// core module. Without cgo they skip and say why.
package cfsslremote
