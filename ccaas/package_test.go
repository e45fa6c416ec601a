package ccaas_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/ccaas"
)

// TestPackageBytesStable pins the package bytes, and so the package ids
// users have installed: the hashes were recorded from pki.CCaaSPackage,
// the writer ccaas replaced, and compared byte for byte with it before it
// was deleted. A change here changes every user's package id.
func TestPackageBytesStable(t *testing.T) {
	want := map[string]string{
		"plaintext": "f292067b4ac4e725891495f2b862ddd1a85fc2a747f37268331a31868c830647",
		"tls":       "72197ade0d51682cf21eb930c1e10c19cdeb7c126e96b26bca0eb57e569843df",
		"mtls":      "874d233b7462ca6d39ab6e2b7169022cf72752cac506a115e68ce623164dbf40",
		"template":  "cd9c9f7bd8bd3290e3b0c78f094870a341afad3ad712a25cb8301254450be88c",
	}
	for _, tc := range goldenCases(fixedMaterial(t)) {
		var buf bytes.Buffer
		if err := ccaas.WritePackage(&buf, tc.label, tc.conn); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		sum := sha256.Sum256(buf.Bytes())
		if got := hex.EncodeToString(sum[:]); got != want[tc.name] {
			t.Errorf("%s: package sha256 %s, want %s", tc.name, got, want[tc.name])
		}
		if id := ccaas.PackageID(tc.label, buf.Bytes()); id != tc.label+":"+want[tc.name] {
			t.Errorf("%s: id %s", tc.name, id)
		}
	}
}

// TestPackageLayout checks what the peer and the builder look at: two
// regular files in order, metadata.json exactly, connection.json inside
// code.tar.gz, fixed headers.
func TestPackageLayout(t *testing.T) {
	var buf bytes.Buffer
	conn := ccaas.Connection{Address: "localhost:9999", DialTimeout: "10s"}
	if err := ccaas.WritePackage(&buf, "basic_1.0", conn); err != nil {
		t.Fatal(err)
	}
	outer := untar(t, buf.Bytes())
	if len(outer) != 2 || outer[0].name != "metadata.json" || outer[1].name != "code.tar.gz" {
		t.Fatalf("entries %v", outer)
	}
	if got := string(outer[0].data); got != `{"type":"ccaas","label":"basic_1.0"}` {
		t.Errorf("metadata.json %s", got)
	}
	inner := untar(t, outer[1].data)
	want := "{\n  \"address\": \"localhost:9999\",\n  \"dial_timeout\": \"10s\",\n  \"tls_required\": false,\n  \"client_auth_required\": false\n}\n"
	if len(inner) != 1 || inner[0].name != "connection.json" || string(inner[0].data) != want {
		t.Fatalf("code.tar.gz %q", inner)
	}
}

type tarEntry struct {
	name string
	data []byte
}

func untar(t *testing.T, b []byte) []tarEntry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" || zr.Comment != "" {
		t.Errorf("gzip header %+v", zr.Header)
	}
	tr := tar.NewReader(zr)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Typeflag != tar.TypeReg || h.Mode != 0o100644 || h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != 0 || h.Uname != "" {
			t.Errorf("header %+v", h)
		}
		var d bytes.Buffer
		_, _ = d.ReadFrom(tr)
		out = append(out, tarEntry{h.Name, d.Bytes()})
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	m := fixedMaterial(t)
	for _, tc := range goldenCases(m) {
		var buf bytes.Buffer
		if err := ccaas.WritePackage(&buf, tc.label, tc.conn); err != nil {
			t.Fatal(err)
		}
		label, conn, err := ccaas.ReadPackage(bytes.NewReader(buf.Bytes()))
		if err != nil || label != tc.label || conn != tc.conn {
			t.Errorf("%s: got %q %+v %v", tc.name, label, conn, err)
		}
	}
}

