// Package testutil holds helpers shared by tests.
package testutil

import (
	"os"
	"testing"
)

// RequireBPF skips a test that needs root and a BPF-capable kernel, except
// in CI (CI set) or with BANSHO_REQUIRE_BPF=1, where a missing privilege is
// a failure: the kernel tests must never be skipped silently there.
func RequireBPF(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" || os.Getenv("BANSHO_REQUIRE_BPF") == "1" {
		tb.Fatal("kernel tests need root (CI or BANSHO_REQUIRE_BPF=1 is set, so this is a failure, not a skip)")
	}
	tb.Skip("kernel tests need root; run them with sudo (make test does)")
}
