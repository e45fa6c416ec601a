package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/pki"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijkl", 5, "abcde…"},
		{"line1\nline2\r\x1b[2Kforged", 100, "line1 line2  [2Kforged"},
		{"\x7f", 5, " "},
		{"ééé", 3, "é…"}, // 3 bytes would split the second é
		{"", 3, ""},
	} {
		got := Clip(tc.in, tc.n)
		if got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Clip(%q, %d) = %q is not valid UTF-8", tc.in, tc.n, got)
		}
	}
}

func FuzzClip(f *testing.F) {
	f.Add("hello\nworld", 5)
	f.Add("ééé", 3)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1<<16 {
			t.Skip()
		}
		got := Clip(s, n)
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Clip(%q, %d) = %q: invalid UTF-8", s, n, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("Clip(%q, %d) = %q keeps a control character", s, n, got)
			}
		}
	})
}

func TestBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://ca.example:9000/":          "https://ca.example:9000",
		"https://ca.example/prefix//?q=1#f": "https://ca.example/prefix",
		"http://cfssl.example:8888":         "http://cfssl.example:8888",
	} {
		u, err := BaseURL(in)
		if err != nil || u.String() != want {
			t.Errorf("BaseURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"", "ca.example:9000/x", "/relative", "https://"} {
		if _, err := BaseURL(bad); err == nil {
			t.Errorf("BaseURL(%q) accepted", bad)
		}
	}
}

// TestExchangeClassifies: what a renewer must retry wraps
// pki.ErrUnavailable, refused credentials pki.ErrUnauthorized, and an
// untrusted server or a bad answer neither.
func TestExchangeClassifies(t *testing.T) {
	ca := testpki.NewCA(t)
	serverLeaf := ca.Server(t, testpki.WithIP(net.IPv4(127, 0, 0, 1)))
	trusting := HTTPClient(&tls.Config{RootCAs: ca.Pool()}, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	quiet := log.New(io.Discard, "", 0)

	statuses := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
		_, _ = w.Write([]byte("line one\nline two"))
	}))
	defer statuses.Close()
	for code, want := range map[int]error{401: pki.ErrUnauthorized, 403: pki.ErrUnauthorized, 429: pki.ErrUnavailable,
		502: pki.ErrUnavailable, 503: pki.ErrUnavailable, 504: pki.ErrUnavailable, 400: nil, 404: nil, 500: nil} {
		u := statuses.URL + "/" + strconv.Itoa(code)
		ans, err := Exchange(ctx, HTTPClient(nil, time.Second), http.MethodPost, u, []byte("{}"))
		if err != nil || ans.Status != code {
			t.Fatalf("%d: answer %+v, %v", code, ans, err)
		}
		e := Refusal(ans.Status, StatusLine(http.MethodPost, u, ans.Status, string(ans.Body)))
		if e.Kind != want || (want != nil && !errors.Is(e, want)) {
			t.Errorf("%d: kind %v, want %v", code, e.Kind, want)
		}
		if strings.Contains(e.Error(), "\n") || !strings.Contains(e.Error(), "line one line two") {
			t.Errorf("%d: %q: want the server's text on one line", code, e)
		}
	}

	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(make([]byte, MaxAnswer+1))
	}))
	defer big.Close()
	if _, err := Exchange(ctx, HTTPClient(nil, time.Second), http.MethodGet, big.URL, nil); err == nil || errors.Is(err, pki.ErrUnavailable) {
		t.Errorf("oversized answer: err = %v, want a plain error", err)
	}

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	if _, err := Exchange(ctx, HTTPClient(nil, time.Second), http.MethodGet, down.URL, nil); !errors.Is(err, pki.ErrUnavailable) {
		t.Errorf("server down: err = %v, want ErrUnavailable", err)
	}

	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	untrusted.Config.ErrorLog = quiet // the handshake failures are the point
	untrusted.StartTLS()
	defer untrusted.Close()
	_, err := Exchange(ctx, trusting, http.MethodGet, untrusted.URL, nil)
	if err == nil || errors.Is(err, pki.ErrUnavailable) || errors.Is(err, pki.ErrUnauthorized) || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("untrusted server: err = %v, want a plain 'does not verify'", err)
	}

	mtls := httptest.NewUnstartedServer(http.NotFoundHandler())
	mtls.Config.ErrorLog = quiet
	mtls.TLS = &tls.Config{Certificates: []tls.Certificate{serverLeaf.TLSCertificate(t)}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	mtls.StartTLS()
	defer mtls.Close()
	if _, err := Exchange(ctx, trusting, http.MethodGet, mtls.URL, nil); !errors.Is(err, pki.ErrUnauthorized) {
		t.Errorf("client certificate refused: err = %v, want ErrUnauthorized", err)
	}

	cancelled, stop := context.WithCancel(ctx)
	stop()
	if _, err := Exchange(cancelled, trusting, http.MethodGet, mtls.URL, nil); !errors.Is(err, context.Canceled) || errors.Is(err, pki.ErrUnavailable) {
		t.Errorf("cancelled: err = %v, want context.Canceled alone", err)
	}
}

func TestCheckCSRAndVerifyLeaf(t *testing.T) {
	csr, _ := testpki.NewCSR(t, testpki.WithCommonName("cc"))
	if err := CheckCSR(&pki.Request{CSR: csr}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []*pki.Request{nil, {}} {
		if err := CheckCSR(bad); err == nil {
			t.Errorf("CheckCSR(%+v) accepted", bad)
		}
	}
	tampered := *csr
	tampered.Signature = append([]byte(nil), csr.Signature...)
	tampered.Signature[len(tampered.Signature)-1] ^= 1
	if err := CheckCSR(&pki.Request{CSR: &tampered}); err == nil {
		t.Error("a CSR with a broken signature accepted")
	}

	root := testpki.NewCA(t)
	inter := root.Intermediate(t)
	leaf := inter.Client(t)
	if err := VerifyLeaf(leaf.Cert, []*x509.Certificate{inter.Cert}, []*x509.Certificate{root.Cert}); err != nil {
		t.Fatal(err)
	}
	if err := VerifyLeaf(leaf.Cert, nil, []*x509.Certificate{root.Cert}); err == nil {
		t.Error("verified without the intermediate")
	}
	if err := VerifyLeaf(leaf.Cert, []*x509.Certificate{inter.Cert}, []*x509.Certificate{testpki.NewCA(t).Cert}); err == nil {
		t.Error("verified to a foreign root")
	}
}
