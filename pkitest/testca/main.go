package testca

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/ccserver/ccserver/internal/testcfssl"
)

// Main is TestMain for the packages that start these servers: cfssl's
// process-wide logger quiet before any server runs, and goleak's check
// when the tests are done, minus the one goroutine that is not ours: glog
// (linked by step-ca's dependencies) starts a flush daemon at init that
// never ends.
func Main(m *testing.M) {
	testcfssl.QuietLogs()
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}
