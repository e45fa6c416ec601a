package devpeer

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ccserver/ccserver/internal/peerside"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// The peer's fixed client settings for chaincode connections.
const (
	KeepaliveTime    = 60 * time.Second
	KeepaliveTimeout = 20 * time.Second
	MaxMessageSize   = 100 * 1024 * 1024
)

// Client is one connection to a chaincode server with its handshake done.
type Client struct {
	*peerside.Conn
	cc     *grpc.ClientConn
	cancel context.CancelFunc
	// TLS is the negotiated TLS state (nil for plaintext).
	TLS *tls.ConnectionState
}

// Close ends the stream and the connection and waits for the receive loop.
func (c *Client) Close() error {
	c.cancel()
	<-c.Conn.Done()
	return c.cc.Close()
}

// tlsObserver records the outcome of TLS handshakes, for diagnoses.
type tlsObserver struct {
	mu        sync.Mutex
	state     *tls.ConnectionState
	requested bool
	err       error
	dialErr   error
}

type observedCreds struct {
	credentials.TransportCredentials
	o *tlsObserver
}

func (c observedCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	c.o.mu.Lock()
	defer c.o.mu.Unlock()
	if err != nil {
		c.o.err = err
		return nil, nil, err
	}
	if ti, ok := info.(credentials.TLSInfo); ok {
		st := ti.State
		c.o.state = &st
	}
	return conn, info, nil
}

func (c observedCreds) Clone() credentials.TransportCredentials {
	return observedCreds{c.TransportCredentials.Clone(), c.o}
}

// dialOptions are the peer's: keepalive 60 s / 20 s permit-without-stream,
// 100 MiB messages, TLS per connection.json.
func dialOptions(conn *Connection, obs *tlsObserver) ([]grpc.DialOption, error) {
	opts := []grpc.DialOption{
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				obs.mu.Lock()
				obs.dialErr = err
				obs.mu.Unlock()
			}
			return c, err
		}),
	}
	cfg, err := conn.TLSConfig(func(*tls.CertificateRequestInfo) {
		obs.mu.Lock()
		obs.requested = true
		obs.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return append(opts, grpc.WithTransportCredentials(insecure.NewCredentials())), nil
	}
	return append(opts, grpc.WithTransportCredentials(observedCreds{credentials.NewTLS(cfg), obs})), nil
}

// Dial connects as the peer does, opens /protos.Chaincode/Connect and
// completes the REGISTER/REGISTERED/READY handshake within the dial
// timeout. opts configure the protocol engine (expected CCID, store, ...).
// A failure is a *ProbeError naming the cause and the fix.
func Dial(ctx context.Context, conn *Connection, opts ...peerside.Option) (*Client, error) {
	c, obs, err := dial(ctx, conn, opts...)
	if err != nil {
		return nil, diagnose(ctx, conn, obs, err)
	}
	return c, nil
}

func dial(ctx context.Context, conn *Connection, opts ...peerside.Option) (*Client, *tlsObserver, error) {
	if err := conn.Validate(); err != nil {
		return nil, nil, err
	}
	obs := &tlsObserver{}
	dopts, err := dialOptions(conn, obs)
	if err != nil {
		return nil, obs, err
	}
	cc, err := grpc.NewClient("passthrough:///"+conn.Address, dopts...)
	if err != nil {
		return nil, obs, fmt.Errorf("create client for %s: %w", conn.Address, err)
	}
	dialCtx, cancelDial := context.WithTimeout(ctx, conn.DialTimeout)
	defer cancelDial()
	streamCtx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(dialCtx, func() {
		if dialCtx.Err() != nil {
			cancel()
		}
	})
	stream, err := peer.NewChaincodeClient(cc).Connect(streamCtx)
	if err == nil {
		client := &Client{Conn: peerside.New(stream, opts...), cc: cc, cancel: cancel}
		err = client.Conn.Handshake(dialCtx)
		if err == nil && stop() {
			obs.mu.Lock()
			client.TLS = obs.state
			obs.mu.Unlock()
			return client, obs, nil
		}
		cancel()
		<-client.Conn.Done()
		if err == nil {
			err = dialCtx.Err()
		}
	}
	stop()
	cancel()
	cc.Close()
	return nil, obs, fmt.Errorf("connect to chaincode at %s: %w", conn.Address, err)
}
