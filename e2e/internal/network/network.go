// Package network brings up a real Hyperledger Fabric network natively on
// loopback for tests: one etcdraft orderer, one peer per organisation, a
// channel made with channel participation, and chaincode lifecycle through
// the peer CLI. Everything lives under one directory; processes are stopped
// by the PIDs recorded at start.
package network

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// logFormat is Fabric's default log format without colours, for log files.
const logFormat = "%{time:2006-01-02 15:04:05.000 MST} %{level:.4s} [%{module}] %{shortfunc} -> %{message}"

// Org is a peer organisation.
type Org struct {
	Name   string // e.g. Org1; the configtx anchor and cryptogen name
	MSPID  string // e.g. Org1MSP
	Domain string // e.g. org1.example.com
}

// DefaultOrgs is one organisation, Org1MSP.
var DefaultOrgs = []Org{{Name: "Org1", MSPID: "Org1MSP", Domain: "org1.example.com"}}

// Options configure a network.
type Options struct {
	Fabric  Fabric
	Dir     string // everything goes under it; created if missing
	Channel string // default "e2e"
	Orgs    []Org  // default DefaultOrgs
	// Builders are added before Fabric's ccaas builder.
	Builders []Builder
	// PeerEnv is added to every peer's environment (e.g. CORE_CHAINCODE_STARTUPTIMEOUT=30s).
	PeerEnv []string
	// OrgEnv is added to the environment of the peers of one org, by
	// MSP id (e.g. each org's CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG).
	OrgEnv map[string][]string
	Logf   func(format string, args ...any)
}

// Network is a running Fabric network.
type Network struct {
	Fabric  Fabric
	Dir     string
	Channel string
	Crypto  string // cryptogen output

	OrdererAddr      string
	OrdererAdminAddr string
	Orderer          *Process
	Peers            []*Peer

	logf func(format string, args ...any)
}

// Peer is one running peer node.
type Peer struct {
	Org            Org
	Name           string // peer0.org1.example.com
	Addr           string // 127.0.0.1:port, gRPC (endorser, gateway, deliver)
	ChaincodeAddr  string // where chaincode-as-client programs dial
	OperationsAddr string
	CfgDir         string // holds its patched core.yaml
	Proc           *Process
	env            []string
	net            *Network
}

