package ecs

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
)

var digitRE = regexp.MustCompile(`[0-9]`)

// diffAt says where two documents differ, digits hidden: a failure never
// prints a number a broken cache might have let through.
func diffAt(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	hide := func(b []byte) string { return digitRE.ReplaceAllString(around(b, i), "#") }
	return "at byte " + strconv.Itoa(i) + ":\n got: …" + hide(got) + "\nwant: …" + hide(want)
}

// treeWithNumbers: leaders whose name, working directory and arguments
// hold a My Number (masked), next to ones that hold none.
func treeWithNumbers() *event.Event {
	ev := busyWrite()
	en := ev.Enriched
	par := *en.Parent
	par.Name = "r" + myNumber
	par.WorkingDirectory = "/srv/" + myNumber[:4] + "-" + myNumber[4:8] + "-" + myNumber[8:]
	par.Args = []string{"grep", "-r", myNumber[:4], myNumber[4:8], myNumber[8:], "roster.csv"}
	en.Parent = &par
	sl := *en.SessionLeader
	sl.Args = []string{"bash", "-c", "cat /srv/" + myNumber + ".csv"}
	en.SessionLeader = &sl
	return ev
}

// A section from the cache is byte for byte the one encoded afresh, and
// carries the same masking flag; so is the program part process.* takes.
func TestProcCacheSameSection(t *testing.T) {
	for _, ev := range []*event.Event{busyWrite(), treeWithNumbers(), enrichedWrite(), enrichedConnect()} {
		en := ev.Enriched
		e := testEncoder()
		for _, pi := range []*event.ProcInfo{en.Process, en.Parent, en.SessionLeader, en.GroupLeader, en.EntryLeader} {
			fresh := obj{}
			fresh.open()
			prog, progRedacted := e.procInfoBody(&fresh, pi)
			p := obj{}
			p.open()
			p.used[0] = true // after pid, as in process.*
			e.program(&p, pi)
			for i := 0; i < 2; i++ { // built, then from the cache
				f := e.procFrag(pi)
				if !bytes.Equal(f.b, fresh.b[1:]) || f.redacted != fresh.redacted {
					t.Fatalf("pid %d (pass %d): cached section differs or redacted %v != %v: %s",
						pi.PID, i, f.redacted, fresh.redacted, diffAt(f.b, fresh.b[1:]))
				}
				if got := f.b[f.prog[0]:f.prog[1]]; !bytes.Equal(got, fresh.b[prog[0]:prog[1]]) ||
					!bytes.Equal(got, p.b[1:]) || f.progRedacted != progRedacted || f.progRedacted != p.redacted {
					t.Fatalf("pid %d (pass %d): cached program part differs: %s", pi.PID, i, diffAt(got, p.b[1:]))
				}
			}
		}
	}
}

// numberIn is busyWrite with a My Number in the working directory of one
// process of the tree only: slot 0 the process, 1 its parent, 2 its
// session leader, 3 its group leader, 4 its entry leader.
func numberIn(slot int) *event.Event {
	ev := busyWrite()
	en := ev.Enriched
	x := []**event.ProcInfo{&en.Process, &en.Parent, &en.SessionLeader, &en.GroupLeader, &en.EntryLeader}[slot]
	n := **x
	n.WorkingDirectory = "/srv/mynumber/" + myNumber
	*x = &n
	return ev
}

