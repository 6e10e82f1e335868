package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/store/storetest"
)

// dictV1 pins the compression dictionary: every frame compressed with it
// needs it byte for byte to be read back, so dict/v1.json never changes.
// A better dictionary is a new file and a new dictionary id.
const dictV1 = "eab44f561ab64f1f02764cc336435d97dbf1c3c6b01f0875b01c1f6f381efd68"

func TestDictionaryIsPinned(t *testing.T) {
	if os.Getenv("BANSHO_WRITE_DICT") == "1" {
		writeDict(t)
	}
	b, err := os.ReadFile("dict/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != dictV1 {
		t.Fatalf("dict/v1.json changed (sha256 %s): stores compressed with it could no longer be read; restore it and add a v2 instead", got)
	}
	if strings.Contains(string(b), storetest.MyNumber) {
		t.Fatal("a raw My Number in the dictionary")
	}
}

// writeDict makes the dictionary from documents of the real encoder for a
// made-up host: one of each kind the sensor writes most.
func writeDict(t *testing.T) {
	var out []byte
	seen := map[string]int{}
	sim := storetest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 99, func(d []byte) {
		s := strings.ReplaceAll(string(d), storetest.Host.Name, "host.example")
		s = strings.ReplaceAll(s, storetest.Host.ID, "00000000000000000000000000000000")
		s = strings.ReplaceAll(s, storetest.Host.BootID, "00000000-0000-0000-0000-000000000000")
		key := s[strings.Index(s, `"action":`):][:20]
		if seen[key] < 2 {
			seen[key]++
			out = append(append(out, s...), '\n')
		}
	})
	n := sim.NewNoise()
	for i := 0; i < 400; i++ {
		n.Step()
		sim.Advance(time.Second)
	}
	sim.Incident(n.SSHD())
	if err := os.WriteFile("dict/v1.json", out, 0o644); err != nil {
		t.Fatal(err)
	}
}
