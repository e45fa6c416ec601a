package tlsconfig

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/ccserver/ccserver/internal/fsutil"
)

// maxConsistentReads bounds the retries when files change while being read.
const maxConsistentReads = 5

// readConsistent reads the files until two passes in a row give identical
// bytes, so a cert and key come from the same generation even while a
// writer replaces them.
func readConsistent(files ...string) ([][]byte, error) {
	read := func() ([][]byte, error) {
		out := make([][]byte, len(files))
		for i, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			out[i] = b
		}
		return out, nil
	}
	prev, err := read()
	if err != nil {
		return nil, err
	}
	for range maxConsistentReads {
		next, err := read()
		if err != nil {
			return nil, err
		}
		same := true
		for i := range next {
			same = same && bytes.Equal(prev[i], next[i])
		}
		if same {
			return next, nil
		}
		prev = next
	}
	return nil, fmt.Errorf("files kept changing during %d reads: %v", maxConsistentReads, files)
}

// checkKeyPermissions refuses a key file that group or others can access,
// through the one check pki and ccpki use too (fsutil.CheckKeyFile).
func checkKeyPermissions(keyFile string) error {
	err := fsutil.CheckKeyFile(keyFile, false)
	var pe *fsutil.PermissionError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return fileErr(keyFile, fmt.Errorf("%w (mode %04o)", ErrKeyPermissions, pe.Mode),
			"chmod 600 %s (Kubernetes: set defaultMode: 0400 on the secret volume)", keyFile)
	}
	return fileErr(keyFile, err, "make sure the key file exists and is readable by this process")
}

// fileBase is the lifecycle shared by the file sources: a watcher, a
// closed flag, serialised loads and ReloadFailed reporting.
type fileBase struct {
	name   string
	sink   *sink
	loadMu sync.Mutex
	w      *watcher
	closed atomic.Bool
}

func (b *fileBase) start(files []string, o sourceOptions, reload func() error) {
	b.w = startWatcher(files, o, func() { _ = reload() })
}

// reload runs load unless closed; a failure keeps the last good material
// (load only stores on success) and emits EventReloadFailed.
func (b *fileBase) reload(load func() error) error {
	if b.closed.Load() {
		return ErrClosed
	}
	b.loadMu.Lock()
	err := load()
	b.loadMu.Unlock()
	if err != nil {
		b.sink.emit(Event{Kind: EventReloadFailed, Source: b.name, Err: err})
	}
	return err
}

// Close stops watching and waits for the watcher and pending events. The
// last material stays available.
func (b *fileBase) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.w.close()
	b.sink.flush()
	return nil
}

func (b *fileBase) String() string { return b.name }

// FileIdentity is a certificate chain and key read from files and reloaded
// when they change. Create it with NewFileIdentity; Close it when done.
type FileIdentity struct {
	fileBase
	certFile, keyFile string
	h                 identityHolder
}

// NewFileIdentity loads certFile (PEM chain, leaf first) and keyFile (PEM
// key), refusing to start on a missing or malformed file, a key that does
// not match, a leaf that is expired or not yet valid, or a key file that
// group or others can access. It then watches both files' directories and
// polls, reloading when the content changes; a failed reload keeps the last
// good identity and emits EventReloadFailed.
func NewFileIdentity(certFile, keyFile string, opts ...SourceOption) (*FileIdentity, error) {
	o := buildSourceOptions(opts)
	if err := o.crlOnly(); err != nil {
		return nil, err
	}
	sk := newSink(o.events)
	f := &FileIdentity{fileBase: fileBase{name: certFile, sink: sk}, certFile: certFile, keyFile: keyFile,
		h: identityHolder{name: certFile, opts: o, sink: sk}}
	if err := f.load(); err != nil {
		return nil, err
	}
	f.start([]string{certFile, keyFile}, o, f.Reload)
	return f, nil
}

// load reads, checks and installs the pair; callers hold loadMu or own f.
func (f *FileIdentity) load() error {
	if !f.h.opts.insecureKey {
		if err := checkKeyPermissions(f.keyFile); err != nil {
			return err
		}
	}
	data, err := readConsistent(f.certFile, f.keyFile)
	if err != nil {
		return fileErr(f.certFile, err, "make sure %s and %s exist and are readable", f.certFile, f.keyFile)
	}
	sum := sumOf(data[0], data[1])
	if cur := f.h.load(); cur != nil && cur.sum == sum {
		f.h.store(cur) // unchanged: only the expiry check runs
		return nil
	}
	c, err := buildIdentity(data[0], data[1], f.certFile, f.keyFile, f.h.opts.now())
	if err != nil {
		return err
	}
	f.h.store(&identityState{cert: c, sum: sum})
	return nil
}

// Reload re-reads the files now (for example on SIGHUP). On error the last
// good identity stays in use and EventReloadFailed is emitted.
func (f *FileIdentity) Reload() error { return f.reload(f.load) }

// Identity returns the current certificate.
func (f *FileIdentity) Identity() (*tls.Certificate, error) { return f.h.load().cert, nil }

// Leaf returns the current leaf certificate.
func (f *FileIdentity) Leaf() *x509.Certificate { return f.h.load().cert.Leaf }

// FileTrust is a PEM CA bundle read from a file and reloaded when it
// changes. Create it with NewFileTrust; Close it when done.
type FileTrust struct {
	fileBase
	cur atomic.Pointer[trustState]
}

// NewFileTrust loads a PEM bundle of CA certificates and watches it like
// NewFileIdentity does. Put old and new CAs in the bundle together while
// rotating a CA.
func NewFileTrust(file string, opts ...SourceOption) (*FileTrust, error) {
	o := buildSourceOptions(opts)
	if err := o.crlOnly(); err != nil {
		return nil, err
	}
	t := &FileTrust{fileBase: fileBase{name: file, sink: newSink(o.events)}}
	if err := t.load(); err != nil {
		return nil, err
	}
	t.start([]string{file}, o, t.Reload)
	return t, nil
}

func (t *FileTrust) load() error {
	data, err := readConsistent(t.name)
	if err != nil {
		return fileErr(t.name, err, "make sure %s exists and is readable", t.name)
	}
	old := t.cur.Load()
	if old != nil && old.sum == sumOf(data[0]) {
		return nil
	}
	s, err := buildTrust(data[0], t.name)
	if err != nil {
		return err
	}
	t.cur.Store(s)
	e := Event{Kind: EventLoaded, Source: t.name, NewSerial: bundleSerials(s.certs)}
	if old != nil {
		e.Kind, e.OldSerial = EventRotated, bundleSerials(old.certs)
	}
	t.sink.emit(e)
	return nil
}

func bundleSerials(certs []*x509.Certificate) string {
	var b bytes.Buffer
	for i, c := range certs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(serialHex(c))
	}
	return b.String()
}

// Reload re-reads the bundle now; on error the last good bundle stays and
// EventReloadFailed is emitted.
func (t *FileTrust) Reload() error { return t.reload(t.load) }

// Trust returns the current bundle.
func (t *FileTrust) Trust() (*x509.CertPool, []*x509.Certificate, error) {
	s := t.cur.Load()
	return s.pool, s.certs, nil
}
