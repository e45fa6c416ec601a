package tlsconfig_test

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"strings"
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

// crlServer writes crl to a file and returns a FileCRL on it and a server
// config (certificate from ca) requiring clients from bundle and checking
// that CRL. Both are closed with the test.
func crlServer(t *testing.T, ca *testpki.CA, bundle, crl []byte, opts ...tlsconfig.SourceOption) (string, *tlsconfig.FileCRL, *tls.Config) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "crl.pem")
	writeAtomic(t, file, crl, 0o644)
	trust := mustStaticTrust(t, bundle)
	src, err := tlsconfig.NewFileCRL(file, trust, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	srv, err := tlsconfig.ServerConfig(mustStaticIdentity(t, ca.Server(t)), tlsconfig.WithClientTrust(trust), tlsconfig.WithCRL(src))
	if err != nil {
		t.Fatal(err)
	}
	return file, src, srv
}

func TestCRLPolicy(t *testing.T) {
	ca := testpki.NewCA(t)
	inter := ca.Intermediate(t)
	// Unrelated CAs: one whose intermediate has the same name as ours
	// (testpki's default), one with names of its own.
	twin := testpki.NewCA(t).Intermediate(t)
	stranger := testpki.NewCA(t, testpki.WithCommonName("stranger root")).Intermediate(t, testpki.WithCommonName("stranger intermediate"))
	now := time.Now()
	fresh := func(c *testpki.CA, serials ...*big.Int) []byte {
		return c.CRL(t, now.Add(-time.Minute), now.Add(time.Hour), serials...)
	}
	stale := func(c *testpki.CA) []byte { return c.CRL(t, now.Add(-2*time.Hour), now.Add(-time.Hour)) }
	direct := ca.Client(t, testpki.WithSerial(10))
	viaInter := inter.Client(t, testpki.WithSerial(11))
	rootOnly := ca.CertPEM
	rootAndInter := append(append([]byte{}, ca.CertPEM...), inter.CertPEM...)
	for _, tc := range []struct {
		name      string
		bundle    []byte
		crl       []byte
		client    *testpki.Leaf
		failOpen  bool
		fullChain bool
		want      []error // nil: admitted
		wantEv    tlsconfig.EventKind
	}{
		// Leaves issued by the root.
		{name: "root leaf, DER, not listed", bundle: rootOnly, crl: fresh(ca), client: direct},
		{name: "root leaf, DER, listed", bundle: rootOnly, crl: fresh(ca, big.NewInt(10)), client: direct, want: []error{tlsconfig.ErrRevoked}},
		{name: "root leaf, stale CRL fails closed", bundle: rootOnly, crl: stale(ca), client: direct, want: []error{tlsconfig.ErrCRLStale}, wantEv: tlsconfig.EventCRLStale},
		{name: "root leaf, stale CRL, fail open", bundle: rootOnly, crl: stale(ca), client: direct, failOpen: true, wantEv: tlsconfig.EventCRLStale},
		{name: "root leaf, intermediate's CRL only", bundle: rootOnly, crl: fresh(inter), client: direct, want: []error{tlsconfig.ErrCRLStale}},

		// Bundle = root only, the intermediate's CRL verified against
		// the intermediate the peer sent.
		{name: "root bundle, intermediate CRL, clean", bundle: rootOnly, crl: fresh(inter), client: viaInter},
		{name: "root bundle, intermediate CRL, leaf listed", bundle: rootOnly, crl: fresh(inter, big.NewInt(11)), client: viaInter, want: []error{tlsconfig.ErrRevoked}},
		{name: "root bundle, intermediate CRL stale", bundle: rootOnly, crl: stale(inter), client: viaInter, want: []error{tlsconfig.ErrCRLStale}, wantEv: tlsconfig.EventCRLStale},
		{name: "root bundle, root CRL lists the intermediate", bundle: rootOnly, crl: pemCRL(fresh(ca, inter.Cert.SerialNumber), fresh(inter)), client: viaInter, want: []error{tlsconfig.ErrRevoked}},
		{name: "root bundle, root CRL stale", bundle: rootOnly, crl: pemCRL(stale(ca), fresh(inter)), client: viaInter, want: []error{tlsconfig.ErrCRLStale}, wantEv: tlsconfig.EventCRLStale},
		{name: "root bundle, no root CRL, strict", bundle: rootOnly, crl: fresh(inter), client: viaInter, fullChain: true, want: []error{tlsconfig.ErrCRLStale}},
		{name: "root bundle, both CRLs, strict", bundle: rootOnly, crl: pemCRL(fresh(ca), fresh(inter)), client: viaInter, fullChain: true},
		{name: "no CRL for the intermediate fails closed", bundle: rootOnly, crl: fresh(ca), client: viaInter, want: []error{tlsconfig.ErrCRLStale}},
		{name: "no CRL for the intermediate, fail open", bundle: rootOnly, crl: fresh(ca), client: viaInter, failOpen: true},

		// CRLs from CAs that did not issue the chain.
		{name: "same-named intermediate of another CA", bundle: rootOnly, crl: fresh(twin), client: viaInter, want: []error{tlsconfig.ErrCRLStale, tlsconfig.ErrCRLSignature}},
		{name: "same-named intermediate of another CA, fail open", bundle: rootOnly, crl: fresh(twin), client: viaInter, failOpen: true},
		{name: "unrelated CA", bundle: rootOnly, crl: fresh(stranger), client: viaInter, want: []error{tlsconfig.ErrCRLStale}},
		{name: "real CRL next to a same-named impostor", bundle: rootOnly, crl: pemCRL(fresh(twin), fresh(inter, big.NewInt(11))), client: viaInter, want: []error{tlsconfig.ErrRevoked}},

		// Bundle = root + intermediate (the intermediate is an anchor too;
		// every chain is checked).
		{name: "two-CA bundle, leaf listed", bundle: rootAndInter, crl: pemCRL(fresh(ca), fresh(inter, big.NewInt(11))), client: viaInter, want: []error{tlsconfig.ErrRevoked}},
		{name: "two-CA bundle, intermediate listed", bundle: rootAndInter, crl: pemCRL(fresh(ca, inter.Cert.SerialNumber), fresh(inter)), client: viaInter, want: []error{tlsconfig.ErrRevoked}},
		{name: "two-CA bundle, clean", bundle: rootAndInter, crl: pemCRL(fresh(ca), fresh(inter)), client: viaInter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ev events
			opts := []tlsconfig.SourceOption{ev.option()}
			if tc.failOpen {
				opts = append(opts, tlsconfig.WithCRLFailOpen())
			}
			if tc.fullChain {
				opts = append(opts, tlsconfig.WithCRLRequireFullChain())
			}
			_, _, srv := crlServer(t, ca, tc.bundle, tc.crl, opts...)
			r := handshake(t, srv, plainClient(ca, tc.client, t))
			t.Logf("server: %v", r.serverErr)
			if tc.want == nil {
				if r.serverErr != nil || r.clientErr != nil {
					t.Fatalf("want admitted; server %v client %v", r.serverErr, r.clientErr)
				}
			} else {
				for _, w := range tc.want {
					if !errors.Is(r.serverErr, w) {
						t.Errorf("server %v, want %v", r.serverErr, w)
					}
				}
				if reasonOf(r.serverErr) != tlsconfig.ReasonRevoked {
					t.Errorf("reason %q, want revoked", reasonOf(r.serverErr))
				}
				if r.clientErr == nil {
					t.Error("client admitted")
				}
			}
			if tc.wantEv != 0 {
				ev.waitKind(t, tc.wantEv, nil)
			}
		})
	}
}

