package peerside_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ccserver/ccserver/internal/msgpipe"
	"github.com/ccserver/ccserver/internal/peerside"
	"github.com/ccserver/ccserver/internal/peerside/rawcc"
)

// A peer and a chaincode in one process over an in-memory pipe.
func Example() {
	ccEnd, peerEnd := msgpipe.New(64)
	done := make(chan error, 1)
	go func() { done <- rawcc.Serve(ccEnd, "demo:1", rawcc.Demo()) }()

	conn := peerside.New(peerEnd, peerside.WithCCID("demo:1"))
	ctx := context.Background()
	if err := conn.Handshake(ctx); err != nil {
		fmt.Println(err)
		return
	}
	_, _ = conn.Execute(ctx, &peerside.Tx{ChannelID: "ch", Args: [][]byte{[]byte("put"), []byte("k"), []byte("v")}, Commit: true})
	res, _ := conn.Execute(ctx, &peerside.Tx{ChannelID: "ch", Args: [][]byte{[]byte("get"), []byte("k")}})
	fmt.Println(res.Response.Status, string(res.Response.Payload))

	peerEnd.Close()
	<-done
	<-conn.Done()
	// Output: 200 v
}

func BenchmarkExecuteGetPut(b *testing.B) {
	ccEnd, peerEnd := msgpipe.New(64)
	done := make(chan error, 1)
	go func() { done <- rawcc.Serve(ccEnd, "demo:1", rawcc.Demo()) }()
	conn := peerside.New(peerEnd)
	ctx := context.Background()
	if err := conn.Handshake(ctx); err != nil {
		b.Fatal(err)
	}
	tx := &peerside.Tx{ChannelID: "ch", Args: [][]byte{[]byte("getput"), []byte("k"), []byte("v")}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := conn.Execute(ctx, tx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	peerEnd.Close()
	<-done
	<-conn.Done()
}
