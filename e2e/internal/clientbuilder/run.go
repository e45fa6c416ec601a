package clientbuilder

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// TLSDir is the subdirectory of RUN_METADATA_DIR that run writes the TLS
// files into. The peer removes RUN_METADATA_DIR when run exits, so the
// key does not outlive the chaincode, and a subdirectory of our own
// cannot clash with files the peer puts there.
const TLSDir = "ccserver-tls"

// runConfig is RUN_METADATA_DIR/chaincode.json as the peer writes it
// (runConfig in core/container/externalbuilder). The PEM fields are empty
// when the peer's chaincode listener has no TLS.
type runConfig struct {
	CCID        string `json:"chaincode_id"`
	PeerAddress string `json:"peer_address"`
	ClientCert  string `json:"client_cert"`
	ClientKey   string `json:"client_key"`
	RootCert    string `json:"root_cert"`
	MSPID       string `json:"mspid"`
}

// managedEnv are the variables run sets or, to keep the contract
// unambiguous, removes from the inherited environment: shim.Start reads a
// _FILE before a _PATH, and a stale one from the peer's side must not win.
func managedEnv() []string {
	return []string{
		"CORE_CHAINCODE_ID_NAME",
		"CORE_PEER_TLS_ENABLED",
		"CORE_TLS_CLIENT_CERT_FILE",
		"CORE_TLS_CLIENT_CERT_PATH",
		"CORE_TLS_CLIENT_KEY_FILE",
		"CORE_TLS_CLIENT_KEY_PATH",
		"CORE_PEER_TLS_ROOTCERT_FILE",
		"CORE_PEER_LOCALMSPID",
		"CORE_PEER_ADDRESS",
	}
}

// Launch is what run execs: split from Exec so the environment and the
// files can be checked without replacing the process.
type Launch struct {
	Path string   // BUILD_OUTPUT_DIR/chaincode, absolute
	Argv []string // Path, -peer.address=ADDR
	Env  []string // the inherited environment with the CORE_* contract
}

// PrepareRun reads RUN_METADATA_DIR/chaincode.json, writes the TLS files
// the shim reads (client.key 0600, exactly the bytes the peer sent: its
// PKCS#8-in-"EC PRIVATE KEY" PEM is the shim's to parse) and returns the
// launch of the program built into buildDir. environ is the environment
// to pass on — the peer gives run only PATH, TMPDIR, LD_LIBRARY_PATH,
// LIBPATH and the builder's propagateEnvironment.
func PrepareRun(buildDir, runMetadataDir string, environ []string) (*Launch, error) {
	rc, err := readRunConfig(runMetadataDir)
	if err != nil {
		return nil, err
	}
	prog, err := filepath.Abs(filepath.Join(buildDir, ProgramName))
	if err != nil {
		return nil, fmt.Errorf("locate the program: %w", err)
	}
	fi, err := os.Stat(prog)
	if err != nil {
		return nil, fmt.Errorf("the build output has no program: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o100 == 0 {
		return nil, fmt.Errorf("the program %s is not an executable file (mode %v)", prog, fi.Mode())
	}

	env := map[string]string{
		"CORE_CHAINCODE_ID_NAME": rc.CCID,
		"CORE_PEER_ADDRESS":      rc.PeerAddress,
		"CORE_PEER_LOCALMSPID":   rc.MSPID,
		"CORE_PEER_TLS_ENABLED":  "false",
	}
	if rc.ClientCert != "" || rc.ClientKey != "" || rc.RootCert != "" {
		files, err := writeTLSFiles(runMetadataDir, rc)
		if err != nil {
			return nil, err
		}
		env["CORE_PEER_TLS_ENABLED"] = "true"
		for k, v := range files {
			env[k] = v
		}
	}

	l := &Launch{Path: prog, Argv: []string{prog, "-peer.address=" + rc.PeerAddress}}
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(managedEnv(), k) {
			l.Env = append(l.Env, kv)
		}
	}
	for _, k := range managedEnv() {
		if v, ok := env[k]; ok {
			l.Env = append(l.Env, k+"="+v)
		}
	}
	return l, nil
}

func readRunConfig(runMetadataDir string) (runConfig, error) {
	var rc runConfig
	p := filepath.Join(runMetadataDir, "chaincode.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return rc, fmt.Errorf("read the peer's run metadata: %w", err)
	}
	if err := json.Unmarshal(b, &rc); err != nil {
		return rc, fmt.Errorf("parse the peer's run metadata %s: %w", p, err)
	}
	switch {
	case rc.CCID == "":
		return rc, fmt.Errorf("%s has no chaincode_id", p)
	case rc.PeerAddress == "":
		return rc, fmt.Errorf("%s has no peer_address", p)
	}
	return rc, nil
}

// writeTLSFiles writes the peer's TLS material and returns the variables
// naming it. The peer sends all three PEMs or none; a part of them would
// make a connection that fails later and further from the cause.
func writeTLSFiles(runMetadataDir string, rc runConfig) (map[string]string, error) {
	for name, v := range map[string]string{"client_cert": rc.ClientCert, "client_key": rc.ClientKey, "root_cert": rc.RootCert} {
		if v == "" {
			return nil, fmt.Errorf("chaincode.json has TLS material but an empty %s", name)
		}
	}
	dir, err := filepath.Abs(filepath.Join(runMetadataDir, TLSDir))
	if err != nil {
		return nil, fmt.Errorf("locate the TLS directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the TLS directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("restrict the TLS directory: %w", err)
	}
	files := []struct {
		env, name, pem string
		perm           os.FileMode
	}{
		{"CORE_TLS_CLIENT_CERT_FILE", "client.crt", rc.ClientCert, 0o644},
		{"CORE_TLS_CLIENT_KEY_FILE", "client.key", rc.ClientKey, 0o600},
		{"CORE_PEER_TLS_ROOTCERT_FILE", "root.crt", rc.RootCert, 0o644},
	}
	vars := make(map[string]string, len(files))
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := writeFile(p, []byte(f.pem), f.perm); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.name, err)
		}
		vars[f.env] = p
	}
	return vars, nil
}

// writeFile writes data with exactly mode perm, also over an older file
// that had a wider one.
func writeFile(p string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Exec replaces this process with the program, so the peer's signals
// reach the chaincode and its exit status is the chaincode's. It returns
// only on failure.
func (l *Launch) Exec() error {
	if err := syscall.Exec(l.Path, l.Argv, l.Env); err != nil {
		return fmt.Errorf("exec %s: %w", l.Path, err)
	}
	return nil
}
