package bloom_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaks a goroutine: a Guard's goroutines end at Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