// Start brings a network up. On error what started is stopped again.
func Start(ctx context.Context, o Options) (_ *Network, err error) {
	if o.Channel == "" {
		o.Channel = "e2e"
	}
	if len(o.Orgs) == 0 {
		o.Orgs = DefaultOrgs
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	n := &Network{Fabric: o.Fabric, Dir: dir, Channel: o.Channel, Crypto: filepath.Join(dir, "crypto"), logf: o.Logf}
	defer func() {
		if err != nil {
			n.Stop()
		}
	}()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := n.generateCrypto(ctx, o.Orgs); err != nil {
		return nil, err
	}
	ports, err := freePorts(3 + 3*len(o.Orgs))
	if err != nil {
		return nil, err
	}
	n.OrdererAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	n.OrdererAdminAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	genesis, err := n.genesisBlock(ctx, o.Orgs, ports[0])
	if err != nil {
		return nil, err
	}
	if err := n.startOrderer(ctx, ports[2]); err != nil {
		return nil, err
	}
	builders := append(append([]Builder(nil), o.Builders...), Builder{
		Name: "ccaas_builder", Path: o.Fabric.CCaaSDir,
		PropagateEnvironment: []string{"CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"},
	})
	for i, org := range o.Orgs {
		p := ports[3+3*i:]
		env := append(append([]string(nil), o.PeerEnv...), o.OrgEnv[org.MSPID]...)
		if err := n.startPeer(ctx, org, p[0], p[1], p[2], builders, env); err != nil {
			return nil, err
		}
	}
	if err := n.createChannel(ctx, genesis); err != nil {
		return nil, err
	}
	n.logf("fabric %s network up in %s: orderer %s, peers %s, channel %s, under %s",
		n.Fabric.Version, time.Since(t0).Round(time.Millisecond), n.OrdererAddr, n.peerAddrs(), n.Channel, n.Dir)
	return n, nil
}

func (n *Network) peerAddrs() string {
	var s []string
	for _, p := range n.Peers {
		s = append(s, p.Addr)
	}
	return strings.Join(s, ",")
}

func freePorts(k int) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for len(out) < k {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

func (n *Network) generateCrypto(ctx context.Context, orgs []Org) error {
	cfg := filepath.Join(n.Dir, "crypto-config.yaml")
	if err := writeTemplate(cfg, cryptoConfig, orgs); err != nil {
		return err
	}
	_, err := run(ctx, nil, n.Fabric.Bin("cryptogen"), "generate", "--config", cfg, "--output", n.Crypto)
	return err
}

func (n *Network) genesisBlock(ctx context.Context, orgs []Org, ordererPort int) (string, error) {
	cfgDir := filepath.Join(n.Dir, "configtx")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return "", err
	}
	data := struct {
		Crypto      string
		OrdererPort int
		Orgs        []Org
	}{n.Crypto, ordererPort, orgs}
	if err := writeTemplate(filepath.Join(cfgDir, "configtx.yaml"), configtx, data); err != nil {
		return "", err
	}
	block := filepath.Join(n.Dir, n.Channel+".block")
	_, err := run(ctx, []string{"FABRIC_CFG_PATH=" + cfgDir}, n.Fabric.Bin("configtxgen"),
		"-profile", "E2E", "-channelID", n.Channel, "-outputBlock", block)
	return block, err
}

func (n *Network) ordererTLS() string {
	return filepath.Join(n.Crypto, "ordererOrganizations/example.com/orderers/orderer.example.com/tls")
}

// OrdererCA is the orderer's TLS CA certificate file.
func (n *Network) OrdererCA() string { return filepath.Join(n.ordererTLS(), "ca.crt") }

func (n *Network) startOrderer(ctx context.Context, opsPort int) error {
	od := filepath.Join(n.Dir, "orderer")
	tls := n.ordererTLS()
	adminTLSCA := filepath.Join(n.Crypto, "ordererOrganizations/example.com/users/Admin@example.com/tls/ca.crt")
	host, port, _ := strings.Cut(n.OrdererAddr, ":")
	env := []string{
		"FABRIC_CFG_PATH=" + n.Fabric.ConfigDir,
		"FABRIC_LOGGING_SPEC=info",
		"FABRIC_LOGGING_FORMAT=" + logFormat,
		"ORDERER_GENERAL_LISTENADDRESS=" + host,
		"ORDERER_GENERAL_LISTENPORT=" + port,
		"ORDERER_GENERAL_LOCALMSPID=OrdererMSP",
		"ORDERER_GENERAL_LOCALMSPDIR=" + filepath.Join(filepath.Dir(tls), "msp"),
		"ORDERER_GENERAL_TLS_ENABLED=true",
		"ORDERER_GENERAL_TLS_PRIVATEKEY=" + filepath.Join(tls, "server.key"),
		"ORDERER_GENERAL_TLS_CERTIFICATE=" + filepath.Join(tls, "server.crt"),
		"ORDERER_GENERAL_TLS_ROOTCAS=[" + filepath.Join(tls, "ca.crt") + "]",
		"ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE=" + filepath.Join(tls, "server.crt"),
		"ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY=" + filepath.Join(tls, "server.key"),
		"ORDERER_GENERAL_CLUSTER_ROOTCAS=[" + filepath.Join(tls, "ca.crt") + "]",
		"ORDERER_GENERAL_BOOTSTRAPMETHOD=none",
		"ORDERER_GENERAL_MAXRECVMSGSIZE=104857600",
		"ORDERER_GENERAL_MAXSENDMSGSIZE=104857600",
		"ORDERER_CHANNELPARTICIPATION_ENABLED=true",
		"ORDERER_ADMIN_LISTENADDRESS=" + n.OrdererAdminAddr,
		"ORDERER_ADMIN_TLS_ENABLED=true",
		"ORDERER_ADMIN_TLS_CERTIFICATE=" + filepath.Join(tls, "server.crt"),
		"ORDERER_ADMIN_TLS_PRIVATEKEY=" + filepath.Join(tls, "server.key"),
		"ORDERER_ADMIN_TLS_ROOTCAS=[" + filepath.Join(tls, "ca.crt") + "]",
		"ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true",
		"ORDERER_ADMIN_TLS_CLIENTROOTCAS=[" + adminTLSCA + "]",
		"ORDERER_FILELEDGER_LOCATION=" + filepath.Join(od, "ledger"),
		"ORDERER_CONSENSUS_WALDIR=" + filepath.Join(od, "etcdraft/wal"),
		"ORDERER_CONSENSUS_SNAPDIR=" + filepath.Join(od, "etcdraft/snap"),
		fmt.Sprintf("ORDERER_OPERATIONS_LISTENADDRESS=127.0.0.1:%d", opsPort),
		"ORDERER_METRICS_PROVIDER=disabled",
	}
	if err := os.MkdirAll(od, 0o755); err != nil {
		return err
	}
	p, err := StartProcess("orderer", filepath.Join(n.Dir, "orderer.log"), env, n.Fabric.Bin("orderer"))
	if err != nil {
		return err
	}
	n.Orderer = p
	return waitHealthy(ctx, p, fmt.Sprintf("127.0.0.1:%d", opsPort))
}

// waitHealthy polls the operations endpoint's /healthz.
func waitHealthy(ctx context.Context, p *Process, ops string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ops+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if done, exitErr := p.Exited(); done {
			return fmt.Errorf("%s exited at start (%v); last lines of %s:\n%s", p.Name, exitErr, p.LogPath, p.Tail(40))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy at %s: %w; last lines:\n%s", p.Name, ops, ctx.Err(), p.Tail(40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (n *Network) orgDir(org Org) string {
	return filepath.Join(n.Crypto, "peerOrganizations", org.Domain)
}

func (n *Network) startPeer(ctx context.Context, org Org, port, ccPort, opsPort int, builders []Builder, extra []string) error {
	name := "peer0." + org.Domain
	pd := filepath.Join(n.Dir, name)
	cfgDir := filepath.Join(pd, "config")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return err
	}
	if err := patchCoreYAML(filepath.Join(n.Fabric.ConfigDir, "core.yaml"), filepath.Join(cfgDir, "core.yaml"), builders); err != nil {
		return err
	}
	node := filepath.Join(n.orgDir(org), "peers", name)
	p := &Peer{
		Org: org, Name: name, CfgDir: cfgDir, net: n,
		Addr:           fmt.Sprintf("127.0.0.1:%d", port),
		ChaincodeAddr:  fmt.Sprintf("127.0.0.1:%d", ccPort),
		OperationsAddr: fmt.Sprintf("127.0.0.1:%d", opsPort),
	}
	p.env = append([]string{
		"FABRIC_CFG_PATH=" + cfgDir,
		"FABRIC_LOGGING_SPEC=info",
		"FABRIC_LOGGING_FORMAT=" + logFormat,
		"CORE_PEER_ID=" + name,
		"CORE_PEER_ADDRESS=" + p.Addr,
		"CORE_PEER_LISTENADDRESS=" + p.Addr,
		"CORE_PEER_CHAINCODEADDRESS=" + p.ChaincodeAddr,
		"CORE_PEER_CHAINCODELISTENADDRESS=" + p.ChaincodeAddr,
		"CORE_PEER_GOSSIP_EXTERNALENDPOINT=" + p.Addr,
		"CORE_PEER_GOSSIP_BOOTSTRAP=" + p.Addr,
		"CORE_PEER_LOCALMSPID=" + org.MSPID,
		"CORE_PEER_MSPCONFIGPATH=" + filepath.Join(node, "msp"),
		"CORE_PEER_TLS_ENABLED=true",
		"CORE_PEER_TLS_CERT_FILE=" + filepath.Join(node, "tls/server.crt"),
		"CORE_PEER_TLS_KEY_FILE=" + filepath.Join(node, "tls/server.key"),
		"CORE_PEER_TLS_ROOTCERT_FILE=" + filepath.Join(node, "tls/ca.crt"),
		"CORE_PEER_FILESYSTEMPATH=" + filepath.Join(pd, "data"),
		"CORE_LEDGER_SNAPSHOTS_ROOTDIR=" + filepath.Join(pd, "snapshots"),
		"CORE_OPERATIONS_LISTENADDRESS=" + p.OperationsAddr,
		"CORE_METRICS_PROVIDER=disabled",
		"CORE_CHAINCODE_STARTUPTIMEOUT=60s",
	}, extra...)
	proc, err := StartProcess(name, filepath.Join(n.Dir, name+".log"), p.env, n.Fabric.Bin("peer"), "node", "start")
	if err != nil {
		return err
	}
	p.Proc = proc
	n.Peers = append(n.Peers, p)
	return waitHealthy(ctx, proc, p.OperationsAddr)
}

// TLSCA is the file of the CA that issued the peer's TLS certificate.
func (p *Peer) TLSCA() string {
	return filepath.Join(p.net.orgDir(p.Org), "peers", p.Name, "tls/ca.crt")
}

// AdminMSP is the directory of the org admin's MSP.
func (p *Peer) AdminMSP() string {
	return filepath.Join(p.net.orgDir(p.Org), "users", "Admin@"+p.Org.Domain, "msp")
}

// CLIEnv is the environment for the peer CLI acting as the org admin on p.
func (p *Peer) CLIEnv() []string {
	return []string{
		"FABRIC_CFG_PATH=" + p.CfgDir,
		"FABRIC_LOGGING_SPEC=warning",
		"CORE_PEER_TLS_ENABLED=true",
		"CORE_PEER_LOCALMSPID=" + p.Org.MSPID,
		"CORE_PEER_TLS_ROOTCERT_FILE=" + p.TLSCA(),
		"CORE_PEER_MSPCONFIGPATH=" + p.AdminMSP(),
		"CORE_PEER_ADDRESS=" + p.Addr,
	}
}

// CLI runs the peer CLI as the org admin on p and returns its stdout.
func (p *Peer) CLI(ctx context.Context, args ...string) ([]byte, error) {
	return run(ctx, p.CLIEnv(), p.net.Fabric.Bin("peer"), args...)
}

// Setenv sets a variable of the peer's environment for its next start.
func (p *Peer) Setenv(key, value string) {
	p.env = append(p.env, key+"="+value) // the last one wins
}

// DropBuild removes the peer's durable build of a package id, so that the
// next launch builds it again (the ccaas builder renders connection.json
// from the builder config then, not at every start).
func (p *Peer) DropBuild(ccid string) error {
	// The peer names the directory after the package id with ':' as '-'.
	dir := filepath.Join(filepath.Dir(p.CfgDir), "data", "externalbuilder", "builds", strings.ReplaceAll(ccid, ":", "-"))
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("no build of %s on %s: %w", ccid, p.Name, err)
	}
	return os.RemoveAll(dir)
}

