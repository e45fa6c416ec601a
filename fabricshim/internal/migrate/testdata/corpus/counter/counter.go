// Package main is a counter chaincode on the v1 shim: Init and Invoke
// return pb.Response by value, helpers too, and one function answers
// with a pb.Response literal of its own.
package main

import (
	"fmt"
	"strconv"

	"github.com/hyperledger/fabric-chaincode-go/shim"
	pb "github.com/hyperledger/fabric-protos-go/peer"
)

// notFound is the status of a read of a counter that does not exist.
const notFound = 404

// Counter keeps named counters.
type Counter struct{}

// handler is one function of the chaincode.
type handler func(stub shim.ChaincodeStubInterface, args []string) pb.Response

func (c *Counter) handlers() map[string]handler {
	return map[string]handler{
		"incr":  c.incr,
		"get":   c.get,
		"reset": c.reset,
		"many":  c.many,
	}
}

// Init sets every counter named in the arguments to zero.
func (c *Counter) Init(stub shim.ChaincodeStubInterface) pb.Response {
	for _, name := range stub.GetStringArgs() {
		if err := stub.PutState(name, []byte("0")); err != nil {
			return shim.Error(err.Error())
		}
	}
	return shim.Success(nil)
}

// Invoke dispatches on the function name.
func (c *Counter) Invoke(stub shim.ChaincodeStubInterface) pb.Response {
	fn, args := stub.GetFunctionAndParameters()
	h, ok := c.handlers()[fn]
	if !ok {
		return shim.Error("unknown function " + fn)
	}
	if len(args) == 0 {
		return pb.Response{Status: shim.ERROR, Message: fn + " needs a counter name"}
	}
	return h(stub, args)
}

func (c *Counter) read(stub shim.ChaincodeStubInterface, name string) (int, pb.Response) {
	v, err := stub.GetState(name)
	if err != nil {
		return 0, shim.Error(err.Error())
	}
	if v == nil {
		return 0, pb.Response{Status: notFound, Message: fmt.Sprintf("no counter %s", name)}
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, shim.Error(err.Error())
	}
	return n, shim.Success(v)
}

func (c *Counter) incr(stub shim.ChaincodeStubInterface, args []string) pb.Response {
	n, res := c.read(stub, args[0])
	if res.Status != shim.OK {
		return res
	}
	n++
	if err := stub.PutState(args[0], []byte(strconv.Itoa(n))); err != nil {
		return shim.Error(err.Error())
	}
	var out pb.Response
	out.Status = shim.OK
	out.Payload = []byte(strconv.Itoa(n))
	return out
}

func (c *Counter) get(stub shim.ChaincodeStubInterface, args []string) pb.Response {
	_, res := c.read(stub, args[0])
	return res
}

func (c *Counter) reset(stub shim.ChaincodeStubInterface, args []string) pb.Response {
	if err := stub.PutState(args[0], []byte("0")); err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success([]byte("0"))
}

// many increments several counters and fails on the first that fails.
func (c *Counter) many(stub shim.ChaincodeStubInterface, args []string) pb.Response {
	results := []pb.Response{}
	for _, name := range args {
		results = append(results, c.incr(stub, []string{name}))
	}
	for _, r := range results {
		if r.Status >= shim.ERRORTHRESHOLD {
			return r
		}
	}
	return shim.Success([]byte(strconv.Itoa(len(results))))
}

func main() {
	if err := shim.Start(new(Counter)); err != nil {
		fmt.Printf("starting the counter chaincode: %s", err)
	}
}
