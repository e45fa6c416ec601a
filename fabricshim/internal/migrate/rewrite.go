package migrate

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"path"
	"strconv"

	"golang.org/x/tools/go/ast/astutil"
)

// Note is something ccmigrate could not rewrite, or rewrote in a way the
// user should look at.
type Note struct {
	Pos string // file:line:column, or file
	Msg string
}

func (n Note) String() string { return n.Pos + ": " + n.Msg }

// fileResult is what rewriting one file produced.
type fileResult struct {
	out     []byte   // the new source; nil if nothing changed
	imports []string // the file's import paths after the rewrite
	notes   []Note
}

// rewriteFile moves one Go file from the v1 shim onto ccserver's: import
// paths, and peer.Response by value to *peer.Response. name is used in
// positions only.
func rewriteFile(name string, src []byte) (fileResult, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	if err != nil {
		return fileResult{}, fmt.Errorf("parse: %w", err)
	}
	r := &rewriter{fset: fset, file: f, peer: map[string]bool{}, shim: map[string]bool{}, made: map[*ast.StarExpr]bool{}}
	changed := r.rewriteImports()
	if len(r.peer) > 0 && r.rewriteResponses() {
		changed = true
	}
	r.checkShimNames()
	res := fileResult{notes: r.notes}
	for _, spec := range f.Imports {
		p, _ := strconv.Unquote(spec.Path.Value)
		res.imports = append(res.imports, p)
	}
	if !changed {
		return res, nil
	}
	ast.SortImports(fset, f)
	var buf bytes.Buffer
	if err := format.Node(&buf, fset, f); err != nil {
		return fileResult{}, fmt.Errorf("print: %w", err)
	}
	// A second pass through the formatter settles what the first leaves
	// uneven around replaced nodes, as gofmt would.
	out, err := format.Source(buf.Bytes())
	if err != nil {
		return fileResult{}, fmt.Errorf("format: %w", err)
	}
	res.out = out
	return res, nil
}

type rewriter struct {
	fset  *token.FileSet
	file  *ast.File
	peer  map[string]bool // local names of the v1 peer package
	shim  map[string]bool // local names of the shim package, now ours
	made  map[*ast.StarExpr]bool
	notes []Note
	// bodies is the stack of function bodies being walked.
	bodies []*ast.BlockStmt
}

func (r *rewriter) note(pos token.Pos, format string, args ...any) {
	r.notes = append(r.notes, Note{Pos: r.fset.Position(pos).String(), Msg: fmt.Sprintf(format, args...)})
}

// rewriteImports maps every import path of the table and records the
// local names of the peer and shim packages.
func (r *rewriter) rewriteImports() bool {
	changed := false
	for _, spec := range r.file.Imports {
		old, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			continue
		}
		if msg := unsupported(old); msg != "" {
			r.note(spec.Pos(), "%s stays: %s", old, msg)
			continue
		}
		repl := mapPath(old)
		if repl == "" {
			continue
		}
		local := path.Base(old)
		if spec.Name != nil {
			local = spec.Name.Name
		} else if path.Base(repl) != local {
			// Keep the name the code uses.
			spec.Name = &ast.Ident{NamePos: spec.Path.Pos(), Name: local}
		}
		spec.Path.Value = strconv.Quote(repl)
		changed = true
		switch {
		case local == "." || local == "_":
			if isV1Peer(old) && local == "." {
				r.note(spec.Pos(), "dot import of %s: make each Response used by value a *Response by hand", old)
			}
		case isV1Peer(old):
			r.peer[local] = true
		case repl == CCServerModule+"/shim":
			r.shim[local] = true
		}
	}
	return changed
}

// isResponse reports whether e names the v1 peer.Response type.
func (r *rewriter) isResponse(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Response" {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	// Obj is set when the name resolves to something declared in this
	// file, such as a local variable shadowing the import.
	return ok && r.peer[id.Name] && id.Obj == nil
}

// pointer wraps sel in a pointer type, remembering that it did.
func (r *rewriter) pointer(sel ast.Expr) *ast.StarExpr {
	s := &ast.StarExpr{Star: sel.Pos(), X: sel}
	r.made[s] = true
	return s
}

// newResponse is &peer.Response{} spelled with the file's name for peer.
func newResponse(peerName string, pos token.Pos) ast.Expr {
	return &ast.UnaryExpr{OpPos: pos, Op: token.AND, X: &ast.CompositeLit{
		Type:   &ast.SelectorExpr{X: &ast.Ident{NamePos: pos, Name: peerName}, Sel: ast.NewIdent("Response")},
		Lbrace: pos, Rbrace: pos,
	}}
}

