package devpeer_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ccserver/ccserver/ccaas"
	"github.com/ccserver/ccserver/devpeer"
)

// A chaincode server's test can act as its peer: read the package's
// connection.json, fill it as the peer's builder would, dial, invoke.
func ExampleDial() {
	raw, err := os.ReadFile("connection.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	conn, err := ccaas.ParseConnection(raw)
	if err == nil {
		conn, err = conn.Render([]byte(os.Getenv("CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG")))
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	client, err := devpeer.Dial(ctx, conn, devpeer.WithCCID("basic_1.0:4f2a..."))
	if err != nil {
		var pe *devpeer.ProbeError
		if errors.As(err, &pe) {
			fmt.Println(pe.Problem, "; fix:", pe.Fix)
		}
		return
	}
	defer client.Close()
	res, err := client.Execute(ctx, devpeer.Tx{ChannelID: "mychannel", Args: [][]byte{[]byte("ReadAsset"), []byte("asset1")}})
	var ce *devpeer.ChaincodeError
	switch {
	case errors.As(err, &ce):
		fmt.Println("chaincode failed:", ce.Message)
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println(res.Response.Status, string(res.Response.Payload))
	}
}