// TestCRLRevokedIntermediateRefusesAllItsLeaves: with a root-only bundle,
// the root's CRL listing the intermediate shuts out every leaf under it,
// while a leaf issued by the root directly still gets in.
func TestCRLRevokedIntermediateRefusesAllItsLeaves(t *testing.T) {
	ca := testpki.NewCA(t)
	inter := ca.Intermediate(t)
	now := time.Now()
	_, crl, srv := crlServer(t, ca, ca.CertPEM, pemCRL(
		ca.CRL(t, now.Add(-time.Minute), now.Add(time.Hour), inter.Cert.SerialNumber),
		inter.CRL(t, now.Add(-time.Minute), now.Add(time.Hour))))
	for i := range 3 {
		leaf := inter.Client(t)
		if r := handshake(t, srv, plainClient(ca, leaf, t)); !errors.Is(r.serverErr, tlsconfig.ErrRevoked) || r.clientErr == nil {
			t.Fatalf("leaf %d under the revoked intermediate: server %v client %v", i, r.serverErr, r.clientErr)
		}
	}
	if r := handshake(t, srv, plainClient(ca, ca.Client(t), t)); r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("leaf of the root refused: server %v client %v", r.serverErr, r.clientErr)
	}
	if !crl.IsRevoked(inter.Cert) {
		t.Error("IsRevoked(intermediate) = false")
	}
}

