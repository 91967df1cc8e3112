// Package interp runs a playbook: one Starlark thread with nsplay's
// predeclared names, load() confined to the playbook's folder and the
// library path the user names, checks counted, events reported as they happen, and cancellation wired to the
// caller's context. Building and tearing down the lab is the caller's.
package interp

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nsplay/nsplay/builtins"
	"github.com/nsplay/nsplay/internal/lab"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Event is one thing a run reports.
type Event struct {
	Kind string `json:"kind"` // "step", "result", "check", "log", "warning", "error", "teardown", "kept", "summary"
	Pos  string `json:"pos,omitempty"`
	Msg  string `json:"msg,omitempty"`
	Pass *bool  `json:"pass,omitempty"` // check; nil for an undecided one
	// Undecided marks a check, or a branch, that depends on what only the
	// kernel knows (nsplay plan).
	Undecided bool `json:"undecided,omitempty"`
	// Passed, Failed and Undecided count the checks (summary only).
	Passed         *int `json:"passed,omitempty"`
	Failed         *int `json:"failed,omitempty"`
	UndecidedCount *int `json:"undecided_count,omitempty"`
	// Name, Got and Want are those of builtins.Check (check only).
	Name string `json:"name,omitempty"`
	Got  string `json:"got,omitempty"`
	Want string `json:"want,omitempty"`
	// Time is when the event happened. Duration is how long a check
	// took: the time since the event before it, which holds evaluating
	// its arguments (reading the kernel) and the check itself. Phases are
	// the durations of the run (summary only). The renderers write them
	// (cmd/nsplay).
	Time     time.Time     `json:"-"`
	Duration time.Duration `json:"-"`
	Phases   *Phases       `json:"-"`
}

// Phases are where the time of a run went: building (everything the
// playbook did but its checks: steps, commands, prints), checking, and
// tearing the lab down (or keeping it).
type Phases struct {
	Build, Check, Teardown time.Duration
}

// Options configure a run.
type Options struct {
	Vars map[string]string // -D name=value
	Emit func(Event)       // receives every event as it happens
	// Lib is the library path: the folders, in order, in which
	// load("@PATH") looks for PATH (--lib, NSPLAY_PATH).
	Lib []string
}

// Result counts the checks of a run. Undecided counts those that depend
// on what only the kernel knows (a plan). Build and Check are the
// playbook's time, split as Phases says.
type Result struct {
	Passed, Failed, Undecided int
	Build, Check              time.Duration
}

// Error is a playbook that stopped: a Starlark error, a kernel error, fail().
type Error struct {
	Pos       string // file:line:col of the playbook statement that failed
	Msg       string
	Backtrace string // the Starlark call stack, when the error came from inside a function
	err       error
}

func (e *Error) Error() string {
	if e.Pos == "" {
		return e.Msg
	}
	return e.Pos + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.err }

// fileOptions allows what a lab script needs beyond plain Starlark: loops
// and if statements at top level, while loops, sets, reassigned globals and
// recursion.
var fileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}

// Run executes the playbook against the lab.
func Run(ctx context.Context, l *lab.Lab, file string, opts Options) (Result, error) {
	emit := opts.Emit
	if emit == nil {
		emit = func(Event) {}
	}
	clk := &clock{last: time.Now()}
	emit = clk.stamped(emit)
	rep := &reporter{emit: emit}
	vars := opts.Vars
	if vars == nil {
		vars = map[string]string{}
	}
	env := &builtins.Env{Lab: l, Ctx: ctx, Report: rep, Vars: vars, UsedVars: map[string]bool{}}
	predeclared, err := builtins.Predeclared(env)
	if err != nil {
		return Result{}, err
	}
	root, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return Result{}, err
	}
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	st, stop := newStopper(ctx)
	defer stop()
	ld := &loader{lib: opts.Lib, env: env, emit: emit, predeclared: predeclared, modules: map[string]*module{}, stopper: st}
	src, err := readSource(file)
	if err != nil {
		return Result{}, err
	}
	thread := ld.thread(file, folder{abs: root, shown: filepath.Dir(file)})
	done := make(chan error, 1)
	go func() {
		_, err := exec(thread, file, src, predeclared)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		select {
		case err = <-done:
		case <-time.After(stopGrace):
			// Once no builtin runs, the thread either ends at its next
			// step or is inside one that does not stop.
			env.Abandon()
			select {
			case err = <-done:
			case <-time.After(100 * time.Millisecond):
				return rep.result(clk), &Error{Msg: context.Cause(ctx).Error() + ": " + ErrAbandoned.Error(), err: fmt.Errorf("%w: %w", ctx.Err(), ErrAbandoned)}
			}
		}
	}
	res := rep.result(clk)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		e := asError(err)
		if pe, ok := e.(*Error); ok && st.at.IsValid() {
			pe.Pos = st.at.String()
		}
		return res, e
	}
	var unused []string
	for name := range vars {
		if !env.UsedVars[name] {
			unused = append(unused, name)
		}
	}
	slices.Sort(unused)
	for _, name := range unused {
		emit(Event{Kind: "warning", Msg: fmt.Sprintf("-D %s was given, but the playbook never calls var(%q)", name, name)})
	}
	return res, nil
}

