package faults

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/internal/store/storetest"
)

// faultStore is a closed store of n job documents in small segments,
// with the events segment files in order.
func faultStore(t *testing.T, n int) (string, []string) {
	return storetest.Segmented(t, n, 5)
}

func firstOf(seg string) int {
	v, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(seg), ".seg"))
	return v
}

// delivered is what each reading command gave back: documents, the
// records it said were lost, exit code and stderr.
type delivered struct {
	code   int
	docs   int
	lost   int // from its summary (-1: none given)
	stderr string
	out    string
}

var lostRE = regexp.MustCompile(`(\d+) records damaged or missing`)

func summaryLost(s string) int {
	m := lostRE.FindStringSubmatch(s)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func readAs(t *testing.T, cmd, dir string) delivered {
	t.Helper()
	const limit = 60 * time.Second
	var r Result
	d := delivered{lost: -1}
	switch cmd {
	case "store dump":
		r = Run(t, limit, nil, nil, "store", "dump", "--store", dir)
		d.docs = strings.Count(r.Stdout, "\n")
		d.lost = summaryLost(r.Stderr)
	case "store stat":
		r = Run(t, limit, nil, nil, "store", "stat", "--store", dir, "--format", "json")
		var st struct {
			Streams []struct {
				Stream  string `json:"stream"`
				Records int    `json:"records"`
			} `json:"streams"`
		}
		json.Unmarshal([]byte(r.Stdout), &st)
		for _, s := range st.Streams {
			if s.Stream == "events" {
				d.docs = s.Records
			}
		}
		d.lost = summaryLost(r.Stderr)
	case "timeline --store":
		r = Run(t, limit, nil, nil, "timeline", "--store", dir, "--format", "json")
		var tl struct {
			Documents int `json:"documents"`
			Damaged   int `json:"damaged_records"`
		}
		json.Unmarshal([]byte(r.Stdout), &tl)
		d.docs, d.lost = tl.Documents, tl.Damaged
		if !strings.Contains(r.Stdout, `"damaged_records"`) {
			d.lost = -1
		}
	case "replay --store":
		r = Run(t, limit, nil, nil, "replay", "--store", dir)
		if m := regexp.MustCompile(`(\d+) documents evaluated`).FindStringSubmatch(r.Stderr); m != nil {
			d.docs, _ = strconv.Atoi(m[1])
		}
		d.lost = summaryLost(r.Stderr)
	default:
		t.Fatalf("unknown command %s", cmd)
	}
	if r.TimedOut {
		d.code = -1
	} else {
		d.code = r.Code
	}
	d.stderr, d.out = r.Stderr, r.Stdout
	return d
}

// verifyLost runs store verify and returns its exit code, output and the
// records it says are lost, by the pattern given (first and last record
// of each match; a missing last: up to head).
func verifyRun(t *testing.T, dir string) Result {
	return Run(t, 60*time.Second, nil, nil, "store", "verify", "--store", dir)
}

// The reading commands over each kind of store damage: the exit code, the
// damage named on stderr, and every good record still delivered (what was
// delivered and what was named lost add up to what was written).
func TestStoreDamage(t *testing.T) {
	const n = 3000
	type damage struct {
		name string
		// make damages the store and returns the records lost (first,
		// last) and a word stderr must contain (the file).
		make func(t *testing.T, dir string, segs []string) (first, last int, names string)
		// statSees: store stat names this damage (without reading every
		// record); verifyCode: what verify exits with.
		statSees   bool
		verifyCode int
	}
	kinds := []damage{
		{"torn tail", func(t *testing.T, dir string, segs []string) (int, int, string) {
			last := segs[len(segs)-1]
			fi, _ := os.Stat(last)
			os.Truncate(last, fi.Size()-40) // the last write cut short
			v := verifyRun(t, dir)
			m := regexp.MustCompile(`record (\d+): .*cannot be read`).FindStringSubmatch(v.Stdout)
			if m == nil {
				t.Fatalf("verify does not name the torn record:\n%s", v.Output())
			}
			first, _ := strconv.Atoi(m[1])
			return first, n, filepath.Base(last)
		}, true, 1},
		{"flipped bytes in the middle", func(t *testing.T, dir string, segs []string) (int, int, string) {
			victim := segs[len(segs)/2]
			b, _ := os.ReadFile(victim)
			for i := 0; i < 4; i++ {
				b[len(b)/2+i] ^= 0xff
			}
			os.WriteFile(victim, b, 0o600)
			v := verifyRun(t, dir)
			m := regexp.MustCompile(`compressed records (\d+) to (\d+)`).FindStringSubmatch(v.Stdout)
			if m == nil {
				t.Fatalf("verify does not name the damaged records:\n%s", v.Output())
			}
			first, _ := strconv.Atoi(m[1])
			last, _ := strconv.Atoi(m[2])
			return first, last, filepath.Base(victim)
		}, false, 1},
		{"missing middle segment", func(t *testing.T, dir string, segs []string) (int, int, string) {
			victim := segs[2]
			for _, ext := range []string{".seg", ".idx", ".bloom"} {
				os.Remove(strings.TrimSuffix(victim, ".seg") + ext)
			}
			return firstOf(victim), firstOf(segs[3]) - 1, "between"
		}, true, 1},
		{"missing last segment, index left", func(t *testing.T, dir string, segs []string) (int, int, string) {
			victim := segs[len(segs)-1]
			os.Remove(victim)
			return firstOf(victim), n, filepath.Base(victim)
		}, true, 1},
		{"segment overwritten with garbage", func(t *testing.T, dir string, segs []string) (int, int, string) {
			victim := segs[1]
			b, _ := os.ReadFile(victim)
			x := uint32(2463534242)
			for i := range b {
				x ^= x << 13
				x ^= x >> 17
				x ^= x << 5
				b[i] = byte(x)
			}
			os.WriteFile(victim, b, 0o600)
			return firstOf(victim), firstOf(segs[2]) - 1, filepath.Base(victim)
		}, false, 1},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			dir, segs := faultStore(t, n)
			first, last, names := k.make(t, dir, segs)
			lost := last - first + 1
			v := verifyRun(t, dir)
			Case(t, "store", k.name+": store verify", fmt.Sprintf("exit %d, names it", k.verifyCode),
				fmt.Sprintf("exit %d: %s", v.Code, firstLine(v.Stdout+v.Stderr, "DAMAGED")),
				v.Code == k.verifyCode && (k.verifyCode == 0 || strings.Contains(v.Output(), "DAMAGED")))
			for _, cmd := range []string{"store dump", "timeline --store", "replay --store"} {
				d := readAs(t, cmd, dir)
				ok := d.code == 3 && strings.Contains(d.stderr, names) && d.docs == n-lost && d.lost == lost
				Case(t, "store", k.name+": "+cmd,
					fmt.Sprintf("exit 3, stderr names %s, %d good records delivered, %d named lost", names, n-lost, lost),
					fmt.Sprintf("exit %d, %d delivered, %d lost in summary: %s", d.code, d.docs, d.lost, firstLine(d.stderr, "DAMAGED")), ok)
			}
			d := readAs(t, "store stat", dir)
			if k.statSees {
				Case(t, "store", k.name+": store stat", "exit 0, stderr names the damage and the records lost",
					fmt.Sprintf("exit %d, %d lost named: %s", d.code, d.lost, firstLine(d.stderr, "DAMAGED")),
					d.code == 0 && strings.Contains(d.stderr, names) && d.lost == lost)
			} else {
				Case(t, "store", k.name+": store stat", "exit 0; damage inside a sealed segment is found by verify, not stat (stat counts records by sequence number)",
					fmt.Sprintf("exit %d, %d records counted, stderr %q", d.code, d.docs, d.stderr),
					d.code == 0 && d.docs == n)
			}
			// --allow-damaged: exit 0, still named.
			r := Run(t, 60*time.Second, nil, nil, "store", "dump", "--store", dir, "--allow-damaged")
			Case(t, "store", k.name+": store dump --allow-damaged", "exit 0, still names the damage",
				fmt.Sprintf("exit %d: %s", r.Code, firstLine(r.Stderr, "DAMAGED")), r.Code == 0 && strings.Contains(r.Stderr, names))
		})
	}
}

