package peerbench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ccserver/ccserver/ccaas"
	"github.com/ccserver/ccserver/e2e/internal/network"
)

// The two implementations, in the order they are reported.
const (
	Ours   = "ours"
	Anchor = "anchor"
)

// Impls are the implementations the benchmark compares.
var Impls = []string{Ours, Anchor}

// Chaincode is one deployed benchmark chaincode and the server process
// (cmd/benchcc) that serves it.
type Chaincode struct {
	Impl string
	Name string // the chaincode's name on the channel, peerbench_<impl>
	CCID string
	Addr string
	Proc *network.Process
}

// Stop stops the chaincode server.
func (c *Chaincode) Stop() error { return c.Proc.Stop(10 * time.Second) }

// Deploy serves the benchmark chaincode with impl's shim and makes it
// live on the channel, as an operator deploys chaincode as a service: a
// TLS CA with the server's certificate and the peer's client certificate,
// a ccaas package whose connection.json asks for mTLS (written with
// ccaas.WritePackage, the library behind ccpki package), the server
// started from serverBin (cmd/benchcc) on a free loopback port, the
// package installed, approved and committed with the peer CLI, and the
// state seeded by one submit through gw (which also makes the peer dial
// the server). Files go under dir/<impl>.
func Deploy(ctx context.Context, net *network.Network, gw *network.Gateway, serverBin, dir, impl string) (_ *Chaincode, err error) {
	if impl != Ours && impl != Anchor {
		return nil, fmt.Errorf("unknown implementation %q: want %s or %s", impl, Ours, Anchor)
	}
	dir = filepath.Join(dir, impl)
	files, err := writeTLS(filepath.Join(dir, "tls"))
	if err != nil {
		return nil, err
	}
	port, err := network.FreePort()
	if err != nil {
		return nil, err
	}
	c := &Chaincode{Impl: impl, Name: "peerbench_" + impl, Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	pkgFile, err := writePackage(filepath.Join(dir, c.Name+".tar.gz"), c.Name+"_1.0", c.Addr, files)
	if err != nil {
		return nil, err
	}
	c.CCID = pkgFile.id
	c.Proc, err = network.StartProcess("benchcc-"+impl, filepath.Join(dir, "benchcc.log"), nil, serverBin,
		"-impl", impl, "-address", c.Addr, "-ccid", c.CCID,
		"-tls-cert", files.ServerCert, "-tls-key", files.ServerKey, "-client-ca", files.CA)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if err := waitListening(ctx, c); err != nil {
		return nil, err
	}
	if err := net.Deploy(ctx, network.Chaincode{Name: c.Name, Package: pkgFile.path, PackageID: c.CCID}); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := gw.Contract(c.Name).SubmitWithContext(sctx, "seed"); err != nil {
		return nil, fmt.Errorf("seed %s: %s\nlast lines of %s:\n%s", c.Name, ErrorText(err), c.Proc.LogPath, c.Proc.Tail(20))
	}
	return c, nil
}

type packageFile struct{ path, id string }

// writePackage writes the ccaas package of a server at addr that the peer
// reaches over mTLS with the client certificate in files.
func writePackage(path, label, addr string, files tlsFiles) (packageFile, error) {
	var pems [3][]byte
	for i, f := range []string{files.CA, files.ClientCert, files.ClientKey} {
		var err error
		if pems[i], err = os.ReadFile(f); err != nil {
			return packageFile{}, err
		}
	}
	conn := ccaas.Connection{
		Address: addr, DialTimeout: "10s", TLSRequired: true, ClientAuthRequired: true,
		RootCert: string(pems[0]), ClientCert: string(pems[1]), ClientKey: string(pems[2]),
	}
	var b bytes.Buffer
	if err := ccaas.WritePackage(&b, label, conn); err != nil {
		return packageFile{}, err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return packageFile{}, err
	}
	return packageFile{path: path, id: ccaas.PackageID(label, b.Bytes())}, nil
}

// waitListening waits until the server accepts TCP connections (the
// anchor's Start listens by itself, so there is nothing else to wait on).
func waitListening(ctx context.Context, c *Chaincode) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", c.Addr)
		if err == nil {
			return conn.Close()
		}
		if done, exitErr := c.Proc.Exited(); done {
			return fmt.Errorf("%s exited at start (%v):\n%s", c.Proc.Name, exitErr, c.Proc.Tail(20))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not listening on %s: %w\n%s", c.Proc.Name, c.Addr, ctx.Err(), c.Proc.Tail(20))
		case <-time.After(20 * time.Millisecond):
		}
	}
}
