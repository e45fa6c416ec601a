package network

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Chaincode is a chaincode definition to install, approve and commit.
type Chaincode struct {
	Name              string
	Version           string // default "1.0"
	Sequence          int    // default 1
	Package           string // package file (tar.gz) to install
	PackageID         string // what the package's id must be; checked against the peer's
	InitRequired      bool
	CollectionsConfig string // collection config JSON file, for private data
	SignaturePolicy   string // e.g. "OR('Org1MSP.peer')"; default: the channel's endorsement policy
}

func (c Chaincode) version() string {
	if c.Version == "" {
		return "1.0"
	}
	return c.Version
}

func (c Chaincode) sequence() string {
	if c.Sequence == 0 {
		return "1"
	}
	return strconv.Itoa(c.Sequence)
}

// Install installs the package on every peer and checks that the peer's
// package id is the one expected.
func (n *Network) Install(ctx context.Context, c Chaincode) error {
	for _, p := range n.Peers {
		out, err := p.CLI(ctx, "lifecycle", "chaincode", "calculatepackageid", c.Package)
		if err != nil {
			return err
		}
		if id := strings.TrimSpace(string(out)); c.PackageID != "" && id != c.PackageID {
			return fmt.Errorf("peer computes package id %s for %s, we computed %s", id, c.Package, c.PackageID)
		}
		if _, err := p.CLI(ctx, "lifecycle", "chaincode", "install", c.Package); err != nil && !strings.Contains(err.Error(), "already successfully installed") {
			return err
		}
	}
	return nil
}

func (c Chaincode) definitionArgs(n *Network) []string {
	args := append(n.OrdererArgs(), "--channelID", n.Channel, "--name", c.Name, "--version", c.version(), "--sequence", c.sequence())
	if c.InitRequired {
		args = append(args, "--init-required")
	}
	if c.CollectionsConfig != "" {
		args = append(args, "--collections-config", c.CollectionsConfig)
	}
	if c.SignaturePolicy != "" {
		args = append(args, "--signature-policy", c.SignaturePolicy)
	}
	return args
}

// PeerArgs are the CLI flags that address every peer (one per org is enough
// for the MAJORITY policies of this network).
func (n *Network) PeerArgs() []string {
	var args []string
	for _, p := range n.Peers {
		args = append(args, "--peerAddresses", p.Addr, "--tlsRootCertFiles", p.TLSCA())
	}
	return args
}

// Deploy installs c, approves it for every org and commits it. With
// InitRequired, run Init next with InvokeCLI (the gateway cannot send an
// init transaction).
func (n *Network) Deploy(ctx context.Context, c Chaincode) error {
	if err := n.Install(ctx, c); err != nil {
		return err
	}
	for _, p := range n.Peers {
		args := append([]string{"lifecycle", "chaincode", "approveformyorg", "--package-id", c.PackageID}, c.definitionArgs(n)...)
		if _, err := p.CLI(ctx, args...); err != nil {
			return err
		}
	}
	args := append(append([]string{"lifecycle", "chaincode", "commit"}, c.definitionArgs(n)...), n.PeerArgs()...)
	_, err := n.Peers[0].CLI(ctx, args...)
	return err
}

// InvokeCLI submits a transaction with the peer CLI as Org1's admin and
// waits for it to commit.
func (n *Network) InvokeCLI(ctx context.Context, name string, isInit bool, args ...string) error {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	cargs := append(n.OrdererArgs(), "-C", n.Channel, "-n", name, "--waitForEvent", "-c", `{"Args":[`+strings.Join(q, ",")+`]}`)
	if isInit {
		cargs = append(cargs, "--isInit")
	}
	_, err := n.Peers[0].CLI(ctx, append(append([]string{"chaincode", "invoke"}, cargs...), n.PeerArgs()...)...)
	return err
}
