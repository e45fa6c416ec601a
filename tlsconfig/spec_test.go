package tlsconfig_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
)

const goodPin = "sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

// TestServerSpecValidate: each rule of the server spec, once. Every
// refusal is a *FieldError naming the field to change, of the right kind,
// and its message names the fields involved.
func TestServerSpecValidate(t *testing.T) {
	src := mustStaticIdentity(t, testpki.NewCA(t).Server(t))
	files := tlsconfig.ServerSpec{CertFile: "tls.crt", KeyFile: "tls.key", ClientCAFile: "ca.crt"}
	with := func(f func(*tlsconfig.ServerSpec)) tlsconfig.ServerSpec { s := files; f(&s); return s }
	open := func(s *tlsconfig.ServerSpec) { s.ClientCAFile, s.InsecureNoClientAuth = "", true }
	tests := []struct {
		name  string
		spec  tlsconfig.ServerSpec
		field string
		kind  error
		text  []string // substrings of Error()
	}{
		{"no certificate", tlsconfig.ServerSpec{ClientCAFile: "ca.crt"}, "CertFile", tlsconfig.ErrMissing,
			[]string{"no server certificate is given: give CertFile and KeyFile, or Cert and Key, or Identity"}},
		{"cert file without key file", with(func(s *tlsconfig.ServerSpec) { s.KeyFile = "" }), "KeyFile", tlsconfig.ErrMissing,
			[]string{"CertFile is given but not KeyFile: give both"}},
		{"key file without cert file", with(func(s *tlsconfig.ServerSpec) { s.CertFile = "" }), "CertFile", tlsconfig.ErrMissing,
			[]string{"KeyFile is given but not CertFile"}},
		{"cert bytes without key", with(func(s *tlsconfig.ServerSpec) { s.CertFile, s.KeyFile, s.Cert = "", "", []byte("c") }), "Key", tlsconfig.ErrMissing,
			[]string{"Cert is given but not Key"}},
		{"files and bytes", with(func(s *tlsconfig.ServerSpec) { s.Cert, s.Key = []byte("c"), []byte("k") }), "Cert", tlsconfig.ErrConflict,
			[]string{"give the certificate one way"}},
		{"files and a source", with(func(s *tlsconfig.ServerSpec) { s.Identity = src }), "Identity", tlsconfig.ErrConflict,
			[]string{"one way"}},
		{"client CA file and bytes", with(func(s *tlsconfig.ServerSpec) { s.ClientCACerts = []byte("ca") }), "ClientCACerts", tlsconfig.ErrConflict,
			[]string{"ClientCAFile and ClientCACerts exclude each other"}},
		{"no client auth decision", with(func(s *tlsconfig.ServerSpec) { s.ClientCAFile = "" }), "ClientCAFile", tlsconfig.ErrNoClientTrust,
			[]string{"give ClientCAFile or ClientCACerts or ClientTrust", "or InsecureNoClientAuth to admit any client"}},
		{"client CA and no client auth", with(func(s *tlsconfig.ServerSpec) { s.InsecureNoClientAuth = true }), "InsecureNoClientAuth", tlsconfig.ErrConflict,
			[]string{"ClientCAFile requires client certificates but InsecureNoClientAuth turns them off"}},
		{"pins without client auth", with(func(s *tlsconfig.ServerSpec) { open(s); s.Pins = []string{goodPin} }), "Pins", tlsconfig.ErrConflict,
			[]string{"Pins checks the peers' certificates, which InsecureNoClientAuth does not ask for"}},
		{"rules without client auth", with(func(s *tlsconfig.ServerSpec) {
			open(s)
			s.IdentityRules = []tlsconfig.IdentityRule{{Organizations: []string{"O"}}}
		}), "IdentityRules", tlsconfig.ErrConflict, nil},
		{"CRL without client auth", with(func(s *tlsconfig.ServerSpec) { open(s); s.CRLFile = "x.crl" }), "CRLFile", tlsconfig.ErrConflict, nil},
		{"authorizer without client auth", with(func(s *tlsconfig.ServerSpec) {
			open(s)
			s.Authorizer = func([][]*x509.Certificate) error { return nil }
		}), "Authorizer", tlsconfig.ErrConflict, nil},
		{"CRL file and source", with(func(s *tlsconfig.ServerSpec) { s.CRLFile, s.CRL = "x.crl", refuseAll{} }), "CRL", tlsconfig.ErrConflict,
			[]string{"CRLFile and CRL exclude each other"}},
		{"fail-open and full chain", with(func(s *tlsconfig.ServerSpec) { s.CRLFile, s.CRLFailOpen, s.CRLRequireFullChain = "x.crl", true, true }),
			"CRLFailOpen", tlsconfig.ErrConflict, []string{"CRLRequireFullChain and CRLFailOpen contradict each other"}},
		{"fail-open without a CRL file", with(func(s *tlsconfig.ServerSpec) { s.CRLFailOpen = true }), "CRLFailOpen", tlsconfig.ErrConflict,
			[]string{"CRLFailOpen needs CRLFile"}},
		{"full chain without a CRL file", with(func(s *tlsconfig.ServerSpec) { s.CRLRequireFullChain = true }), "CRLRequireFullChain", tlsconfig.ErrConflict,
			[]string{"CRLRequireFullChain needs CRLFile"}},
		{"bad pin", with(func(s *tlsconfig.ServerSpec) { s.Pins = []string{goodPin, "md5/xyz"} }), "Pins", tlsconfig.ErrBadOption,
			[]string{`Pins "md5/xyz": malformed pin`}},
		{"empty identity rule", with(func(s *tlsconfig.ServerSpec) {
			s.IdentityRules = []tlsconfig.IdentityRule{{Organizations: []string{"O"}}, {}}
		}), "IdentityRules", tlsconfig.ErrBadOption, []string{"rule 2 is empty"}},
		{"TLS 1.1", with(func(s *tlsconfig.ServerSpec) { s.MinVersion = 0x0302 }), "MinVersion", tlsconfig.ErrBadOption,
			[]string{`MinVersion "TLS 1.1"`, "1.2 or 1.3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			var fe *tlsconfig.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *FieldError", err)
			}
			if fe.Field != tc.field || !errors.Is(err, tc.kind) || !errors.Is(err, tlsconfig.ErrBadOption) && tc.kind != tlsconfig.ErrNoClientTrust {
				t.Errorf("Validate() = %v: field %q, want %q, matching %v", err, fe.Field, tc.field, tc.kind)
			}
			for _, want := range tc.text {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to say %q", err, want)
				}
			}
			// NewServer refuses the same, before touching any file.
			if _, err := tlsconfig.NewServer(tc.spec); !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("NewServer: %v, want the same field error", err)
			}
		})
	}
	for _, ok := range []tlsconfig.ServerSpec{
		files,
		with(func(s *tlsconfig.ServerSpec) { open(s) }),
		with(func(s *tlsconfig.ServerSpec) {
			s.CertFile, s.KeyFile, s.Identity, s.Pins, s.MinVersion = "", "", src, []string{goodPin}, tlsconfig.VersionTLS13
		}),
		with(func(s *tlsconfig.ServerSpec) { s.CRLFile, s.CRLFailOpen = "x.crl", true }),
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", ok, err)
		}
	}
}

