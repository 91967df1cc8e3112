package builtins

// How values become text in nsplay's messages, and a bound on the values
// str(), repr(), print() and fail() write.
//
// Starlark writes a value whole, however large, and a list nested n deep
// costs it n² steps (it looks for cycles along the path): str() of a list
// 300,000 deep takes half a minute, in one step that nothing interrupts.
// Check lines therefore show at most shortLimit characters of a value,
// written by render, which stops at a budget. str(), repr(), print() and
// fail() refuse a value nested deeper than maxDepth, as Python's repr()
// does past its recursion limit.

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

const (
	// shortLimit is how many characters of a value a check line shows.
	shortLimit = 100
	// renderBudget is how many bytes of a value render writes at most.
	renderBudget = 1 << 16
	// renderDepth is how deep render follows nested values; deeper ones
	// are written "…".
	renderDepth = 64
	// maxDepth is how deep a value str(), repr(), print() and fail() take.
	maxDepth = 1000
	// walkBudget is how many values depthOf looks at, at most.
	walkBudget = 1 << 22
)

// short is a value as a message shows it: cut after shortLimit characters
// (as Starlark writes it, quotes included), with the rest counted.
func short(v starlark.Value) string {
	s, over := render(v)
	r := []rune(s)
	if len(r) <= shortLimit && !over {
		return s
	}
	more := fmt.Sprintf("%d characters more", len(r)-shortLimit)
	if over {
		more = "at least " + more
	}
	return fmt.Sprintf("%s… (%s)", string(r[:shortLimit]), more)
}

// difference says where two values that a check line shows cut short
// first differ, when that is past what the line shows; "" otherwise.
func difference(got, want starlark.Value) string {
	g, gover := render(got)
	w, wover := render(want)
	a, b := []rune(g), []rune(w)
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	switch {
	case i < shortLimit:
		return ""
	case i == len(a) && i == len(b) && (gover || wover):
		return fmt.Sprintf("their first %d characters are the same", i)
	}
	return fmt.Sprintf("they first differ at character %d: got …%s, want …%s", i+1, excerpt(a, i), excerpt(b, i))
}

// excerpt is some of r around index i.
func excerpt(r []rune, i int) string {
	from, to := max(i-20, 0), min(i+40, len(r))
	s := string(r[from:to])
	if to < len(r) {
		s += "…"
	}
	return s
}

// render writes v as Starlark does, up to renderBudget bytes; over tells
// that it stopped there, or left out values nested deeper than renderDepth.
func render(v starlark.Value) (s string, over bool) {
	w := &boundedWriter{}
	w.value(v, nil)
	return w.b.String(), w.over
}

type boundedWriter struct {
	b    strings.Builder
	over bool
}

func (w *boundedWriter) full() bool { return w.over || w.b.Len() >= renderBudget }

func (w *boundedWriter) write(s string) {
	if room := renderBudget - w.b.Len(); len(s) > room {
		for room > 0 && !utf8.RuneStart(s[room]) {
			room--
		}
		s, w.over = s[:room], true
	}
	w.b.WriteString(s)
}

// value writes v; path holds the lists and dicts it is inside of, whose
// reappearance Starlark writes as "...".
func (w *boundedWriter) value(v starlark.Value, path []starlark.Value) {
	if w.full() {
		w.over = true
		return
	}
	if len(path) >= renderDepth {
		w.write("…")
		w.over = true
		return
	}
	switch x := v.(type) {
	case starlark.String:
		if len(x) > renderBudget {
			x = x[:renderBudget] // the rest would not be written anyway
			w.over = true
		}
		w.write(syntax.Quote(string(x), false))
	case *starlark.List:
		w.sequence("[", "]", x, x.Elements(), path)
	case starlark.Tuple:
		close := ")"
		if len(x) == 1 {
			close = ",)"
		}
		w.sequence("(", close, nil, x.Elements(), path)
	case *starlark.Set:
		w.sequence("set([", "])", nil, x.Elements(), path)
	case *starlark.Dict:
		w.write("{")
		if contains(path, x) {
			w.write("...")
		} else {
			sep := ""
			for k, e := range x.Entries() {
				if w.full() {
					break
				}
				w.write(sep)
				w.value(k, path)
				w.write(": ")
				w.value(e, append(path, x))
				sep = ", "
			}
		}
		w.write("}")
	case *starlarkstruct.Struct:
		if name, ok := x.Constructor().(starlark.String); ok {
			w.write(string(name))
		} else {
			w.write(x.Constructor().String())
		}
		w.write("(")
		for i, name := range x.AttrNames() {
			if w.full() {
				break
			}
			if i > 0 {
				w.write(", ")
			}
			w.write(name + " = ")
			field, _ := x.Attr(name)
			w.value(field, path)
		}
		w.write(")")
	default:
		w.write(v.String())
	}
}

