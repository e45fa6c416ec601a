package main

import (
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ccserver/ccserver/examples/assettransfer"
	"github.com/ccserver/ccserver/serve"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ccserver": func() { serve.Main(assettransfer.New()) },
	})
}

// TestScripts runs testdata/script/*.txtar: the command line's manners
// (--version, usage errors and their exit status); serving is tested in
// package serve.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script"})
}
