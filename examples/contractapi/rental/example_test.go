package rental_test

import (
	"fmt"

	"github.com/ccserver/ccserver/examples/contractapi/rental"
	"github.com/ccserver/ccserver/fabricshim"
	"github.com/ccserver/ccserver/shimtest"
)

// The chaincode a main serves with serve.Main(fabricshim.Wrap(cc)), here
// driven by shimtest instead of a peer.
func ExampleNew() {
	cc, err := rental.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := shimtest.Start(fabricshim.Wrap(cc))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	l.Invoke("Register", "e1", "drill", "Ann")
	fmt.Println(string(l.Query("equipment:Get", "e1").Payload))
	fmt.Println(l.Query("Get", "e2").Message)
	// Output:
	// {"id":"e1","kind":"drill","owner":"Ann","ownerMSP":"Org1MSP"}
	// equipment e2 does not exist
}
