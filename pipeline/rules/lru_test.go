package rules

import "testing"

func TestLRU(t *testing.T) {
	l := newLRU[int, int](3)
	for i := 0; i < 3; i++ {
		v, created := l.Put(i)
		*v = i * 10
		if !created {
			t.Fatal("not created")
		}
	}
	l.Get(0) // 0 is now the most recent; 1 the oldest
	l.Put(3)
	if _, ok := l.Peek(1); ok {
		t.Error("the least recently used entry survived")
	}
	if v, ok := l.Peek(0); !ok || *v != 0 {
		t.Error("a recently used entry was evicted")
	}
	l.ToBack(0)
	l.Put(4)
	if _, ok := l.Peek(0); ok {
		t.Error("ToBack did not make 0 the next to go")
	}
	l.Remove(2)
	if l.Len() != 2 || l.evicted != 2 {
		t.Errorf("len %d evicted %d", l.Len(), l.evicted)
	}
	if v, created := l.Put(2); !created || *v != 0 {
		t.Error("a removed entry came back with its old value")
	}
}
