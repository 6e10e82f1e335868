package store

import (
	"bytes"
	"strconv"
	"time"

	"github.com/bansho-sec/bansho/internal/dockey"
)

// Index keys: the types and hash are dockey's, which the encoder uses too
// (see WriteMeta).
const (
	KeyEntity = dockey.Entity
	KeyParent = dockey.Parent
	KeyPID    = dockey.PID
	KeyFile   = dockey.File
	KeyDir    = dockey.Dir
	KeyUser   = dockey.User
)

const maxKeys = dockey.Max

// KeyHash is the hash an index entry holds for a key of type t.
func KeyHash(t byte, value string) uint64 { return dockey.Hash(t, value) }

// docInfo is what the store needs to know about a document.
type docInfo struct {
	time int64 // @timestamp, unix ns; 0 when missing or unparsable
	kind Kind
	keys []uint64
}

// indexed are the leaves the extractor reads; every other subtree is
// skipped without being parsed (most of a document: host, agent, related,
// most of bansho), which is most of the write path's cost.
var indexed = []string{"@timestamp", "event.kind", "process.entity_id", "process.parent.entity_id", "process.pid",
	"file.path", "file.target_path", "user.id", "user.name", "user.effective.id", "user.effective.name",
	"process.user.id", "process.user.name", "process.real_user.id", "process.real_user.name",
	"bansho.login_user.id", "bansho.login_user.name"}

// wantedPaths holds the indexed leaves and every object path above them.
var wantedPaths = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range indexed {
		for i := range l {
			if l[i] == '.' {
				m[l[:i]] = true
			}
		}
		m[l] = true
	}
	return m
}()

// wanted reports whether path is an indexed leaf or leads to one.
func wanted(path []byte) bool { return wantedPaths[string(path)] }

// extractor walks a JSON document once and picks the fields the store
// indexes. It accepts any valid JSON and stops quietly on invalid input
// (the document is stored anyway; it is just not indexed).
type extractor struct {
	path  []byte // dotted path of the current value
	stack []int  // len(path) at each open object
	str   []byte // scratch for unescaped strings
	info  docInfo
}

func (x *extractor) extract(doc []byte) *docInfo {
	x.path = x.path[:0]
	x.stack = x.stack[:0]
	x.info.time, x.info.kind = 0, KindEvent
	x.info.keys = x.info.keys[:0]
	i := skipWS(doc, 0)
	x.value(doc, i, 0)
	return &x.info
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// value parses the value at b[i] and returns the index after it, or -1 on
// invalid input.
func (x *extractor) value(b []byte, i, depth int) int {
	if i >= len(b) || depth > 64 {
		return -1
	}
	switch c := b[i]; {
	case c == '{':
		return x.object(b, i+1, depth+1)
	case c == '[':
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1
		}
		for {
			i = x.value(b, skipWS(b, i), depth+1)
			if i < 0 {
				return -1
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == ']' {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i++
		}
	case c == '"':
		s, end := x.parseString(b, i)
		if end < 0 {
			return -1
		}
		x.leaf(s)
		return end
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		x.leaf(b[i:j])
		return j
	}
}

func (x *extractor) object(b []byte, i, depth int) int {
	base := len(x.path)
	i = skipWS(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		i = skipWS(b, i)
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		key, end := x.parseString(b, i)
		if end < 0 {
			return -1
		}
		x.path = x.path[:base]
		if base > 0 {
			x.path = append(x.path, '.')
		}
		x.path = append(x.path, key...)
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		if wanted(x.path) {
			i = x.value(b, skipWS(b, i+1), depth)
		} else {
			i = skipValue(b, skipWS(b, i+1))
		}
		if i < 0 {
			return -1
		}
		x.path = x.path[:base]
		i = skipWS(b, i)
		if i >= len(b) {
			return -1
		}
		if b[i] == '}' {
			return i + 1
		}
		if b[i] != ',' {
			return -1
		}
		i++
	}
}

// parseString returns the string at b[i] (unescaped when needed; the
// result may alias b or x.str and is valid until the next call) and the
// index after its closing quote.
func (x *extractor) parseString(b []byte, i int) ([]byte, int) {
	// Fast path (SIMD searches): no escape before the closing quote.
	q := bytes.IndexByte(b[i+1:], '"')
	if q < 0 {
		return nil, -1
	}
	if bytes.IndexByte(b[i+1:i+1+q], '\\') < 0 {
		return b[i+1 : i+1+q], i + 2 + q
	}
	j := i + 1 + bytes.IndexByte(b[i+1:], '\\')
	// Escapes: find the end, then unescape with strconv.
	k := j
	for k < len(b) {
		if b[k] == '\\' {
			k += 2
			continue
		}
		if b[k] == '"' {
			break
		}
		k++
	}
	if k >= len(b) {
		return nil, -1
	}
	s, err := strconv.Unquote(string(b[i : k+1]))
	if err != nil {
		return nil, -1
	}
	x.str = append(x.str[:0], s...)
	return x.str, k + 1
}

func (x *extractor) key(t byte, v []byte) {
	x.info.keys = dockey.Add(x.info.keys, t, v)
}

// leaf handles a scalar value (a string's contents, or a literal).
func (x *extractor) leaf(v []byte) {
	switch string(x.path) {
	case "@timestamp":
		if t, err := time.Parse(time.RFC3339Nano, string(v)); err == nil {
			x.info.time = t.UnixNano()
		}
	case "event.kind":
		x.info.kind = kindOf(v)
	case "process.entity_id":
		x.key(KeyEntity, v)
	case "process.parent.entity_id":
		x.key(KeyParent, v)
	case "process.pid":
		x.key(KeyPID, v)
	case "file.path", "file.target_path":
		x.info.keys = dockey.AddPath(x.info.keys, v)
	case "user.id", "user.name", "user.effective.id", "user.effective.name",
		"process.user.id", "process.user.name", "process.real_user.id", "process.real_user.name",
		"bansho.login_user.id", "bansho.login_user.name":
		x.key(KeyUser, v)
	}
}

// skipValue returns the index after the JSON value at b[i] without
// looking into it, or -1 when it is not well formed enough to find its end.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// skipString returns the index after the string starting at b[i].
func skipString(b []byte, i int) int {
	j := i + 1
	for {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1
		}
		j += q
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for k := j - 1; k > i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// Meta is what the store indexes doc by when it parses it: the reference
// the encoder's own metadata (WriteMeta) is tested against.
func Meta(doc []byte) dockey.Meta {
	var x extractor
	info := x.extract(doc)
	return dockey.Meta{Time: info.time, Kind: info.kind.String(), Keys: info.keys, Valid: true}
}
