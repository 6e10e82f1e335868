package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/internal/store/storetest"
)

func runBansho(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.Run()
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

// Damaged or missing records are named on stderr by dump, timeline and
// replay, counted in their summaries, and make the exit status 3 unless
// --allow-damaged; every good record is still delivered.
func TestDamagedStoreIsReported(t *testing.T) {
	const n = 3000 // timeline without a filter is slow over many processes
	dir, segs := storetest.Segmented(t, n, 4)
	victim := segs[len(segs)/2]
	b, _ := os.ReadFile(victim)
	mid := len(b) / 2
	for i := 0; i < 4; i++ {
		b[mid+i] ^= 0xff
	}
	os.WriteFile(victim, b, 0o600)

	code, out, _ := runBansho(t, "store", "verify", "--store", dir)
	m := regexp.MustCompile(`compressed records (\d+) to (\d+)`).FindStringSubmatch(out)
	if code != 1 || m == nil {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	first, _ := strconv.Atoi(m[1])
	last, _ := strconv.Atoi(m[2])
	lost := last - first + 1
	want := fmt.Sprintf("records %d to %d", first, last)

	code, out, errs := runBansho(t, "store", "dump", "--store", dir)
	if code != 3 || strings.Count(out, "\n") != n-lost {
		t.Errorf("dump: exit %d, %d lines, want 3 and %d", code, strings.Count(out, "\n"), n-lost)
	}
	if !strings.Contains(errs, victim) || !strings.Contains(errs, want) || !strings.Contains(errs, fmt.Sprintf("%d records damaged or missing", lost)) {
		t.Errorf("dump stderr does not name %s, %s and the count %d:\n%s", victim, want, lost, errs)
	}
	code, out2, errs := runBansho(t, "store", "dump", "--store", dir, "--allow-damaged")
	if code != 0 || out2 != out || !strings.Contains(errs, want) {
		t.Errorf("dump --allow-damaged: exit %d, stderr:\n%s", code, errs)
	}

	code, out, errs = runBansho(t, "timeline", "--store", dir, "--utc")
	if code != 3 || !strings.Contains(errs, want) || !strings.Contains(out, fmt.Sprintf("%d records damaged or missing", lost)) {
		t.Errorf("timeline: exit %d\nstdout head: %.300s\nstderr:\n%s", code, out, errs)
	}
	code, out, errs = runBansho(t, "timeline", "--store", dir, "--format", "json")
	if code != 3 || !strings.Contains(errs, want) || !strings.Contains(out, fmt.Sprintf(`"damaged_records": %d`, lost)) {
		t.Errorf("timeline json: exit %d\nstderr:\n%s", code, errs)
	}
	code, _, errs = runBansho(t, "replay", "--store", dir)
	if code != 3 || !strings.Contains(errs, want) || !strings.Contains(errs, fmt.Sprintf("%d documents evaluated", n-lost)) ||
		!strings.Contains(errs, fmt.Sprintf("%d records damaged or missing", lost)) {
		t.Errorf("replay: exit %d\nstderr:\n%s", code, errs)
	}
	code, _, _ = runBansho(t, "replay", "--store", dir, "--allow-damaged")
	if code != 0 {
		t.Errorf("replay --allow-damaged: exit %d", code)
	}
}

// A segment removed from the middle is a gap in the sequence numbers;
// removed from the end, its index left behind says what is gone.
func TestMissingSegmentIsReported(t *testing.T) {
	dir, segs := storetest.Segmented(t, 5000, 4)
	os.Remove(segs[1])
	os.Remove(segs[len(segs)-1])
	firstOf := func(p string) uint64 {
		v, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(p), ".seg"), 10, 64)
		return v
	}
	wantMid := fmt.Sprintf("records %d to %d", firstOf(segs[1]), firstOf(segs[2])-1)
	wantLast := fmt.Sprintf("records %d to 5000", firstOf(segs[len(segs)-1]))
	code, out, errs := runBansho(t, "store", "dump", "--store", dir)
	lines := strings.Count(out, "\n")
	wantLines := 5000 - int(firstOf(segs[2])-firstOf(segs[1])) - int(5000-firstOf(segs[len(segs)-1])+1)
	if code != 3 || lines != wantLines || !strings.Contains(errs, wantMid) || !strings.Contains(errs, wantLast) {
		t.Errorf("dump: exit %d, %d lines (want 3, %d); stderr:\n%s", code, lines, wantLines, errs)
	}
	code, _, errs = runBansho(t, "store", "stat", "--store", dir)
	if code != 0 || !strings.Contains(errs, wantMid) || !strings.Contains(errs, wantLast) {
		t.Errorf("stat: exit %d; stderr:\n%s", code, errs)
	}
}
