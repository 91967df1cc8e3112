package builtins

// In a plan (nsplay plan), values that only the kernel knows — what a
// command printed and its exit status, round-trip times, a spawned
// process's pid — are unknown. A check that touches one is undecided:
// neither passed nor failed. A branch on one (`if r.stdout:`) is reported
// at its position and taken as false; a loop over one runs zero times. An
// unknown's attributes, calls and operators give unknowns again, so that
// `r.stdout.strip()` and `r.rc + 1` stay unknown. A comparison (`r.rc == 0`)
// cannot be: Starlark gives it a plain False.

import (
	"errors"
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// Unknown is a value only the kernel knows.
type Unknown struct {
	what   string           // what it stands for: `exec_in(...).stdout`
	thread *starlark.Thread // the run's, to report a branch on it
}

var (
	_ starlark.HasAttrs  = Unknown{}
	_ starlark.HasBinary = Unknown{}
	_ starlark.Callable  = Unknown{}
	_ starlark.Iterable  = Unknown{}
)

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
	return Unknown{what: u.what + "." + name, thread: u.thread}, nil
}
func (u Unknown) AttrNames() []string { return nil }

func (u Unknown) CallInternal(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return Unknown{what: u.what + "()", thread: u.thread}, nil
}

func (u Unknown) Binary(op syntax.Token, y starlark.Value, side starlark.Side) (starlark.Value, error) {
	return u, nil
}

func (u Unknown) Iterate() starlark.Iterator {
	u.report("a loop over %s, which only the kernel knows: the plan runs it zero times", u.what)
	return emptyIterator{}
}

type emptyIterator struct{}

func (emptyIterator) Next(*starlark.Value) bool { return false }
func (emptyIterator) Done()                     {}

// report tells of a use of the unknown at the statement running now.
func (u Unknown) report(format string, args ...any) {
	if u.thread == nil || u.thread.CallStackDepth() == 0 {
		return
	}
	if env, err := envOf(u.thread); err == nil {
		env.Report.Undecided(u.thread.CallFrame(0).Pos, fmt.Sprintf(format, args...))
	}
}

// unknownResult is exec_in's or wait's result in a plan.
func unknownResult(thread *starlark.Thread, call string) starlark.Value {
	field := func(name string) starlark.Value { return Unknown{what: call + "(...)." + name, thread: thread} }
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"rc": field("rc"), "stdout": field("stdout"), "stderr": field("stderr"),
	})
}

// unknownIn names the first unknown among values, or "".
func unknownIn(values ...starlark.Value) string {
	for _, v := range values {
		if u, ok := v.(Unknown); ok {
			return u.what
		}
	}
	return ""
}