func TestClientSpecValidate(t *testing.T) {
	good := tlsconfig.ClientSpec{ServerCAFile: "ca.crt"}
	with := func(f func(*tlsconfig.ClientSpec)) tlsconfig.ClientSpec { s := good; f(&s); return s }
	tests := []struct {
		name  string
		spec  tlsconfig.ClientSpec
		field string
		kind  error
		text  string
	}{
		{"no server CA", tlsconfig.ClientSpec{}, "ServerCAFile", tlsconfig.ErrMissing, "no CA to verify the server with: give ServerCAFile or ServerCACerts or ServerTrust"},
		{"two server CAs", with(func(s *tlsconfig.ClientSpec) { s.ServerCACerts = []byte("x") }), "ServerCACerts", tlsconfig.ErrConflict, "exclude each other"},
		{"key without cert", with(func(s *tlsconfig.ClientSpec) { s.KeyFile = "k" }), "CertFile", tlsconfig.ErrMissing, "KeyFile is given but not CertFile"},
		{"bad pin", with(func(s *tlsconfig.ClientSpec) { s.Pins = []string{"nope"} }), "Pins", tlsconfig.ErrBadOption, `Pins "nope"`},
		{"fail-open alone", with(func(s *tlsconfig.ClientSpec) { s.CRLFailOpen = true }), "CRLFailOpen", tlsconfig.ErrConflict, "needs CRLFile"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			var fe *tlsconfig.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("Validate() = %v, want field %q (%v) saying %q", err, tc.field, tc.kind, tc.text)
			}
		})
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("a client without a certificate: %v", err)
	}
}

