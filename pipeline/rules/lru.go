package rules

// lru is a bounded map that forgets its least recently used entries. Values
// live in one slab, so entries cost no allocation of their own once the
// slab has grown to the cap. Not safe for concurrent use: the engine is
// single-threaded.
type lru[K comparable, V any] struct {
	max     int
	m       map[K]int32
	nodes   []lruNode[K, V]
	head    int32 // most recently used, -1 when empty
	tail    int32 // least recently used
	free    []int32
	evicted uint64 // entries dropped to stay within max
}

type lruNode[K comparable, V any] struct {
	key        K
	val        V
	prev, next int32
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	if max < 1 {
		max = 1
	}
	return &lru[K, V]{max: max, m: make(map[K]int32, min(max, 1024)), head: -1, tail: -1}
}

// Len is the number of entries.
func (l *lru[K, V]) Len() int { return len(l.m) }

// Get returns the entry for k and marks it most recently used.
func (l *lru[K, V]) Get(k K) (*V, bool) {
	i, ok := l.m[k]
	if !ok {
		return nil, false
	}
	l.toFront(i)
	return &l.nodes[i].val, true
}

// Peek returns the entry for k without touching its recency.
func (l *lru[K, V]) Peek(k K) (*V, bool) {
	i, ok := l.m[k]
	if !ok {
		return nil, false
	}
	return &l.nodes[i].val, true
}

// Put returns the entry for k, created zero if absent (evicting the least
// recently used entry when full), and marks it most recently used. The
// second result says whether it was created.
func (l *lru[K, V]) Put(k K) (*V, bool) {
	if i, ok := l.m[k]; ok {
		l.toFront(i)
		return &l.nodes[i].val, false
	}
	if len(l.m) >= l.max {
		l.removeIndex(l.tail)
		l.evicted++
	}
	var i int32
	if n := len(l.free); n > 0 {
		i = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		l.nodes = append(l.nodes, lruNode[K, V]{})
		i = int32(len(l.nodes) - 1)
	}
	var zero V
	l.nodes[i] = lruNode[K, V]{key: k, val: zero, prev: -1, next: l.head}
	if l.head >= 0 {
		l.nodes[l.head].prev = i
	}
	l.head = i
	if l.tail < 0 {
		l.tail = i
	}
	l.m[k] = i
	return &l.nodes[i].val, true
}

// Remove deletes k.
func (l *lru[K, V]) Remove(k K) {
	if i, ok := l.m[k]; ok {
		l.removeIndex(i)
	}
}

// ToBack marks k least recently used: the next entry to go.
func (l *lru[K, V]) ToBack(k K) {
	i, ok := l.m[k]
	if !ok || i == l.tail {
		return
	}
	l.unlink(i)
	n := &l.nodes[i]
	n.prev, n.next = l.tail, -1
	l.nodes[l.tail].next = i
	l.tail = i
	if l.head < 0 {
		l.head = i
	}
}

func (l *lru[K, V]) removeIndex(i int32) {
	l.unlink(i)
	delete(l.m, l.nodes[i].key)
	l.nodes[i] = lruNode[K, V]{} // release what the value references
	l.free = append(l.free, i)
}

func (l *lru[K, V]) unlink(i int32) {
	n := &l.nodes[i]
	if n.prev >= 0 {
		l.nodes[n.prev].next = n.next
	} else {
		l.head = n.next
	}
	if n.next >= 0 {
		l.nodes[n.next].prev = n.prev
	} else {
		l.tail = n.prev
	}
	n.prev, n.next = -1, -1
}

func (l *lru[K, V]) toFront(i int32) {
	if i == l.head {
		return
	}
	l.unlink(i)
	n := &l.nodes[i]
	n.next = l.head
	if l.head >= 0 {
		l.nodes[l.head].prev = i
	}
	l.head = i
	if l.tail < 0 {
		l.tail = i
	}
}