// TestCRLIntermediateHotReload: the intermediate's CRL (bundle = root
// only) is replaced under a running server; the next handshake sees it,
// and a broken file keeps the last good list.
func TestCRLIntermediateHotReload(t *testing.T) {
	ca := testpki.NewCA(t)
	inter := ca.Intermediate(t)
	peer, other := inter.Client(t), inter.Client(t)
	now := time.Now()
	var ev events
	file, crl, srv := crlServer(t, ca, ca.CertPEM, pemCRL(inter.CRL(t, now.Add(-time.Minute), now.Add(time.Hour))),
		tlsconfig.WithPollInterval(time.Hour), ev.option())
	if r := handshake(t, srv, plainClient(ca, peer, t)); r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("before revocation: server %v client %v", r.serverErr, r.clientErr)
	}
	writeAtomic(t, file, pemCRL(inter.CRL(t, now, now.Add(2*time.Hour), peer.Cert.SerialNumber)), 0o644)
	ev.waitKind(t, tlsconfig.EventRotated, nil)
	for range 2 { // the second handshake uses the cached signature check
		if r := handshake(t, srv, plainClient(ca, peer, t)); !errors.Is(r.serverErr, tlsconfig.ErrRevoked) {
			t.Fatalf("after revocation: server %v", r.serverErr)
		}
	}
	if !crl.IsRevoked(peer.Cert) {
		t.Error("IsRevoked = false once the intermediate's CRL was verified at a handshake")
	}
	writeAtomic(t, file, []byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"), 0o644)
	if err := crl.Reload(); err == nil {
		t.Fatal("garbage CRL loaded")
	}
	if r := handshake(t, srv, plainClient(ca, peer, t)); !errors.Is(r.serverErr, tlsconfig.ErrRevoked) {
		t.Fatalf("after a bad reload: server %v", r.serverErr)
	}
	if r := handshake(t, srv, plainClient(ca, other, t)); r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("unrevoked peer after a bad reload: server %v client %v", r.serverErr, r.clientErr)
	}
}

