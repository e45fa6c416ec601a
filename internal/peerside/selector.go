package peerside

// Rich queries: a documented subset of CouchDB's Mango query language,
// evaluated in memory over JSON values, enough to run chaincode written
// for a CouchDB state database on a development peer.
//
// Query object keys:
//
//	selector         required; an object (see below)
//	sort             array of "field" or {"field": "asc"|"desc"}; missing
//	                 fields sort first; ties are broken by key
//	limit, skip      non-negative integers
//	fields           array of field paths: the result values keep only these
//	use_index, bookmark, execution_stats, r, conflicts, update, stable
//	                 accepted and ignored (no indexes here)
//
// Selector syntax:
//
//	{"field": value}                 implicit $eq
//	{"a.b.c": value}                 nested field by dot path
//	{"a": {"b": value}}              the same, by nesting
//	{"field": {"$op": arg, ...}}     several operators are ANDed
//	{"$and": [sel...]} {"$or": [sel...]} {"$nor": [sel...]} {"$not": sel}
//
// Field operators: $eq $ne $gt $gte $lt $lte (CouchDB collation: null <
// false < true < numbers < strings < arrays < objects, so $gt compares
// across types as CouchDB does), $in $nin (a field holding an array
// matches if any element is in the list), $exists (bool), $type ("null",
// "boolean", "number", "string", "array", "object"), $size (array length),
// $all (array field contains every value), $regex (Go RE2 syntax, not
// PCRE). A missing field matches only {"$exists": false}, as in CouchDB.
//
// Differences from CouchDB, on purpose: strings compare by bytes, not ICU
// collation; numbers compare as float64; values that are not JSON objects
// never match (CouchDB stores them as attachments); sort needs no index.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// Doc is one state entry offered to a query.
type Doc struct {
	Key   string
	Value []byte
}

// Query is a parsed rich query.
type Query struct {
	sel    matcher
	sorts  []sortField
	limit  int // -1: none
	skip   int
	fields [][]string
}

type sortField struct {
	path []string
	desc bool
}

// ErrBadQuery wraps every query parse error.
var ErrBadQuery = errors.New("invalid rich query")

func badQuery(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadQuery, fmt.Sprintf(format, args...))
}

// ParseQuery parses a CouchDB-style query string (see the package comment
// in selector.go for the supported subset).
func ParseQuery(s string) (*Query, error) {
	var top map[string]any
	if err := decodeJSON([]byte(s), &top); err != nil {
		return nil, badQuery("not a JSON object: %v", err)
	}
	if top == nil {
		return nil, badQuery("not a JSON object")
	}
	q := &Query{limit: -1}
	rawSel, ok := top["selector"]
	if !ok {
		return nil, badQuery(`missing "selector" (e.g. {"selector":{"docType":"asset"}})`)
	}
	selObj, ok := rawSel.(map[string]any)
	if !ok {
		return nil, badQuery(`"selector" must be an object`)
	}
	var err error
	if q.sel, err = parseSelector(selObj, nil); err != nil {
		return nil, err
	}
	for k, v := range top {
		switch k {
		case "selector":
		case "limit", "skip":
			n, ok := v.(json.Number)
			i, err := n.Int64()
			if !ok || err != nil || i < 0 || i > math.MaxInt32 {
				return nil, badQuery("%q must be a non-negative integer", k)
			}
			if k == "limit" {
				q.limit = int(i)
			} else {
				q.skip = int(i)
			}
		case "sort":
			if q.sorts, err = parseSort(v); err != nil {
				return nil, err
			}
		case "fields":
			arr, ok := v.([]any)
			if !ok {
				return nil, badQuery(`"fields" must be an array of field names`)
			}
			for _, f := range arr {
				name, ok := f.(string)
				if !ok || name == "" {
					return nil, badQuery(`"fields" must be an array of non-empty field names`)
				}
				q.fields = append(q.fields, strings.Split(name, "."))
			}
		case "use_index", "bookmark", "execution_stats", "r", "conflicts", "update", "stable":
		default:
			return nil, badQuery("unknown query field %q (supported: selector, sort, limit, skip, fields)", k)
		}
	}
	return q, nil
}

func parseSort(v any) ([]sortField, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, badQuery(`"sort" must be an array like ["name", {"age": "desc"}]`)
	}
	var out []sortField
	for _, e := range arr {
		switch e := e.(type) {
		case string:
			out = append(out, sortField{path: strings.Split(e, ".")})
		case map[string]any:
			if len(e) != 1 {
				return nil, badQuery(`each "sort" object must have exactly one field`)
			}
			for f, d := range e {
				dir, _ := d.(string)
				if dir != "asc" && dir != "desc" {
					return nil, badQuery(`sort direction for %q must be "asc" or "desc"`, f)
				}
				out = append(out, sortField{path: strings.Split(f, "."), desc: dir == "desc"})
			}
		default:
			return nil, badQuery(`"sort" entries must be field names or {"field": "asc|desc"}`)
		}
	}
	return out, nil
}