// sequence writes the elements of a list, tuple or set between open and
// close; self is a list, which may hold itself, or nil.
func (w *boundedWriter) sequence(open, close string, self starlark.Value, elems func(func(starlark.Value) bool), path []starlark.Value) {
	w.write(open)
	if self != nil && contains(path, self) {
		w.write("...")
	} else {
		if self != nil {
			path = append(path, self)
		}
		i := 0
		for e := range elems {
			if w.full() {
				break
			}
			if i > 0 {
				w.write(", ")
			}
			w.value(e, path)
			i++
		}
	}
	w.write(close)
}

func contains(path []starlark.Value, v starlark.Value) bool {
	for _, p := range path {
		if p == v {
			return true
		}
	}
	return false
}

// depthOf is how deep v nests lists, tuples, dicts, sets and structs, or
// some number over limit when v nests deeper. A list or dict inside itself does not count again (it
// is written "..."), and one met twice is looked into once; after
// walkBudget values it gives up and says what it found so far.
func depthOf(v starlark.Value, limit int) int {
	heights := map[starlark.Value]int{} // of the lists, dicts, sets and structs seen; -1 while inside one
	visits := 0
	// height is v's, found at depth; past the limit it looks no deeper
	// (the answer is then over the limit, whatever it would be).
	var height func(v starlark.Value, depth int) int
	height = func(v starlark.Value, depth int) int {
		if depth > limit {
			return 1
		}
		var elems func(func(starlark.Value) bool)
		switch x := v.(type) {
		case *starlark.List:
			elems = x.Elements()
		case starlark.Tuple:
			elems = x.Elements()
		case *starlark.Set:
			elems = x.Elements()
		case *starlark.Dict:
			elems = func(yield func(starlark.Value) bool) {
				for k, e := range x.Entries() {
					if !yield(k) || !yield(e) {
						return
					}
				}
			}
		case *starlarkstruct.Struct:
			elems = func(yield func(starlark.Value) bool) {
				for _, name := range x.AttrNames() {
					if field, err := x.Attr(name); err == nil && !yield(field) {
						return
					}
				}
			}
		default:
			return 0
		}
		_, isTuple := v.(starlark.Tuple) // a slice: no map key
		if !isTuple {
			if h, seen := heights[v]; seen {
				return max(h, 0)
			}
			heights[v] = -1
		}
		h := 1
		for e := range elems {
			if visits++; visits > walkBudget {
				break
			}
			if h = max(h, 1+height(e, depth+1)); depth+h > limit {
				break
			}
		}
		if !isTuple {
			heights[v] = h
		}
		return h
	}
	return height(v, 0)
}

// depthChecked wraps a universal function that writes its arguments
// (str, repr, print, fail) so that it refuses one nested deeper than
// maxDepth, which it would take long to write, at once.
func depthChecked(name string) *starlark.Builtin {
	orig := starlark.Universe[name].(*starlark.Builtin)
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		for _, arg := range args {
			if depthOf(arg, maxDepth) > maxDepth {
				return nil, fmt.Errorf("%s: the %s is nested more than %d deep (lists, tuples or dicts inside each other); nsplay writes values up to %d deep", name, arg.Type(), maxDepth, maxDepth)
			}
		}
		// Called in place, not through starlark.Call: print's position is
		// the caller's frame.
		return orig.CallInternal(thread, args, kwargs)
	})
}
