package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/e2e/internal/network"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/status"
)

// gatewayAs connects to the first peer's gateway as id and closes the
// connection when the test ends.
func gatewayAs(t *testing.T, id network.Identity) *network.Gateway {
	t.Helper()
	gw, err := fabnet.Peers[0].Gateway(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	return gw
}

// userGateway connects as Org1's User1.
func userGateway(t *testing.T) *network.Gateway {
	t.Helper()
	id, err := fabnet.User(fabnet.Peers[0].Org)
	if err != nil {
		t.Fatal(err)
	}
	return gatewayAs(t, id)
}

// errorText is an error from the gateway with the peers' details, which
// hold the chaincode's status and message.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(err.Error())
	for _, d := range status.Convert(err).Details() {
		if e, ok := d.(*gateway.ErrorDetail); ok {
			b.WriteString(" | " + e.GetMspId() + "@" + e.GetAddress() + ": " + e.GetMessage())
		}
	}
	return b.String()
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
