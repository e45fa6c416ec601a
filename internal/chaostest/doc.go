// Package chaostest runs ccserver and ccpeer as real processes over real
// TLS connections and breaks things underneath them: kill -9 and restart,
// streams reset mid-transaction, reconnect storms, a CRL flipped every
// second, the certificate directory replaced with garbage. It has no
// non-test code; `go test -short` runs a short version of each scenario,
// CCSERVER_CHAOS=1 the long one. The big-message memory figures are a
// benchmark (BenchmarkBigMessageRSS), never an assertion.
package chaostest
