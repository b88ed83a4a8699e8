package luapolicy_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaks a goroutine: Watch and WatchEtcd end with their
// context or Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