// A missing last segment with its index gone too leaves nothing in the
// store to tell: the chain head kept off the host is the evidence. Verify
// must show a lower last record than the one recorded.
func TestStoreLastSegmentRemovedWhole(t *testing.T) {
	const n = 3000
	dir, segs := faultStore(t, n)
	before := verifyRun(t, dir)
	victim := segs[len(segs)-1]
	for _, ext := range []string{".seg", ".idx", ".bloom"} {
		os.Remove(strings.TrimSuffix(victim, ".seg") + ext)
	}
	after := verifyRun(t, dir)
	head := regexp.MustCompile(`events: last record (\d+)`)
	hb, ha := head.FindStringSubmatch(before.Stdout), head.FindStringSubmatch(after.Stdout)
	Case(t, "store", "missing last segment, index removed too: store verify",
		"the last record verify prints falls short of the chain head kept off the host (nothing in the store tells)",
		fmt.Sprintf("exit %d; last record %v before, %v after", after.Code, hb[1:], ha[1:]),
		hb != nil && ha != nil && hb[1] == strconv.Itoa(n) && ha[1] == strconv.Itoa(firstOf(victim)-1))
	d := readAs(t, "store dump", dir)
	Case(t, "store", "missing last segment, index removed too: store dump",
		"exit 0 with the records left (indistinguishable from a store that ends there)",
		fmt.Sprintf("exit %d, %d delivered", d.code, d.docs), d.code == 0 && d.docs == firstOf(victim)-1)
}