// TestCRLEventTimes: loaded, rotated and stale events carry thisUpdate
// and nextUpdate, so a metrics layer needs no CRL parser of its own.
func TestCRLEventTimes(t *testing.T) {
	ca := testpki.NewCA(t)
	inter := ca.Intermediate(t)
	now := time.Now().Truncate(time.Second)
	file := filepath.Join(t.TempDir(), "crl.pem")
	writeAtomic(t, file, pemCRL(
		ca.CRL(t, now.Add(-3*time.Hour), now.Add(5*time.Hour)),
		inter.CRL(t, now.Add(-time.Hour), now.Add(2*time.Hour))), 0o644)
	var ev events
	crl, err := tlsconfig.NewFileCRL(file, mustStaticTrust(t, ca.CertPEM), tlsconfig.WithPollInterval(time.Hour), ev.option())
	if err != nil {
		t.Fatal(err)
	}
	defer crl.Close()
	loaded := ev.waitKind(t, tlsconfig.EventLoaded, nil)
	if !loaded.ThisUpdate.Equal(now.Add(-3*time.Hour)) || !loaded.NextUpdate.Equal(now.Add(2*time.Hour)) || !loaded.NotAfter.Equal(loaded.NextUpdate) {
		t.Errorf("loaded: thisUpdate %v nextUpdate %v notAfter %v; want the oldest thisUpdate and the earliest nextUpdate", loaded.ThisUpdate, loaded.NextUpdate, loaded.NotAfter)
	}
	writeAtomic(t, file, pemCRL(inter.CRL(t, now.Add(-2*time.Hour), now.Add(-time.Minute))), 0o644)
	if err := crl.Reload(); err != nil {
		t.Fatal(err)
	}
	rotated := ev.waitKind(t, tlsconfig.EventRotated, nil)
	if !rotated.ThisUpdate.Equal(now.Add(-2*time.Hour)) || !rotated.NextUpdate.Equal(now.Add(-time.Minute)) {
		t.Errorf("rotated: thisUpdate %v nextUpdate %v", rotated.ThisUpdate, rotated.NextUpdate)
	}
	stale := ev.waitKind(t, tlsconfig.EventCRLStale, nil)
	if !stale.ThisUpdate.Equal(now.Add(-2*time.Hour)) || !stale.NextUpdate.Equal(now.Add(-time.Minute)) {
		t.Errorf("stale: thisUpdate %v nextUpdate %v", stale.ThisUpdate, stale.NextUpdate)
	}
	if s := stale.String(); !strings.Contains(s, "this_update=") || !strings.Contains(s, "next_update=") {
		t.Errorf("event string %q lacks the CRL times", s)
	}
}

func TestCRLLoadErrors(t *testing.T) {
	ca := testpki.NewCA(t)
	twin := testpki.NewCA(t) // another CA with the same name as ca
	now := time.Now()
	trust := mustStaticTrust(t, ca.CertPEM)
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"named after a bundle CA, signed by another key", twin.CRL(t, now, now.Add(time.Hour)), tlsconfig.ErrCRLSignature},
		{"one good, one impostor", pemCRL(ca.CRL(t, now, now.Add(time.Hour)), twin.CRL(t, now, now.Add(time.Hour))), tlsconfig.ErrCRLSignature},
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

func TestCRLOptionErrors(t *testing.T) {
	ca := testpki.NewCA(t)
	now := time.Now()
	dir := t.TempDir()
	file := filepath.Join(dir, "crl.pem")
	writeAtomic(t, file, ca.CRL(t, now, now.Add(time.Hour)), 0o644)
	certFile, keyFile, caFile := ca.Server(t).WriteFiles(t, dir)
	for _, tc := range []struct {
		name string
		open func() (interface{ Close() error }, error)
	}{
		{"fail open and full chain", func() (interface{ Close() error }, error) {
			return tlsconfig.NewFileCRL(file, mustStaticTrust(t, ca.CertPEM), tlsconfig.WithCRLFailOpen(), tlsconfig.WithCRLRequireFullChain())
		}},
		{"full chain on a trust file", func() (interface{ Close() error }, error) {
			return tlsconfig.NewFileTrust(caFile, tlsconfig.WithCRLRequireFullChain())
		}},
		{"full chain on an identity file", func() (interface{ Close() error }, error) {
			return tlsconfig.NewFileIdentity(certFile, keyFile, tlsconfig.WithCRLRequireFullChain())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := tc.open()
			if err == nil {
				src.Close()
			}
			if !errors.Is(err, tlsconfig.ErrBadOption) {
				t.Fatalf("err %v, want ErrBadOption", err)
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
