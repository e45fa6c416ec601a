package shimtest_test

import (
	"fmt"
	"strconv"
	"time"

	"github.com/ccserver/ccserver/shim"
	"github.com/ccserver/ccserver/shimtest"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// counter is the chaincode under test: "inc" adds one to a named counter
// and emits an event, "get" reads it, "price" reads a price the client
// keeps out of the ledger (transient data).
type counter struct{}

func (counter) Init(shim.ChaincodeStubInterface) *pb.Response { return shim.Success(nil) }

func (counter) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {
	fn, args := stub.GetFunctionAndParameters()
	if len(args) != 1 {
		return shim.Error("want one counter name")
	}
	v, err := stub.GetState(args[0])
	if err != nil {
		return shim.Error(err.Error())
	}
	n, _ := strconv.Atoi(string(v))
	switch fn {
	case "get":
		return shim.Success([]byte(strconv.Itoa(n)))
	case "inc":
		n++
		if err := stub.PutState(args[0], []byte(strconv.Itoa(n))); err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.SetEvent("incremented", []byte(args[0])); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success([]byte(strconv.Itoa(n)))
	case "price":
		t, err := stub.GetTransient()
		if err != nil {
			return shim.Error(err.Error())
		}
		ts, _ := stub.GetTxTimestamp()
		return shim.Success(fmt.Appendf(nil, "%s costs %s on %s", args[0], t["price"], ts.AsTime().Format(time.DateOnly)))
	}
	return shim.Error("unknown function " + fn)
}

// What a chaincode author's test checks, run through the real shim engine.
// In a test, shimtest.New(t, counter{}) starts the ledger and closes it
// when the test ends.
func Example() {
	l, err := shimtest.Start(counter{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	l.Invoke("inc", "visits")
	res := l.Invoke("inc", "visits")
	fmt.Println(res.Status, string(res.Payload), res.Event.Name, string(res.Event.Payload))
	fmt.Println("committed:", string(l.State("visits")))

	res = l.Query("inc", "visits") // evaluated, never committed
	fmt.Println("query answered", string(res.Payload), "but the ledger keeps", string(l.State("visits")))

	res = l.Invoke("reset", "visits")
	fmt.Println(res.Status, res.Message)
	fmt.Println(len(l.Events()), "events,", len(l.History("visits")), "versions")
	// Output:
	// 200 2 incremented visits
	// committed: 2
	// query answered 3 but the ledger keeps 2
	// 500 unknown function reset
	// 2 events, 2 versions
}

// A call with transient data and a fixed time.
func ExampleLedger_Do() {
	l, err := shimtest.Start(counter{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	res := l.Do(shimtest.Call{
		Args:      []string{"price", "apples"},
		Transient: map[string][]byte{"price": []byte("3 EUR")},
		Time:      time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		Query:     true,
	})
	fmt.Println(string(res.Payload))
	// Output: apples costs 3 EUR on 2025-06-01
}

// ownerCC lets only members of Org1MSP write.
type ownerCC struct{}

func (ownerCC) Init(shim.ChaincodeStubInterface) *pb.Response { return shim.Success(nil) }

func (ownerCC) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {
	raw, err := stub.GetCreator()
	if err != nil {
		return shim.Error(err.Error())
	}
	var id msp.SerializedIdentity
	if err := proto.Unmarshal(raw, &id); err != nil {
		return shim.Error(err.Error())
	}
	if id.Mspid != "Org1MSP" {
		return shim.Error("only Org1MSP may write, not " + id.Mspid)
	}
	return shim.Success(nil)
}

// Access control: the same call from a client of another organisation.
func ExampleLedger_NewIdentity() {
	l, err := shimtest.Start(ownerCC{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	other, err := l.NewIdentity("Org2MSP", "User1", nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	fmt.Println(l.Invoke("write").Status, l.Identity().Certificate().Subject.CommonName)
	res := l.Do(shimtest.Call{Args: []string{"write"}, As: other})
	fmt.Println(res.Status, res.Message)
	// Output:
	// 200 User1@org1.example.com
	// 500 only Org1MSP may write, not Org2MSP
}
