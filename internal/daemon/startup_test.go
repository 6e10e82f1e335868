package daemon

import (
	"errors"
	"io"
	"log/slog"
	"testing"
)

// Which failures stop start-up is decided in one table: only the
// configuration, the kernel (and privileges) and the hash key.
func TestPolicies(t *testing.T) {
	all := []part{partConfig, partKernel, partContentKey, partMetrics, partFileOutput, partStore,
		partKafka, partES, partTLSProbes, partEnrichment}
	stops := map[part]bool{partConfig: true, partKernel: true, partContentKey: true}
	if len(policies) != len(all) {
		t.Fatalf("%d policies for %d parts", len(policies), len(all))
	}
	for _, p := range all {
		pol, ok := policies[p]
		if !ok {
			t.Errorf("part %s has no policy", p)
		}
		if (pol == stop) != stops[p] {
			t.Errorf("part %s: policy %v", p, pol)
		}
	}
}

func TestStartupRecordsDegradedParts(t *testing.T) {
	u := newStartup(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !u.try(partStore, func() error { return nil }) {
		t.Fatal("a part that started is reported failed")
	}
	if u.try(partStore, func() error { return errors.New("no space left on device") }) {
		t.Fatal("a part that failed is reported started")
	}
	u.try(partFileOutput, func() error { return errors.New("not a directory") })
	if got := u.names(); len(got) != 2 || got[0] != "output_file" || got[1] != "store" {
		t.Errorf("names %v", got)
	}
	d := map[string]string{}
	u.details(d)
	if d["degraded_store"] != "no space left on device" || d["degraded_output_file"] != "not a directory" {
		t.Errorf("details %v", d)
	}
	err := u.fail(partKernel, errors.New("no BTF"))
	var se *StartError
	if !errors.As(err, &se) || se.Part != "kernel" || err.Error() != "no BTF" {
		t.Errorf("fail: %#v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("try accepted a part whose failure must stop start-up")
		}
	}()
	u.try(partKernel, func() error { return errors.New("x") })
}
