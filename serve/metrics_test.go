package serve

import (
	"encoding/pem"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
	dto "github.com/prometheus/client_model/go"
)

// gauge reads a gauge (or gauge func) without labels from the registry.
func gauge(t *testing.T, m *metrics, name string) float64 {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && f.GetType() == dto.MetricType_GAUGE && len(f.Metric) == 1 {
			return f.Metric[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

// TestCRLMetricsFromEvents: the CRL age and nextUpdate gauges follow the
// times a real tlsconfig.FileCRL reports in its events, through a load
// and a rotation, with the oldest thisUpdate and the earliest nextUpdate
// of a file holding two CRLs.
func TestCRLMetricsFromEvents(t *testing.T) {
	ca := testpki.NewCA(t)
	inter := ca.Intermediate(t)
	now := time.Now().Truncate(time.Second)
	pemCRL := func(ders ...[]byte) []byte {
		var out []byte
		for _, d := range ders {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: d})...)
		}
		return out
	}
	dir := t.TempDir()
	file := writeFile(t, dir, "crl.pem", pemCRL(
		ca.CRL(t, now.Add(-3*time.Hour), now.Add(5*time.Hour)),
		inter.CRL(t, now.Add(-time.Hour), now.Add(2*time.Hour))), 0o644)
	caFile := writeFile(t, dir, "ca.crt", ca.CertPEM, 0o644)

	m := newMetrics(func() time.Time { return now })
	if age := gauge(t, m, "ccserver_tls_crl_age_seconds"); age != 0 {
		t.Fatalf("CRL age %v before any CRL, want 0", age)
	}
	ev := newTLSEvents(m, slog.New(slog.NewTextHandler(io.Discard, nil)), tlsconfig.ServerSpec{CRLFile: file, ClientCAFile: caFile})
	trust, err := tlsconfig.NewFileTrust(caFile)
	if err != nil {
		t.Fatal(err)
	}
	defer trust.Close()
	crl, err := tlsconfig.NewFileCRL(file, trust, tlsconfig.WithPollInterval(time.Hour), tlsconfig.WithEvents(ev.handle))
	if err != nil {
		t.Fatal(err)
	}
	defer crl.Close()
	waitFor(t, "the CRL age of the first load", func() bool {
		return gauge(t, m, "ccserver_tls_crl_age_seconds") == (3 * time.Hour).Seconds()
	})
	if got, want := gauge(t, m, "ccserver_tls_crl_next_update_timestamp_seconds"), float64(now.Add(2*time.Hour).Unix()); got != want {
		t.Errorf("nextUpdate gauge %v, want %v", got, want)
	}

	writeFile(t, dir, "crl.pem", pemCRL(inter.CRL(t, now.Add(-10*time.Minute), now.Add(time.Hour))), 0o644)
	if err := crl.Reload(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the CRL age after the rotation", func() bool {
		return gauge(t, m, "ccserver_tls_crl_age_seconds") == (10 * time.Minute).Seconds()
	})
	if got, want := gauge(t, m, "ccserver_tls_crl_next_update_timestamp_seconds"), float64(now.Add(time.Hour).Unix()); got != want {
		t.Errorf("nextUpdate gauge after the rotation %v, want %v", got, want)
	}
}
