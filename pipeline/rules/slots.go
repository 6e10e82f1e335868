package rules

import (
	"github.com/expr-lang/expr/ast"
)

// slotMask is a set of slots: the events a condition can match.
type slotMask uint32

const allSlots = slotMask(1<<numSlots - 1)

func (m slotMask) has(s slot) bool { return m&(1<<s) != 0 }

var categorySlots = map[string]slotMask{
	"process": 1<<slotExec | 1<<slotFork | 1<<slotEnd,
	"file": 1<<slotOpen | 1<<slotWrite | 1<<slotRename | 1<<slotUnlink | 1<<slotRmdir | 1<<slotLink |
		1<<slotSymlink | 1<<slotMkdir | 1<<slotChmod | 1<<slotChown | 1<<slotTruncate,
	"network": 1<<slotConnect | 1<<slotAccept | 1<<slotSend,
}

// slotsOf says which events a condition can match, from its top-level
// conjunction: a term `event.action == "open"`, `event.action in [...]`
// or the same on event.category narrows it. Anything it cannot judge
// matches every slot (the rule is tried on every event). Actions the
// builder does not know (signal, ptrace, ...) are slotOther, and so are
// the categories the self-protection events carry.
func slotsOf(n ast.Node) slotMask {
	m, ok := narrow(n)
	if !ok {
		return allSlots
	}
	return m
}

func narrow(n ast.Node) (slotMask, bool) {
	switch b := n.(type) {
	case *ast.BinaryNode:
		switch b.Operator {
		case "and", "&&":
			l, okl := narrow(b.Left)
			r, okr := narrow(b.Right)
			switch {
			case okl && okr:
				return l & r, true
			case okl:
				return l, true
			case okr:
				return r, true
			}
			return 0, false
		case "or", "||":
			l, okl := narrow(b.Left)
			r, okr := narrow(b.Right)
			if okl && okr {
				return l | r, true
			}
			return 0, false
		case "==":
			path, ok := memberPath(b.Left)
			v, okv := stringConst(b.Right)
			if !ok || !okv {
				path, ok = memberPath(b.Right)
				v, okv = stringConst(b.Left)
			}
			if ok && okv {
				return valueSlots(path, []string{v})
			}
		case "in":
			path, ok := memberPath(b.Left)
			if vs, okv := stringsConst(b.Right); ok && okv {
				return valueSlots(path, vs)
			}
		}
	}
	return 0, false
}

func valueSlots(path string, values []string) (slotMask, bool) {
	var m slotMask
	switch path {
	case "event.action":
		for _, v := range values {
			m |= 1 << slotOfAction(v)
		}
		return m, true
	case "event.category":
		for _, v := range values {
			if c, ok := categorySlots[v]; ok {
				m |= c
			} else {
				m |= 1 << slotOther
			}
		}
		return m, true
	}
	return 0, false
}

func stringConst(n ast.Node) (string, bool) {
	switch s := n.(type) {
	case *ast.StringNode:
		return s.Value, true
	case *ast.ConstantNode:
		v, ok := s.Value.(string)
		return v, ok
	}
	return "", false
}

func stringsConst(n ast.Node) ([]string, bool) {
	var out []string
	switch a := n.(type) {
	case *ast.ArrayNode:
		for _, e := range a.Nodes {
			s, ok := stringConst(e)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	case *ast.ConstantNode:
		switch v := a.Value.(type) {
		case map[string]struct{}:
			for k := range v {
				out = append(out, k)
			}
			return out, true
		case []any:
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, false
				}
				out = append(out, s)
			}
			return out, true
		case []string:
			return v, true
		}
	}
	return nil, false
}