func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// Run filters docs, then sorts, skips, limits and projects. Docs whose
// value is not a JSON object are skipped. The order without sort is by key.
func (q *Query) Run(docs []Doc) ([]Doc, error) {
	type hit struct {
		doc Doc
		val map[string]any
	}
	var hits []hit
	for _, d := range docs {
		var v map[string]any
		if decodeJSON(d.Value, &v) != nil || v == nil {
			continue
		}
		if q.sel.match(v) {
			hits = append(hits, hit{d, v})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		for _, s := range q.sorts {
			a, aok := lookup(hits[i].val, s.path)
			b, bok := lookup(hits[j].val, s.path)
			c := compareMissing(a, aok, b, bok)
			if s.desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return hits[i].doc.Key < hits[j].doc.Key
	})
	hits = hits[min(q.skip, len(hits)):]
	if q.limit >= 0 && len(hits) > q.limit {
		hits = hits[:q.limit]
	}
	out := make([]Doc, len(hits))
	for i, h := range hits {
		out[i] = h.doc
		if q.fields != nil {
			b, err := json.Marshal(project(h.val, q.fields))
			if err != nil {
				return nil, err
			}
			out[i].Value = b
		}
	}
	return out, nil
}

// Match reports whether one JSON value satisfies the selector.
func (q *Query) Match(value []byte) bool {
	var v map[string]any
	if decodeJSON(value, &v) != nil || v == nil {
		return false
	}
	return q.sel.match(v)
}

func project(v map[string]any, fields [][]string) map[string]any {
	out := map[string]any{}
	for _, path := range fields {
		val, ok := lookup(v, path)
		if !ok {
			continue
		}
		m := out
		for _, p := range path[:len(path)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[path[len(path)-1]] = val
	}
	return out
}

func lookup(v any, path []string) (any, bool) {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// matcher is one node of a parsed selector.
type matcher interface{ match(doc map[string]any) bool }

type andM []matcher
type orM []matcher
type notM struct{ m matcher }

func (a andM) match(d map[string]any) bool {
	for _, m := range a {
		if !m.match(d) {
			return false
		}
	}
	return true
}

func (o orM) match(d map[string]any) bool {
	for _, m := range o {
		if m.match(d) {
			return true
		}
	}
	return false
}

func (n notM) match(d map[string]any) bool { return !n.m.match(d) }

// fieldM tests the value at path with one operator.
type fieldM struct {
	path []string
	op   string
	arg  any
	re   *regexp.Regexp
}

func parseSelector(obj map[string]any, path []string) (matcher, error) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic evaluation order
	var all andM
	for _, k := range keys {
		v := obj[k]
		switch {
		case k == "$and" || k == "$or" || k == "$nor":
			arr, ok := v.([]any)
			if !ok || len(arr) == 0 {
				return nil, badQuery("%s needs a non-empty array of selectors", k)
			}
			var subs []matcher
			for _, e := range arr {
				o, ok := e.(map[string]any)
				if !ok {
					return nil, badQuery("%s entries must be selector objects", k)
				}
				m, err := parseSelector(o, path)
				if err != nil {
					return nil, err
				}
				subs = append(subs, m)
			}
			switch k {
			case "$and":
				all = append(all, andM(subs))
			case "$or":
				all = append(all, orM(subs))
			default:
				all = append(all, notM{orM(subs)})
			}
		case k == "$not":
			o, ok := v.(map[string]any)
			if !ok {
				return nil, badQuery("$not needs a selector object")
			}
			m, err := parseSelector(o, path)
			if err != nil {
				return nil, err
			}
			all = append(all, notM{m})
		case strings.HasPrefix(k, "$"):
			if len(path) == 0 {
				return nil, badQuery("operator %s must be applied to a field, e.g. {\"size\": {%q: 10}}", k, k)
			}
			m, err := parseOperator(path, k, v)
			if err != nil {
				return nil, err
			}
			all = append(all, m)
		default:
			if k == "" {
				return nil, badQuery("empty field name")
			}
			sub := append(append([]string(nil), path...), strings.Split(k, ".")...)
			if o, ok := v.(map[string]any); ok && len(o) > 0 {
				m, err := parseSelector(o, sub)
				if err != nil {
					return nil, err
				}
				all = append(all, m)
				continue
			}
			all = append(all, &fieldM{path: sub, op: "$eq", arg: v})
		}
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return all, nil
}

var jsonTypes = map[string]bool{"null": true, "boolean": true, "number": true, "string": true, "array": true, "object": true}

func parseOperator(path []string, op string, arg any) (matcher, error) {
	f := &fieldM{path: path, op: op, arg: arg}
	switch op {
	case "$eq", "$ne", "$gt", "$gte", "$lt", "$lte":
	case "$in", "$nin", "$all":
		if _, ok := arg.([]any); !ok {
			return nil, badQuery("%s needs an array", op)
		}
	case "$exists":
		if _, ok := arg.(bool); !ok {
			return nil, badQuery("$exists needs true or false")
		}
	case "$type":
		s, _ := arg.(string)
		if !jsonTypes[s] {
			return nil, badQuery(`$type needs one of "null", "boolean", "number", "string", "array", "object"`)
		}
	case "$size":
		n, ok := arg.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			return nil, badQuery("$size needs an integer")
		}
	case "$regex":
		s, ok := arg.(string)
		if !ok {
			return nil, badQuery("$regex needs a string")
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, badQuery("$regex %q: %v (Go RE2 syntax)", s, err)
		}
		f.re = re
	default:
		return nil, badQuery("unsupported operator %s (supported: $eq $ne $gt $gte $lt $lte $in $nin $exists $type $size $all $regex $and $or $nor $not)", op)
	}
	return f, nil
}

func (f *fieldM) match(doc map[string]any) bool {
	v, ok := lookup(doc, f.path)
	if f.op == "$exists" {
		return ok == f.arg.(bool)
	}
	if !ok {
		return false
	}
	switch f.op {
	case "$eq":
		return collate(v, f.arg) == 0
	case "$ne":
		return collate(v, f.arg) != 0
	case "$gt":
		return collate(v, f.arg) > 0
	case "$gte":
		return collate(v, f.arg) >= 0
	case "$lt":
		return collate(v, f.arg) < 0
	case "$lte":
		return collate(v, f.arg) <= 0
	case "$in":
		return inList(v, f.arg.([]any))
	case "$nin":
		return !inList(v, f.arg.([]any))
	case "$all":
		arr, ok := v.([]any)
		if !ok {
			return false
		}
		for _, want := range f.arg.([]any) {
			if !inList(want, arr) {
				return false
			}
		}
		return true
	case "$type":
		return typeName(v) == f.arg.(string)
	case "$size":
		arr, ok := v.([]any)
		n, _ := f.arg.(json.Number).Int64()
		return ok && int64(len(arr)) == n
	case "$regex":
		s, ok := v.(string)
		return ok && f.re.MatchString(s)
	}
	return false
}

func inList(v any, list []any) bool {
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if inList(e, list) {
				return true
			}
		}
		return false
	}
	for _, e := range list {
		if collate(v, e) == 0 {
			return true
		}
	}
	return false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func rank(v any) int {
	switch v := v.(type) {
	case nil:
		return 0
	case bool:
		if v {
			return 2
		}
		return 1
	case json.Number, float64:
		return 3
	case string:
		return 4
	case []any:
		return 5
	case map[string]any:
		return 6
	}
	return 7
}

func num(v any) float64 {
	switch v := v.(type) {
	case json.Number:
		f, _ := v.Float64()
		return f
	case float64:
		return v
	}
	return 0
}

// compareMissing orders a missing value before everything else.
func compareMissing(a any, aok bool, b any, bok bool) int {
	switch {
	case !aok && !bok:
		return 0
	case !aok:
		return -1
	case !bok:
		return 1
	}
	return collate(a, b)
}

// collate compares JSON values in CouchDB's type order.
func collate(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return cmpInt(ra, rb)
	}
	switch a := a.(type) {
	case json.Number, float64:
		x, y := num(a), num(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case string:
		return strings.Compare(a, b.(string))
	case []any:
		bb := b.([]any)
		for i := 0; i < len(a) && i < len(bb); i++ {
			if c := collate(a[i], bb[i]); c != 0 {
				return c
			}
		}
		return cmpInt(len(a), len(bb))
	case map[string]any:
		bm := b.(map[string]any)
		ak, bk := sortedKeys(a), sortedKeys(bm)
		for i := 0; i < len(ak) && i < len(bk); i++ {
			if c := strings.Compare(ak[i], bk[i]); c != 0 {
				return c
			}
			if c := collate(a[ak[i]], bm[bk[i]]); c != 0 {
				return c
			}
		}
		return cmpInt(len(ak), len(bk))
	}
	return 0
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
