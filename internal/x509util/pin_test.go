package x509util_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/internal/x509util"
)

// TestParsePin: the one pin syntax every entry point accepts (ccserver
// --pin, shim.TLSProperties.Pins, ccpki), and what it refuses.
func TestParsePin(t *testing.T) {
	ca := testpki.NewCA(t)
	want := x509util.SPKIPin(ca.Cert)
	b64 := x509util.FormatPin(want)
	if b64 != testpki.SPKIPin(ca.Cert) {
		t.Fatalf("FormatPin = %s, want %s", b64, testpki.SPKIPin(ca.Cert))
	}
	hexPin := fmt.Sprintf("%x", want[:])
	var pairs []string
	for i := 0; i < len(hexPin); i += 2 {
		pairs = append(pairs, hexPin[i:i+2])
	}
	colons := strings.Join(pairs, ":")
	if _, err := x509util.ParsePin("sha256/47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="); !errors.Is(err, x509util.ErrMalformedPin) {
		t.Errorf("URL-safe base64 accepted: %v", err)
	}
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"canonical", b64, true},
		{"surrounding white space", "  " + b64 + "\n", true},
		{"hex", hexPin, true},
		{"upper-case hex", strings.ToUpper(hexPin), true},
		{"hex with colons, as openssl prints it", strings.ToUpper(colons), true},
		{"colons in the wrong places", hexPin[:1] + ":" + hexPin[1:63] + ":" + hexPin[63:], false},
		{"colons between some pairs only", strings.Join(pairs[:2], ":") + strings.Join(pairs[2:], ""), false},
		{"trailing colon", colons + ":", false},
		{"short base64", "sha256/" + strings.Repeat("A", 43), false},
		{"other hash", "sha1/" + b64[7:], false},
		{"62 hex digits", hexPin[:62], false},
		{"not hex", strings.Repeat("zz", 32), false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := x509util.ParsePin(tc.in)
			switch {
			case tc.ok && (err != nil || got != want):
				t.Fatalf("ParsePin(%q) = %x, %v; want %x", tc.in, got, err, want)
			case !tc.ok && !errors.Is(err, x509util.ErrMalformedPin):
				t.Fatalf("ParsePin(%q) = %x, %v; want ErrMalformedPin", tc.in, got, err)
			}
		})
	}
}

// FuzzParsePin: no panic; an accepted pin round-trips through FormatPin.
func FuzzParsePin(f *testing.F) {
	f.Add("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
	f.Add("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	f.Add("E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55")
	f.Add("sha256/")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := x509util.ParsePin(s)
		if err != nil {
			return
		}
		if q, err := x509util.ParsePin(x509util.FormatPin(p)); err != nil || q != p {
			t.Fatalf("pin %q does not round-trip: %v", s, err)
		}
	})
}
