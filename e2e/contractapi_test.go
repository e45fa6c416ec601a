package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/e2e/internal/network"
	"github.com/hyperledger/fabric-gateway/pkg/client"
)

// rentalCollections declares the private collection of the contract-api
// example (examples/contractapi): the daily rates, Org1's only.
const rentalCollections = `[{"name":"rates","policy":"OR('Org1MSP.member')","requiredPeerCount":0,"maxPeerCount":0,"blockToLive":0,"memberOnlyRead":true,"memberOnlyWrite":true}]`

// TestContractAPI serves a contract-api chaincode with
// serve.Main(fabricshim.Wrap(cc)) (rentalcc, from examples/contractapi)
// as a ccaas server and drives both of its contracts through the real
// peer's gateway: submit and evaluate, private data from the transient
// map, chaincode events, errors reaching the client, contract-api's
// GetMetadata, and the function names in ccserver's metrics.
func TestContractAPI(t *testing.T) {
	needFabric(t)
	ctx := testContext(t, 4*time.Minute)
	collFile := filepath.Join(workDir, "rental-collections.json")
	if err := os.WriteFile(collFile, []byte(rentalCollections), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, _ := deployCCaaS(t, ctx, "rental", "rentalcc", network.Chaincode{CollectionsConfig: collFile})
	gw := userGateway(t)
	c := gw.Contract("rental")
	submit := func(t *testing.T, fn string, args ...string) []byte {
		t.Helper()
		out, err := c.SubmitTransaction(fn, args...)
		if err != nil {
			t.Fatalf("submit %s %v: %s", fn, args, errorText(err))
		}
		return out
	}
	evaluate := func(t *testing.T, fn string, args ...string) []byte {
		t.Helper()
		out, err := c.EvaluateTransaction(fn, args...)
		if err != nil {
			t.Fatalf("evaluate %s %v: %s", fn, args, errorText(err))
		}
		return out
	}
	type equipment struct {
		ID, Kind, Owner, OwnerMSP, Renter string
	}

	t.Run("two contracts", func(t *testing.T) {
		submit(t, "Register", "e1", "drill", "Ann") // the default contract, by bare name
		submit(t, "equipment:Register", "e2", "ladder", "Ann")
		var e equipment
		if err := json.Unmarshal(evaluate(t, "equipment:Get", "e1"), &e); err != nil {
			t.Fatal(err)
		}
		if e != (equipment{ID: "e1", Kind: "drill", Owner: "Ann", OwnerMSP: "Org1MSP"}) {
			t.Fatalf("Get e1 = %+v (the custom context's before hook sets the owning MSP)", e)
		}
		var all []equipment
		if err := json.Unmarshal(evaluate(t, "List"), &all); err != nil || len(all) != 2 || all[1].ID != "e2" {
			t.Fatalf("List = %+v, %v", all, err)
		}
	})

	t.Run("chaincode event", func(t *testing.T) {
		ectx := testContext(t, time.Minute)
		events, err := gw.ChannelNetwork().ChaincodeEvents(ectx, "rental")
		if err != nil {
			t.Fatal(err)
		}
		_, commit, err := c.SubmitAsync("Transfer", client.WithArguments("e2", "Cho"))
		if err != nil {
			t.Fatal(errorText(err))
		}
		if st, err := commit.Status(); err != nil || !st.Successful {
			t.Fatalf("Transfer commit: %+v %v", st, err)
		}
		select {
		case ev := <-events:
			if ev.EventName != "EquipmentTransferred" || string(ev.Payload) != `{"id":"e2","from":"Ann","to":"Cho"}` || ev.TransactionID != commit.TransactionID() {
				t.Fatalf("event %s %s from %s, want EquipmentTransferred from %s", ev.EventName, ev.Payload, ev.TransactionID, commit.TransactionID())
			}
		case <-ectx.Done():
			t.Fatal("no chaincode event")
		}
	})

	t.Run("private data from the transient map", func(t *testing.T) {
		const rate = "98765"
		_, commit, err := c.SubmitAsync("rental:SetRate", client.WithArguments("e1"), client.WithTransient(map[string][]byte{"rate": []byte(rate)}))
		if err != nil {
			t.Fatal(errorText(err))
		}
		if st, err := commit.Status(); err != nil || !st.Successful {
			t.Fatalf("SetRate commit: %+v %v", st, err)
		}
		if got := evaluate(t, "rental:Rate", "e1"); string(got) != rate {
			t.Fatalf("Rate e1 = %s, want %s", got, rate)
		}
		// The committed transaction holds the call but not the rate.
		tx, err := gw.ChannelNetwork().GetContract("qscc").EvaluateTransaction("GetTransactionByID", fabnet.Channel, commit.TransactionID())
		if err != nil {
			t.Fatal(errorText(err))
		}
		if !strings.Contains(string(tx), "rental:SetRate") || strings.Contains(string(tx), rate) {
			t.Fatalf("the committed SetRate transaction (%d bytes): has the call %v, has the rate %v; want the call only",
				len(tx), strings.Contains(string(tx), "rental:SetRate"), strings.Contains(string(tx), rate))
		}
		_, err = c.Submit("rental:SetRate", client.WithArguments("e2"))
		if msg := errorText(err); !strings.Contains(msg, "chaincode response 500") || !strings.Contains(msg, "send the rate in the transient map") {
			t.Fatalf("SetRate without transient data: %q", msg)
		}
	})

	t.Run("rent reads the private rate", func(t *testing.T) {
		ectx := testContext(t, time.Minute)
		events, err := gw.ChannelNetwork().ChaincodeEvents(ectx, "rental")
		if err != nil {
			t.Fatal(err)
		}
		out, commit, err := c.SubmitAsync("rental:Rent", client.WithArguments("e1", "Dee", "3"))
		if err != nil {
			t.Fatal(errorText(err))
		}
		if st, err := commit.Status(); err != nil || !st.Successful {
			t.Fatalf("Rent commit: %+v %v", st, err)
		}
		var r struct {
			EquipmentID, Renter, TxID string
			Days                      int
		}
		if err := json.Unmarshal(out, &r); err != nil || r.EquipmentID != "e1" || r.Days != 3 || r.TxID != commit.TransactionID() {
			t.Fatalf("Rent = %s (%v), want e1 for 3 days in %s", out, err, commit.TransactionID())
		}
		for {
			select {
			case ev := <-events:
				if ev.TransactionID != commit.TransactionID() {
					continue // an earlier block's event
				}
				if ev.EventName != "EquipmentRented" {
					t.Fatalf("event %s, want EquipmentRented", ev.EventName)
				}
				return
			case <-ectx.Done():
				t.Fatal("no EquipmentRented event")
			}
		}
	})

	t.Run("errors reach the client", func(t *testing.T) {
		tests := []struct {
			name   string
			submit bool
			fn     string
			args   []string
			want   string
		}{
			{"missing equipment", false, "Get", []string{"e9"}, "equipment e9 does not exist"},
			{"rented twice", true, "rental:Rent", []string{"e1", "Eve", "1"}, "equipment e1 is already rented to Dee"},
			{"no rate", true, "rental:Rent", []string{"e2", "Eve", "1"}, "equipment e2 has no rate"},
			{"unknown function", false, "rental:Cancel", []string{"e1"}, "Function Cancel not found in contract rental"},
			{"bad argument", true, "rental:Rent", []string{"e2", "Eve", "many"}, "int"},
		}
		for _, tc := range tests {
			var err error
			if tc.submit {
				_, err = c.SubmitTransaction(tc.fn, tc.args...)
			} else {
				_, err = c.EvaluateTransaction(tc.fn, tc.args...)
			}
			if msg := errorText(err); !strings.Contains(msg, "chaincode response 500") || !strings.Contains(msg, tc.want) {
				t.Errorf("%s: %q, want status 500 and %q", tc.name, msg, tc.want)
			}
		}
	})

	t.Run("GetMetadata", func(t *testing.T) {
		var md struct {
			Contracts map[string]struct {
				Default      bool
				Transactions []struct{ Name string }
			}
		}
		if err := json.Unmarshal(evaluate(t, "org.hyperledger.fabric:GetMetadata"), &md); err != nil {
			t.Fatal(err)
		}
		names := func(contract string) []string {
			var n []string
			for _, tx := range md.Contracts[contract].Transactions {
				n = append(n, tx.Name)
			}
			return n
		}
		if !md.Contracts["equipment"].Default || !slices.Equal(names("equipment"), []string{"Get", "List", "Register", "Transfer"}) ||
			!slices.Equal(names("rental"), []string{"Rate", "Rent", "Return", "SetRate"}) ||
			!slices.Equal(names("org.hyperledger.fabric"), []string{"GetMetadata"}) {
			t.Fatalf("metadata contracts: %+v", md.Contracts)
		}
	})

	t.Run("metrics by function", func(t *testing.T) {
		m := srv.metrics()
		for _, want := range []string{
			`ccserver_transactions_total{function="Register",status="ok"}`,
			`ccserver_transactions_total{function="equipment:Register",status="ok"}`,
			`ccserver_transactions_total{function="rental:Rent",status="ok"}`,
			`ccserver_transactions_total{function="rental:Rent",status="error"}`,
			`ccserver_transactions_total{function="org.hyperledger.fabric:GetMetadata",status="ok"}`,
			`ccserver_transactions_total{function="other",status="error"}`, // rental:Cancel is not a function
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if t.Failed() {
			t.Logf("metrics:\n%s", grepLines(m, "ccserver_transactions_total"))
		}
	})
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
