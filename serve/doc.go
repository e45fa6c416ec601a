// Package serve is the ccserver command line for any chaincode:
// serve.Main(cc) parses flags and the environment variables fabric-samples
// uses, serves cc over mutual TLS with certificates reloaded from disk,
// answers the standard gRPC health service on the chaincode port, exports
// Prometheus metrics, logs with log/slog, and drains transactions in flight
// on SIGTERM or SIGINT. SIGHUP reloads the TLS files at once.
//
// Secure by default: TLS is on, peers must present a certificate from the
// client CA, and each weaker setting needs a flag named --insecure-….
// Settings that are missing, contradictory or insecure without that
// acknowledgement stop the program with exit status 2 and a message that
// says what to do.
//
// The TLS flags are bound straight onto a tlsconfig.ServerSpec, which
// validates them; its errors are shown with the flag (or environment
// variable) that set the field at fault. Peers are checked by chain
// (--client-ca), SPKI pin (--pin), CRL (--crl) and identity:
// --client-identity o=Org1MSP,ou=peer admits only peers whose certificate
// has subject O Org1MSP and OU peer (terms dns=, uri=, o=, ou= must all
// match, '|' separates alternatives; repeat the flag to admit peers that
// match any one rule).
//
// Environment fallbacks, used only where the flag is not given: first the
// names of fabric-samples (CHAINCODE_SERVER_ADDRESS, CHAINCODE_ID,
// CHAINCODE_TLS_DISABLED, CHAINCODE_TLS_CERT, CHAINCODE_TLS_KEY,
// CHAINCODE_CLIENT_CA_CERT), then those of fabric-contract-api-go's server
// mode (CORE_CHAINCODE_ID_NAME; CORE_TLS_CLIENT_CERT_FILE and
// CORE_TLS_CLIENT_KEY_FILE as the server's own certificate and key;
// CORE_PEER_TLS_ROOTCERT_FILE as the client CA). The same secure defaults
// apply whichever name set a value, and one log line at start says which
// variable set each setting.
//
// Run is Main without the process: tests and embedding programs pass the
// arguments, environment, output streams and signals themselves.
package serve
