package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/e2e/chaincode/stubareas"
	"github.com/ccserver/ccserver/e2e/internal/clientbuilder"
	"github.com/ccserver/ccserver/e2e/internal/network"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// collections is the private data collection config of the stub-area
// chaincode: one collection that Org1's members may read and write.
const collections = `[{"name":"secret","policy":"OR('Org1MSP.member')","requiredPeerCount":0,"maxPeerCount":0,"blockToLive":0,"memberOnlyRead":true,"memberOnlyWrite":true}]`

// TestStubAreas drives every stub area a LevelDB peer serves through the
// real peer, with the chaincode on our shim in both execution modes:
// as a server (stubcc, the ccaas builder) and as a client the peer
// launches (stubclient, our external builder).
func TestStubAreas(t *testing.T) {
	needFabric(t)
	ctx := testContext(t, 8*time.Minute)
	collFile := filepath.Join(workDir, "collections.json")
	if err := os.WriteFile(collFile, []byte(collections), 0o644); err != nil {
		t.Fatal(err)
	}
	// The chaincode InvokeChaincode calls: ccserver's sample, a second server.
	deployCCaaS(t, ctx, "callee", "ccserver", network.Chaincode{})
	if _, err := userGateway(t).Contract("callee").SubmitTransaction("InitLedger"); err != nil {
		t.Fatal(errorText(err))
	}

	t.Run("server", func(t *testing.T) {
		srv, _ := deployCCaaS(t, ctx, "stubsrv", "stubcc", network.Chaincode{CollectionsConfig: collFile})
		stubAreas(t, "stubsrv", func() string { return srv.Proc.Log() })
	})
	t.Run("client", func(t *testing.T) {
		if builders == "" {
			t.Skip("no client builder built")
		}
		name := "stubcli"
		pkg := filepath.Join(workDir, name+".tar.gz")
		id, err := clientbuilder.WritePackage(pkg, name+"_1.0", bin("stubclient"))
		if err != nil {
			t.Fatal(err)
		}
		if err := fabnet.Deploy(ctx, network.Chaincode{Name: name, Package: pkg, PackageID: id, CollectionsConfig: collFile}); err != nil {
			t.Fatal(err)
		}
		stubAreas(t, name, nil)
	})
}

