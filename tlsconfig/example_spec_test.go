package tlsconfig_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ccserver/ccserver/tlsconfig"
)

// A chaincode server and a peer, each built from a spec over files that
// rotate underneath them. The material is minted here with the standard
// library, so the example runs as it is.
func ExampleNewServer() {
	dir, err := os.MkdirTemp("", "tlsconfig-spec")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := mintFiles(dir); err != nil {
		fmt.Println(err)
		return
	}
	file := func(name string) string { return filepath.Join(dir, name) }

	srv, err := tlsconfig.NewServer(tlsconfig.ServerSpec{
		CertFile:     file("server.crt"),
		KeyFile:      file("server.key"),
		ClientCAFile: file("ca.crt"),
		// Only Org1's peers, and of those only the ones an inventory knows.
		IdentityRules: []tlsconfig.IdentityRule{{Organizations: []string{"Org1MSP"}}},
		Authorizer: func(chains [][]*x509.Certificate) error {
			if cn := chains[0][0].Subject.CommonName; cn != "peer0.org1.example.com" {
				return fmt.Errorf("%s is not in the inventory", cn)
			}
			return nil
		},
		Events: func(e tlsconfig.Event) { /* log e.String(), count e.Kind */ },
	})
	if err != nil {
		fmt.Println(err) // a *tlsconfig.FieldError naming the field
		return
	}
	defer srv.Close() // stops the file watchers
	// On SIGHUP: srv.Reload(). With grpc: grpc.Creds(credentials.NewTLS(srv.Config())).

	peer, err := tlsconfig.NewClient(tlsconfig.ClientSpec{
		CertFile:     file("peer.crt"),
		KeyFile:      file("peer.key"),
		ServerCAFile: file("ca.crt"),
		ServerName:   "localhost",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer peer.Close()

	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.Config())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, err = io.WriteString(c, "hello")
			c.Close()
		}
		served <- err
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), peer.Config())
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, err := io.ReadAll(conn)
	conn.Close()
	if err := errors.Join(err, <-served); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s over %s\n", msg, tls.VersionName(conn.ConnectionState().Version))
	// Output: hello over TLS 1.3
}

// mintFiles writes a CA (ca.crt), a server certificate for localhost and
// a peer's client certificate of Org1MSP, keys mode 0600.
func mintFiles(dir string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Org1 chaincode CA"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, "ca.crt"), "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	leaves := []struct {
		name string
		tmpl x509.Certificate
	}{
		{"server", x509.Certificate{Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}},
		{"peer", x509.Certificate{Subject: pkix.Name{CommonName: "peer0.org1.example.com", Organization: []string{"Org1MSP"}},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}},
	}
	for i, l := range leaves {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := l.tmpl
		tmpl.SerialNumber = big.NewInt(int64(i + 2))
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Minute), now.Add(time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca, key.Public(), caKey)
		if err != nil {
			return err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, l.name+".crt"), "CERTIFICATE", der, 0o644); err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, l.name+".key"), "PRIVATE KEY", keyDER, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func writePEM(path, blockType string, der []byte, perm os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), perm)
}

// Admit the peers of two organisations, each only through its own CA: the
// org is the subject O of the peer's client certificate.
func ExampleParseOrgAdmission() {
	for _, s := range []string{"Org1MSP=/etc/ccserver/orgs/org1-ca.pem", "Org2MSP=sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="} {
		a, err := tlsconfig.ParseOrgAdmission(s)
		fmt.Printf("%s: CA file %q, pins %v, %v\n", a.Org, a.CAFile, a.Pins, err)
	}
	// Output:
	// Org1MSP: CA file "/etc/ccserver/orgs/org1-ca.pem", pins [], <nil>
	// Org2MSP: CA file "", pins [sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=], <nil>
}
