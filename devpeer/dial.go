package devpeer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ccserver/ccserver/ccaas"
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

// tlsConfig is the client TLS config the peer builds from connection.json
// (internal/pkg/comm): TLS 1.2 minimum, RootCAs from root_cert, the client
// certificate only with client auth, ServerName per conn.ServerName.
// observe, if not nil, is told when the server asks for a client
// certificate. It returns nil, nil when TLS is not required. conn must
// have passed Validate, which loads the same PEM the same way.
func tlsConfig(conn ccaas.Connection, observe func(*tls.CertificateRequestInfo)) (*tls.Config, error) {
	if !conn.TLSRequired {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(conn.RootCert)) {
		return nil, fmt.Errorf("%w: root_cert holds no PEM certificate", ccaas.ErrInvalid)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: conn.ServerName()}
	var cert *tls.Certificate
	if conn.ClientAuthRequired {
		// tls.X509KeyPair is what the peer reads client_key with.
		kp, err := tls.X509KeyPair([]byte(conn.ClientCert), []byte(conn.ClientKey))
		if err != nil {
			return nil, fmt.Errorf("%w: client_cert/client_key do not form a key pair: %v", ccaas.ErrInvalid, err)
		}
		cert = &kp
	}
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if observe != nil {
			observe(cri)
		}
		if cert == nil {
			return &tls.Certificate{}, nil // send none, as the peer without client auth
		}
		return cert, nil
	}
	return cfg, nil
}

// dialOptions are the peer's: keepalive 60 s / 20 s permit-without-stream,
// 100 MiB messages, TLS per connection.json.
func dialOptions(conn ccaas.Connection, obs *tlsObserver) ([]grpc.DialOption, error) {
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
	cfg, err := tlsConfig(conn, func(*tls.CertificateRequestInfo) {
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
// timeout. conn is what the peer dials with: after the ccaas builder, so
// Render a package's connection.json first if it holds templates. A
// failure is a *ProbeError naming the cause and the fix.
func Dial(ctx context.Context, conn ccaas.Connection, opts ...Option) (*Client, error) {
	c, obs, err := dial(ctx, conn, engineOptions(opts))
	if err != nil {
		return nil, diagnose(ctx, conn, obs, err)
	}
	return c, nil
}

func dial(ctx context.Context, conn ccaas.Connection, opts []peerside.Option) (*Client, *tlsObserver, error) {
	if err := conn.Validate(); err != nil {
		return nil, nil, err
	}
	timeout, err := conn.Timeout()
	if err != nil {
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
	dialCtx, cancelDial := context.WithTimeout(ctx, timeout)
	defer cancelDial()
	streamCtx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(dialCtx, func() {
		if dialCtx.Err() != nil {
			cancel()
		}
	})
	stream, err := peer.NewChaincodeClient(cc).Connect(streamCtx)
	if err == nil {
		client := &Client{conn: peerside.New(stream, opts...), cc: cc, cancel: cancel}
		err = client.conn.Handshake(dialCtx)
		if err == nil && stop() {
			obs.mu.Lock()
			client.TLS = obs.state
			obs.mu.Unlock()
			return client, obs, nil
		}
		cancel()
		<-client.conn.Done()
		if err == nil {
			err = dialCtx.Err()
		}
	}
	stop()
	cancel()
	cc.Close()
	return nil, obs, fmt.Errorf("connect to chaincode at %s: %w", conn.Address, err)
}
