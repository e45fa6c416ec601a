package tlsconfig_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
)

// exampleT lets examples mint test certificates: testpki only calls
// Helper and Fatalf.
type exampleT struct{ testing.TB }

func (exampleT) Helper()                        {}
func (exampleT) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }

// exampleFiles writes a server certificate, key and client CA the way
// cert-manager lays them out, and returns the directory.
func exampleFiles() (dir string, ca *testpki.CA) {
	dir, err := os.MkdirTemp("", "tlsconfig-example")
	if err != nil {
		panic(err)
	}
	ca = testpki.NewCA(exampleT{})
	ca.Server(exampleT{}).WriteFiles(exampleT{}, dir)
	return dir, ca
}

// A chaincode server with files that rotate underneath it.
func ExampleServerConfig() {
	dir, _ := exampleFiles()
	defer os.RemoveAll(dir)

	id, err := tlsconfig.NewFileIdentity(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"),
		tlsconfig.WithEvents(func(e tlsconfig.Event) { /* log e.String(), update metrics */ }))
	if err != nil {
		fmt.Println(err) // names the file and the fix
		return
	}
	defer id.Close() // stops the watcher
	peers, err := tlsconfig.NewFileTrust(filepath.Join(dir, "ca.crt"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer peers.Close()

	cfg, err := tlsconfig.ServerConfig(id, tlsconfig.WithClientTrust(peers),
		tlsconfig.WithIdentityRules(tlsconfig.IdentityRule{Organizations: []string{"Org1MSP"}}))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Hand cfg to grpc: grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg))).
	// On SIGHUP: id.Reload(); peers.Reload().
	fmt.Println(tls.VersionName(cfg.MinVersion), cfg.NextProtos)
	// Output: TLS 1.2 [h2]
}

// A server must decide about client authentication explicitly.
func ExampleServerConfig_noClientTrust() {
	dir, _ := exampleFiles()
	defer os.RemoveAll(dir)
	id, err := tlsconfig.NewFileIdentity(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer id.Close()
	_, err = tlsconfig.ServerConfig(id)
	fmt.Println(errors.Is(err, tlsconfig.ErrNoClientTrust))
	// Output: true
}

// A chaincode in client mode dialing its peer, with the peer's CA pinned.
// Old and new pins overlap while the CA rotates.
func ExampleClientConfig() {
	dir, ca := exampleFiles()
	defer os.RemoveAll(dir)
	roots, err := tlsconfig.NewFileTrust(filepath.Join(dir, "ca.crt"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer roots.Close()
	oldPin, _ := tlsconfig.ParsePin(testpki.SPKIPin(ca.Cert))
	newPin, _ := tlsconfig.ParsePin("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	cfg, err := tlsconfig.ClientConfig(roots, tlsconfig.WithServerName("peer0.org1.example.com"),
		tlsconfig.WithPins(oldPin, newPin))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.ServerName)
	// Output: peer0.org1.example.com
}

func ExampleParsePin() {
	p, err := tlsconfig.ParsePin("E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55")
	fmt.Println(p, err)
	// Output: sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= <nil>
}

// A renewer pushes each new certificate; handshakes pick it up at once.
func ExamplePushedIdentity() {
	ca := testpki.NewCA(exampleT{})
	p := tlsconfig.NewPushedIdentity()
	if err := p.Set(ca.Server(exampleT{}).TLSCertificate(exampleT{})); err != nil {
		fmt.Println(err)
		return
	}
	_, err := tlsconfig.ServerConfig(p, tlsconfig.WithInsecureNoClientAuth())
	fmt.Println(err)
	// Output: <nil>
}

// After a CRL reload, a serving layer re-checks its open connections and
// closes the refused ones once they are idle.
func ExampleFileCRL_Check() {
	dir, ca := exampleFiles()
	defer os.RemoveAll(dir)
	peer := ca.Client(exampleT{})
	now := time.Now()
	crlFile := filepath.Join(dir, "ca.crl")
	_ = os.WriteFile(crlFile, ca.CRL(exampleT{}, now, now.Add(time.Hour), peer.Cert.SerialNumber), 0o644)

	trust, _ := tlsconfig.NewFileTrust(filepath.Join(dir, "ca.crt"))
	defer trust.Close()
	crl, err := tlsconfig.NewFileCRL(crlFile, trust)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer crl.Close()

	// In a server this is conn.ConnectionState() of each open connection.
	state := tls.ConnectionState{PeerCertificates: []*x509.Certificate{peer.Cert}}
	if err := crl.Check(state); errors.Is(err, tlsconfig.ErrRevoked) {
		fmt.Println("close when idle:", err.(*tlsconfig.HandshakeError).Reason)
	}
	// Output: close when idle: revoked
}

// A CA with an intermediate: the bundle holds the root only and the CRL
// file the intermediate's CRL, which is checked against the intermediate
// the peer presents. The root's CRL is optional unless
// WithCRLRequireFullChain.
func ExampleWithCRLRequireFullChain() {
	dir, ca := exampleFiles() // ca.crt holds the root only
	defer os.RemoveAll(dir)
	inter := ca.Intermediate(exampleT{})
	peer := inter.Client(exampleT{})
	now := time.Now()
	crlFile := filepath.Join(dir, "crl.pem")
	_ = os.WriteFile(crlFile, inter.CRL(exampleT{}, now, now.Add(time.Hour)), 0o644)

	trust, _ := tlsconfig.NewFileTrust(filepath.Join(dir, "ca.crt"))
	defer trust.Close()
	state := tls.ConnectionState{PeerCertificates: []*x509.Certificate{peer.Cert, inter.Cert}}
	for _, opts := range [][]tlsconfig.SourceOption{nil, {tlsconfig.WithCRLRequireFullChain()}} {
		crl, err := tlsconfig.NewFileCRL(crlFile, trust, opts...)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(errors.Is(crl.Check(state), tlsconfig.ErrCRLStale))
		crl.Close()
	}
	// Output:
	// false
	// true
}

// A command line binds its flags onto a spec, validates it before it binds
// a port, and words the spec's errors with its own flag names.
func ExampleFieldError() {
	flags := map[string]string{"CertFile": "--tls-cert", "KeyFile": "--tls-key",
		"ClientCAFile": "--client-ca", "InsecureNoClientAuth": "--insecure-no-client-auth"}
	spec := tlsconfig.ServerSpec{CertFile: "tls.crt", KeyFile: "tls.key"}
	err := spec.Validate()
	var fe *tlsconfig.FieldError
	if errors.As(err, &fe) {
		fmt.Println(fe.Field, errors.Is(err, tlsconfig.ErrMissing))
		fmt.Println(err)
		fmt.Println(tlsconfig.Rename(err, func(field string) string { return flags[field] }))
	}
	// Output:
	// ClientCAFile true
	// tlsconfig: no client CA, so no peer could be verified: give ClientCAFile or ClientCACerts or ClientTrust with the CA that issued the peers' certificates, or InsecureNoClientAuth to admit any client
	// no client CA, so no peer could be verified: give --client-ca with the CA that issued the peers' certificates, or --insecure-no-client-auth to admit any client
}
