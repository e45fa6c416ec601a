package peerside_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/msgpipe"
	"github.com/ccserver/ccserver/internal/peerside"
	"github.com/ccserver/ccserver/internal/peerside/rawcc"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ccid = "demo_1.0:0123abcd"

type harness struct {
	conn  *peerside.Conn
	store *peerside.MemStore
}

// start runs cc behind an in-memory pipe and completes the handshake.
func start(t *testing.T, cc rawcc.Chaincode, opts ...peerside.Option) *harness {
	t.Helper()
	b, a := msgpipe.New(64)
	served := make(chan error, 1)
	go func() { served <- rawcc.Serve(b, ccid, cc) }()
	st := peerside.NewMemStore()
	conn := peerside.New(a, append([]peerside.Option{peerside.WithCCID(ccid), peerside.WithStore(st)}, opts...)...)
	t.Cleanup(func() {
		a.Close()
		<-served
		<-conn.Done()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Handshake(ctx); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return &harness{conn: conn, store: st}
}

func (h *harness) run(t *testing.T, commit bool, args ...string) *peerside.Result {
	t.Helper()
	res, err := h.exec(commit, args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return res
}

func (h *harness) exec(commit bool, args ...string) (*peerside.Result, error) {
	var bargs [][]byte
	for _, a := range args {
		bargs = append(bargs, []byte(a))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return h.conn.Execute(ctx, &peerside.Tx{ChannelID: "mychannel", Args: bargs, Commit: commit})
}

func TestRequests(t *testing.T) {
	h := start(t, rawcc.Demo())
	sum := sha256.Sum256([]byte("secret"))
	steps := []struct {
		name        string
		commit      bool
		args        []string
		wantStatus  int32
		wantPayload string
		wantMsg     string // substring of Response.Message
	}{
		{"put commits", true, []string{"put", "a", "1", "b", "2", "c", "3"}, 200, "", ""},
		{"get", false, []string{"get", "a"}, 200, "1", ""},
		{"get absent", false, []string{"get", "zz"}, 200, "", ""},
		{"getput returns old", true, []string{"getput", "a", "10"}, 200, "1", ""},
		{"getput sees commit", false, []string{"get", "a"}, 200, "10", ""},
		{"query does not commit", false, []string{"put", "a", "999"}, 200, "", ""},
		{"still committed value", false, []string{"get", "a"}, 200, "10", ""},
		{"multi", false, []string{"multi", "a", "zz", "b"}, 200, "10,,2", ""},
		{"del", true, []string{"del", "c"}, 200, "", ""},
		{"del applied", false, []string{"get", "c"}, 200, "", ""},
		{"empty key accepted, as by a LevelDB peer (the shim refuses it)", false, []string{"put", "", "x"}, 200, "", ""},
		{"batch", true, []string{"batch", "put", "x", "X", "put", "y", "Y", "del", "b", "meta", "x", "VALIDATION_PARAMETER", "ep"}, 200, "", ""},
		{"batch applied", false, []string{"multi", "x", "y", "b"}, 200, "X,Y,", ""},
		{"batch metadata", false, []string{"getmeta", "x"}, 200, "VALIDATION_PARAMETER=ep", ""},
		{"batch unknown type", false, []string{"batch", "bogus", "k"}, 500, "", "WRITE_BATCH_STATE failed: transaction ID: "},
		{"putmeta", true, []string{"putmeta", "a", "VALIDATION_PARAMETER", "p1"}, 200, "", ""},
		{"getmeta", false, []string{"getmeta", "a"}, 200, "VALIDATION_PARAMETER=p1", ""},
		{"getmeta none", false, []string{"getmeta", "zz"}, 200, "", ""},
		{"putpriv", true, []string{"putpriv", "coll1", "p", "secret"}, 200, "", ""},
		{"getpriv", false, []string{"getpriv", "coll1", "p"}, 200, "secret", ""},
		{"private is not public", false, []string{"get", "p"}, 200, "", ""},
		{"hash", false, []string{"hash", "coll1", "p"}, 200, hex.EncodeToString(sum[:]), ""},
		{"hash absent", false, []string{"hash", "coll1", "none"}, 200, "", ""},
		{"rangepriv", false, []string{"rangepriv", "coll1", "", ""}, 200, "p=secret", ""},
		{"purge", true, []string{"purge", "coll1", "p"}, 200, "", ""},
		{"purged", false, []string{"getpriv", "coll1", "p"}, 200, "", ""},
		{"purge needs collection", false, []string{"purge", "", "p"}, 500, "", "only applicable for private data"},
		{"range", false, []string{"range", "a", "y"}, 200, "a=10,x=X", ""},
		{"range unbounded", false, []string{"range", "", ""}, 200, "a=10,x=X,y=Y", ""},
		{"history", false, []string{"history", "a"}, 200, "10,1", ""},
		{"history of deleted", false, []string{"history", "c"}, 200, "<deleted>,3", ""},
		{"invoke not supported", false, []string{"invoke", "other"}, 500, "", `INVOKE_CHAINCODE failed: transaction ID: `},
		{"status passthrough", false, []string{"status", "404", "nope"}, 404, "", "nope"},
		{"transient", false, []string{"transient", "k"}, 200, "", ""},
	}
	for _, s := range steps {
		res := h.run(t, s.commit, s.args...)
		if res.Response.Status != s.wantStatus || string(res.Response.Payload) != s.wantPayload || !strings.Contains(res.Response.Message, s.wantMsg) {
			t.Errorf("%s: got status %d payload %q message %q; want %d %q containing %q",
				s.name, res.Response.Status, res.Response.Payload, res.Response.Message, s.wantStatus, s.wantPayload, s.wantMsg)
		}
		if !s.commit && res.Committed {
			t.Errorf("%s: committed without Commit", s.name)
		}
	}
	res := h.run(t, false, "invoke", "other")
	if want := "transaction ID: " + res.TxID + ": chaincode-to-chaincode calls are not supported locally"; !strings.Contains(res.Response.Message, want) {
		t.Errorf("invoke error %q lacks %q", res.Response.Message, want)
	}
}

func TestEventTransientCreator(t *testing.T) {
	h := start(t, rawcc.Demo())
	res := h.run(t, false, "event", "created", "body")
	if res.Event == nil || res.Event.EventName != "created" || string(res.Event.Payload) != "body" ||
		res.Event.TxId != res.TxID || res.Event.ChaincodeId != "demo_1.0" {
		t.Errorf("event = %v", res.Event)
	}
	ctx := context.Background()
	r, err := h.conn.Execute(ctx, &peerside.Tx{ChannelID: "ch1", Args: [][]byte{[]byte("transient"), []byte("price")}, Transient: map[string][]byte{"price": []byte("42")}})
	if err != nil || string(r.Response.Payload) != "42" {
		t.Fatalf("transient: %v %v", r, err)
	}
	r = h.run(t, false, "creator")
	if want := fmt.Sprintf("Org1MSP %s mychannel 3", r.TxID); string(r.Response.Payload) != want {
		t.Errorf("creator = %q, want %q", r.Response.Payload, want)
	}
}

// A Tx may carry its own creator; the transaction ID follows it.
func TestPerTransactionCreator(t *testing.T) {
	h := start(t, rawcc.Demo())
	creator, err := proto.Marshal(&msp.SerializedIdentity{Mspid: "Org9MSP", IdBytes: []byte("cert")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.conn.Execute(context.Background(), &peerside.Tx{ChannelID: "ch", Args: [][]byte{[]byte("creator")}, Creator: creator})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Org9MSP %s ch 3", r.TxID); string(r.Response.Payload) != want {
		t.Errorf("creator = %q, want %q", r.Response.Payload, want)
	}
	if r := h.run(t, false, "creator"); !strings.HasPrefix(string(r.Response.Payload), "Org1MSP ") {
		t.Errorf("the next transaction keeps the Conn's creator: %q", r.Response.Payload)
	}
}

func TestChaincodeErrorReply(t *testing.T) {
	h := start(t, rawcc.Demo())
	_, err := h.exec(true, "fail", "boom")
	var ce *peerside.ChaincodeError
	if !errors.As(err, &ce) || ce.Message != "boom" || err.Error() != "transaction returned with failure: boom" {
		t.Fatalf("err = %v", err)
	}
}

func TestStatusAbove400DoesNotCommit(t *testing.T) {
	cc := rawcc.Demo()
	cc["putfail"] = func(tx *rawcc.Tx) (*peer.Response, error) {
		if _, err := tx.Call(peer.ChaincodeMessage_PUT_STATE, &peer.PutState{Key: "k", Value: []byte("v")}); err != nil {
			return nil, err
		}
		return &peer.Response{Status: 400, Message: "bad"}, nil
	}
	h := start(t, cc)
	res := h.run(t, true, "putfail")
	if res.Committed || len(res.Update.Writes) != 1 {
		t.Fatalf("committed=%v writes=%v", res.Committed, res.Update.Writes)
	}
	if v, _ := h.store.Get("", "k"); v != nil {
		t.Fatalf("value %q committed for a 400 response", v)
	}
}

func TestReadsSeeCommittedStateOnly(t *testing.T) {
	cc := rawcc.Demo()
	cc["putget"] = func(tx *rawcc.Tx) (*peer.Response, error) {
		if _, err := tx.Call(peer.ChaincodeMessage_PUT_STATE, &peer.PutState{Key: "k", Value: []byte("new")}); err != nil {
			return nil, err
		}
		v, err := tx.Call(peer.ChaincodeMessage_GET_STATE, &peer.GetState{Key: "k"})
		return &peer.Response{Status: 200, Payload: v}, err
	}
	h := start(t, cc)
	h.run(t, true, "put", "k", "old")
	if got := h.run(t, true, "putget").Response.Payload; string(got) != "old" {
		t.Fatalf("read inside the writing tx = %q, want the committed %q", got, "old")
	}
	if v, _ := h.store.Get("", "k"); string(v) != "new" {
		t.Fatalf("after commit = %q", v)
	}
}

func putKeys(t *testing.T, st *peerside.MemStore, n int) {
	t.Helper()
	u := &peerside.Update{TxID: "seed"}
	for i := range n {
		u.Writes = append(u.Writes, peerside.Write{Kind: peerside.WritePut, Key: fmt.Sprintf("k%04d", i), Value: []byte(fmt.Sprintf(`{"n":%d,"even":%v}`, i, i%2 == 0))})
	}
	if err := st.Commit(u); err != nil {
		t.Fatal(err)
	}
}

func TestRangePagesAndIteratorRelease(t *testing.T) {
	var mu sync.Mutex
	var pages []string
	cc := rawcc.Demo()
	cc["pages"] = func(tx *rawcc.Tx) (*peer.Response, error) {
		b, err := tx.Call(peer.ChaincodeMessage_GET_STATE_BY_RANGE, &peer.GetStateByRange{StartKey: tx.Arg(1), EndKey: tx.Arg(2)})
		for err == nil {
			qr := &peer.QueryResponse{}
			_ = proto.Unmarshal(b, qr)
			mu.Lock()
			pages = append(pages, fmt.Sprintf("%d/%v", len(qr.Results), qr.HasMore))
			mu.Unlock()
			if !qr.HasMore {
				// released by the peer: NEXT fails, CLOSE is a plain success
				if _, err := tx.Call(peer.ChaincodeMessage_QUERY_STATE_NEXT, &peer.QueryStateNext{Id: qr.Id}); err == nil || !strings.Contains(err.Error(), "QUERY_STATE_NEXT failed: transaction ID: "+tx.TxID+": query iterator not found") {
					return nil, fmt.Errorf("NEXT after release: %v", err)
				}
				cb, err := tx.Call(peer.ChaincodeMessage_QUERY_STATE_CLOSE, &peer.QueryStateClose{Id: qr.Id})
				if err != nil {
					return nil, err
				}
				cr := &peer.QueryResponse{}
				_ = proto.Unmarshal(cb, cr)
				if cr.HasMore || cr.Id != qr.Id {
					return nil, fmt.Errorf("close reply %v", cr)
				}
				break
			}
			b, err = tx.Call(peer.ChaincodeMessage_QUERY_STATE_NEXT, &peer.QueryStateNext{Id: qr.Id})
		}
		return &peer.Response{Status: 200}, err
	}
	h := start(t, cc)
	putKeys(t, h.store, 250)
	for _, tc := range []struct {
		start, end string
		want       string
	}{
		{"", "", "100/true 100/true 50/false"},
		{"k0000", "k0100", "100/false"}, // has_more only when another result follows, like the peer
		{"k0000", "k0101", "100/true 1/false"},
		{"k0200", "k0210", "10/false"},
		{"zzz", "", "0/false"},
	} {
		pages = nil
		h.run(t, false, "pages", tc.start, tc.end)
		if got := strings.Join(pages, " "); got != tc.want {
			t.Errorf("range [%q,%q): pages %s, want %s", tc.start, tc.end, got, tc.want)
		}
	}
	if got := h.run(t, false, "range", "", "").Response.Payload; strings.Count(string(got), "=") != 250 {
		t.Errorf("range over pages returned %d results", strings.Count(string(got), "="))
	}
}

func TestRangePagination(t *testing.T) {
	h := start(t, rawcc.Demo())
	putKeys(t, h.store, 250)
	bookmark, total, pagesSeen := "", 0, 0
	for {
		p := string(h.run(t, false, "range", "k0000", "k9999", "120", bookmark).Response.Payload)
		parts := strings.Split(p, "|")
		if len(parts) != 3 {
			t.Fatalf("no pagination metadata in %q", p)
		}
		n := strings.Count(parts[0], "=")
		if parts[1] != fmt.Sprint(n) {
			t.Errorf("fetched count %s, results %d", parts[1], n)
		}
		total += n
		pagesSeen++
		if parts[2] == "" {
			break
		}
		if want := fmt.Sprintf("k%04d", total); parts[2] != want {
			t.Fatalf("bookmark %q, want %q", parts[2], want)
		}
		bookmark = parts[2]
	}
	if total != 250 || pagesSeen != 3 {
		t.Fatalf("total %d in %d pages", total, pagesSeen)
	}
	// Like the peer: a page size that is not positive means the total
	// query limit, and a whole page travels in one response.
	if got := h.run(t, false, "range", "", "", "-1", "").Response.Payload; !strings.HasSuffix(string(got), "|250|") {
		t.Errorf("page size -1: %.40q…", got)
	}
}

func TestRichQuery(t *testing.T) {
	h := start(t, rawcc.Demo())
	putKeys(t, h.store, 30)
	got := string(h.run(t, false, "query", `{"selector":{"n":{"$gte":25}},"sort":[{"n":"desc"}],"fields":["n"]}`).Response.Payload)
	if want := `k0029={"n":29},k0028={"n":28},k0027={"n":27},k0026={"n":26},k0025={"n":25}`; got != want {
		t.Errorf("query = %s\nwant %s", got, want)
	}
	got = string(h.run(t, false, "query", `{"selector":{"even":true,"n":{"$lt":10}}}`, "3", "").Response.Payload)
	if !strings.HasSuffix(got, "|3|3") || !strings.HasPrefix(got, "k0000=") {
		t.Errorf("paginated query page 1 = %s", got)
	}
	got = string(h.run(t, false, "query", `{"selector":{"even":true,"n":{"$lt":10}}}`, "3", "3").Response.Payload)
	if !strings.HasSuffix(got, "|2|") || !strings.HasPrefix(got, "k0006=") {
		t.Errorf("paginated query page 2 = %s", got)
	}
	res := h.run(t, false, "query", `{"selector":{"n":{"$near":1}}}`)
	if res.Response.Status != 500 || !strings.Contains(res.Response.Message, "GET_QUERY_RESULT failed: transaction ID: "+res.TxID+": invalid rich query: unsupported operator $near") {
		t.Errorf("bad query: %v", res.Response)
	}
}

func TestPrivateDataRejectedInInit(t *testing.T) {
	h := start(t, rawcc.Demo())
	res, err := h.conn.Execute(context.Background(), &peerside.Tx{ChannelID: "ch", Init: true, Args: [][]byte{[]byte("putpriv"), []byte("c"), []byte("k"), []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Response.Message, "private data APIs are not allowed in chaincode Init()") {
		t.Fatalf("init private: %v", res.Response)
	}
}

func TestConcurrentTransactionsOnOneStream(t *testing.T) {
	// "hold" waits inside the chaincode until "release" ran: only possible
	// if the two transactions interleave on the stream.
	release := make(chan struct{})
	cc := rawcc.Demo()
	cc["hold"] = func(tx *rawcc.Tx) (*peer.Response, error) {
		if _, err := tx.Call(peer.ChaincodeMessage_PUT_STATE, &peer.PutState{Key: "held", Value: []byte("1")}); err != nil {
			return nil, err
		}
		select {
		case <-release:
		case <-time.After(30 * time.Second):
			return nil, errors.New("never released")
		}
		v, err := tx.Call(peer.ChaincodeMessage_GET_STATE, &peer.GetState{Key: "r"})
		return &peer.Response{Status: 200, Payload: v}, err
	}
	cc["release"] = func(tx *rawcc.Tx) (*peer.Response, error) {
		close(release)
		return &peer.Response{Status: 200}, nil
	}
	h := start(t, cc)
	h.run(t, true, "put", "r", "ok")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		res, err := h.exec(true, "hold")
		if err == nil && string(res.Response.Payload) != "ok" {
			err = fmt.Errorf("hold read %q", res.Response.Payload)
		}
		errs <- err
	}()
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := fmt.Sprintf("c%d", i)
			_, err := h.exec(true, "getput", k, k)
			errs <- err
		}()
	}
	if _, err := h.exec(false, "release"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for i := range 32 {
		k := fmt.Sprintf("c%d", i)
		if v, _ := h.store.Get("", k); string(v) != k {
			t.Errorf("%s = %q", k, v)
		}
	}
}

// gatedStore holds Get until gate is closed.
type gatedStore struct {
	*peerside.MemStore
	gate chan struct{}
}

func (g gatedStore) Get(coll, key string) ([]byte, error) {
	<-g.gate
	return g.MemStore.Get(coll, key)
}

// routedStream closes routed when the peer's reader comes back for the
// message after the second GET_STATE, i.e. once it has routed that one.
type routedStream struct {
	*msgpipe.End
	gets   int
	routed chan struct{}
}

func (r *routedStream) Recv() (*peer.ChaincodeMessage, error) {
	if r.gets == 2 {
		r.gets++
		close(r.routed)
	}
	m, err := r.End.Recv()
	if err == nil && m.Type == peer.ChaincodeMessage_GET_STATE {
		r.gets++
	}
	return m, err
}

func TestOverlappingRequestsFailTheTransaction(t *testing.T) {
	cc := rawcc.Demo()
	cc["overlap"] = func(tx *rawcc.Tx) (*peer.Response, error) {
		b, _ := proto.Marshal(&peer.GetState{Key: "a"})
		_ = tx.Send(peer.ChaincodeMessage_GET_STATE, b)
		_ = tx.Send(peer.ChaincodeMessage_GET_STATE, b)
		_, _ = tx.Await()
		return &peer.Response{Status: 200}, nil
	}
	b, a := msgpipe.New(64)
	served := make(chan error, 1)
	go func() { served <- rawcc.Serve(b, ccid, cc) }()
	rs := &routedStream{End: a, routed: make(chan struct{})}
	// The first GET_STATE is answered only after the second was routed.
	conn := peerside.New(rs, peerside.WithStore(gatedStore{peerside.NewMemStore(), rs.routed}))
	defer func() {
		a.Close()
		<-served
		<-conn.Done()
	}()
	if err := conn.Handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &harness{conn: conn}
	_, err := h.exec(false, "overlap")
	if !errors.Is(err, peerside.ErrProtocol) || !strings.Contains(err.Error(), "one outstanding request per transaction") {
		t.Fatalf("err = %v", err)
	}
	// The stream stays usable for other transactions.
	h.run(t, false, "noop")
}

func TestHandshakeParams(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  []peerside.Option
		want string
	}{
		{"default is a Fabric 3.1 peer", nil, "true 1000 true 1000"},
		{"old peer", []peerside.Option{peerside.WithAdditionalParams(&peer.ChaincodeAdditionalParams{})}, "false 0 false 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := rawcc.Chaincode{"params": func(tx *rawcc.Tx) (*peer.Response, error) {
				p := tx.Params
				return &peer.Response{Status: 200, Payload: fmt.Appendf(nil, "%v %d %v %d", p.UseWriteBatch, p.MaxSizeWriteBatch, p.UseGetMultipleKeys, p.MaxSizeGetMultipleKeys)}, nil
			}}
			for k, v := range rawcc.Demo() {
				cc[k] = v
			}
			h := start(t, cc, tc.opt...)
			if got := string(h.run(t, false, "params").Response.Payload); got != tc.want {
				t.Errorf("params = %s, want %s", got, tc.want)
			}
			if tc.want == "false 0 false 0" {
				// A 3.1 peer serves GET_STATE_MULTIPLE whatever READY said.
				if res := h.run(t, false, "multi", "a"); res.Response.Status != 200 {
					t.Errorf("multi on a peer that announced none: %v", res.Response)
				}
			}
		})
	}
}

func TestCCIDMismatch(t *testing.T) {
	b, a := msgpipe.New(64)
	served := make(chan error, 1)
	go func() { served <- rawcc.Serve(b, "other:ffff", rawcc.Demo()) }()
	conn := peerside.New(a, peerside.WithCCID(ccid))
	err := conn.Handshake(context.Background())
	var mm *peerside.CCIDMismatchError
	if !errors.As(err, &mm) || !errors.Is(err, peerside.ErrCCIDMismatch) || mm.Got != "other:ffff" || mm.Expected != ccid {
		t.Fatalf("err = %v", err)
	}
	if conn.CCID() != "other:ffff" {
		t.Errorf("CCID() = %q", conn.CCID())
	}
	if _, err := conn.Execute(context.Background(), &peerside.Tx{}); !errors.Is(err, peerside.ErrCCIDMismatch) {
		t.Errorf("Execute after mismatch: %v", err)
	}
	a.Close()
	<-served
	<-conn.Done()
}

func TestFirstMessageMustBeRegister(t *testing.T) {
	b, a := msgpipe.New(64)
	conn := peerside.New(a)
	_ = b.Send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_COMPLETED})
	err := conn.Handshake(context.Background())
	if !errors.Is(err, peerside.ErrProtocol) || !strings.Contains(err.Error(), "first message was COMPLETED, want REGISTER") {
		t.Fatalf("err = %v", err)
	}
	a.Close()
	<-conn.Done()
}

