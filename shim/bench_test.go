package shim

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ccserver/ccserver/internal/msgpipe"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// benchCC is the benchmark chaincode: noop, getput and a 100-key range.
type benchCC struct{}

func (benchCC) Init(ChaincodeStubInterface) *pb.Response { return Success(nil) }

func (benchCC) Invoke(stub ChaincodeStubInterface) *pb.Response {
	fn, args := stub.GetFunctionAndParameters()
	switch fn {
	case "noop":
		return Success(nil)
	case "getput":
		v, err := stub.GetState(args[0])
		if err != nil {
			return Error(err.Error())
		}
		if err := stub.PutState(args[0], append(v, 'x')); err != nil {
			return Error(err.Error())
		}
		return Success(nil)
	case "range":
		it, err := stub.GetStateByRange("k000", "k999")
		if err != nil {
			return Error(err.Error())
		}
		n := 0
		for it.HasNext() {
			if _, err := it.Next(); err != nil {
				return Error(err.Error())
			}
			n++
		}
		it.Close()
		return Success([]byte(strconv.Itoa(n)))
	}
	return Error("unknown " + fn)
}

// benchPeer answers requests at once from a fixed state, with no
// bookkeeping beyond what routing results needs.
func benchPeer(end *msgpipe.End, results []chan *pb.ChaincodeMessage, ready chan<- struct{}) {
	rangePage := func() []byte {
		qr := &pb.QueryResponse{Id: "it"}
		for i := range 100 {
			kv, _ := proto.Marshal(&queryresult.KV{Namespace: "bench", Key: fmt.Sprintf("k%03d", i), Value: []byte(`{"v":1}`)})
			qr.Results = append(qr.Results, &pb.QueryResultBytes{ResultBytes: kv})
		}
		out, _ := proto.Marshal(qr)
		return out
	}()
	for {
		m, err := end.Recv()
		if err != nil {
			return
		}
		switch m.Type {
		case pb.ChaincodeMessage_REGISTER:
			_ = end.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_REGISTERED})
			_ = end.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_READY})
			close(ready)
		case pb.ChaincodeMessage_COMPLETED, pb.ChaincodeMessage_ERROR:
			i, _ := strconv.Atoi(m.Txid)
			results[i%len(results)] <- m
		case pb.ChaincodeMessage_GET_STATE:
			_ = end.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Payload: []byte("value"), Txid: m.Txid, ChannelId: m.ChannelId})
		case pb.ChaincodeMessage_PUT_STATE:
			_ = end.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Txid: m.Txid, ChannelId: m.ChannelId})
		case pb.ChaincodeMessage_GET_STATE_BY_RANGE:
			_ = end.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_RESPONSE, Payload: rangePage, Txid: m.Txid, ChannelId: m.ChannelId})
		}
	}
}

// BenchmarkEngine measures the shim's own cost per transaction over an
// in-memory stream (no gRPC, no TLS): the part the engine can change.
func BenchmarkEngine(b *testing.B) {
	for _, fn := range []string{"noop", "getput", "range"} {
		for _, par := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/c%d", fn, par), func(b *testing.B) {
				ccEnd, peerEnd := msgpipe.New(1024)
				results := make([]chan *pb.ChaincodeMessage, par)
				for i := range results {
					results[i] = make(chan *pb.ChaincodeMessage, 1)
				}
				h := newHandler(ccEnd, benchCC{}, runOptions{ccid: "bench"})
				done := make(chan struct{})
				go func() { h.eng.Run(); close(done) }()
				ready := make(chan struct{})
				go benchPeer(peerEnd, results, ready)
				<-ready
				inputs := make([][]byte, par)
				for i := range inputs {
					inputs[i], _ = proto.Marshal(&pb.ChaincodeInput{Args: [][]byte{[]byte(fn), []byte(fmt.Sprint("key", i))}})
				}
				var seq atomic.Int64
				var worker atomic.Int32
				b.ReportAllocs()
				b.SetParallelism((par + 1) / 2) // GOMAXPROCS=2 on the target machines
				b.ResetTimer()
				b.RunParallel(func(pb_ *testing.PB) {
					w := int(worker.Add(1)-1) % par
					for pb_.Next() {
						n := seq.Add(1)
						txid := strconv.FormatInt(n*int64(par)+int64(w), 10)
						if err := peerEnd.Send(&pb.ChaincodeMessage{Type: pb.ChaincodeMessage_TRANSACTION, Txid: txid, ChannelId: "ch", Payload: inputs[w]}); err != nil {
							b.Fatal(err)
						}
						if m := <-results[w]; m.Type != pb.ChaincodeMessage_COMPLETED {
							b.Errorf("%s: %s", fn, m.Payload)
							return
						}
					}
				})
				b.StopTimer()
				peerEnd.Close()
				<-done
			})
		}
	}
}