// TestFieldErrorMessage: a caller with other names for the fields gets
// the same sentences with its names; alternatives it has no name for drop
// out.
func TestFieldErrorMessage(t *testing.T) {
	flags := map[string]string{"CertFile": "--tls-cert", "KeyFile": "--tls-key", "ClientCAFile": "--client-ca",
		"InsecureNoClientAuth": "--insecure-no-client-auth", "Pins": "--pin"}
	name := func(f string) string { return flags[f] }
	for _, tc := range []struct {
		spec tlsconfig.ServerSpec
		want string
	}{
		{tlsconfig.ServerSpec{ClientCAFile: "ca"}, "no server certificate is given: give --tls-cert and --tls-key"},
		{tlsconfig.ServerSpec{CertFile: "c", KeyFile: "k"}, "no client CA, so no peer could be verified: give --client-ca with the CA that issued the peers' certificates, or --insecure-no-client-auth to admit any client"},
		{tlsconfig.ServerSpec{CertFile: "c", KeyFile: "k", InsecureNoClientAuth: true, Pins: []string{goodPin}}, "--pin checks the peers' certificates, which --insecure-no-client-auth does not ask for: give --client-ca instead"},
		{tlsconfig.ServerSpec{CertFile: "c", KeyFile: "k", ClientCAFile: "ca", Pins: []string{"{Pins}[x"}}, `--pin "{Pins}[x": malformed pin`},
	} {
		var fe *tlsconfig.FieldError
		if err := tc.spec.Validate(); !errors.As(err, &fe) {
			t.Fatalf("Validate(%+v) = %v", tc.spec, err)
		}
		if got := fe.Message(name); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Message = %q, want it to start %q", got, tc.want)
		}
		renamed := tlsconfig.Rename(fe, name)
		if !strings.HasPrefix(renamed.Error(), tc.want) || !errors.Is(renamed, tlsconfig.ErrBadOption) {
			t.Errorf("Rename = %v", renamed)
		}
	}
	// The options API names its options.
	_, err := tlsconfig.ServerConfig(mustStaticIdentity(t, testpki.NewCA(t).Server(t)), tlsconfig.WithPins(tlsconfig.Pin{}), tlsconfig.WithInsecureNoClientAuth())
	if err == nil || !strings.Contains(err.Error(), "WithPins checks the peers' certificates, which WithInsecureNoClientAuth does not ask for: give WithClientTrust instead") {
		t.Errorf("ServerConfig: %v", err)
	}
}