func TestHandshakeContextExpires(t *testing.T) {
	_, a := msgpipe.New(64)
	conn := peerside.New(a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := conn.Handshake(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	a.Close()
	<-conn.Done()
}

func TestStreamEndsMidTransaction(t *testing.T) {
	entered := make(chan struct{})
	var b *msgpipe.End
	cc := rawcc.Chaincode{"die": func(tx *rawcc.Tx) (*peer.Response, error) {
		close(entered)
		_ = b.CloseSend()
		return nil, errors.New("unreachable")
	}}
	var a *msgpipe.End
	b, a = msgpipe.New(64)
	served := make(chan error, 1)
	go func() { served <- rawcc.Serve(b, ccid, cc) }()
	conn := peerside.New(a)
	if err := conn.Handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := conn.Execute(context.Background(), &peerside.Tx{Args: [][]byte{[]byte("die")}})
	<-entered
	if !errors.Is(err, peerside.ErrStreamTerminated) {
		t.Fatalf("err = %v", err)
	}
	a.Close()
	<-served
	<-conn.Done()
	if _, err := conn.Execute(context.Background(), &peerside.Tx{}); !errors.Is(err, peerside.ErrStreamTerminated) {
		t.Fatalf("after end: %v", err)
	}
}

func TestExecuteTimeout(t *testing.T) {
	stop := make(chan struct{})
	cc := rawcc.Chaincode{"hang": func(*rawcc.Tx) (*peer.Response, error) {
		<-stop
		return &peer.Response{Status: 200}, nil
	}}
	h := start(t, cc, peerside.WithExecuteTimeout(20*time.Millisecond))
	defer close(stop)
	_, err := h.conn.Execute(context.Background(), &peerside.Tx{Args: [][]byte{[]byte("hang")}})
	if !errors.Is(err, peerside.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
}

func TestDeterministicTxIDAndKeepalive(t *testing.T) {
	fixed := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var ids []string
	for range 2 {
		h := start(t, rawcc.Demo(),
			peerside.WithRand(bytes.NewReader(bytes.Repeat([]byte{7}, 1024))),
			peerside.WithClock(func() time.Time { return fixed }),
			peerside.WithIdentity("Org2MSP", []byte("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"), nil),
			peerside.WithKeepalive(time.Millisecond))
		res := h.run(t, true, "put", "k", "v")
		ids = append(ids, res.TxID)
		hist, _ := h.store.History("k")
		if len(hist) != 1 || !hist[0].Timestamp.Equal(fixed) || hist[0].TxID != res.TxID {
			t.Errorf("history = %+v", hist)
		}
		if rtt, err := h.conn.Ping(context.Background()); err != nil || rtt <= 0 {
			t.Errorf("ping: %v %v", rtt, err)
		}
		if got := string(h.run(t, false, "creator").Response.Payload); !strings.HasPrefix(got, "Org2MSP ") {
			t.Errorf("creator = %q", got)
		}
	}
	if ids[0] != ids[1] || len(ids[0]) != 64 {
		t.Fatalf("txids %v not deterministic", ids)
	}
}

// FuzzRequest sends arbitrary request messages inside a transaction: the
// peer side must answer each with RESPONSE or ERROR and never panic or hang.
func FuzzRequest(f *testing.F) {
	for _, typ := range []peer.ChaincodeMessage_Type{8, 9, 10, 11, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24, 25} {
		f.Add(int32(typ), []byte{})
		f.Add(int32(typ), []byte{0x0a, 0x01, 'k', 0x12, 0x01, 'v'})
	}
	f.Add(int32(15), []byte("\x0a\x0e{\"selector\":{}}"))
	f.Fuzz(func(t *testing.T, typ int32, payload []byte) {
		if typ < 8 || typ > 25 || typ == 12 || typ == 13 || typ == 18 {
			return
		}
		cc := rawcc.Chaincode{"raw": func(tx *rawcc.Tx) (*peer.Response, error) {
			if err := tx.Send(peer.ChaincodeMessage_Type(typ), payload); err != nil {
				return nil, err
			}
			_, err := tx.Await()
			if err != nil && !strings.Contains(err.Error(), " failed: transaction ID: "+tx.TxID+": ") {
				return nil, fmt.Errorf("error without the peer's prefix: %v", err)
			}
			return &peer.Response{Status: 200}, nil
		}}
		h := start(t, cc)
		res, err := h.exec(true, "raw")
		if err != nil {
			t.Fatal(err)
		}
		if res.Response.Status != 200 {
			t.Fatalf("status %d: %s", res.Response.Status, res.Response.Message)
		}
	})
}
