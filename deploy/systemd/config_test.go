// Package systemd holds no code: its test checks the configuration that
// make install puts in /etc/bansho. test/deploy-check.sh checks the unit.
package systemd

import (
	"testing"

	"github.com/bansho-sec/bansho/deploy/internal/shipped"
)

func TestShippedConfigurationLoads(t *testing.T) {
	if paths := shipped.Load(t, "bansho.yaml"); len(paths) == 0 {
		t.Fatal("no protected directory")
	}
}
