package clientbuilder

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// peerTLS returns PEMs shaped like the peer's: the key is PKCS#8 DER in a
// block labelled "EC PRIVATE KEY" (Fabric's tlsgen). Made at run time so
// no key text is committed.
func peerTLS(t *testing.T) (cert, key, root string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	key = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	cert = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("client placeholder")}))
	root = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("root placeholder")}))
	return cert, key, root
}

func writeRunConfig(t *testing.T, rc runConfig) string {
	t.Helper()
	dir := t.TempDir()
	b, err := json.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "chaincode.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func buildDirWithProgram(t *testing.T, perm os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ProgramName), []byte("#!/bin/sh\n"), perm); err != nil {
		t.Fatal(err)
	}
	return dir
}

// envMap fails on duplicate keys: which of two values a program sees is
// up to its getenv.
func envMap(t *testing.T, env []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("env entry %q has no '='", kv)
		}
		if _, dup := m[k]; dup {
			t.Fatalf("env has %s twice: %q", k, env)
		}
		m[k] = v
	}
	return m
}

func TestPrepareRunTLS(t *testing.T) {
	cert, key, root := peerTLS(t)
	rc := runConfig{CCID: "mycc_1:0123abcd", PeerAddress: "127.0.0.1:7052", ClientCert: cert, ClientKey: key, RootCert: root, MSPID: "Org1MSP"}
	meta := writeRunConfig(t, rc)
	bld := buildDirWithProgram(t, 0o755)
	inherited := []string{
		"PATH=/usr/bin:/bin", "TMPDIR=/tmp", "GOCOVERDIR=/cov",
		// stale values from the peer's side must not reach the program
		"CORE_TLS_CLIENT_KEY_PATH=/stale/key.b64", "CORE_PEER_TLS_ENABLED=false", "CORE_PEER_ADDRESS=stale:1",
	}
	l, err := PrepareRun(bld, meta, inherited)
	if err != nil {
		t.Fatal(err)
	}

	prog := filepath.Join(bld, ProgramName)
	if l.Path != prog || !slices.Equal(l.Argv, []string{prog, "-peer.address=127.0.0.1:7052"}) {
		t.Fatalf("launch %s %q", l.Path, l.Argv)
	}
	tlsDir := filepath.Join(meta, TLSDir)
	want := map[string]string{
		"PATH": "/usr/bin:/bin", "TMPDIR": "/tmp", "GOCOVERDIR": "/cov",
		"CORE_CHAINCODE_ID_NAME":      rc.CCID,
		"CORE_PEER_ADDRESS":           rc.PeerAddress,
		"CORE_PEER_LOCALMSPID":        "Org1MSP",
		"CORE_PEER_TLS_ENABLED":       "true",
		"CORE_TLS_CLIENT_CERT_FILE":   filepath.Join(tlsDir, "client.crt"),
		"CORE_TLS_CLIENT_KEY_FILE":    filepath.Join(tlsDir, "client.key"),
		"CORE_PEER_TLS_ROOTCERT_FILE": filepath.Join(tlsDir, "root.crt"),
	}
	got := envMap(t, l.Env)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("env %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("env = %q, want exactly %v", l.Env, want)
	}

	for name, content := range map[string]string{"client.crt": cert, "client.key": key, "root.crt": root} {
		b, err := os.ReadFile(filepath.Join(tlsDir, name))
		if err != nil || string(b) != content {
			t.Errorf("%s = %q, %v; want the peer's bytes unchanged", name, b, err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(tlsDir, "client.key")); fi.Mode().Perm() != 0o600 {
		t.Errorf("client.key mode %v, want 0600", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(tlsDir); fi.Mode().Perm() != 0o700 {
		t.Errorf("%s mode %v, want 0700", TLSDir, fi.Mode().Perm())
	}
}

func TestPrepareRunWithoutTLS(t *testing.T) {
	meta := writeRunConfig(t, runConfig{CCID: "cc:00", PeerAddress: "peer0:7052", MSPID: "Org1MSP"})
	l, err := PrepareRun(buildDirWithProgram(t, 0o755), meta, []string{"PATH=/bin", "CORE_TLS_CLIENT_KEY_FILE=/stale"})
	if err != nil {
		t.Fatal(err)
	}
	got := envMap(t, l.Env)
	want := map[string]string{"PATH": "/bin", "CORE_CHAINCODE_ID_NAME": "cc:00", "CORE_PEER_ADDRESS": "peer0:7052", "CORE_PEER_LOCALMSPID": "Org1MSP", "CORE_PEER_TLS_ENABLED": "false"}
	if len(got) != len(want) {
		t.Fatalf("env = %q, want exactly %v", l.Env, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("env %s = %q, want %q", k, got[k], v)
		}
	}
	if _, err := os.Stat(filepath.Join(meta, TLSDir)); err == nil {
		t.Errorf("TLS files written although the peer sent none")
	}
}

func TestPrepareRunRefuses(t *testing.T) {
	cert, key, _ := peerTLS(t)
	good := buildDirWithProgram(t, 0o755)
	cases := []struct {
		name, bld, meta, want string
	}{
		{"no chaincode.json", good, t.TempDir(), "read the peer's run metadata"},
		{"no chaincode_id", good, writeRunConfig(t, runConfig{PeerAddress: "p:1"}), "no chaincode_id"},
		{"no peer_address", good, writeRunConfig(t, runConfig{CCID: "cc:00"}), "no peer_address"},
		{"part of the TLS material", good, writeRunConfig(t, runConfig{CCID: "cc:00", PeerAddress: "p:1", ClientCert: cert, ClientKey: key}), "empty root_cert"},
		{"no program", t.TempDir(), writeRunConfig(t, runConfig{CCID: "cc:00", PeerAddress: "p:1"}), "the build output has no program"},
		{"program not executable", buildDirWithProgram(t, 0o644), writeRunConfig(t, runConfig{CCID: "cc:00", PeerAddress: "p:1"}), "not an executable file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := PrepareRun(c.bld, c.meta, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("PrepareRun = %v, want an error containing %q", err, c.want)
			}
		})
	}
}
