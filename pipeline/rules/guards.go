package rules

import (
	"unsafe"

	"github.com/expr-lang/expr/ast"
)

// A guard is a simple term of a condition's top-level conjunction
// (`bansho.file.protected`, `event.outcome == "success"`,
// `bansho.content.my_number.distinct > 0`, `process.name in shells`),
// checked natively before the expr program runs: most events fail one,
// and reading a field by its offset costs neither reflection nor an
// allocation. The program still runs in full when every guard holds, so
// guards only ever skip work, never change a result.
type guard struct {
	kind guardKind
	neg  bool
	off  uintptr
	offs []uintptr // gAnyTrue
	any  []guard   // gAny
	s    string
	set  map[string]struct{}
	n    int
}

type guardKind uint8

const (
	gTrue guardKind = iota
	gFalse
	gStrEq
	gStrNe
	gStrIn
	gIntGt
	gIntGe
	gIntEq
	gAnyTrue // a or b or ... of boolean fields
	gAny     // an or of guards
	gHas     // a constant string is an item of a list field
	gAnyIn   // some item of a list field is in a constant set: any(f, # in [...])
)

func (g *guard) ok(env *Env) bool {
	return g.test(env) != g.neg
}

func (g *guard) test(env *Env) bool {
	p := unsafe.Add(unsafe.Pointer(env), g.off)
	switch g.kind {
	case gTrue:
		return *(*bool)(p)
	case gFalse:
		return !*(*bool)(p)
	case gStrEq:
		return *(*string)(p) == g.s
	case gStrNe:
		return *(*string)(p) != g.s
	case gStrIn:
		_, ok := g.set[*(*string)(p)]
		return ok
	case gIntGt:
		return *(*int)(p) > g.n
	case gIntGe:
		return *(*int)(p) >= g.n
	case gIntEq:
		return *(*int)(p) == g.n
	case gAnyTrue:
		for _, o := range g.offs {
			if *(*bool)(unsafe.Add(unsafe.Pointer(env), o)) {
				return true
			}
		}
		return false
	case gAny:
		for i := range g.any {
			if g.any[i].ok(env) {
				return true
			}
		}
		return false
	case gHas:
		for _, v := range *(*[]string)(p) {
			if v == g.s {
				return true
			}
		}
		return false
	case gAnyIn:
		for _, v := range *(*[]string)(p) {
			if _, ok := g.set[v]; ok {
				return true
			}
		}
		return false
	}
	return true
}

// boolLeaves collects the offsets of `a or b or ...` over boolean fields.
func boolLeaves(n ast.Node, out []uintptr) ([]uintptr, bool) {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "or" || b.Operator == "||") {
		out, ok := boolLeaves(b.Left, out)
		if !ok {
			return nil, false
		}
		return boolLeaves(b.Right, out)
	}
	if f, ok := leaf(n); ok && f.kind == kindBool {
		return append(out, f.off), true
	}
	return nil, false
}

func guardsOk(gs []guard, env *Env) bool {
	for i := range gs {
		if !gs[i].ok(env) {
			return false
		}
	}
	return true
}

func leaf(n ast.Node) (*field, bool) {
	path, ok := memberPath(n)
	if !ok {
		return nil, false
	}
	f, ok := fields[path]
	return f, ok
}

func guardOf(n ast.Node) (guard, bool) {
	switch x := n.(type) {
	case *ast.MemberNode:
		if f, ok := leaf(x); ok && f.kind == kindBool {
			return guard{kind: gTrue, off: f.off}, true
		}
	case *ast.BuiltinNode:
		// any(list_field, # in [...] or # in [...])
		if x.Name != "any" || len(x.Arguments) != 2 {
			return guard{}, false
		}
		f, ok := leaf(x.Arguments[0])
		pred, okp := x.Arguments[1].(*ast.PredicateNode)
		if !ok || !okp || f.kind != kindSlice {
			return guard{}, false
		}
		set := map[string]struct{}{}
		if !pointerIn(pred.Node, set) {
			return guard{}, false
		}
		return guard{kind: gAnyIn, off: f.off, set: set}, true
	case *ast.UnaryNode:
		if x.Operator == "not" || x.Operator == "!" {
			inner := x.Node
			if f, ok := leaf(inner); ok && f.kind == kindBool {
				return guard{kind: gFalse, off: f.off}, true
			}
			if g, ok := guardOf(inner); ok {
				g.neg = !g.neg
				return g, true
			}
		}
	case *ast.BinaryNode:
		if x.Operator == "or" || x.Operator == "||" {
			if offs, ok := boolLeaves(x, nil); ok {
				return guard{kind: gAnyTrue, offs: offs}, true
			}
			l, okl := guardOf(x.Left)
			r, okr := guardOf(x.Right)
			if !okl || !okr {
				return guard{}, false
			}
			var alts []guard
			for _, g := range []guard{l, r} {
				if g.kind == gAny && !g.neg {
					alts = append(alts, g.any...)
				} else {
					alts = append(alts, g)
				}
			}
			return guard{kind: gAny, any: alts}, true
		}
		if x.Operator == "in" {
			// "O_RDONLY" in bansho.file.flags
			if s, ok := stringConst(x.Left); ok {
				if f, ok := leaf(x.Right); ok && f.kind == kindSlice {
					return guard{kind: gHas, off: f.off, s: s}, true
				}
			}
		}
		f, ok := leaf(x.Left)
		if !ok {
			return guard{}, false
		}
		switch f.kind {
		case kindString:
			switch x.Operator {
			case "==", "!=":
				if s, ok := stringConst(x.Right); ok {
					k := gStrEq
					if x.Operator == "!=" {
						k = gStrNe
					}
					return guard{kind: k, off: f.off, s: s}, true
				}
			case "in":
				if vs, ok := stringsConst(x.Right); ok {
					set := make(map[string]struct{}, len(vs))
					for _, v := range vs {
						set[v] = struct{}{}
					}
					return guard{kind: gStrIn, off: f.off, set: set}, true
				}
			}
		case kindInt:
			v, ok := intConst(x.Right)
			if !ok {
				return guard{}, false
			}
			switch x.Operator {
			case ">":
				return guard{kind: gIntGt, off: f.off, n: v}, true
			case ">=":
				return guard{kind: gIntGe, off: f.off, n: v}, true
			case "==":
				return guard{kind: gIntEq, off: f.off, n: v}, true
			}
		}
	}
	return guard{}, false
}

// pointerIn collects the constants of `# in [...] or # == "..." or ...`.
func pointerIn(n ast.Node, set map[string]struct{}) bool {
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return false
	}
	switch b.Operator {
	case "or", "||":
		return pointerIn(b.Left, set) && pointerIn(b.Right, set)
	case "in", "==":
		p, ok := b.Left.(*ast.PointerNode)
		if !ok || p.Name != "" {
			return false
		}
		var vs []string
		if b.Operator == "==" {
			s, ok := stringConst(b.Right)
			if !ok {
				return false
			}
			vs = []string{s}
		} else if vs, ok = stringsConst(b.Right); !ok {
			return false
		}
		for _, v := range vs {
			set[v] = struct{}{}
		}
		return true
	}
	return false
}

func intConst(n ast.Node) (int, bool) {
	switch x := n.(type) {
	case *ast.IntegerNode:
		return x.Value, true
	case *ast.ConstantNode:
		v, ok := x.Value.(int)
		return v, ok
	}
	return 0, false
}