func TestWritePackageRefuses(t *testing.T) {
	m := fixedMaterial(t)
	mtls := ccaas.Connection{Address: "cc:1", DialTimeout: "1s", TLSRequired: true, ClientAuthRequired: true, RootCert: m.ca, ClientCert: m.cert, ClientKey: m.key}
	with := func(f func(*ccaas.Connection)) ccaas.Connection { c := mtls; f(&c); return c }
	for _, tc := range []struct {
		name, label string
		conn        ccaas.Connection
		kind        error
		field, text string
	}{
		{"bad label", "bad label", mtls, ccaas.ErrLabel, "", `label "bad label"`},
		{"empty label", "", mtls, ccaas.ErrLabel, "", "letters, digits"},
		{"label starts with dot", ".x", mtls, ccaas.ErrLabel, "", ""},
		{"no address", "x", with(func(c *ccaas.Connection) { c.Address = "" }), ccaas.ErrMissing, "address", "host:port"},
		{"no port", "x", with(func(c *ccaas.Connection) { c.Address = "localhost" }), nil, "address", "want host:port"},
		{"no dial timeout", "x", with(func(c *ccaas.Connection) { c.DialTimeout = "" }), ccaas.ErrMissing, "dial_timeout", "invalid duration"},
		{"bad template", "x", with(func(c *ccaas.Connection) { c.Address = "{{.host" }), ccaas.ErrTemplate, "address", "unclosed action"},
		{"unknown function", "x", with(func(c *ccaas.Connection) { c.Address = `{{env "H"}}:1` }), ccaas.ErrTemplate, "address", `"env" not defined`},
		{"pem without tls", "x", ccaas.Connection{Address: "cc:1", DialTimeout: "1s", RootCert: m.ca}, ccaas.ErrUnused, "root_cert", "tls_required is false"},
		{"client auth without tls", "x", ccaas.Connection{Address: "cc:1", DialTimeout: "1s", ClientAuthRequired: true}, ccaas.ErrUnused, "client_auth_required", ""},
		{"client cert without client auth", "x", with(func(c *ccaas.Connection) { c.ClientAuthRequired = false }), ccaas.ErrUnused, "client_cert", "client_auth_required is false"},
		{"client key alone without client auth", "x", with(func(c *ccaas.Connection) { c.ClientAuthRequired, c.ClientCert = false, "" }), ccaas.ErrUnused, "client_key", ""},
		{"domain", "x", with(func(c *ccaas.Connection) { c.Domain = "cc.example.com" }), ccaas.ErrUnused, "domain", "drops it"},
		{"mismatched pair", "x", with(func(c *ccaas.Connection) { c.ClientCert = m.otherCert }), nil, "client_key", "does not form a key pair"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := ccaas.WritePackage(&buf, tc.label, tc.conn)
			if !errors.Is(err, ccaas.ErrInvalid) || (tc.kind != nil && !errors.Is(err, tc.kind)) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v with %q", err, tc.kind, tc.text)
			}
			var fe *ccaas.FieldError
			if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
				t.Fatalf("err = %v, want field %s", err, tc.field)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes", buf.Len())
			}
			if strings.Contains(err.Error(), m.key[40:80]) {
				t.Errorf("key material in %v", err)
			}
		})
	}
}

// TestWritePackageTemplates: fields the builder fills are accepted
// without knowing their values; the rest is still checked.
func TestWritePackageTemplates(t *testing.T) {
	m := fixedMaterial(t)
	for _, conn := range []ccaas.Connection{
		{Address: "{{.host}}:{{.port}}", DialTimeout: "{{.timeout}}"},
		{Address: "{{.peername}}_cc:9999", DialTimeout: "5s", TLSRequired: true, RootCert: "{{.root}}"},
		{Address: "cc:1", DialTimeout: "5s", TLSRequired: true, ClientAuthRequired: true, RootCert: m.ca, ClientCert: "{{.cert}}", ClientKey: m.key},
	} {
		if err := ccaas.WritePackage(&bytes.Buffer{}, "x", conn); err != nil {
			t.Errorf("%+v: %v", conn, err)
		}
	}
	err := ccaas.WritePackage(&bytes.Buffer{}, "x", ccaas.Connection{Address: "{{.host}}:1", DialTimeout: "ten"})
	if !errors.Is(err, ccaas.ErrInvalid) || !strings.Contains(err.Error(), "dial_timeout") {
		t.Errorf("literal field next to a template not checked: %v", err)
	}
}

