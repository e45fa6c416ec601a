package devpeer_test

import (
	"context"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccserver/ccserver/devpeer"
	"github.com/ccserver/ccserver/internal/peerside/rawcc"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
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

// TestBenchSeedWarmupUnsigned runs a chaincode that fails unless it reads
// the seeded value and sees an unsigned proposal, after a warmup.
func TestBenchSeedWarmupUnsigned(t *testing.T) {
	p := newPKI(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var signed atomic.Int64
	s := grpc.NewServer(grpc.Creds(credentials.NewTLS(p.mtls(t, p.server))),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return h(srv, signatureSpy{ss, &signed})
		}))
	var calls atomic.Int64
	cc := rawcc.Chaincode{"check": func(tx *rawcc.Tx) (*peer.Response, error) {
		calls.Add(1)
		v, err := tx.Call(peer.ChaincodeMessage_GET_STATE, &peer.GetState{Key: "k1"})
		if err != nil {
			return nil, err
		}
		if string(v) != "v1" {
			return &peer.Response{Status: 500, Message: "seed not visible: k1=" + string(v)}, nil
		}
		return &peer.Response{Status: 200}, nil
	}}
	peer.RegisterChaincodeServer(s, rawcc.Server{CCID: ccid, CC: cc})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)

	var measureCalls atomic.Int32
	var atMeasure atomic.Int64
	res, err := devpeer.Bench(context.Background(), devpeer.BenchConfig{
		Conn: p.conn(lis.Addr().String()), CCID: ccid, ChannelID: "ch", Concurrency: 2, Connections: 1,
		Duration: 200 * time.Millisecond, Warmup: 200 * time.Millisecond,
		Mix:  []devpeer.MixEntry{{Args: [][]byte{[]byte("check")}, Weight: 1}},
		Seed: map[string][]byte{"k1": []byte("v1"), "k2": []byte("v2")}, Unsigned: true,
		OnMeasure: func() { measureCalls.Add(1); atMeasure.Store(calls.Load()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Transactions == 0 {
		t.Fatalf("result %+v", res)
	}
	if n := signed.Load(); n != 0 {
		t.Fatalf("%d proposals carried a signature", n)
	}
	if measureCalls.Load() != 1 {
		t.Fatalf("OnMeasure called %d times, want 1", measureCalls.Load())
	}
	if atMeasure.Load() == 0 {
		t.Fatal("no transaction ran during the warmup")
	}
	// Warmup transactions are not counted: those run after OnMeasure (plus
	// at most one in flight per worker) are.
	if after := calls.Load() - atMeasure.Load(); res.Transactions > after+2 {
		t.Fatalf("counted %d transactions, only %d ran after the warmup", res.Transactions, after)
	}
}

// signatureSpy counts transactions whose proposal carries a signature.
type signatureSpy struct {
	grpc.ServerStream
	signed *atomic.Int64
}

func (s signatureSpy) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if cm, ok := m.(*peer.ChaincodeMessage); ok && err == nil && len(cm.GetProposal().GetSignature()) > 0 {
		s.signed.Add(1)
	}
	return err
}
