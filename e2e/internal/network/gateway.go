package network

import (
	"crypto/x509"
	"fmt"
	"os"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// maxMessage lets transactions carry values of several MB: the prepared
// transaction the gateway returns holds the whole write set.
const maxMessage = 100 << 20

// Gateway connects id to the peer's gateway service. Close the returned
// gateway; it closes the connection too.
func (p *Peer) Gateway(id Identity, opts ...client.ConnectOption) (*Gateway, error) {
	pem, err := os.ReadFile(p.TLSCA())
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate", p.TLSCA())
	}
	conn, err := grpc.NewClient(p.Addr,
		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "127.0.0.1")),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)))
	if err != nil {
		return nil, err
	}
	xid, err := identity.NewX509Identity(id.MSPID, id.Cert)
	if err != nil {
		conn.Close()
		return nil, err
	}
	sign, err := identity.NewPrivateKeySign(id.Key)
	if err != nil {
		conn.Close()
		return nil, err
	}
	gw, err := client.Connect(xid, append([]client.ConnectOption{client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn)}, opts...)...)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &Gateway{Gateway: gw, conn: conn, channel: p.net.Channel}, nil
}

// Gateway is a Fabric Gateway client bound to the network's channel.
type Gateway struct {
	*client.Gateway
	conn    *grpc.ClientConn
	channel string
}

// Contract returns the named chaincode on the network's channel.
func (g *Gateway) Contract(name string) *client.Contract {
	return g.GetNetwork(g.channel).GetContract(name)
}

// ChannelNetwork returns the network's channel.
func (g *Gateway) ChannelNetwork() *client.Network { return g.GetNetwork(g.channel) }

// Close closes the gateway and its connection.
func (g *Gateway) Close() error {
	g.Gateway.Close()
	return g.conn.Close()
}
