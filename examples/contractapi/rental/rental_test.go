package rental_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/examples/contractapi/rental"
	"github.com/ccserver/ccserver/fabricshim"
	"github.com/ccserver/ccserver/serve"
	"github.com/ccserver/ccserver/shim"
	"github.com/ccserver/ccserver/shimtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newLedger starts the contract-api chaincode, wrapped, on shimtest.
func newLedger(t *testing.T) *shimtest.Ledger {
	t.Helper()
	cc, err := rental.New()
	if err != nil {
		t.Fatal(err)
	}
	return shimtest.New(t, fabricshim.Wrap(cc), shimtest.WithDeterministicIDs())
}

// TestRentalFlow drives both contracts through the real engine: the
// default contract by bare names and by "equipment:", the custom context's
// caller check, private data from the transient map, events, and errors.
func TestRentalFlow(t *testing.T) {
	l := newLedger(t)
	org2, err := l.NewIdentity("Org2MSP", "Bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	rate := map[string][]byte{rental.RateTransientKey: []byte("25")}

	steps := []struct {
		name      string
		call      shimtest.Call
		wantErr   string // part of the message when the status is 500
		want      string // the payload, when set
		wantEvent string
	}{
		{name: "register", call: shimtest.Call{Args: []string{"Register", "e1", "drill", "Ann"}}},
		{name: "register by contract name", call: shimtest.Call{Args: []string{"equipment:Register", "e2", "ladder", "Ann"}}},
		{name: "register twice", call: shimtest.Call{Args: []string{"Register", "e1", "saw", "Ann"}}, wantErr: "equipment e1 is already registered"},
		{name: "get", call: shimtest.Call{Args: []string{"equipment:Get", "e1"}, Query: true},
			want: `{"id":"e1","kind":"drill","owner":"Ann","ownerMSP":"Org1MSP"}`},
		{name: "get missing", call: shimtest.Call{Args: []string{"Get", "e9"}, Query: true}, wantErr: "equipment e9 does not exist"},
		{name: "list", call: shimtest.Call{Args: []string{"List"}, Query: true},
			want: `[{"id":"e1","kind":"drill","owner":"Ann","ownerMSP":"Org1MSP"},{"id":"e2","kind":"ladder","owner":"Ann","ownerMSP":"Org1MSP"}]`},
		{name: "transfer", call: shimtest.Call{Args: []string{"Transfer", "e2", "Cho"}}, wantEvent: "EquipmentTransferred"},
		{name: "transfer by another org", call: shimtest.Call{Args: []string{"Transfer", "e2", "Bob"}, As: org2},
			wantErr: "equipment e2 belongs to Org1MSP, not to Org2MSP"},
		{name: "set rate", call: shimtest.Call{Args: []string{"rental:SetRate", "e1"}, Transient: rate}},
		{name: "set rate without transient", call: shimtest.Call{Args: []string{"rental:SetRate", "e2"}}, wantErr: `transient map under "rate"`},
		{name: "set rate by another org", call: shimtest.Call{Args: []string{"rental:SetRate", "e1"}, Transient: rate, As: org2},
			wantErr: "only Org1MSP may price equipment e1"},
		{name: "rate", call: shimtest.Call{Args: []string{"rental:Rate", "e1"}, Query: true}, want: "25"},
		{name: "rent without rate", call: shimtest.Call{Args: []string{"rental:Rent", "e2", "Dee", "3"}}, wantErr: "equipment e2 has no rate"},
		{name: "rent", call: shimtest.Call{Args: []string{"rental:Rent", "e1", "Dee", "3"}, TxID: "tx-rent"},
			want: `{"equipmentID":"e1","renter":"Dee","days":3,"txID":"tx-rent"}`, wantEvent: "EquipmentRented"},
		{name: "rent twice", call: shimtest.Call{Args: []string{"rental:Rent", "e1", "Eve", "1"}}, wantErr: "already rented to Dee"},
		{name: "days not a number", call: shimtest.Call{Args: []string{"rental:Rent", "e1", "Eve", "many"}}, wantErr: "int"},
		{name: "transfer while rented", call: shimtest.Call{Args: []string{"Transfer", "e1", "Cho"}}, wantErr: "rented to Dee"},
		{name: "return", call: shimtest.Call{Args: []string{"rental:Return", "e1"}}, wantEvent: "EquipmentReturned"},
		{name: "return again", call: shimtest.Call{Args: []string{"rental:Return", "e1"}}, wantErr: "equipment e1 is not rented"},
		{name: "unknown function", call: shimtest.Call{Args: []string{"rental:Cancel", "e1"}}, wantErr: "Function Cancel not found in contract rental"},
		{name: "unknown contract", call: shimtest.Call{Args: []string{"billing:Pay"}}, wantErr: "Contract not found with name billing"},
	}
	for _, st := range steps {
		res := l.Do(st.call)
		if res.Err != nil {
			t.Fatalf("%s: %v", st.name, res.Err)
		}
		if st.wantErr != "" {
			if res.Status != shim.ERROR || !strings.Contains(res.Message, st.wantErr) {
				t.Errorf("%s: %d %q, want status 500 with %q", st.name, res.Status, res.Message, st.wantErr)
			}
			continue
		}
		if res.Status != shim.OK {
			t.Errorf("%s: %d %s", st.name, res.Status, res.Message)
			continue
		}
		if st.want != "" && string(res.Payload) != st.want {
			t.Errorf("%s: payload %s, want %s", st.name, res.Payload, st.want)
		}
		switch {
		case st.wantEvent == "" && res.Event != nil:
			t.Errorf("%s: unexpected event %s", st.name, res.Event.Name)
		case st.wantEvent != "" && (res.Event == nil || res.Event.Name != st.wantEvent):
			t.Errorf("%s: event %+v, want %s", st.name, res.Event, st.wantEvent)
		}
	}

	// The rate is private: in the collection, and nowhere in public state.
	if got := l.PrivateState(rental.RatesCollection, "e1"); string(got) != "25" {
		t.Errorf("private rate = %q", got)
	}
	for k, v := range l.Dump() {
		if strings.Contains(k, "rate") || string(v) == "25" {
			t.Errorf("public state %q = %q looks like the rate", k, v)
		}
	}
	var moved rental.Transferred
	for _, ev := range l.Events() {
		if ev.Name == "EquipmentTransferred" {
			if err := json.Unmarshal(ev.Payload, &moved); err != nil {
				t.Fatal(err)
			}
		}
	}
	if moved != (rental.Transferred{ID: "e2", From: "Ann", To: "Cho"}) {
		t.Errorf("EquipmentTransferred payload %+v", moved)
	}
}

// metadata is the part of contract-api's metadata the tests read.
type metadata struct {
	Contracts map[string]struct {
		Name         string
		Info         struct{ Title, Version string }
		Default      bool
		Transactions []struct {
			Name string
			Tag  []string
		}
	}
}

func TestGetMetadata(t *testing.T) {
	l := newLedger(t)
	var md metadata
	if err := json.Unmarshal(l.MustQuery(t, fabricshim.GetMetadataFunction), &md); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		contract  string
		title     string
		isDefault bool
		txs       []string
		evaluate  []string
	}{
		{"equipment", "Equipment register", true, []string{"Get", "List", "Register", "Transfer"}, []string{"Get", "List"}},
		{"rental", "Equipment rentals", false, []string{"Rate", "Rent", "Return", "SetRate"}, []string{"Rate"}},
		{"org.hyperledger.fabric", "", false, []string{"GetMetadata"}, []string{"GetMetadata"}},
	}
	if len(md.Contracts) != len(tests) {
		t.Errorf("%d contracts in the metadata, want %d", len(md.Contracts), len(tests))
	}
	for _, tc := range tests {
		c, ok := md.Contracts[tc.contract]
		if !ok {
			t.Errorf("no contract %s", tc.contract)
			continue
		}
		if tc.title != "" && (c.Info.Title != tc.title || c.Info.Version != "1.0.0") {
			t.Errorf("%s: info %+v, want %q version 1.0.0", tc.contract, c.Info, tc.title)
		}
		var txs, evaluate []string
		for _, tx := range c.Transactions {
			txs = append(txs, tx.Name)
			if slices.Contains(tx.Tag, "evaluate") {
				evaluate = append(evaluate, tx.Name)
			}
		}
		if c.Default != tc.isDefault || !slices.Equal(txs, tc.txs) || !slices.Equal(evaluate, tc.evaluate) {
			t.Errorf("%s: default %v, transactions %v, evaluate %v; want %v %v %v", tc.contract, c.Default, txs, evaluate, tc.isDefault, tc.txs, tc.evaluate)
		}
	}
}

// Wrap reads the function names from the metadata, so that ccserver's
// metrics label each one.
func TestFunctionsForMetrics(t *testing.T) {
	cc, err := rental.New()
	if err != nil {
		t.Fatal(err)
	}
	l, ok := fabricshim.Wrap(cc).(serve.FunctionLister)
	if !ok {
		t.Fatal("the wrapped contract-api chaincode lists no functions")
	}
	got := l.Functions()
	for _, want := range []string{"Register", "equipment:Register", "Get", "List", "Transfer", "rental:SetRate", "rental:Rent",
		"rental:Return", "rental:Rate", fabricshim.GetMetadataFunction} {
		if !slices.Contains(got, want) {
			t.Errorf("Functions() lacks %q: %q", want, got)
		}
	}
	if slices.Contains(got, "Rent") {
		t.Errorf("Functions() has a bare name of a contract that is not the default: %q", got)
	}
}