func TestReadPackageErrors(t *testing.T) {
	tgz := func(files ...tarEntry) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		for _, f := range files {
			typ := byte(tar.TypeReg)
			if strings.HasSuffix(f.name, "/") {
				typ = tar.TypeDir
			}
			_ = tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: typ, Size: int64(len(f.data)), Mode: 0o644})
			_, _ = tw.Write(f.data)
		}
		_ = tw.Close()
		_ = zw.Close()
		return buf.Bytes()
	}
	conn := []byte(`{"address":"cc:1","dial_timeout":"1s"}`)
	code := tgz(tarEntry{"META-INF/", nil}, tarEntry{"connection.json", conn})
	meta := []byte(`{"type":"CCaaS","label":"ok_1"}`)
	for _, tc := range []struct {
		name string
		pkg  []byte
		kind error
		text string
	}{
		{"ok, type in any case, dirs in code, extra files", tgz(tarEntry{"metadata.json", meta}, tarEntry{"code.tar.gz", code}, tarEntry{"extra", nil}), nil, ""},
		{"not gzip", []byte("PK\x03\x04"), ccaas.ErrPackage, "not a gzip stream"},
		{"no metadata", tgz(tarEntry{"code.tar.gz", code}), ccaas.ErrPackage, "no metadata.json"},
		{"no code", tgz(tarEntry{"metadata.json", meta}), ccaas.ErrPackage, "no code.tar.gz"},
		{"bad metadata", tgz(tarEntry{"metadata.json", []byte("{")}, tarEntry{"code.tar.gz", code}), ccaas.ErrPackage, "metadata.json"},
		{"bad label", tgz(tarEntry{"metadata.json", []byte(`{"type":"ccaas","label":"a b"}`)}, tarEntry{"code.tar.gz", code}), ccaas.ErrLabel, `label "a b"`},
		{"other type", tgz(tarEntry{"metadata.json", []byte(`{"type":"golang","label":"a"}`)}, tarEntry{"code.tar.gz", code}), ccaas.ErrPackage, `type "golang"`},
		{"directory at top", tgz(tarEntry{"src/", nil}, tarEntry{"metadata.json", meta}), ccaas.ErrPackage, "not a regular file"},
		{"no connection.json", tgz(tarEntry{"metadata.json", meta}, tarEntry{"code.tar.gz", tgz(tarEntry{"x", nil})}), ccaas.ErrPackage, "holds no connection.json"},
		{"code not gzip", tgz(tarEntry{"metadata.json", meta}, tarEntry{"code.tar.gz", []byte("x")}), ccaas.ErrPackage, "code.tar.gz is not a gzip stream"},
		{"bad connection.json", tgz(tarEntry{"metadata.json", meta}, tarEntry{"code.tar.gz", tgz(tarEntry{"connection.json", []byte(`{"tls_required":"true"}`)})}), ccaas.ErrType, "tls_required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label, c, err := ccaas.ReadPackage(bytes.NewReader(tc.pkg))
			if tc.kind == nil {
				if err != nil || label != "ok_1" || c.Address != "cc:1" {
					t.Fatalf("%q %+v %v", label, c, err)
				}
				return
			}
			if !errors.Is(err, ccaas.ErrInvalid) || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v with %q", err, tc.kind, tc.text)
			}
		})
	}
}

func TestValidLabel(t *testing.T) {
	for l, ok := range map[string]bool{"basic_1.0": true, "a": true, "9+x-y.z_": true, "": false, "_a": false, "a b": false, "a:b": false, "a/b": false, "ä": false} {
		if ccaas.ValidLabel(l) != ok {
			t.Errorf("ValidLabel(%q) = %v", l, !ok)
		}
	}
}
