package network

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"text/template"

	"gopkg.in/yaml.v3"
)

// FreePort returns a loopback port nothing listens on right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func writeTemplate(path, text string, data any) error {
	t, err := template.New(filepath.Base(path)).Parse(text)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// cryptoConfig is cryptogen's input: one orderer org and the peer orgs,
// every node valid for 127.0.0.1 so nothing needs a host name.
const cryptoConfig = `OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
        SANS: [localhost, 127.0.0.1]
PeerOrgs:
{{- range .}}
  - Name: {{.Name}}
    Domain: {{.Domain}}
    EnableNodeOUs: true
    Template:
      Count: 1
      SANS: [localhost, 127.0.0.1]
    Users:
      Count: 1
{{- end}}
`

// configtx is configtxgen's input, with absolute paths. Application
// capability V2_5 is what PurgePrivateData needs.
const configtx = `Organizations:
  - &OrdererOrg
    Name: OrdererOrg
    ID: OrdererMSP
    MSPDir: {{.Crypto}}/ordererOrganizations/example.com/msp
    Policies:
      Readers: {Type: Signature, Rule: "OR('OrdererMSP.member')"}
      Writers: {Type: Signature, Rule: "OR('OrdererMSP.member')"}
      Admins: {Type: Signature, Rule: "OR('OrdererMSP.admin')"}
    OrdererEndpoints: [127.0.0.1:{{.OrdererPort}}]
{{- range .Orgs}}
  - &{{.Name}}
    Name: {{.MSPID}}
    ID: {{.MSPID}}
    MSPDir: {{$.Crypto}}/peerOrganizations/{{.Domain}}/msp
    Policies:
      Readers: {Type: Signature, Rule: "OR('{{.MSPID}}.admin', '{{.MSPID}}.peer', '{{.MSPID}}.client')"}
      Writers: {Type: Signature, Rule: "OR('{{.MSPID}}.admin', '{{.MSPID}}.client')"}
      Admins: {Type: Signature, Rule: "OR('{{.MSPID}}.admin')"}
      Endorsement: {Type: Signature, Rule: "OR('{{.MSPID}}.peer')"}
{{- end}}
Profiles:
  E2E:
    Policies:
      Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
      Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
      Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
    Capabilities: {V2_0: true}
    Orderer:
      OrdererType: etcdraft
      BatchTimeout: 100ms
      BatchSize: {MaxMessageCount: 50, AbsoluteMaxBytes: 64 MB, PreferredMaxBytes: 2 MB}
      EtcdRaft:
        Consenters:
          - Host: 127.0.0.1
            Port: {{.OrdererPort}}
            ClientTLSCert: {{.Crypto}}/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt
            ServerTLSCert: {{.Crypto}}/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt
      Organizations: [*OrdererOrg]
      Policies:
        Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
        Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
        Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
        BlockValidation: {Type: ImplicitMeta, Rule: "ANY Writers"}
      Capabilities: {V2_0: true}
    Application:
      Organizations: [{{range $i, $o := .Orgs}}{{if $i}}, {{end}}*{{$o.Name}}{{end}}]
      Policies:
        Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
        Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
        Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
        LifecycleEndorsement: {Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}
        Endorsement: {Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}
      Capabilities: {V2_5: true}
`

// patchCoreYAML writes a copy of the release's core.yaml with no Docker
// endpoint and the given external builders. It edits the YAML tree, not
// text, because the two release lines indent the file differently.
func patchCoreYAML(src, dst string, builders []Builder) error {
	raw, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	vm := lookup(doc.Content[0], "vm")
	cc := lookup(doc.Content[0], "chaincode")
	if vm == nil || cc == nil {
		return fmt.Errorf("%s: no vm or chaincode section", src)
	}
	setScalar(vm, "endpoint", "")
	var list yaml.Node
	if err := list.Encode(builders); err != nil {
		return err
	}
	setNode(cc, "externalBuilders", &list)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, out, 0o644)
}

// Builder is one entry of core.yaml's chaincode.externalBuilders.
type Builder struct {
	Name                 string   `yaml:"name"`
	Path                 string   `yaml:"path"`
	PropagateEnvironment []string `yaml:"propagateEnvironment,omitempty"`
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setNode(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

func setScalar(m *yaml.Node, key, value string) {
	setNode(m, key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}
