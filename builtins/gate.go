package builtins

// A run that is cancelled (a signal, --timeout) stops the playbook at its
// next Starlark step, and builtins that wait return at once. But one step
// can run long by itself ("%s" % a huge value, sorted() of millions): the
// run then gives up on the playbook's thread after a grace period and
// tears the lab down while that step still runs (interp). The gate makes
// that safe: every nsplay builtin, handle attribute and report passes it,
// and once the run has given up (Abandon) none starts any more, so the
// thread left running touches neither the lab nor the output.

import (
	"errors"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// errAbandoned is what a builtin called after Abandon returns.
var errAbandoned = errors.New("the run has stopped")

// gate counts the nsplay calls running now, and refuses new ones once the
// run has given up on the playbook. A call counts itself before it looks
// whether the run gave up, and Abandon says so before it counts the calls:
// so either the call sees it and is refused, or Abandon waits for it.
type gate struct {
	calls     atomic.Int64
	abandoned atomic.Bool
}

// enter admits a call, or refuses it after Abandon; leave ends it.
func (g *gate) enter() error {
	g.calls.Add(1)
	if g.abandoned.Load() {
		g.calls.Add(-1)
		return errAbandoned
	}
	return nil
}

func (g *gate) leave() { g.calls.Add(-1) }

// Abandon refuses every nsplay call from now on and waits until those
// running have returned. The builtins that wait answer the run's
// context, so they return soon; a run calls this after cancelling it.
func (env *Env) Abandon() {
	env.gate.abandoned.Store(true)
	for env.gate.calls.Load() > 0 {
		time.Sleep(time.Millisecond)
	}
}

// guard runs fn unless the run has given up on the playbook.
func (env *Env) guard(fn func() (starlark.Value, error)) (starlark.Value, error) {
	if err := env.gate.enter(); err != nil {
		return nil, err
	}
	defer env.gate.leave()
	if s, ok := env.Lab.B.(stepper); ok {
		defer s.Step()()
	}
	return fn()
}

// stepper is a backend that remembers some of what it reads within one
// step, one call of an nsplay builtin, and forgets it when the step ends
// (kernel.Backend.Step).
type stepper interface{ Step() (end func()) }

// guarded is builtin b behind the gate.
func (env *Env) guarded(b *starlark.Builtin) *starlark.Builtin {
	return starlark.NewBuiltin(b.Name(), func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return env.guard(func() (starlark.Value, error) { return b.CallInternal(thread, args, kwargs) })
	})
}

// method is a handle's method behind the gate, bound to the handle.
func (env *Env) method(name string, fn builtinFn, recv starlark.Value) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return env.guard(func() (starlark.Value, error) { return fn(thread, b, args, kwargs) })
	}).BindReceiver(recv)
}

// guardAll puts the builtins among the predeclared names, and the members
// of modules such as expect, behind the gate.
func (env *Env) guardAll(names starlark.StringDict) {
	for name, v := range names {
		switch x := v.(type) {
		case *starlark.Builtin:
			names[name] = env.guarded(x)
		case *starlarkstruct.Module:
			members := starlark.StringDict{}
			for m, v := range x.Members {
				if b, ok := v.(*starlark.Builtin); ok {
					v = env.guarded(b)
				}
				members[m] = v
			}
			names[name] = &starlarkstruct.Module{Name: x.Name, Members: members}
		}
	}
}
