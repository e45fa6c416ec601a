// Package ccaas is the chaincode-as-a-service package a Fabric peer
// installs for its ccaas builder: connection.json (Connection), the
// builder's templating of it (Connection.Render), the package tarball
// (WritePackage, ReadPackage) and the package id (PackageID).
//
// A Connection is connection.json as it travels in the package. The peer
// never reads that file directly: at install its ccaas builder (the
// "build" step of ccaas_builder) decodes it, fills every string field as
// a Go text/template from the JSON object in the peer's
// CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG, drops what it does not know, and
// writes the result that the peer reads when it dials the chaincode. So
// one package can carry per-peer values:
//
//	"address": "{{.peername}}_basic:9999"
//
// with CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG={"peername":"peer0org1"}.
//
// ParseConnection decodes with the builder's rules; Render does the
// builder's templating; Validate checks what the peer checks (and what
// makes its dial fail for certain) in the rendered result. The rules are
// those of Fabric v2.5.16 and v3.1.5, read from their source
// (ccaas_builder/cmd/build, core/container/externalbuilder, internal/pkg/comm);
// the two differ only in Connection.Domain.
//
// The package imports only the standard library and internal/x509util,
// so reading or writing a package links nothing else.
package ccaas