// Restart stops the peer and starts it again on the same ports and data.
func (p *Peer) Restart(ctx context.Context) error {
	if err := p.Proc.Stop(15 * time.Second); err != nil {
		p.net.logf("%s stopped: %v", p.Name, err)
	}
	proc, err := StartProcess(p.Name, p.Proc.LogPath, p.env, p.net.Fabric.Bin("peer"), "node", "start")
	if err != nil {
		return err
	}
	p.Proc = proc
	return waitHealthy(ctx, proc, p.OperationsAddr)
}

func (n *Network) createChannel(ctx context.Context, genesis string) error {
	admin := filepath.Join(n.Crypto, "ordererOrganizations/example.com/users/Admin@example.com/tls")
	if _, err := run(ctx, nil, n.Fabric.Bin("osnadmin"), "channel", "join", "--channelID", n.Channel,
		"--config-block", genesis, "-o", n.OrdererAdminAddr, "--ca-file", n.OrdererCA(),
		"--client-cert", filepath.Join(admin, "client.crt"), "--client-key", filepath.Join(admin, "client.key")); err != nil {
		return err
	}
	// The orderer serves the channel only once the raft leader is elected.
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := n.Orderer.WaitLog(wctx, "Raft leader changed: 0 -> "); err != nil {
		return err
	}
	for _, p := range n.Peers {
		if _, err := p.CLI(ctx, "channel", "join", "-b", genesis); err != nil {
			return err
		}
	}
	return nil
}

