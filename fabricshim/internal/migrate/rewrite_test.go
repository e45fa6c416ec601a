package migrate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// header is the import block of a v1 chaincode file.
const header = `package cc

import (
	"github.com/hyperledger/fabric-chaincode-go/shim"
	pb "github.com/hyperledger/fabric-protos-go/peer"
)

`

func TestRewriteFile(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		want      []string // lines (trimmed) the output must contain
		notWant   []string
		wantNotes []string
	}{
		{
			name: "imports",
			src:  header + "var _ shim.Chaincode\nvar _ *pb.SignedProposal\n",
			want: []string{`"github.com/ccserver/ccserver/shim"`, `pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"`},
		},
		{
			name: "Init and Invoke signatures",
			src: header + `type C struct{}

func (c *C) Init(stub shim.ChaincodeStubInterface) pb.Response   { return shim.Success(nil) }
func (c *C) Invoke(stub shim.ChaincodeStubInterface) pb.Response { return shim.Error("no") }
`,
			want: []string{
				"func (c *C) Init(stub shim.ChaincodeStubInterface) *pb.Response { return shim.Success(nil) }",
				`func (c *C) Invoke(stub shim.ChaincodeStubInterface) *pb.Response { return shim.Error("no") }`,
			},
		},
		{
			name: "literals returned",
			src:  header + "func nf() pb.Response { return pb.Response{Status: 404, Message: \"gone\"} }\n",
			want: []string{`func nf() *pb.Response { return &pb.Response{Status: 404, Message: "gone"} }`},
		},
		{
			name: "pointers stay pointers",
			src: header + `func a() *pb.Response { return &pb.Response{} }
func b() *pb.Response { return new(pb.Response) }
`,
			want:    []string{"func a() *pb.Response { return &pb.Response{} }", "func b() *pb.Response { return new(pb.Response) }"},
			notWant: []string{"**pb.Response", "&&pb", "new(*pb.Response)"},
		},
		{
			name: "variables, slices, maps, func types",
			src: header + `type handler func(shim.ChaincodeStubInterface) pb.Response

var table map[string]handler
var all = []pb.Response{{Status: 200}, pb.Response{Status: 500}}

func f(rs chan pb.Response, x interface{}) {
	if _, ok := x.(pb.Response); ok {
	}
	switch x.(type) {
	case pb.Response:
	}
}
`,
			want: []string{
				"type handler func(shim.ChaincodeStubInterface) *pb.Response",
				"var all = []*pb.Response{{Status: 200}, &pb.Response{Status: 500}}",
				"func f(rs chan *pb.Response, x interface{}) {",
				"if _, ok := x.(*pb.Response); ok {",
				"case *pb.Response:",
			},
		},
		{
			name: "a zero value whose fields are set becomes a fresh response",
			src: header + `func f() pb.Response {
	var out pb.Response
	out.Status = 200
	return out
}

func g() pb.Response {
	var res pb.Response
	res = shim.Success(nil)
	return res
}
`,
			want: []string{"var out = &pb.Response{}", "var res *pb.Response"},
		},
		{
			name: "package-level zero value",
			src:  header + "var last pb.Response\n",
			want: []string{"var last = &pb.Response{}"},
		},
		{
			name: "named results",
			src: header + `func f() (res pb.Response) {
	res.Status = 200
	return
}

func g() (res pb.Response) {
	return shim.Success(nil)
}
`,
			want:      []string{"func f() (res *pb.Response) {", "res = &pb.Response{}", "func g() (res *pb.Response) {"},
			wantNotes: []string{"named result res starts as a fresh response"},
		},
		{
			name:      "struct fields",
			src:       header + "type T struct {\n\tlast pb.Response\n\tpb.Response\n}\n",
			want:      []string{"last *pb.Response", "*pb.Response"},
			wantNotes: []string{"field last is now a *pb.Response and nil until set", "embedded field is now a *pb.Response"},
		},
		{
			name:      "conversion",
			src:       header + "type R pb.Response\n\nfunc f(r R) interface{} { return pb.Response(r) }\n",
			want:      []string{"type R *pb.Response", "func f(r R) interface{} { return pb.Response(r) }"},
			wantNotes: []string{"conversion to pb.Response"},
		},
		{
			name: "a local named like the import is left alone",
			src:  header + "type box struct{ Response int }\n\nfunc f(pb box) int { return pb.Response }\n\nvar _ = shim.OK\n",
			want: []string{"func f(pb box) int { return pb.Response }"},
		},
		{
			name: "peer imported by its own name",
			src: `package cc

import "github.com/hyperledger/fabric-protos-go/peer"

func f() peer.Response { return peer.Response{} }
`,
			want: []string{`import "github.com/hyperledger/fabric-protos-go-apiv2/peer"`, "func f() *peer.Response { return &peer.Response{} }"},
		},
		{
			name: "Fabric 1.x paths",
			src: `package cc

import (
	"github.com/hyperledger/fabric/core/chaincode/lib/cid"
	"github.com/hyperledger/fabric/core/chaincode/shim"
	"github.com/hyperledger/fabric/core/chaincode/shim/ext/statebased"
	"github.com/hyperledger/fabric/protos/ledger/queryresult"
	sc "github.com/hyperledger/fabric/protos/peer"
)

var (
	_ = cid.GetID
	_ = statebased.NewStateEP
	_ *queryresult.KV
	_ shim.Chaincode
)

func f() sc.Response { return shim.Success(nil) }
`,
			want: []string{
				`"github.com/ccserver/ccserver/shim"`,
				`"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"`,
				`"github.com/hyperledger/fabric-chaincode-go/v2/pkg/statebased"`,
				`"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"`,
				`sc "github.com/hyperledger/fabric-protos-go-apiv2/peer"`,
				"func f() *sc.Response { return shim.Success(nil) }",
			},
		},
		{
			name: "golang/protobuf's timestamp keeps its name",
			src:  "package cc\n\nimport \"github.com/golang/protobuf/ptypes/timestamp\"\n\nvar _ *timestamp.Timestamp\n",
			want: []string{`import timestamp "google.golang.org/protobuf/types/known/timestamppb"`, "var _ *timestamp.Timestamp"},
		},
		{
			name: "names ccserver's shim lacks",
			src: `package cc

import "github.com/hyperledger/fabric/core/chaincode/shim"

var logger = shim.NewLogger("cc")

func f() { _ = shim.NewMockStub("cc", nil); _ = shim.OK }
`,
			wantNotes: []string{"shim.NewLogger is not in ccserver's shim", "shim.NewMockStub is not in ccserver's shim"},
		},
		{
			name:      "v1 shimtest stays, with a note",
			src:       "package cc\n\nimport \"github.com/hyperledger/fabric-chaincode-go/shimtest\"\n\nvar _ = shimtest.NewMockStub\n",
			want:      []string{`import "github.com/hyperledger/fabric-chaincode-go/shimtest"`},
			wantNotes: []string{"shimtest.MockStub has no drop-in replacement"},
		},
		{
			name: "comments stay",
			src: header + `// Invoke runs one call.
func Invoke(stub shim.ChaincodeStubInterface) pb.Response { // the v1 signature
	return pb.Response{Status: 200} // fine
}
`,
			want: []string{"// Invoke runs one call.", "func Invoke(stub shim.ChaincodeStubInterface) *pb.Response { // the v1 signature",
				"return &pb.Response{Status: 200} // fine"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := rewriteFile("cc.go", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			out := string(res.out)
			if res.out == nil {
				out = tc.src
			}
			lines := strings.Split(out, "\n")
			for i := range lines {
				// gofmt aligns neighbouring lines; compare words.
				lines[i] = strings.Join(strings.Fields(lines[i]), " ")
			}
			for _, w := range tc.want {
				if !slices.Contains(lines, w) {
					t.Errorf("no line %q in:\n%s", w, out)
				}
			}
			for _, nw := range tc.notWant {
				if strings.Contains(out, nw) {
					t.Errorf("%q in:\n%s", nw, out)
				}
			}
			var notes []string
			for _, n := range res.notes {
				notes = append(notes, n.String())
			}
			for _, w := range tc.wantNotes {
				if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, w) }) {
					t.Errorf("no note %q in %q", w, notes)
				}
			}
			if len(tc.wantNotes) == 0 && len(notes) > 0 {
				t.Errorf("unexpected notes %q", notes)
			}
			if _, err := parser.ParseFile(token.NewFileSet(), "out.go", out, 0); err != nil {
				t.Errorf("the output does not parse: %v\n%s", err, out)
			}
			// A second run changes nothing.
			again, err := rewriteFile("cc.go", []byte(out))
			if err != nil {
				t.Fatal(err)
			}
			if again.out != nil && string(again.out) != out {
				t.Errorf("a second run changed the file again:\n%s", unifiedDiff("first", "second", []byte(out), again.out))
			}
		})
	}
}

