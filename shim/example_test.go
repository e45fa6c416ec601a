package shim_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ccserver/ccserver/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// hello is a minimal chaincode: Invoke greets its arguments.
type hello struct{}

func (hello) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }

func (hello) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	fn, args := stub.GetFunctionAndParameters()
	if fn != "greet" {
		return shim.Error("unknown function " + fn)
	}
	return shim.Success([]byte("hello " + strings.Join(args, " ")))
}

// A chaincode server as it usually runs: mutual TLS from files that are
// reloaded when a renewer replaces them, the package id from the
// environment the peer's builder set up.
func ExampleChaincodeServer() {
	server := &shim.ChaincodeServer{
		CCID:    os.Getenv("CHAINCODE_ID"),
		Address: "0.0.0.0:9999",
		CC:      hello{},
		TLSProps: shim.TLSProperties{
			CertFile:     "/certs/tls.crt",
			KeyFile:      "/certs/tls.key",
			ClientCAFile: "/certs/peer-ca.crt", // the peers' TLS CA
		},
	}
	if err := server.Start(); err != nil {
		log.Fatal(err)
	}
}

// Serve on a listener the caller bound, then stop gracefully: transactions
// in flight get until the deadline to finish. (Plaintext only to keep the
// example short; see ExampleChaincodeServer for the TLS settings.)
func ExampleChaincodeServer_Shutdown() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	server := &shim.ChaincodeServer{CCID: "hello:1", CC: hello{}, TLSProps: shim.TLSProperties{Disabled: true}}
	served := make(chan error, 1)
	go func() { served <- server.Serve(lis) }()

	// ... peers connect and run transactions until the process is told to stop ...

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fmt.Println("shutdown:", server.Shutdown(ctx))
	fmt.Println("serve:", <-served)
	// Output:
	// shutdown: <nil>
	// serve: <nil>
}

func ExampleSuccess() {
	r := shim.Success([]byte("done"))
	fmt.Println(r.Status, string(r.Payload))
	// Output: 200 done
}

func ExampleError() {
	r := shim.Error("asset not found")
	fmt.Println(r.Status, r.Message, r.Status >= shim.ERRORTHRESHOLD)
	// Output: 500 asset not found true
}

func ExampleCreateCompositeKey() {
	key, err := shim.CreateCompositeKey("owner~asset", []string{"alice", "asset1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", key)
	// Output: "\x00owner~asset\x00alice\x00asset1\x00"
}
