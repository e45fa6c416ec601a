package serve

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if runAsCCServer() {
		return
	}
	goleak.VerifyTestMain(m)
}