func TestRewriteFileLeavesOthersAlone(t *testing.T) {
	tests := []struct{ name, src string }{
		{"no Fabric imports", "package cc\n\nimport \"fmt\"\n\nvar _ = fmt.Sprint\n"},
		{"already on ccserver", `package cc

import (
	"github.com/ccserver/ccserver/shim"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

func f() *pb.Response { return shim.Success(nil) }
`},
	}
	for _, tc := range tests {
		res, err := rewriteFile("cc.go", []byte(tc.src))
		if err != nil || res.out != nil || len(res.notes) > 0 {
			t.Errorf("%s: out %q, notes %v, err %v; want nothing changed", tc.name, res.out, res.notes, err)
		}
	}
	if _, err := rewriteFile("bad.go", []byte("package")); err == nil || !strings.Contains(err.Error(), "bad.go") {
		t.Errorf("a file that does not parse: %v, want an error naming it", err)
	}
}

// TestShimNamesMatchSource keeps shimNames equal to what ccserver's shim
// package exports.
func TestShimNamesMatchSource(t *testing.T) {
	const dir = "../../../shim"
	sources, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, name := range sources {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					got[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							got[s.Name.Name] = true
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								got[n.Name] = true
							}
						}
					}
				}
			}
		}
	}
	want := shimNames()
	for n := range got {
		if !want[n] {
			t.Errorf("ccserver's shim exports %s; add it to shimNames", n)
		}
	}
	for n := range want {
		if !got[n] {
			t.Errorf("shimNames lists %s, which ccserver's shim does not export", n)
		}
	}
	if len(got) < 20 {
		t.Fatalf("found only %d exported names in ../../../shim", len(got))
	}
}

