package peerside_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/internal/peerside"
)

var docs = []peerside.Doc{
	{Key: "a1", Value: []byte(`{"docType":"asset","color":"blue","size":5,"owner":{"name":"Tom","org":"Org1"},"tags":["x","y"]}`)},
	{Key: "a2", Value: []byte(`{"docType":"asset","color":"red","size":15,"owner":{"name":"Ann","org":"Org2"},"tags":["y"]}`)},
	{Key: "a3", Value: []byte(`{"docType":"asset","color":"green","size":10,"owner":{"name":"Tom","org":"Org2"}}`)},
	{Key: "a4", Value: []byte(`{"docType":"asset","color":"Blue","size":"big","owner":null}`)},
	{Key: "o1", Value: []byte(`{"docType":"order","size":1,"active":true}`)},
	{Key: "raw", Value: []byte(`not json`)},
	{Key: "arr", Value: []byte(`[1,2,3]`)},
}

func keys(ds []peerside.Doc) string {
	var ks []string
	for _, d := range ds {
		ks = append(ks, d.Key)
	}
	return strings.Join(ks, ",")
}

func TestSelectors(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{`{"selector":{}}`, "a1,a2,a3,a4,o1"},
		{`{"selector":{"docType":"asset"}}`, "a1,a2,a3,a4"},
		{`{"selector":{"docType":{"$eq":"order"}}}`, "o1"},
		{`{"selector":{"color":{"$ne":"blue"}}}`, "a2,a3,a4"}, // o1 lacks color: no match, as CouchDB
		{`{"selector":{"size":{"$gt":5}}}`, "a2,a3,a4"},       // "big" > numbers in collation
		{`{"selector":{"size":{"$gt":5,"$lt":100}}}`, "a2,a3"},
		{`{"selector":{"size":{"$gte":10,"$lte":15}}}`, "a2,a3"},
		{`{"selector":{"size":{"$lt":10}}}`, "a1,o1"},
		{`{"selector":{"color":{"$in":["red","green"]}}}`, "a2,a3"},
		{`{"selector":{"color":{"$nin":["red","green"]}}}`, "a1,a4"},
		{`{"selector":{"tags":{"$in":["x"]}}}`, "a1"},
		{`{"selector":{"tags":{"$all":["y"]}}}`, "a1,a2"},
		{`{"selector":{"tags":{"$size":2}}}`, "a1"},
		{`{"selector":{"owner":{"$exists":true}}}`, "a1,a2,a3,a4"},
		{`{"selector":{"owner":{"$exists":false}}}`, "o1"},
		{`{"selector":{"owner":{"$type":"null"}}}`, "a4"},
		{`{"selector":{"size":{"$type":"string"}}}`, "a4"},
		{`{"selector":{"owner.name":"Tom"}}`, "a1,a3"},
		{`{"selector":{"owner":{"name":"Tom","org":"Org2"}}}`, "a3"},
		{`{"selector":{"owner":{"org":{"$regex":"^Org[12]$"}}}}`, "a1,a2,a3"},
		{`{"selector":{"color":{"$regex":"(?i)^blue$"}}}`, "a1,a4"},
		{`{"selector":{"$or":[{"color":"red"},{"docType":"order"}]}}`, "a2,o1"},
		{`{"selector":{"$and":[{"docType":"asset"},{"owner.org":"Org2"}]}}`, "a2,a3"},
		{`{"selector":{"docType":"asset","$not":{"color":"blue"}}}`, "a2,a3,a4"},
		{`{"selector":{"$nor":[{"color":"blue"},{"docType":"order"}]}}`, "a2,a3,a4"},
		{`{"selector":{"active":true}}`, "o1"},
		{`{"selector":{"tags":["x","y"]}}`, "a1"},
		{`{"selector":{"docType":"asset"},"sort":[{"size":"desc"}]}`, "a4,a2,a3,a1"},
		{`{"selector":{"docType":"asset"},"sort":["owner.name","color"]}`, "a4,a2,a1,a3"},
		{`{"selector":{"docType":"asset"},"skip":1,"limit":2}`, "a2,a3"},
		{`{"selector":{"docType":"asset"},"limit":0}`, ""},
		{`{"selector":{"docType":"asset"},"use_index":["_design/idx","byType"]}`, "a1,a2,a3,a4"},
	} {
		q, err := peerside.ParseQuery(tc.query)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		got, err := q.Run(docs)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if keys(got) != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.query, keys(got), tc.want)
		}
	}
}

func TestFieldsProjection(t *testing.T) {
	q, err := peerside.ParseQuery(`{"selector":{"color":"blue"},"fields":["color","owner.name","missing"]}`)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := q.Run(docs)
	if len(got) != 1 || string(got[0].Value) != `{"color":"blue","owner":{"name":"Tom"}}` {
		t.Fatalf("projection = %s", got)
	}
	if !q.Match(docs[0].Value) || q.Match(docs[1].Value) || q.Match([]byte("x")) {
		t.Error("Match disagrees with Run")
	}
}

func TestBadQueries(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{`not json`, "not a JSON object"},
		{`[]`, "not a JSON object"},
		{`{}`, `missing "selector"`},
		{`{"selector":[]}`, `"selector" must be an object`},
		{`{"selector":{},"limit":-1}`, `"limit" must be a non-negative integer`},
		{`{"selector":{},"skip":"1"}`, `"skip" must be a non-negative integer`},
		{`{"selector":{},"sort":"x"}`, `"sort" must be an array`},
		{`{"selector":{},"sort":[{"x":"up"}]}`, `must be "asc" or "desc"`},
		{`{"selector":{},"fields":[1]}`, `"fields" must be an array of non-empty field names`},
		{`{"selector":{},"what":1}`, `unknown query field "what"`},
		{`{"selector":{"$gt":1}}`, "operator $gt must be applied to a field"},
		{`{"selector":{"a":{"$near":1}}}`, "unsupported operator $near"},
		{`{"selector":{"a":{"$in":1}}}`, "$in needs an array"},
		{`{"selector":{"a":{"$exists":"yes"}}}`, "$exists needs true or false"},
		{`{"selector":{"a":{"$regex":"("}}}`, "Go RE2 syntax"},
		{`{"selector":{"$or":{}}}`, "$or needs a non-empty array"},
		{`{"selector":{"$or":[1]}}`, "$or entries must be selector objects"},
		{`{"selector":{"$not":1}}`, "$not needs a selector object"},
		{`{"selector":{"a":{"$type":"int"}}}`, "$type needs one of"},
		{`{"selector":{}} {}`, "trailing data"},
	} {
		_, err := peerside.ParseQuery(tc.query)
		if !errors.Is(err, peerside.ErrBadQuery) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.query, err, tc.want)
		}
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		`{"selector":{"docType":"asset","size":{"$gt":5}},"sort":[{"size":"desc"}],"limit":3}`,
		`{"selector":{"$or":[{"a":1},{"b":{"$in":[1,2]}}]},"fields":["a.b"]}`,
		`{"selector":{"a":{"$regex":"^x","$exists":true}},"skip":1}`,
		`{"selector":{"$not":{"a.b.c":[1,{"x":null}]}}}`,
		`{}`, `[`, `{"selector":{"a":{"$size":2,"$all":[1],"$type":"array"}}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := peerside.ParseQuery(s)
		if err != nil {
			if !errors.Is(err, peerside.ErrBadQuery) {
				t.Fatalf("error not wrapping ErrBadQuery: %v", err)
			}
			return
		}
		got, err := q.Run(docs)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > len(docs) {
			t.Fatalf("%d results from %d docs", len(got), len(docs))
		}
	})
}
