package tlsconfig

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watcher calls reload when anything changes in the directories holding
// the watched files, and on every poll tick. It watches directories, not
// files: Kubernetes secret volumes swap a "..data" symlink, and a watch on
// the file itself dies after the first swap.
type watcher struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func startWatcher(files []string, o sourceOptions, reload func()) *watcher {
	w := &watcher{stop: make(chan struct{}), done: make(chan struct{})}
	fsw, err := fsnotify.NewWatcher()
	if err == nil {
		seen := map[string]bool{}
		for _, f := range files {
			d := filepath.Dir(f)
			if seen[d] {
				continue
			}
			seen[d] = true
			if fsw.Add(d) != nil {
				// Polling still covers this directory.
				continue
			}
		}
	} else {
		fsw = nil // no inotify: polling only
	}
	go w.loop(fsw, o, reload)
	return w
}

func (w *watcher) loop(fsw *fsnotify.Watcher, o sourceOptions, reload func()) {
	defer close(w.done)
	var events <-chan fsnotify.Event
	var errs <-chan error
	if fsw != nil {
		defer fsw.Close()
		events, errs = fsw.Events, fsw.Errors
	}
	tick := time.NewTicker(o.poll)
	defer tick.Stop()
	// The debounce timer gathers the burst of events of one swap
	// (create dir, create ..data_tmp, rename, remove old) into one reload.
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-w.stop:
			return
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			debounce.Reset(o.debounce)
		case _, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			debounce.Reset(o.debounce) // an overflow may hide a change
		case <-debounce.C:
			reload()
		case <-tick.C:
			reload()
		}
	}
}

func (w *watcher) close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}
