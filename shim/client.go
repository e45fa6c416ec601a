package shim

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/ccserver/ccserver/shim/internal/engine"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ccserver/ccserver/tlsconfig"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// clientConfig is the chaincode-as-client configuration the peer passes
// through CORE_* variables and the -peer.address argument.
type clientConfig struct {
	ccid        string
	peerAddress string
	tlsEnabled  bool
	key, cert   []byte
	rootCert    []byte
	// env names the variable each client spec field came from, so a TLS
	// error names what the operator set.
	env map[string]string
}

// Start runs chaincode in the classic mode: it dials the peer and
// registers. It honours the same contract as the original shim:
//
//	-peer.address (argument)         the peer's chaincode listener
//	CORE_CHAINCODE_ID_NAME           the chaincode id (required)
//	CORE_PEER_TLS_ENABLED            "true" or "false" (required)
//	CORE_TLS_CLIENT_KEY_FILE         PEM key file, or
//	CORE_TLS_CLIENT_KEY_PATH         file holding the base64 of the PEM key
//	CORE_TLS_CLIENT_CERT_FILE        PEM certificate file, or
//	CORE_TLS_CLIENT_CERT_PATH        file holding the base64 of the PEM cert
//	CORE_PEER_TLS_ROOTCERT_FILE      PEM of the peer's TLS CA
//
// CORE_PEER_ADDRESS is accepted when -peer.address is absent. Start
// returns when the stream ends.
func Start(cc Chaincode) error {
	cfg, err := loadClientConfig(os.LookupEnv, os.Args[1:], os.ReadFile)
	if err != nil {
		return err
	}
	return runClient(context.Background(), cfg, cc)
}

// peerAddressArg finds -peer.address / --peer.address in args without
// touching the process-wide flag set.
func peerAddressArg(args []string) string {
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "peer.address" {
			continue
		}
		if hasValue {
			return value
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func loadClientConfig(lookup func(string) (string, bool), args []string, readFile func(string) ([]byte, error)) (clientConfig, error) {
	get := func(k string) string { v, _ := lookup(k); return v }
	cfg := clientConfig{ccid: get("CORE_CHAINCODE_ID_NAME"), peerAddress: peerAddressArg(args)}
	if cfg.peerAddress == "" {
		cfg.peerAddress = get("CORE_PEER_ADDRESS")
	}
	if cfg.peerAddress == "" {
		return cfg, errors.New("flag 'peer.address' must be set")
	}
	if cfg.ccid == "" {
		return cfg, errors.New("'CORE_CHAINCODE_ID_NAME' must be set")
	}
	enabled, err := strconv.ParseBool(get("CORE_PEER_TLS_ENABLED"))
	if err != nil {
		return cfg, errors.New("'CORE_PEER_TLS_ENABLED' must be set to 'true' or 'false'")
	}
	cfg.tlsEnabled = enabled
	if !enabled {
		return cfg, nil
	}
	cfg.env = map[string]string{"ServerCACerts": "CORE_PEER_TLS_ROOTCERT_FILE"}
	readPEMOrBase64 := func(field, what, fileVar, pathVar string) ([]byte, error) {
		cfg.env[field] = fileVar
		if p, ok := lookup(fileVar); ok {
			b, err := readFile(p)
			if err != nil {
				return nil, fmt.Errorf("failed to read %s from %s (%s): %w", what, fileVar, p, err)
			}
			return b, nil
		}
		cfg.env[field] = pathVar
		p := get(pathVar)
		if p == "" {
			return nil, fmt.Errorf("TLS is enabled but neither %s nor %s names the client %s", fileVar, pathVar, what)
		}
		b, err := readFile(p)
		if err != nil {
			return nil, fmt.Errorf("failed to read %s from %s (%s): %w", what, pathVar, p, err)
		}
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("failed to decode %s from %s (%s): it must hold the base64 of the PEM: %w", what, pathVar, p, err)
		}
		return dec, nil
	}
	if cfg.key, err = readPEMOrBase64("Key", "key", "CORE_TLS_CLIENT_KEY_FILE", "CORE_TLS_CLIENT_KEY_PATH"); err != nil {
		return cfg, err
	}
	if cfg.cert, err = readPEMOrBase64("Cert", "certificate", "CORE_TLS_CLIENT_CERT_FILE", "CORE_TLS_CLIENT_CERT_PATH"); err != nil {
		return cfg, err
	}
	root := get("CORE_PEER_TLS_ROOTCERT_FILE")
	if cfg.rootCert, err = readFile(root); err != nil {
		return cfg, fmt.Errorf("error reading root cert file CORE_PEER_TLS_ROOTCERT_FILE (%s): %w", root, err)
	}
	return cfg, nil
}

// dialPeer opens the classic Register stream to the peer.
func dialPeer(ctx context.Context, cfg clientConfig) (*grpc.ClientConn, peer.ChaincodeSupport_RegisterClient, error) {
	creds := insecure.NewCredentials()
	if cfg.tlsEnabled {
		// Name the peer explicitly: for an IP address crypto/tls sends no
		// SNI, and the handshake would have no name to verify against.
		host, _, err := net.SplitHostPort(cfg.peerAddress)
		if err != nil {
			host = cfg.peerAddress
		}
		cl, err := tlsconfig.NewClient(tlsconfig.ClientSpec{Cert: cfg.cert, Key: cfg.key, ServerCACerts: cfg.rootCert, ServerName: host})
		if err != nil {
			return nil, nil, fmt.Errorf("client TLS: %w", tlsconfig.Rename(err, func(f string) string { return cfg.env[f] }))
		}
		creds = credentials.NewTLS(cl.Config()) // static material: nothing to close
	}
	conn, err := grpc.NewClient(cfg.peerAddress,
		grpc.WithTransportCredentials(creds),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: time.Minute, Timeout: 20 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize)),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to peer %s: %w", cfg.peerAddress, err)
	}
	stream, err := peer.NewChaincodeSupportClient(conn).Register(ctx, grpc.ForceCodecV2(engine.NewCodec()))
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("open the Register stream to peer %s: %w", cfg.peerAddress, err)
	}
	return conn, stream, nil
}

func runClient(ctx context.Context, cfg clientConfig, cc Chaincode) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, stream, err := dialPeer(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	defer stream.CloseSend() //nolint:errcheck // ending anyway
	h := newHandler(stream, cc, runOptions{ccid: cfg.ccid, peer: cfg.peerAddress, frames: true})
	if err := h.eng.Run(); err != nil {
		return fmt.Errorf("chaincode stream to %s: %w", cfg.peerAddress, err)
	}
	return errors.New("received EOF, ending chaincode stream")
}
