package tlsconfig_test

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
)

func pemCRL(der ...[]byte) []byte {
	var out []byte
	for _, d := range der {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: d})...)
	}
	return out
}

func TestCRLPolicy(t *testing.T) {
	ca := testpki.NewCA(t)
	inter := ca.Intermediate(t)
	now := time.Now()
	fresh := func(c *testpki.CA, serials ...*big.Int) []byte {
		return c.CRL(t, now.Add(-time.Minute), now.Add(time.Hour), serials...)
	}
	stale := ca.CRL(t, now.Add(-2*time.Hour), now.Add(-time.Hour))
	direct := ca.Client(t, testpki.WithSerial(10))
	viaInter := inter.Client(t, testpki.WithSerial(11))
	trustPEM := append(append([]byte{}, ca.CertPEM...), inter.CertPEM...)
	for _, tc := range []struct {
		name     string
		crl      []byte
		client   *testpki.Leaf
		failOpen bool
		want     error // nil: admitted
		wantEv   tlsconfig.EventKind
	}{
		{name: "DER, not listed", crl: fresh(ca), client: direct},
		{name: "DER, listed", crl: fresh(ca, big.NewInt(10)), client: direct, want: tlsconfig.ErrRevoked},
		{name: "PEM with two CRLs, leaf listed", crl: pemCRL(fresh(ca), fresh(inter, big.NewInt(11))), client: viaInter, want: tlsconfig.ErrRevoked},
		{name: "PEM with two CRLs, intermediate listed", crl: pemCRL(fresh(ca, inter.Cert.SerialNumber), fresh(inter)), client: viaInter, want: tlsconfig.ErrRevoked},
		{name: "PEM with two CRLs, clean", crl: pemCRL(fresh(ca), fresh(inter)), client: viaInter},
		{name: "no CRL for the intermediate fails closed", crl: fresh(ca), client: viaInter, want: tlsconfig.ErrCRLStale},
		{name: "no CRL for the intermediate, fail open", crl: fresh(ca), client: viaInter, failOpen: true},
		{name: "stale CRL fails closed", crl: stale, client: direct, want: tlsconfig.ErrCRLStale, wantEv: tlsconfig.EventCRLStale},
		{name: "stale CRL, fail open", crl: stale, client: direct, failOpen: true, wantEv: tlsconfig.EventCRLStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "crl.pem")
			writeAtomic(t, file, tc.crl, 0o644)
			var ev events
			opts := []tlsconfig.SourceOption{ev.option()}
			if tc.failOpen {
				opts = append(opts, tlsconfig.WithCRLFailOpen())
			}
			trust := mustStaticTrust(t, trustPEM)
			crl, err := tlsconfig.NewFileCRL(file, trust, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer crl.Close()
			srv, err := tlsconfig.ServerConfig(mustStaticIdentity(t, ca.Server(t)), tlsconfig.WithClientTrust(trust), tlsconfig.WithCRL(crl))
			if err != nil {
				t.Fatal(err)
			}
			r := handshake(t, srv, plainClient(ca, tc.client, t))
			if tc.want == nil {
				if r.serverErr != nil || r.clientErr != nil {
					t.Fatalf("want admitted; server %v client %v", r.serverErr, r.clientErr)
				}
			} else {
				if !errors.Is(r.serverErr, tc.want) || reasonOf(r.serverErr) != tlsconfig.ReasonRevoked {
					t.Fatalf("server %v, want %v with reason revoked", r.serverErr, tc.want)
				}
				if r.clientErr == nil {
					t.Fatal("client admitted")
				}
			}
			if tc.wantEv != 0 {
				ev.waitKind(t, tc.wantEv, nil)
			}
		})
	}
}

func TestCRLLoadErrors(t *testing.T) {
	ca, other := testpki.NewCA(t), testpki.NewCA(t, testpki.WithCommonName("other CA"))
	now := time.Now()
	trust := mustStaticTrust(t, ca.CertPEM)
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"signed by a CA outside the bundle", other.CRL(t, now, now.Add(time.Hour)), tlsconfig.ErrCRLSignature},
		{"garbage", []byte("garbage"), nil},
		{"PEM without CRL", ca.CertPEM, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "crl.pem")
			writeAtomic(t, file, tc.data, 0o644)
			_, err := tlsconfig.NewFileCRL(file, trust)
			var fe *tlsconfig.FileError
			if !errors.As(err, &fe) || fe.File != file {
				t.Fatalf("err %v: want a FileError naming %s", err, file)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

// TestRevokeOpenConnection: revocation applies to the next handshake; an
// open connection stays until the serving layer calls Check and closes it.
func TestRevokeOpenConnection(t *testing.T) {
	ca := testpki.NewCA(t)
	client := ca.Client(t, testpki.WithSerial(99))
	trust := mustStaticTrust(t, ca.CertPEM)
	file := filepath.Join(t.TempDir(), "crl.pem")
	now := time.Now()
	writeAtomic(t, file, pemCRL(ca.CRL(t, now.Add(-time.Minute), now.Add(time.Hour))), 0o644)
	var ev events
	crl, err := tlsconfig.NewFileCRL(file, trust, tlsconfig.WithPollInterval(time.Hour), ev.option())
	if err != nil {
		t.Fatal(err)
	}
	defer crl.Close()
	srv, err := tlsconfig.ServerConfig(mustStaticIdentity(t, ca.Server(t)), tlsconfig.WithClientTrust(trust), tlsconfig.WithCRL(crl))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *tls.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		tc := tls.Server(c, srv)
		if tc.Handshake() != nil {
			c.Close()
			close(accepted)
			return
		}
		accepted <- tc
	}()
	cc, err := tls.Dial("tcp", ln.Addr().String(), plainClient(ca, client, t))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sc := <-accepted
	if sc == nil {
		t.Fatal("server handshake failed")
	}
	defer sc.Close()
	if err := crl.Check(sc.ConnectionState()); err != nil {
		t.Fatalf("Check before revocation: %v", err)
	}
	writeAtomic(t, file, pemCRL(ca.CRL(t, now, now.Add(time.Hour), big.NewInt(99))), 0o644)
	ev.waitKind(t, tlsconfig.EventRotated, nil) // reload by directory watch
	if !crl.IsRevoked(client.Cert) {
		t.Fatal("IsRevoked = false after reload")
	}
	// The open connection still works...
	go func() { _, _ = sc.Write([]byte("x")) }()
	var b [1]byte
	if _, err := cc.Read(b[:]); err != nil {
		t.Fatalf("open connection broken by the reload: %v", err)
	}
	// ...and Check tells the serving layer to close it.
	if err := crl.Check(sc.ConnectionState()); !errors.Is(err, tlsconfig.ErrRevoked) || reasonOf(err) != tlsconfig.ReasonRevoked {
		t.Fatalf("Check after revocation: %v", err)
	}
	// A garbage CRL keeps the last good list.
	writeAtomic(t, file, []byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"), 0o644)
	if err := crl.Reload(); err == nil {
		t.Fatal("garbage CRL loaded")
	}
	ev.waitKind(t, tlsconfig.EventReloadFailed, nil)
	if !crl.IsRevoked(client.Cert) {
		t.Fatal("last good CRL lost after a bad reload")
	}
}
