package fabricshim_test

import (
	"fmt"

	"github.com/ccserver/ccserver/fabricshim"
	ours "github.com/ccserver/ccserver/shim"
	"github.com/ccserver/ccserver/shimtest"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// greeter is chaincode written for fabric-chaincode-go/v2's shim.
type greeter struct{}

func (greeter) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }

func (greeter) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	_, args := stub.GetFunctionAndParameters()
	if len(args) != 1 {
		return shim.Error("greet takes a name")
	}
	return shim.Success([]byte("hello, " + args[0]))
}

// Wrap makes chaincode of the original shim one of ccserver's. A main
// would pass the result to serve.Main; here shimtest runs it.
func ExampleWrap() {
	cc := fabricshim.Wrap(greeter{})
	// func main() { serve.Main(cc) }

	l, err := shimtest.Start(cc)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	res := l.Invoke("greet", "Ada")
	fmt.Println(res.Status, string(res.Payload))
	// Output: 200 hello, Ada
}

// sharedLibraryCall is code written for the original shim's stub, say in a
// library still shared with chaincode that has not moved.
func sharedLibraryCall(stub shim.ChaincodeStubInterface) string {
	return stub.GetChannelID()
}

// A ccserver chaincode calling such code passes its stub through Stub.
type caller struct{}

func (caller) Init(ours.ChaincodeStubInterface) *peer.Response { return ours.Success(nil) }

func (caller) Invoke(stub ours.ChaincodeStubInterface) *peer.Response {
	return ours.Success([]byte(sharedLibraryCall(fabricshim.Stub(stub))))
}

func ExampleStub() {
	l, err := shimtest.Start(caller{}, shimtest.WithChannel("trade"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	fmt.Println(string(l.Query("channel").Payload))
	// Output: trade
}
