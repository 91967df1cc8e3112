package builtins

// In a plan (nsplay plan), values that only the kernel knows — what a
// command printed and its exit status, round-trip times, a spawned
// process's pid — are unknown. A check that touches one is undecided:
// neither passed nor failed. A branch on one (`if r.stdout:`) is reported
// at its position and taken as false; a loop over one runs zero times. An
// unknown's attributes, calls, indexes, slices and operators give unknowns
// again, so that `r.stdout.strip()`, `r.stdout.split()[0:2]` and `r.rc + 1`
// stay unknown, and so do len(), int() and float() of one. Comparing two
// unknowns is taken as false. Ordering one (`t.mbps < 9`) gives an unknown
// (see CompareName). Comparing an unknown with a known value (`r.rc == 0`) cannot be seen: Starlark gives it a plain False.
// So a check on a command's output is best one expect.* call on it:
// expect.eq(r.rc, 0), expect.contains(r.stdout, "x").

import (
	"errors"
	"fmt"
	"slices"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Unknown is a value only the kernel knows.
type Unknown struct {
	what   string           // what it stands for: `exec_in(...).stdout`
	thread *starlark.Thread // the run's, to report a branch on it
	// n is the number of elements, when a slice with bounds made it
	// (`r.stdout.split()[0:2]`), so that it can be unpacked; 0 otherwise.
	n int
}

var (
	_ starlark.HasAttrs   = Unknown{}
	_ starlark.HasBinary  = Unknown{}
	_ starlark.Callable   = Unknown{}
	_ starlark.Iterable   = Unknown{}
	_ starlark.Sliceable  = Unknown{}
	_ starlark.Comparable = Unknown{}
)

// unknownLen is the length an unknown claims, so that indexing and slicing
// it never fail; len() of an unknown is unknown (see lenFn).
const unknownLen = 1 << 30

func (u Unknown) String() string        { return "<unknown: " + u.what + ">" }
func (u Unknown) Type() string          { return "nsplay.unknown" }
func (u Unknown) Freeze()               {}
func (u Unknown) Hash() (uint32, error) { return 0, errors.New("unhashable: nsplay.unknown") }
func (u Unknown) Name() string          { return u.what }

// Truth reports the branch that depends on it and takes it as false.
func (u Unknown) Truth() starlark.Bool {
	u.report("a branch on %s, which only the kernel knows: the plan takes it as false", u.what)
	return starlark.False
}

func (u Unknown) Attr(name string) (starlark.Value, error) {
	u.touch()
	return Unknown{what: u.what + "." + name, thread: u.thread}, nil
}

// touch records that the statement running now used the unknown: a check
// on that line is undecided, whatever the value it is given (a comparison
// of unknowns gives a plain bool).
func (u Unknown) touch() {
	if u.thread == nil {
		return
	}
	if env, err := envOf(u.thread); err == nil {
		if pos, ok := statement(u.thread); ok {
			env.unknownAt[lineOf(pos)] = true
		}
	}
}

// statement is the position of the playbook statement running now.
func statement(thread *starlark.Thread) (syntax.Position, bool) {
	for i := 0; i < thread.CallStackDepth(); i++ {
		if pos := thread.CallFrame(i).Pos; pos.IsValid() && pos.Filename() != "<builtin>" {
			return pos, true
		}
	}
	return syntax.Position{}, false
}

func lineOf(pos syntax.Position) string { return fmt.Sprintf("%s:%d", pos.Filename(), pos.Line) }
func (u Unknown) AttrNames() []string   { return nil }

func (u Unknown) CallInternal(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	u.touch()
	return Unknown{what: u.what + "()", thread: u.thread}, nil
}

func (u Unknown) Binary(op syntax.Token, y starlark.Value, side starlark.Side) (starlark.Value, error) {
	u.touch()
	return u, nil
}

// CompareSameType takes a comparison of unknowns as false; a check on the
// same line is undecided (touch).
func (u Unknown) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	u.touch()
	return false, nil
}

func (u Unknown) Index(i int) starlark.Value {
	u.touch()
	return Unknown{what: fmt.Sprintf("%s[%d]", u.what, i), thread: u.thread}
}
func (u Unknown) Len() int { return unknownLen }