// rewriteResponses turns every peer.Response by value into a pointer:
// types become *peer.Response, literals &peer.Response{...}, and
// variables that relied on the zero value get &peer.Response{}.
func (r *rewriter) rewriteResponses() bool {
	changed := false
	pre := func(c *astutil.Cursor) bool {
		switch n := c.Node().(type) {
		case *ast.FuncDecl:
			r.bodies = append(r.bodies, n.Body)
		case *ast.FuncLit:
			r.bodies = append(r.bodies, n.Body)
		case *ast.SelectorExpr:
			if !r.isResponse(n) {
				return true
			}
			switch p := c.Parent().(type) {
			case *ast.StarExpr:
				return false // a pointer already
			case *ast.CompositeLit:
				if c.Name() == "Type" {
					return false // the literal is rewritten in post
				}
			case *ast.CallExpr:
				if c.Name() == "Fun" {
					r.note(n.Pos(), "conversion to %s.Response: rewrite by hand", n.X.(*ast.Ident).Name)
					return false
				}
				if id, ok := p.Fun.(*ast.Ident); ok && id.Name == "new" && id.Obj == nil {
					return false // new(peer.Response) is a pointer already
				}
			}
			c.Replace(r.pointer(n))
			changed = true
			return false
		}
		return true
	}
	post := func(c *astutil.Cursor) bool {
		switch n := c.Node().(type) {
		case *ast.FuncDecl:
			r.initNamedResults(n.Type, n.Body)
			r.bodies = r.bodies[:len(r.bodies)-1]
		case *ast.FuncLit:
			r.initNamedResults(n.Type, n.Body)
			r.bodies = r.bodies[:len(r.bodies)-1]
		case *ast.CompositeLit:
			if !r.isResponse(n.Type) {
				return true
			}
			if u, ok := c.Parent().(*ast.UnaryExpr); ok && u.Op == token.AND {
				return true
			}
			c.Replace(&ast.UnaryExpr{OpPos: n.Pos(), Op: token.AND, X: n})
			changed = true
		case *ast.ValueSpec:
			r.initVars(n)
		case *ast.StructType:
			for _, f := range n.Fields.List {
				if s, ok := f.Type.(*ast.StarExpr); ok && r.made[s] {
					name := "embedded field"
					if len(f.Names) > 0 {
						name = "field " + f.Names[0].Name
					}
					r.note(f.Pos(), "%s is now a *%s.Response and nil until set: assign it where the code relied on the zero value",
						name, s.X.(*ast.SelectorExpr).X.(*ast.Ident).Name)
				}
			}
		}
		return true
	}
	astutil.Apply(r.file, pre, post)
	return changed
}

// madeResponse reports whether e is a *peer.Response this rewrite made
// from a value type, and returns the peer package's name.
func (r *rewriter) madeResponse(e ast.Expr) (string, bool) {
	s, ok := e.(*ast.StarExpr)
	if !ok || !r.made[s] {
		return "", false
	}
	return s.X.(*ast.SelectorExpr).X.(*ast.Ident).Name, true
}

// fieldUsed reports whether body selects a field or method of name (a
// syntactic check: enough to tell that a nil pointer would be used).
func fieldUsed(body ast.Node, name string) bool {
	if body == nil {
		return false
	}
	used := false
	ast.Inspect(body, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == name {
				used = true
			}
		}
		return !used
	})
	return used
}

// initVars gives var declarations of a former value type, without a
// value, a fresh &peer.Response{}: a nil pointer would break the code
// that used the zero value. At package level it always does; in a
// function only if the variable's fields are used.
func (r *rewriter) initVars(spec *ast.ValueSpec) {
	peerName, ok := r.madeResponse(spec.Type)
	if !ok || len(spec.Values) > 0 {
		return
	}
	var body ast.Node
	if len(r.bodies) > 0 {
		body = r.bodies[len(r.bodies)-1]
		need := false
		for _, n := range spec.Names {
			need = need || fieldUsed(body, n.Name)
		}
		if !need {
			return
		}
	}
	for _, n := range spec.Names {
		spec.Values = append(spec.Values, newResponse(peerName, n.End()))
	}
	spec.Type = nil
}

// initNamedResults starts a function whose named results were of the
// value type, and whose fields it uses, by setting them to fresh
// responses.
func (r *rewriter) initNamedResults(ft *ast.FuncType, body *ast.BlockStmt) {
	if body == nil || ft.Results == nil {
		return
	}
	assign := &ast.AssignStmt{Tok: token.ASSIGN, TokPos: body.Lbrace}
	for _, f := range ft.Results.List {
		peerName, ok := r.madeResponse(f.Type)
		if !ok {
			continue
		}
		for _, n := range f.Names {
			if n.Name == "_" || !fieldUsed(body, n.Name) {
				continue
			}
			assign.Lhs = append(assign.Lhs, &ast.Ident{NamePos: body.Lbrace, Name: n.Name})
			assign.Rhs = append(assign.Rhs, newResponse(peerName, body.Lbrace))
		}
	}
	if len(assign.Lhs) == 0 {
		return
	}
	body.List = append([]ast.Stmt{assign}, body.List...)
	r.note(ft.Pos(), "named result %s starts as a fresh response (it was a value)", assign.Lhs[0].(*ast.Ident).Name)
}

// checkShimNames notes every name used from the shim that ccserver's shim
// does not have (Fabric 1.x's logging, MockStub).
func (r *rewriter) checkShimNames() {
	if len(r.shim) == 0 {
		return
	}
	have := shimNames()
	ast.Inspect(r.file, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && r.shim[id.Name] && id.Obj == nil && sel.Sel.IsExported() && !have[sel.Sel.Name] {
			r.note(sel.Pos(), "%s.%s is not in ccserver's shim: replace it by hand (logging: log/slog; MockStub: ccserver's shimtest)", id.Name, sel.Sel.Name)
		}
		return true
	})
}
