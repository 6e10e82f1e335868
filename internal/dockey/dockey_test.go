package dockey

import (
	"hash/fnv"
	"slices"
	"testing"
)

// The hash is the one the store's indexes on disk hold (FNV-1a of the
// type, a zero byte and the value): a different one would make every
// existing index miss.
func TestHashIsTheIndexesFNV(t *testing.T) {
	for _, v := range []string{"", "/srv/mynumber/社員名簿.csv", "c2gtZW50aXR5", "1000"} {
		h := fnv.New64a()
		h.Write([]byte{User, 0})
		h.Write([]byte(v))
		if want := h.Sum64(); Hash(User, v) != want || Hash(User, []byte(v)) != want {
			t.Errorf("%q: %x and %x, want %x", v, Hash(User, v), Hash(User, []byte(v)), want)
		}
	}
}

// A path adds itself and every directory above it, once each, and no
// more than Max keys in all.
func TestAddPath(t *testing.T) {
	keys := AddPath(nil, []byte("/srv/hr/a.csv"))
	keys = AddPath(keys, []byte("/srv/hr/b.csv"))
	want := []uint64{Hash(File, "/srv/hr/a.csv"), Hash(Dir, "/srv/hr"), Hash(Dir, "/srv"), Hash(File, "/srv/hr/b.csv")}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %x, want %x", keys, want)
	}
	deep := []byte("/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/0/1/2/3/4/5/6/7/8/9/file")
	if n := len(AddPath(nil, deep)); n != Max {
		t.Errorf("%d keys for a deep path, want the bound %d", n, Max)
	}
}
