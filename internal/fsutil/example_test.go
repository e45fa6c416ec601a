package fsutil_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ccserver/ccserver/internal/fsutil"
)

// A certificate and its key are replaced as one generation; a server
// watching the directory sees either the old pair or the new one.
func ExampleWriteVersioned() {
	certPEM, keyPEM := []byte("<PEM certificate chain>"), []byte("<PEM private key>")
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	err := fsutil.WriteVersioned(dir, []fsutil.File{
		{Name: "tls.crt", Data: certPEM, Perm: 0o644},
		{Name: "tls.key", Data: keyPEM, Perm: 0o600},
	})
	fmt.Println(err)
	target, _ := os.Readlink(filepath.Join(dir, "tls.crt"))
	fmt.Println(target)
	// Output:
	// <nil>
	// ..data/tls.crt
}