// asError gives a playbook error the position of the playbook statement
// that failed, and keeps the backtrace when it came from inside a function.
func asError(err error) error {
	var eval *starlark.EvalError
	var syn syntax.Error
	switch {
	case errors.As(err, &eval):
		e := &Error{Msg: eval.Msg, err: err}
		stack := eval.CallStack
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i].Pos.IsValid() && stack[i].Pos.Filename() != "<builtin>" {
				e.Pos = stack[i].Pos.String()
				if i > 0 {
					e.Backtrace = backtrace(eval)
				}
				break
			}
		}
		return e
	case errors.As(err, &syn):
		return &Error{Pos: syn.Pos.String(), Msg: syn.Msg, err: err}
	}
	return &Error{Msg: err.Error(), err: err}
}

// reporter turns builtin reports into events and counts checks.
type reporter struct {
	emit                      func(Event)
	passed, failed, undecided int
}

func (r *reporter) Step(pos syntax.Position, msg string) {
	r.emit(Event{Kind: "step", Pos: shortPos(pos), Msg: msg})
}

func (r *reporter) Check(pos syntax.Position, c builtins.Check) {
	if c.OK {
		r.passed++
	} else {
		r.failed++
	}
	r.emit(Event{Kind: "check", Pos: shortPos(pos), Msg: c.Msg, Pass: &c.OK, Name: c.Name, Got: c.Got, Want: c.Want})
}

func (r *reporter) Result(pos syntax.Position, msg string) {
	r.emit(Event{Kind: "result", Pos: shortPos(pos), Msg: msg})
}

func (r *reporter) Undecided(pos syntax.Position, c builtins.Check) {
	r.undecided++
	r.emit(Event{Kind: "check", Pos: shortPos(pos), Msg: c.Msg, Undecided: true, Name: c.Name})
}

// result is the count of the checks so far, and the time the playbook
// has taken.
func (r *reporter) result(clk *clock) Result {
	build, check := clk.split()
	return Result{Passed: r.passed, Failed: r.failed, Undecided: r.undecided, Build: build, Check: check}
}

// clock stamps a run's events with their time and splits the playbook's
// time into building and checking: the time up to a check is the check's
// (Event.Duration), the rest the build's.
// The playbook's thread emits; the run reads it once the thread has
// returned, or has been shut out by the builtins' gate.
type clock struct {
	last         time.Time
	build, check time.Duration
}

// stamped is emit with every event stamped.
func (c *clock) stamped(emit func(Event)) func(Event) {
	return func(e Event) {
		e.Time = time.Now()
		d := e.Time.Sub(c.last)
		c.last = e.Time
		if e.Kind == "check" {
			e.Duration = d
			c.check += d
		} else {
			c.build += d
		}
		emit(e)
	}
}

// split is the build and the check time until now.
func (c *clock) split() (build, check time.Duration) {
	return c.build + time.Since(c.last), c.check
}

// shortPos is file:line, what a user needs to find a statement.
func shortPos(pos syntax.Position) string {
	if !pos.IsValid() {
		return ""
	}
	return fmt.Sprintf("%s:%d", pos.Filename(), pos.Line)
}

// loader runs load() statements: paths are relative to the loading file
// and may not leave its folder (the playbook's, or the library folder it
// came from); "@PATH" is PATH in the library path. Each file runs once.
type loader struct {
	lib         []string // the library path
	emit        func(Event)
	env         *builtins.Env
	predeclared starlark.StringDict
	modules     map[string]*module
	stopper     *stopper
}

type module struct {
	globals starlark.StringDict
	err     error
	loading bool
}

// thread makes the thread that runs the file name, whose loads may not
// leave root.
func (ld *loader) thread(name string, root folder) *starlark.Thread {
	t := &starlark.Thread{Name: name, Load: ld.load}
	t.SetLocal(rootKey, root)
	t.Print = func(t *starlark.Thread, msg string) {
		ld.emit(Event{Kind: "log", Pos: shortPos(t.CallFrame(1).Pos), Msg: msg})
	}
	builtins.SetEnv(t, ld.env)
	ld.stopper.watch(t)
	return t
}

func (ld *loader) load(thread *starlark.Thread, name string) (starlark.StringDict, error) {
	if recipe, ok := strings.CutPrefix(name, "@"); ok {
		return ld.loadRecipe(recipe)
	}
	root := thread.Local(rootKey).(folder)
	if filepath.IsAbs(name) {
		return nil, fmt.Errorf("%s is an absolute path: load takes a path relative to the file that loads it, inside %s, or @PATH, a recipe of the library path (--lib, NSPLAY_PATH)", name, root)
	}
	from := thread.CallFrame(0).Pos.Filename()
	path := filepath.Join(filepath.Dir(from), name)
	abs, err := root.resolve(path)
	if err != nil {
		return nil, err
	}
	return ld.module(path, abs, root)
}

// module runs the file at path (abs, resolved) once, with loads confined
// to root, and returns its globals.
func (ld *loader) module(path, abs string, root folder) (starlark.StringDict, error) {
	if m, ok := ld.modules[abs]; ok {
		if m.loading {
			return nil, fmt.Errorf("%s loads itself, directly or through other files", path)
		}
		return m.globals, m.err
	}
	m := &module{loading: true}
	ld.modules[abs] = m
	t := ld.thread(path, root)
	src, err := readSource(path)
	if err != nil {
		m.err = err
	} else {
		m.globals, m.err = exec(t, path, src, ld.predeclared)
	}
	m.loading = false
	return m.globals, m.err
}