// TestNewServerMaterialErrors: material that does not load is refused
// with the field that names it.
func TestNewServerMaterialErrors(t *testing.T) {
	ca := testpki.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile, caFile := ca.Server(t).WriteFiles(t, dir)
	expired := ca.Server(t, testpki.WithValidity(time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)))
	loose := filepath.Join(dir, "loose.key")
	writeAtomic(t, loose, mustRead(t, keyFile), 0o640)
	bad := filepath.Join(dir, "bad.pem")
	writeAtomic(t, bad, []byte("not PEM"), 0o644)
	base := tlsconfig.ServerSpec{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile}
	with := func(f func(*tlsconfig.ServerSpec)) tlsconfig.ServerSpec { s := base; f(&s); return s }
	for _, tc := range []struct {
		name  string
		spec  tlsconfig.ServerSpec
		field string
		is    error
		text  string
	}{
		{"missing certificate file", with(func(s *tlsconfig.ServerSpec) { s.CertFile = filepath.Join(dir, "absent.crt") }), "CertFile", os.ErrNotExist, "absent.crt"},
		{"key others can read", with(func(s *tlsconfig.ServerSpec) { s.KeyFile = loose }), "KeyFile", tlsconfig.ErrKeyPermissions, "InsecureKeyPermissions accepts such a file"},
		{"key of another certificate", with(func(s *tlsconfig.ServerSpec) {
			s.CertFile, s.KeyFile = "", ""
			s.Cert, s.Key = expired.ChainPEM, ca.Server(t).KeyPEM
		}), "Key", tlsconfig.ErrKeyMismatch, "does not match"},
		{"expired certificate", with(func(s *tlsconfig.ServerSpec) {
			s.CertFile, s.KeyFile = "", ""
			s.Cert, s.Key = expired.ChainPEM, expired.KeyPEM
		}), "Cert", tlsconfig.ErrExpired, "expired"},
		{"client certificate as server certificate", with(func(s *tlsconfig.ServerSpec) {
			s.CertFile, s.KeyFile = "", ""
			s.Identity = mustStaticIdentity(t, ca.Client(t))
		}), "Identity", tlsconfig.ErrNoServerAuth, "serverAuth"},
		{"bad client CA file", with(func(s *tlsconfig.ServerSpec) { s.ClientCAFile = bad }), "ClientCAFile", tlsconfig.ErrNoCertificate, "bad.pem"},
		{"bad client CA bytes", with(func(s *tlsconfig.ServerSpec) { s.ClientCAFile, s.ClientCACerts = "", []byte("x") }), "ClientCACerts", tlsconfig.ErrNoCertificate, ""},
		{"bad CRL file", with(func(s *tlsconfig.ServerSpec) { s.CRLFile = bad }), "CRLFile", nil, "bad.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := tlsconfig.NewServer(tc.spec)
			if err == nil {
				srv.Close()
				t.Fatal("accepted")
			}
			var fe *tlsconfig.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("NewServer: %v (%#v), want field %q matching %v and saying %q", err, fe, tc.field, tc.is, tc.text)
			}
		})
	}
	srv, err := tlsconfig.NewServer(with(func(s *tlsconfig.ServerSpec) { s.KeyFile, s.InsecureKeyPermissions = loose, true }))
	if err != nil {
		t.Fatalf("InsecureKeyPermissions: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// refuseAll is a CRLSource that reports every chain revoked.
type refuseAll struct{}

func (refuseAll) CheckChain([]*x509.Certificate) error { return tlsconfig.ErrRevoked }

// calls counts the calls of a hook.
type calls struct{ n atomic.Int32 }

func (c *calls) hook() { c.n.Add(1) }

func TestIdentityRuleText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want tlsconfig.IdentityRule
		text string // canonical form; "" means refused
	}{
		{"o=Org1MSP", tlsconfig.IdentityRule{Organizations: []string{"Org1MSP"}}, "o=Org1MSP"},
		{" O = Org1MSP , ou=peer|admin ", tlsconfig.IdentityRule{Organizations: []string{"Org1MSP"}, OrganizationalUnits: []string{"peer", "admin"}}, "o=Org1MSP,ou=peer|admin"},
		{"dns=a.example,dns=b.example,uri=spiffe://org1/peer", tlsconfig.IdentityRule{DNSNames: []string{"a.example", "b.example"}, URIs: []string{"spiffe://org1/peer"}},
			"dns=a.example|b.example,uri=spiffe://org1/peer"},
		{"", tlsconfig.IdentityRule{}, ""},
		{"cn=peer0", tlsconfig.IdentityRule{}, ""},
		{"o=", tlsconfig.IdentityRule{}, ""},
		{"o=a||b", tlsconfig.IdentityRule{}, ""},
		{"org1", tlsconfig.IdentityRule{}, ""},
	} {
		var r tlsconfig.IdentityRule
		err := r.UnmarshalText([]byte(tc.in))
		if tc.text == "" {
			if err == nil || !errors.Is(err, tlsconfig.ErrBadOption) {
				t.Errorf("%q: accepted as %v (err %v)", tc.in, r, err)
			}
			continue
		}
		if err != nil || r.String() != tc.text || fmt.Sprint(r) != fmt.Sprint(tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.in, r, err, tc.want)
		}
		if b, _ := r.MarshalText(); string(b) != tc.text {
			t.Errorf("MarshalText = %q", b)
		}
	}
}

func TestVersionText(t *testing.T) {
	for in, want := range map[string]tlsconfig.Version{"1.2": tlsconfig.VersionTLS12, "1.3": tlsconfig.VersionTLS13, "TLS1.3": tlsconfig.VersionTLS13, "tls 1.2": tlsconfig.VersionTLS12} {
		var v tlsconfig.Version
		if err := v.UnmarshalText([]byte(in)); err != nil || v != want {
			t.Errorf("%q: %v, %v", in, v, err)
		}
	}
	for _, bad := range []string{"1.1", "1.0", "", "3"} {
		var v tlsconfig.Version
		if err := v.UnmarshalText([]byte(bad)); !errors.Is(err, tlsconfig.ErrBadOption) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
	if b, _ := tlsconfig.Version(0).MarshalText(); string(b) != "1.2" {
		t.Errorf("zero marshals as %q", b)
	}
}