// Whole documents from a warm cache are those of a fresh encoder, masked
// alike, and marked redacted exactly when a section of theirs had a
// number masked (from the cache too); a document without a number after
// one with is not.
func TestProcCacheSameDocuments(t *testing.T) {
	e := testEncoder()
	evs := []*event.Event{treeWithNumbers(), busyWrite(), enrichedWrite(), treeWithNumbers()}
	for slot := range 5 {
		evs = append(evs, numberIn(slot), busyWrite())
	}
	for i, ev := range evs {
		for pass := 0; pass < 2; pass++ {
			got, want := e.Append(nil, ev), testEncoder().Append(nil, ev)
			if !sameDoc(got, want) {
				t.Fatalf("document %d pass %d: %s", i, pass, diffAt(seqRE.ReplaceAll(got, nil), seqRE.ReplaceAll(want, nil)))
			}
			if bytes.Contains(got, []byte(myNumber)) || bytes.Contains(got, []byte(myNumber[:4]+"-")) {
				t.Fatalf("document %d pass %d: a raw number", i, pass)
			}
			masked := bytes.Contains(got, []byte(MaskedMyNumber)) || bytes.Contains(got, []byte("****\","))
			if marked := bytes.Contains(got, []byte(`"redacted":true`)); marked != masked {
				t.Fatalf("document %d pass %d: redacted %v, a masked number %v", i, pass, marked, masked)
			}
		}
	}
}

// A new snapshot of the same process (an exec: same pid, start and
// entity id; a new program) is encoded anew, not served the old one.
func TestProcCacheNewSnapshot(t *testing.T) {
	e := testEncoder()
	ev := busyWrite()
	en := ev.Enriched
	e.Append(nil, ev)
	old := string(e.Append(nil, ev)) // from the cache
	for _, set := range []func(x **event.ProcInfo){
		func(x **event.ProcInfo) {
			n := **x
			n.Executable, n.Args, n.ArgsCount = "/usr/bin/xz", []string{"xz", "-T0", "roster.csv"}, 3
			*x = &n
		},
		func(x **event.ProcInfo) { // only the user changed (setuid)
			n := **x
			n.UID, n.UserName = 1000, "tanaka"
			*x = &n
		},
	} {
		for _, x := range []**event.ProcInfo{&en.Process, &en.Parent, &en.SessionLeader, &en.GroupLeader, &en.EntryLeader} {
			set(x)
			got, want := e.Append(nil, ev), testEncoder().Append(nil, ev)
			if !sameDoc(got, want) {
				t.Fatalf("a new snapshot got the old section: %s", diffAt(seqRE.ReplaceAll(got, nil), seqRE.ReplaceAll(want, nil)))
			}
			if string(got) == old {
				t.Fatal("document unchanged")
			}
		}
	}
	if !strings.Contains(string(e.Append(nil, ev)), `"executable":"/usr/bin/xz"`) {
		t.Fatal("the new program is missing")
	}
}

// The cache stays bounded, and a process the table does not know (made
// for one event) takes no entry.
func TestProcCacheBounded(t *testing.T) {
	e := testEncoder()
	ev := busyWrite()
	for i := 0; i < 3*maxProcCache; i++ {
		ev.Enriched.Parent = &event.ProcInfo{PID: uint32(i + 2), Name: "sh", Args: []string{"sh", "-c", "true"}}
		e.Append(nil, ev)
	}
	if n := len(e.procCache.m); n > maxProcCache {
		t.Fatalf("%d cached processes, bound %d", n, maxProcCache)
	}
	e = testEncoder()
	u := busyWrite()
	u.Enriched.Process = &event.ProcInfo{PID: 4242, Name: "gzip", Unknown: true}
	u.Enriched.Parent = &event.ProcInfo{PID: 4241, Name: "sh", Unknown: true}
	e.Append(nil, u)
	for pi := range e.procCache.m {
		if pi.Unknown {
			t.Fatalf("unknown process %d cached", pi.PID)
		}
	}
}

// A process seen once (a fork storm) costs no allocation: its snapshot is
// only marked, and its program encoded directly.
func TestProcCacheForkStormAllocatesNothing(t *testing.T) {
	e := testEncoder()
	ev := busyWrite()
	self := ev.Enriched.Process
	buf := e.Append(nil, ev) // the leaders are cached
	snaps := make([]event.ProcInfo, 0, 200)
	if n := testing.AllocsPerRun(100, func() {
		snaps = append(snaps, *self)
		ev.Enriched.Process = &snaps[len(snaps)-1]
		buf = e.Append(buf[:0], ev)
	}); n != 0 {
		t.Errorf("%v allocations per document", n)
	}
}