// The versions ccmigrate writes are the ones ccserver's module uses.
func TestVersionsMatchCore(t *testing.T) {
	b, err := os.ReadFile("../../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod := string(b)
	for _, want := range []string{"\ngo " + MinGo + "\n", protosModule + " " + protosVersion, protobufModule + " " + protobufVersion} {
		if !strings.Contains(mod, want) {
			t.Errorf("ccserver's go.mod has no %q", want)
		}
	}
}

func TestMapPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"github.com/hyperledger/fabric-chaincode-go/shim", "github.com/ccserver/ccserver/shim"},
		{"github.com/hyperledger/fabric-chaincode-go/pkg/cid", "github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"},
		{"github.com/hyperledger/fabric-chaincode-go/shim/ext/statebased", "github.com/hyperledger/fabric-chaincode-go/v2/pkg/statebased"},
		{"github.com/hyperledger/fabric-protos-go/ledger/queryresult", "github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"},
		{"github.com/hyperledger/fabric-protos-go-apiv2/peer", ""},
		{"github.com/hyperledger/fabric-chaincode-go/v2/shim", ""},
		{"github.com/hyperledger/fabric-protos-gox/peer", ""},
		{"github.com/hyperledger/fabric/protos/msp", "github.com/hyperledger/fabric-protos-go-apiv2/msp"},
		{"fmt", ""},
	}
	for _, tc := range tests {
		if got := mapPath(tc.in); got != tc.want {
			t.Errorf("mapPath(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestInModule(t *testing.T) {
	tests := []struct {
		path, mod string
		want      bool
	}{
		{"github.com/hyperledger/fabric-chaincode-go/shim", "github.com/hyperledger/fabric-chaincode-go", true},
		{"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid", "github.com/hyperledger/fabric-chaincode-go", false},
		{"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid", "github.com/hyperledger/fabric-chaincode-go/v2", true},
		{"github.com/hyperledger/fabric-protos-go/peer", "github.com/hyperledger/fabric", false},
		{"github.com/hyperledger/fabric/protos/peer", "github.com/hyperledger/fabric", true},
		{"github.com/hyperledger/fabric", "github.com/hyperledger/fabric", true},
		{"github.com/hyperledger/fabric/vendor2/x", "github.com/hyperledger/fabric", true},
	}
	for _, tc := range tests {
		if got := inModule(tc.path, tc.mod); got != tc.want {
			t.Errorf("inModule(%s, %s) = %v", tc.path, tc.mod, got)
		}
	}
}