// stubAreas runs the stub-area checks against the deployed chaincode name.
// serverLog, when set, returns the chaincode server's log.
func stubAreas(t *testing.T, name string, serverLog func() string) {
	gw := userGateway(t)
	c := gw.Contract(name)
	submit := func(t *testing.T, args ...string) []byte {
		t.Helper()
		out, err := c.SubmitTransaction(args[0], args[1:]...)
		if err != nil {
			t.Fatalf("submit %v: %s", args, errorText(err))
		}
		return out
	}
	eval := func(t *testing.T, args ...string) []byte {
		t.Helper()
		out, err := c.EvaluateTransaction(args[0], args[1:]...)
		if err != nil {
			t.Fatalf("evaluate %v: %s", args, errorText(err))
		}
		return out
	}
	decode := func(t *testing.T, b []byte, v any) {
		t.Helper()
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
	type lookup struct {
		Key   string `json:"key"`
		Found bool   `json:"found"`
		Value string `json:"value"`
	}
	type kv struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	type page struct {
		KVs      []kv   `json:"kvs"`
		Bookmark string `json:"bookmark"`
		Fetched  int    `json:"fetched"`
	}

	t.Run("state CRUD", func(t *testing.T) {
		submit(t, "Put", "k1", "v1")
		var l lookup
		decode(t, eval(t, "Get", "k1"), &l)
		if !l.Found || l.Value != "v1" {
			t.Fatalf("Get k1 = %+v", l)
		}
		submit(t, "Delete", "k1")
		decode(t, eval(t, "Get", "k1"), &l)
		if l.Found {
			t.Fatalf("Get k1 after Delete = %+v", l)
		}
	})

	t.Run("range and pagination", func(t *testing.T) {
		submit(t, "PutMany", "r", "25", "4", "none")
		var all struct{ KVs []kv }
		decode(t, eval(t, "Range", "r", "s"), &all)
		if len(all.KVs) != 25 || all.KVs[0].Key != stubareas.ManyKey("r", 0) {
			t.Fatalf("Range r..s: %d keys, first %+v", len(all.KVs), all.KVs)
		}
		var keys []string
		bookmark := ""
		for pages := 0; ; pages++ {
			var p page
			decode(t, eval(t, "RangePage", "r", "s", "10", bookmark), &p)
			for _, x := range p.KVs {
				keys = append(keys, x.Key)
			}
			if p.Fetched != len(p.KVs) || p.Fetched > 10 {
				t.Fatalf("page %d: fetched %d, %d kvs", pages, p.Fetched, len(p.KVs))
			}
			if p.Fetched < 10 || pages > 5 {
				break
			}
			bookmark = p.Bookmark
		}
		if len(keys) != 25 || keys[24] != stubareas.ManyKey("r", 24) {
			t.Fatalf("pages gave %d keys: %v", len(keys), keys)
		}
	})

	t.Run("composite keys", func(t *testing.T) {
		for _, a := range [][]string{{"blue", "a1"}, {"blue", "a2"}, {"blue", "a3"}, {"red", "a4"}} {
			submit(t, "PutComposite", "asset", "v-"+a[1], a[0], a[1])
		}
		type ckv struct {
			Key        string   `json:"key"`
			ObjectType string   `json:"object_type"`
			Attributes []string `json:"attributes"`
		}
		var blue struct{ KVs []ckv }
		decode(t, eval(t, "Partial", "asset", "blue"), &blue)
		if len(blue.KVs) != 3 || blue.KVs[0].ObjectType != "asset" || strings.Join(blue.KVs[0].Attributes, ",") != "blue,a1" {
			t.Fatalf("Partial asset blue = %+v", blue)
		}
		var p1, p2 struct {
			KVs      []ckv  `json:"kvs"`
			Bookmark string `json:"bookmark"`
		}
		decode(t, eval(t, "PartialPage", "asset", "2", "", "blue"), &p1)
		decode(t, eval(t, "PartialPage", "asset", "2", p1.Bookmark, "blue"), &p2)
		if len(p1.KVs) != 2 || len(p2.KVs) != 1 || p2.KVs[0].Attributes[1] != "a3" {
			t.Fatalf("PartialPage: %+v then %+v", p1, p2)
		}
	})

	t.Run("history", func(t *testing.T) {
		submit(t, "Put", "h", "one")
		submit(t, "Put", "h", "two")
		submit(t, "Delete", "h")
		var hist []struct {
			TxID     string `json:"tx_id"`
			Value    string `json:"value"`
			IsDelete bool   `json:"is_delete"`
		}
		decode(t, eval(t, "History", "h"), &hist)
		if len(hist) != 3 || !hist[0].IsDelete || hist[1].Value != "two" || hist[2].Value != "one" || hist[2].TxID == "" {
			t.Fatalf("History h = %+v", hist)
		}
	})

	t.Run("private data", func(t *testing.T) {
		put := func(key, value string) {
			t.Helper()
			_, err := c.Submit("PutPrivate", client.WithArguments("secret", key), client.WithTransient(map[string][]byte{stubareas.TransientValueKey: []byte(value)}))
			if err != nil {
				t.Fatalf("PutPrivate %s: %s", key, errorText(err))
			}
		}
		put("p1", "hidden-1")
		put("p2", "hidden-2")
		var l lookup
		decode(t, eval(t, "GetPrivate", "secret", "p1"), &l)
		if !l.Found || l.Value != "hidden-1" {
			t.Fatalf("GetPrivate p1 = %+v", l)
		}
		var h struct {
			Found bool   `json:"found"`
			Hash  string `json:"hash"`
		}
		decode(t, eval(t, "PrivateHash", "secret", "p1"), &h)
		sum := sha256.Sum256([]byte("hidden-1"))
		if !h.Found || h.Hash != hex.EncodeToString(sum[:]) {
			t.Fatalf("PrivateHash p1 = %+v, want sha256 %x", h, sum)
		}
		var r struct{ KVs []kv }
		decode(t, eval(t, "PrivateRange", "secret", "p", "q"), &r)
		if len(r.KVs) != 2 || r.KVs[1].Value != "hidden-2" {
			t.Fatalf("PrivateRange = %+v", r)
		}
		var many []lookup
		decode(t, eval(t, "GetManyPrivate", "secret", "p2", "nope", "p1"), &many)
		if len(many) != 3 || many[0].Value != "hidden-2" || many[1].Found || many[2].Value != "hidden-1" {
			t.Fatalf("GetManyPrivate = %+v", many)
		}
		submit(t, "DeletePrivate", "secret", "p1")
		decode(t, eval(t, "GetPrivate", "secret", "p1"), &l)
		if l.Found {
			t.Fatalf("GetPrivate after delete = %+v", l)
		}
		submit(t, "PurgePrivate", "secret", "p2")
		decode(t, eval(t, "GetPrivate", "secret", "p2"), &l)
		decode(t, eval(t, "PrivateHash", "secret", "p2"), &h)
		if l.Found || h.Found {
			t.Fatalf("after purge: value %+v, hash %+v", l, h)
		}
		// Transient data never reaches the ledger: the committed write set holds only the hash.
		_, err := c.Submit("PutPrivate", client.WithArguments("secret", "p3"))
		if err == nil || !strings.Contains(errorText(err), "transient") {
			t.Fatalf("PutPrivate without transient data: %s", errorText(err))
		}
	})

	t.Run("key-level endorsement", func(t *testing.T) {
		submit(t, "Put", "ep", "v1")
		submit(t, "SetKeyEP", "ep", "Org1MSP")
		submit(t, "Put", "ep", "v2") // Org1's peer endorses: valid
		var ep struct {
			Set  bool     `json:"set"`
			Orgs []string `json:"orgs"`
		}
		decode(t, eval(t, "GetKeyEP", "ep"), &ep)
		if !ep.Set || strings.Join(ep.Orgs, ",") != "Org1MSP" {
			t.Fatalf("GetKeyEP = %+v", ep)
		}
		submit(t, "SetKeyEP", "ep", "Org2MSP")
		// The gateway reads the key's policy and finds no peer to satisfy it.
		_, err := c.SubmitTransaction("Put", "ep", "v3")
		if !strings.Contains(errorText(err), "no combination of peers can be derived which satisfy the endorsement policy") {
			t.Fatalf("write to a key only Org2 may endorse: %v, want the gateway's refusal", errorText(err))
		}
		// Endorsed by Org1 anyway, the transaction is ordered and invalidated at commit.
		_, err = c.Submit("Put", client.WithArguments("ep", "v3"), client.WithEndorsingOrganizations("Org1MSP"))
		var ce *client.CommitError
		if !errors.As(err, &ce) || ce.Code != peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE {
			t.Fatalf("write to a key only Org2 may endorse, endorsed by Org1: %v, want commit status ENDORSEMENT_POLICY_FAILURE", errorText(err))
		}
		var l lookup
		decode(t, eval(t, "Get", "ep"), &l)
		if l.Value != "v2" {
			t.Fatalf("ep = %q after the invalid write, want v2", l.Value)
		}
	})

	t.Run("chaincode events", func(t *testing.T) {
		ctx := testContext(t, time.Minute)
		events, err := gw.ChannelNetwork().ChaincodeEvents(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		_, commit, err := c.SubmitAsync("Event", client.WithArguments("AssetMoved", `{"id":"a1"}`))
		if err != nil {
			t.Fatal(errorText(err))
		}
		if st, err := commit.Status(); err != nil || !st.Successful {
			t.Fatalf("Event commit: %+v %v", st, err)
		}
		select {
		case ev := <-events:
			if ev.EventName != "AssetMoved" || string(ev.Payload) != `{"id":"a1"}` || ev.TransactionID != commit.TransactionID() {
				t.Fatalf("event %+v, want AssetMoved from %s", ev, commit.TransactionID())
			}
		case <-ctx.Done():
			t.Fatal("no chaincode event")
		}
	})

	t.Run("transaction context", func(t *testing.T) {
		var info struct {
			TxID      string    `json:"tx_id"`
			ChannelID string    `json:"channel_id"`
			Timestamp time.Time `json:"timestamp"`
		}
		decode(t, eval(t, "TxInfo"), &info)
		if info.ChannelID != fabnet.Channel || len(info.TxID) != 64 || time.Since(info.Timestamp).Abs() > time.Minute {
			t.Fatalf("TxInfo = %+v", info)
		}
	})

	t.Run("client identity", func(t *testing.T) {
		id, err := fabnet.UserWithAttributes(fabnet.Peers[0].Org, "alice", map[string]string{"role": "auditor", "region": "eu"})
		if err != nil {
			t.Fatal(err)
		}
		out, err := gatewayAs(t, id).Contract(name).EvaluateTransaction("WhoAmI", "role")
		if err != nil {
			t.Fatal(errorText(err))
		}
		var who struct {
			MSPID     string `json:"msp_id"`
			Subject   string `json:"subject"`
			Attribute struct {
				Value string `json:"value"`
				Found bool   `json:"found"`
			} `json:"attribute"`
			Attributes     map[string]string `json:"attributes"`
			SignedProposal bool              `json:"signed_proposal"`
			Binding        string            `json:"binding"`
		}
		decode(t, out, &who)
		if who.MSPID != "Org1MSP" || !strings.Contains(who.Subject, "alice") || !who.Attribute.Found || who.Attribute.Value != "auditor" ||
			who.Attributes["region"] != "eu" || !who.SignedProposal || who.Binding == "" {
			t.Fatalf("WhoAmI = %s", out)
		}
	})

	t.Run("multiple states", func(t *testing.T) {
		submit(t, "Put", "m1", "one")
		submit(t, "Put", "m2", "two")
		var many []lookup
		decode(t, eval(t, "GetMany", "m2", "none", "m1"), &many)
		if len(many) != 3 || many[0].Value != "two" || many[1].Found || many[2].Value != "one" {
			t.Fatalf("GetMany = %+v", many)
		}
	})

	t.Run("write batch", func(t *testing.T) {
		// 2500 writes in one transaction: more than the v3.1 peer's
		// maxSizeWriteBatch (1000), so the shim splits the batch.
		for _, mode := range []string{"explicit", "implicit"} {
			prefix := "wb-" + mode + "-"
			submit(t, "PutMany", prefix, "2500", "8", mode)
			var n struct{ Count int }
			decode(t, eval(t, "CountRange", prefix), &n)
			if n.Count != 2500 {
				t.Fatalf("%s batch: %d keys committed, want 2500", mode, n.Count)
			}
			var l lookup
			decode(t, eval(t, "Get", stubareas.ManyKey(prefix, 2499)), &l)
			if l.Value != string(stubareas.ManyValue(2499, 8)) {
				t.Fatalf("%s batch: last value %q", mode, l.Value)
			}
		}
		if serverLog != nil {
			want := fmt.Sprintf("write_batch=%t get_multiple_keys=%t", fabric.Major() >= 3, fabric.Major() >= 3)
			if log := serverLog(); !strings.Contains(log, want) {
				t.Fatalf("the server's stream did not negotiate %q with Fabric %s", want, fabric.Version)
			}
		}
	})

	t.Run("large value", func(t *testing.T) {
		const size = 4 << 20
		var info struct {
			Len    int    `json:"len"`
			SHA256 string `json:"sha256"`
		}
		submit(t, "PutBig", "big", fmt.Sprint(size))
		decode(t, eval(t, "GetBigInfo", "big"), &info)
		sum := sha256.Sum256(stubareas.BigValue("big", size))
		if info.Len != size || info.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("GetBigInfo big = %+v, want %d bytes with sha256 %x", info, size, sum)
		}
	})

	t.Run("invoke chaincode", func(t *testing.T) {
		var res struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
			Payload string `json:"payload"`
		}
		decode(t, eval(t, "Call", "callee", "", "ReadAsset", "asset1"), &res)
		if res.Status != 200 || !strings.Contains(res.Payload, "Tomoko") {
			t.Fatalf("Call callee ReadAsset asset1 = %+v", res)
		}
		decode(t, eval(t, "Call", "callee", "", "ReadAsset", "nosuch"), &res)
		if res.Status != 500 || !strings.Contains(res.Message+res.Payload, "does not exist") {
			t.Fatalf("Call callee ReadAsset nosuch = %+v", res)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := c.EvaluateTransaction("Fail", "404", "no such thing")
		if msg := errorText(err); !strings.Contains(msg, "chaincode response 404, no such thing") {
			t.Fatalf("Fail 404: %s", msg)
		}
		_, err = c.SubmitTransaction("Fail", "403", "forbidden here")
		if msg := errorText(err); !strings.Contains(msg, "chaincode response 403, forbidden here") {
			t.Fatalf("Fail 403 on submit: %s", msg)
		}
		_, err = c.EvaluateTransaction("Panic", "boom")
		if msg := errorText(err); !strings.Contains(msg, "chaincode response 500") || !strings.Contains(msg, "boom") {
			t.Fatalf("Panic: %s", msg)
		}
		submit(t, "Put", "after-panic", "ok") // the stream survived
	})
}