// OrdererArgs are the peer CLI flags that reach the orderer over TLS.
func (n *Network) OrdererArgs() []string {
	return []string{"-o", n.OrdererAddr, "--tls", "--cafile", n.OrdererCA()}
}

// Processes lists every process of the network.
func (n *Network) Processes() []*Process {
	var ps []*Process
	if n.Orderer != nil {
		ps = append(ps, n.Orderer)
	}
	for _, p := range n.Peers {
		ps = append(ps, p.Proc)
	}
	return ps
}

// Stop stops every process of the network, peers first.
func (n *Network) Stop() error {
	var errs []error
	for i := len(n.Peers) - 1; i >= 0; i-- {
		if p := n.Peers[i].Proc; p != nil {
			errs = append(errs, ignoreSignal(p.Stop(10*time.Second)))
		}
	}
	if n.Orderer != nil {
		errs = append(errs, ignoreSignal(n.Orderer.Stop(10*time.Second)))
	}
	return errors.Join(errs...)
}

// ignoreSignal treats death by our own SIGTERM or SIGKILL as a clean stop.
func ignoreSignal(err error) error {
	if err != nil && (strings.Contains(err.Error(), "signal: terminated") || strings.Contains(err.Error(), "signal: killed")) {
		return nil
	}
	return err
}

// Tails returns the last lines of every process's log, for a failed test.
func (n *Network) Tails(lines int) string {
	var b strings.Builder
	for _, p := range n.Processes() {
		fmt.Fprintf(&b, "==== %s (%s) ====\n%s\n", p.Name, p.LogPath, p.Tail(lines))
	}
	return b.String()
}