func (u Unknown) Slice(start, end, step int) starlark.Value {
	u.touch()
	v := Unknown{what: fmt.Sprintf("%s[%d:%d]", u.what, start, end), thread: u.thread}
	if end < unknownLen && step == 1 {
		v.n = max(end-start, 0)
	}
	return v
}

// Iterate gives the elements of a slice of known length (unknowns each);
// a loop over anything else runs zero times, and says so.
func (u Unknown) Iterate() starlark.Iterator {
	u.touch()
	if u.n == 0 {
		u.report("a loop over %s, which only the kernel knows: the plan runs it zero times", u.what)
	}
	return &unknownIterator{u: u}
}

type unknownIterator struct {
	u    Unknown
	next int
}

func (it *unknownIterator) Next(v *starlark.Value) bool {
	if it.next >= it.u.n {
		return false
	}
	*v = it.u.Index(it.next)
	it.next++
	return true
}
func (it *unknownIterator) Done() {}

// report tells of a use of the unknown at the statement running now.
func (u Unknown) report(format string, args ...any) {
	u.touch()
	if u.thread == nil {
		return
	}
	pos, ok := statement(u.thread)
	if env, err := envOf(u.thread); err == nil && ok {
		env.guard(func() (starlark.Value, error) {
			msg := fmt.Sprintf(format, args...)
			env.Report.Undecided(pos, Check{Name: msg, Msg: msg}) // the same in every plan
			return nil, nil
		})
	}
}

// unknownAware wraps a universal function (len, int, float) so that given
// an unknown it gives an unknown, and otherwise does what it did.
func unknownAware(name string) *starlark.Builtin {
	orig := starlark.Universe[name].(*starlark.Builtin)
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) > 0 {
			if u, ok := args[0].(Unknown); ok {
				u.touch()
				return Unknown{what: name + "(" + u.what + ")", thread: u.thread}, nil
			}
		}
		return starlark.Call(thread, orig, args, kwargs)
	})
}

// unknownResult is exec_in's or wait's result in a plan.
func unknownResult(thread *starlark.Thread, call string) starlark.Value {
	return unknownStruct{Unknown{what: call + "(...)", thread: thread}, []string{"rc", "stderr", "stdout", "truncated"}}
}

// unknownStruct is a result whose fields are all unknown: reading one
// marks the line (so `expect.true(r.rc == 0)` is undecided, though the
// comparison gives a plain False).
type unknownStruct struct {
	Unknown
	fields []string
}

func (s unknownStruct) Attr(name string) (starlark.Value, error) {
	if !slices.Contains(s.fields, name) {
		return nil, nil
	}
	return s.Unknown.Attr(name)
}
func (s unknownStruct) AttrNames() []string  { return s.fields }
func (s unknownStruct) Truth() starlark.Bool { return starlark.True }
func (s unknownStruct) Type() string         { return "struct" }

// unknownIn names the first unknown among values, or "".
func unknownIn(values ...starlark.Value) string {
	for _, v := range values {
		if u, ok := v.(Unknown); ok {
			return u.what
		}
	}
	return ""
}

// CompareName is the name under which the playbook's ordered comparisons
// (<, <=, >, >=) call compareFn: interp compiles them so, because Starlark
// orders only values of one type and `t.mbps < 9` on an unknown would stop
// a plan. No playbook can spell the name.
const CompareName = "<compare>"

// compareFn orders x and y as Starlark's operator does; with an unknown it
// gives an unknown, so that a check on it is undecided and a branch on it
// is reported.
func compareFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	op, x, y := string(args[0].(starlark.String)), args[1], args[2]
	if unknownIn(x, y) == "" {
		ok, err := starlark.Compare(comparisons[op], x, y)
		return starlark.Bool(ok), err
	}
	text := func(v starlark.Value) string {
		if u, ok := v.(Unknown); ok {
			u.touch()
			return u.what
		}
		return v.String()
	}
	return Unknown{what: text(x) + " " + op + " " + text(y), thread: thread}, nil
}

var comparisons = map[string]syntax.Token{"<": syntax.LT, "<=": syntax.LE, ">": syntax.GT, ">=": syntax.GE}
