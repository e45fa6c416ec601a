package migrate

import (
	"go/parser"
	"go/token"
	"testing"
)

// FuzzRewriteFile: whatever Go source comes in, the rewrite does not
// panic, what it prints parses, and a second run changes nothing more.
func FuzzRewriteFile(f *testing.F) {
	// Small seeds: whole corpus files as seeds slow the fuzzer to a crawl.
	f.Add([]byte(header + "func f() (r pb.Response) { r.Status = 1; return }\nvar x, y pb.Response\n"))
	f.Add([]byte(header + "type T struct{ pb.Response }\nvar _ = []pb.Response{{}}\nvar _ = pb.Response(pb.Response{})\n"))
	f.Add([]byte(header + "func (c *C) Invoke(stub shim.ChaincodeStubInterface) pb.Response {\n\tvar out pb.Response // zero\n\tout.Status = shim.OK\n\treturn out\n}\n"))
	f.Add([]byte("package cc\n\nimport (\n\tsc \"github.com/hyperledger/fabric/protos/peer\"\n\t\"github.com/golang/protobuf/ptypes/timestamp\"\n)\n\nvar _ = func(*timestamp.Timestamp) sc.Response { return sc.Response{} }\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if _, err := parser.ParseFile(token.NewFileSet(), "in.go", src, parser.ParseComments); err != nil {
			return
		}
		res, err := rewriteFile("in.go", src)
		if err != nil {
			// The printer may refuse what the parser accepted (a rare
			// invalid AST); an error is an answer, a panic is not.
			return
		}
		if res.out == nil {
			return
		}
		if _, err := parser.ParseFile(token.NewFileSet(), "out.go", res.out, parser.ParseComments); err != nil {
			t.Fatalf("the output does not parse: %v\n%s", err, res.out)
		}
		again, err := rewriteFile("out.go", res.out)
		if err != nil {
			t.Fatalf("the output cannot be rewritten again: %v", err)
		}
		if again.out != nil && string(again.out) != string(res.out) {
			t.Fatalf("not idempotent:\n%s", unifiedDiff("first", "second", res.out, again.out))
		}
	})
}
