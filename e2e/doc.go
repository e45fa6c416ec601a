// Package e2e holds tests against a real Hyperledger Fabric network.
package e2e
