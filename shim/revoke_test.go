package shim_test

import (
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/shim"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// writeCRL replaces file atomically, as ccpki does.
func writeCRL(t *testing.T, file string, der []byte) {
	t.Helper()
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, der, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// A revoked peer's open stream stops taking transactions when the CRL
// changes, finishes the one in flight, then closes; other peers carry on.
func TestServerClosesRevokedPeerStreamWhenIdle(t *testing.T) {
	checkLeaks(t)
	pki := newPKI(t)
	revoked, kept := pki.peerCA.Client(t), pki.peerCA.Client(t)
	props := pki.fileProps(t)
	props.CRLFile = filepath.Join(filepath.Dir(props.CertFile), "crl.der")
	now := time.Now()
	writeCRL(t, props.CRLFile, pki.peerCA.CRL(t, now.Add(-time.Minute), now.Add(time.Hour)))

	cc := newKV()
	r := serve(t, &shim.ChaincodeServer{CCID: "cc:1", CC: cc, TLSProps: props})
	a, err := dialChaincode(t, r.addr, pki.peerCreds(t, revoked))
	if err != nil {
		t.Fatal(err)
	}
	a.handshake("cc:1")
	b, err := dialChaincode(t, r.addr, pki.peerCreds(t, kept))
	if err != nil {
		t.Fatal(err)
	}
	b.handshake("cc:1")

	a.startTx("held", "hold")
	<-cc.held
	writeCRL(t, props.CRLFile, pki.peerCA.CRL(t, now.Add(-time.Minute), now.Add(time.Hour), revoked.Cert.SerialNumber, big.NewInt(7)))

	// New transactions on the revoked peer's stream are refused once the
	// server has seen the new CRL; until then they still run.
	deadline := time.Now().Add(wait)
	for i := 0; ; i++ {
		txid := "late-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		a.startTx(txid, "quick")
		m := a.mustNext()
		if m.Type == pb.ChaincodeMessage_ERROR {
			if !strings.Contains(string(m.Payload), "revocation") {
				t.Fatalf("refusal %q, want it to name the revocation", m.Payload)
			}
			break
		}
		a.completed(m, txid)
		if time.Now().After(deadline) {
			t.Fatal("the revoked peer's stream still takes transactions")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(cc.release)
	if r := a.completed(a.mustNext(), "held"); string(r.Payload) != "held done" {
		t.Fatalf("in-flight transaction of the revoked peer: %q", r.Payload)
	}
	m, err := a.next()
	if m != nil {
		t.Fatalf("revoked stream sent %s after closing", m.Type)
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("revoked stream ended with %v, want PermissionDenied", err)
	}

	// The other peer is untouched, and the revoked one cannot come back.
	b.startTx("still-here", "quick")
	if r := b.completed(b.mustNext(), "still-here"); string(r.Payload) != "quick" {
		t.Fatalf("kept peer: %q", r.Payload)
	}
	expectRefused(t, r.addr, pki.peerCreds(t, revoked))
}
