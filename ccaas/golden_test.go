package ccaas_test

import "github.com/ccserver/ccserver/ccaas"

type goldenCase struct {
	name, label string
	conn        ccaas.Connection
}

// goldenCases are the inputs whose package bytes are pinned.
func goldenCases(m material) []goldenCase {
	return []goldenCase{
		{"plaintext", "basic_1.0", ccaas.Connection{Address: "localhost:9999", DialTimeout: "10s"}},
		{"tls", "asset-transfer+v2.1", ccaas.Connection{Address: "cc.org1.example.com:7052", DialTimeout: "3s", TLSRequired: true, RootCert: m.ca}},
		{"mtls", "basic_1.0", ccaas.Connection{Address: "127.0.0.1:9999", DialTimeout: "10s", TLSRequired: true, ClientAuthRequired: true,
			RootCert: m.ca + m.otherCA, ClientCert: m.cert, ClientKey: m.key}},
		{"template", "basic_1.0", ccaas.Connection{Address: "{{.peername}}_basic:9999", DialTimeout: "10s"}},
	}
}
