package devpeer_test

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccserver/ccserver/devpeer"
)

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"noop=1,getput=2", "noop:1 getput:2", ""},
		{"noop", "noop:1", ""},
		{" noop=0 , range=3 ", "noop:0 range:3", ""},
		{"noop=x", "", "weight must be a non-negative integer"},
		{"=1", "", "empty function name"},
		{"noop=0", "", "no function with a positive weight"},
		{"", "", "no function with a positive weight"},
	} {
		mix, err := devpeer.ParseMix(tc.in, []string{"a"})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v", tc.in, err)
			}
			continue
		}
		var got []string
		for _, e := range mix {
			if len(e.Args) != 2 || string(e.Args[1]) != "a" {
				t.Errorf("%q: args %q", tc.in, e.Args)
			}
			got = append(got, string(e.Args[0])+":"+string(rune('0'+e.Weight)))
		}
		if strings.Join(got, " ") != tc.want || err != nil {
			t.Errorf("%q = %v %v", tc.in, got, err)
		}
	}
}

func TestBenchOverMTLS(t *testing.T) {
	p := newPKI(t)
	addr := serve(t, p.mtls(t, p.server), ccid)
	mix, err := devpeer.ParseMix("noop=1,getput=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var progress atomic.Int32
	res, err := devpeer.Bench(context.Background(), devpeer.BenchConfig{
		Conn: p.conn(addr), CCID: ccid, ChannelID: "ch", Concurrency: 4, Connections: 2,
		Duration: 300 * time.Millisecond, Mix: mix, ServerPID: os.Getpid(),
		Progress: func(devpeer.BenchProgress) { progress.Add(1) }, ProgressEvery: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Transactions == 0 || res.Errors != 0 || res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.Max || res.Connections != 2 {
		t.Fatalf("result %+v", res)
	}
	if res.ServerCPUPer1000 <= 0 {
		t.Errorf("server CPU per 1000 tx = %v", res.ServerCPUPer1000)
	}
	mix, _ = devpeer.ParseMix("nosuchfunction", nil)
	res, err = devpeer.Bench(context.Background(), devpeer.BenchConfig{Conn: p.conn(addr), Concurrency: 1, Connections: 1, Duration: 50 * time.Millisecond, Mix: mix})
	if err != nil {
		t.Fatal(err)
	}
	if res.Transactions > 0 && (res.Errors != res.Transactions || !strings.Contains(res.FirstError, "status 500")) {
		t.Fatalf("errors not counted: %+v", res)
	}
}

func TestProcessCPU(t *testing.T) {
	if _, err := devpeer.ProcessCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := devpeer.ProcessCPU(-5); err == nil {
		t.Fatal("no error for a bad pid")
	}
}