// A damaged index is derived data: every record is still delivered (the
// segment is read instead), with a note, and verify names it.
func TestStoreBadIndex(t *testing.T) {
	const n = 3000
	dir, segs := faultStore(t, n)
	idx := strings.TrimSuffix(segs[2], ".seg") + ".idx"
	b, _ := os.ReadFile(idx)
	for i := 30; i < len(b)-100; i += 7 {
		b[i] ^= 0x5a
	}
	os.WriteFile(idx, b, 0o600)
	v := verifyRun(t, dir)
	Case(t, "store", "corrupt index: store verify", "exit 1, names the index", fmt.Sprintf("exit %d: %s", v.Code, firstLine(v.Stdout, "DAMAGED")),
		v.Code == 1 && strings.Contains(v.Stdout, filepath.Base(idx)))
	for _, cmd := range []string{"store dump", "timeline --store", "replay --store"} {
		d := readAs(t, cmd, dir)
		Case(t, "store", "corrupt index: "+cmd, fmt.Sprintf("exit 0, all %d records delivered, a note names the index", n),
			fmt.Sprintf("exit %d, %d delivered: %s", d.code, d.docs, firstLine(d.stderr, "note")),
			d.code == 0 && d.docs == n && strings.Contains(d.stderr, filepath.Base(idx)))
	}
	d := readAs(t, "store stat", dir)
	Case(t, "store", "corrupt index: store stat", "exit 0", fmt.Sprintf("exit %d, %d records", d.code, d.docs), d.code == 0 && d.docs == n)
}

// A store a sensor is writing (it holds the lock) reads as it is: nothing
// reported damaged, every committed record delivered.
func TestStoreLockedByWriter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s, err := store.Open(store.Options{Dir: dir, SegmentBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.WriteJobs(t, s, 1, 2050) // the last segment is active, not sealed
	_, err = store.Open(store.Options{Dir: dir})
	Case(t, "store", "locked by a running writer: a second writer", "refused, naming the lock holder",
		fmt.Sprint(err), err != nil && strings.Contains(err.Error(), "in use by another bansho process"))
	v := verifyRun(t, dir)
	Case(t, "store", "locked by a running writer: store verify", "exit 0", fmt.Sprintf("exit %d: %s", v.Code, lastLine(v.Stdout)), v.Code == 0)
	for _, cmd := range []string{"store dump", "store stat", "timeline --store", "replay --store"} {
		d := readAs(t, cmd, dir)
		Case(t, "store", "locked by a running writer: "+cmd, "exit 0, all 2050 records, nothing reported",
			fmt.Sprintf("exit %d, %d records, stderr %q", d.code, d.docs, firstLine(d.stderr, "DAMAGED")),
			d.code == 0 && d.docs == 2050 && !strings.Contains(d.stderr, "DAMAGED"))
	}
}

// firstLine is the first line of s containing word (or the first line).
func firstLine(s, word string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			return l
		}
	}
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func lastLine(s string) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	return ls[len(ls)-1]
}
