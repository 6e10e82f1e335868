// Package dockey is what the encoder knows of a document it has just
// written and the store indexes it by: its time, its kind and the hashes
// of the values a timeline starts from or follows. With it the store does
// not parse each document again (which was 10% of the whole sensor's CPU
// under load); a document without it is parsed, as before.
package dockey

import "bytes"

// Key types. An index entry holds 64-bit hashes of "type value" for the
// fields below; a query hashes what it looks for the same way and then
// checks the document itself, so a collision can cost a read but never
// give a wrong answer.
const (
	Entity = 'e' // process.entity_id
	Parent = 'p' // process.parent.entity_id
	PID    = 'i' // process.pid
	File   = 'f' // file.path, file.target_path
	Dir    = 'd' // every directory above file.path / file.target_path
	User   = 'u' // user names and ids: the acting, effective, real and login user
)

// Max bounds the keys of one document (deep paths stop adding
// directories).
const Max = 32

// Hash is the hash an index entry holds for a key of type t (FNV-1a over
// t, a zero byte and the value; by hand so nothing is allocated).
func Hash[S ~string | ~[]byte](t byte, value S) uint64 {
	h := uint64(offset)
	h = (h ^ uint64(t)) * prime
	h *= prime // the zero byte
	for i := 0; i < len(value); i++ {
		h = (h ^ uint64(value[i])) * prime
	}
	return h
}

const offset, prime = 14695981039346656037, 1099511628211

// Meta is what the encoder knew of one document. Keys are deduplicated
// and at most Max; Valid is false when the encoder could not give them
// all (a value it had to escape), and the document is parsed instead.
type Meta struct {
	Time  int64  // @timestamp, unix ns
	Kind  string // event.kind: event, alert, metric, state
	Keys  []uint64
	Valid bool
}

// Add appends the key (t, value) to keys unless it is empty, already
// there, or keys is full.
func Add[S ~string | ~[]byte](keys []uint64, t byte, value S) []uint64 {
	if len(value) == 0 || len(keys) >= Max {
		return keys
	}
	h := Hash(t, value)
	for _, k := range keys {
		if k == h {
			return keys
		}
	}
	return append(keys, h)
}

// AddPath appends the key of a file path and of every directory above it,
// so a directory finds what happened in it.
func AddPath(keys []uint64, value []byte) []uint64 {
	keys = Add(keys, File, value)
	for i := len(value); ; {
		i = bytes.LastIndexByte(value[:i], '/')
		if i <= 0 {
			return keys
		}
		keys = Add(keys, Dir, value[:i])
	}
}
