package ccaas_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ccserver/ccserver/ccaas"
)

func ExampleParseConnection() {
	conn, err := ccaas.ParseConnection([]byte(`{"address":"basic.org1.example.com:9999","dial_timeout":"10s","tls_required":false}`))
	fmt.Println(conn.Address, conn.DialTimeout, conn.TLSRequired, err)

	// A quoted boolean fails, as it does in the peer's ccaas builder.
	_, err = ccaas.ParseConnection([]byte(`{"address":"cc:9999","tls_required":"true"}`))
	var fe *ccaas.FieldError
	fmt.Println(errors.As(err, &fe), fe.Field, errors.Is(err, ccaas.ErrType))
	// Output:
	// basic.org1.example.com:9999 10s false <nil>
	// true tls_required true
}

func ExampleConnection_Validate() {
	conn := ccaas.Connection{Address: "cc.example.com:9999", DialTimeout: "10s", TLSRequired: true}
	err := conn.Validate()
	fmt.Println(err)
	fmt.Println(errors.Is(err, ccaas.ErrMissing))
	// Output:
	// connection.json: root_cert: missing: tls_required is true but there is no CA certificate of the chaincode server (the peer: "chaincode tls root cert not provided")
	// true
}

func ExampleConnection_Render() {
	// One package for every peer; each peer's builder fills in its name
	// from CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG.
	conn := ccaas.Connection{Address: "{{.peername}}_basic:9999", DialTimeout: "10s"}
	rendered, err := conn.Render([]byte(`{"peername":"peer0org1"}`))
	fmt.Println(rendered.Address, err)

	// A key the config lacks fails, as in the builder (missingkey=error).
	_, err = conn.Render([]byte(`{"peer":"peer0org1"}`))
	fmt.Println(errors.Is(err, ccaas.ErrTemplate))
	// Output:
	// peer0org1_basic:9999 <nil>
	// true
}

func ExampleConnection_Marshal() {
	b, err := ccaas.Connection{Address: "localhost:9999", DialTimeout: "10s"}.Marshal()
	fmt.Print(string(b), err, "\n")
	// Output:
	// {
	//   "address": "localhost:9999",
	//   "dial_timeout": "10s",
	//   "tls_required": false,
	//   "client_auth_required": false
	// }
	// <nil>
}

func ExampleConnection_Timeout() {
	for _, s := range []string{"10s", "0s"} {
		d, err := ccaas.Connection{DialTimeout: s}.Timeout()
		fmt.Println(d, err)
	}
	// Output:
	// 10s <nil>
	// 3s <nil>
}

func ExampleConnection_ServerName() {
	conn := ccaas.Connection{Address: "10.0.0.7:9999", TLSRequired: true}
	fmt.Println(conn.ServerName())
	conn.ClientAuthRequired, conn.Domain = true, "basic.org1.example.com"
	fmt.Println(conn.ServerName())
	// Output:
	// 10.0.0.7
	// basic.org1.example.com
}

func ExampleWritePackage() {
	conn := ccaas.Connection{Address: "localhost:9999", DialTimeout: "10s"}
	var pkg bytes.Buffer
	if err := ccaas.WritePackage(&pkg, "basic_1.0", conn); err != nil {
		fmt.Println(err)
		return
	}
	// 0600: with client authentication the package holds the peer's key.
	file := filepath.Join(os.TempDir(), "basic.tar.gz")
	if err := os.WriteFile(file, pkg.Bytes(), 0o600); err != nil {
		fmt.Println(err)
		return
	}
	defer os.Remove(file)
	// The id "peer lifecycle chaincode install basic.tar.gz" reports; the
	// chaincode server must register with it.
	fmt.Println(ccaas.PackageID("basic_1.0", pkg.Bytes()))
	// Output:
	// basic_1.0:f292067b4ac4e725891495f2b862ddd1a85fc2a747f37268331a31868c830647
}

func ExampleReadPackage() {
	var pkg bytes.Buffer
	if err := ccaas.WritePackage(&pkg, "basic_1.0", ccaas.Connection{Address: "{{.peername}}:9999", DialTimeout: "10s"}); err != nil {
		fmt.Println(err)
		return
	}
	label, conn, err := ccaas.ReadPackage(&pkg)
	fmt.Println(label, conn.Address, err)
	// Output:
	// basic_1.0 {{.peername}}:9999 <nil>
}

func ExamplePackageID() {
	fmt.Println(ccaas.PackageID("basic_1.0", []byte("package bytes")))
	// Output:
	// basic_1.0:2e547448dcd0f2fcd9dbc386d33f1553369883451898177559bcf3e3b1083d16
}

func ExampleValidLabel() {
	fmt.Println(ccaas.ValidLabel("basic_1.0"), ccaas.ValidLabel("basic 1.0"))
	// Output:
	// true false
}

// A fleet package: the per-peer fields are templates, so every peer
// installs the same package (one package id) and its builder config
// supplies its own client certificate and key and the server's CA.
func ExampleConnection_Templates() {
	conn := ccaas.Connection{
		Address: "cc.example.com:9999", DialTimeout: "10s", TLSRequired: true, ClientAuthRequired: true,
		RootCert:   ccaas.TemplateField("root_cert"),
		ClientCert: ccaas.TemplateField("client_cert"),
		ClientKey:  ccaas.TemplateField("client_key"),
	}
	t := conn.Templates()
	for _, k := range []string{"address", "root_cert", "client_cert", "client_key"} {
		fmt.Printf("%s: %q\n", k, t[k])
	}
	// Output:
	// address: ""
	// root_cert: "{{.root_cert}}"
	// client_cert: "{{.client_cert}}"
	// client_key: "{{.client_key}}"
}
