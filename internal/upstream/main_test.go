package upstream_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: a
// connection, a timer wait or a queued call that outlived its call.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
