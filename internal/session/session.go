// Package session is the one place that runs a playbook from end to end:
// it opens the backend (the kernel, or the in-memory model for a plan) and
// the lab, runs the playbook, keeps the lab or tears it down, and turns
// SIGINT, SIGTERM and SIGHUP into a cancelled run whose lab is still taken
// down. `nsplay run`, `nsplay test`, `nsplay plan` and the tests use it;
// each brings its own paths, so a sandbox or a test has its own.
package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/interp"
	"golang.org/x/sys/unix"
)

// Options say what to run and how.
type Options struct {
	Playbook  string
	Name      string            // the lab's name; default the playbook's file name without .star
	Vars      map[string]string // -D name=value
	Keep      bool              // leave the lab up (--keep)
	AllowHost bool              // --allow-host
	// HostEnds says that the host namespace ends with this process, as a
	// sandbox's does (lab.Lab.HostEnds).
	HostEnds bool
	// Plan runs against the in-memory model: nothing on the machine changes.
	Plan  bool
	Paths model.Paths
	// Snapshot takes the lab's state at the end of the playbook, before
	// teardown (golden files).
	Snapshot bool
	Emit     func(interp.Event) // every event, as it happens
	// Opened, if set, gets the lab once it is open, before the playbook
	// runs. The playbook's events come between its changes, so Emit may
	// read the lab then (nsplay's progress line counts its namespaces).
	Opened func(*lab.Lab)
	// Backend opens the backend of a run that is not a plan; nil is the
	// kernel's. Tests wrap the kernel backend in one that fails on purpose.
	Backend func(model.Paths) (model.Backend, error)
	// Timeout stops the playbook when it has run that long (--timeout);
	// the lab is still taken down. 0 for none.
	Timeout time.Duration
	// Lib is the library path, where load("@PATH") looks (--lib, NSPLAY_PATH).
	Lib []string
}

// Outcome is how a run went.
type Outcome struct {
	Result   interp.Result
	RunErr   error // the playbook stopped: an *interp.Error, or another error
	DownErr  error // the teardown, or keeping, failed
	Snapshot model.Snapshot
	// Interrupted is the signal that stopped the run, or nil.
	Interrupted *SignalError
	// TimedOut is set when Options.Timeout stopped the run.
	TimedOut *TimeoutError
	// Teardown is how long tearing the lab down (or keeping it) took.
	Teardown time.Duration
}

// Status is the exit status the outcome asks for: 0 all checks passed, 1 a
// check failed, 2 an error, 128+N after signal N.
func (o Outcome) Status() int {
	switch {
	case o.Interrupted != nil:
		return 128 + int(o.Interrupted.Sig)
	case o.RunErr != nil, o.DownErr != nil:
		return 2
	case o.Result.Failed > 0:
		return 1
	}
	return 0
}

// Run runs one playbook. The error is for a run that could not start (the
// backend or the lab would not open); everything after is in the Outcome.
func Run(opts Options) (Outcome, error) {
	emit := stamped(opts.Emit)
	name := opts.Name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(opts.Playbook), ".star")
	}
	// Signals are caught before the lab exists, so none can end nsplay
	// between its first object and the teardown.
	ctx, stop := SignalContext()
	defer stop()
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, opts.Timeout, TimeoutError{opts.Timeout})
		defer cancel()
	}
	b, err := openBackend(opts)
	if err != nil {
		return Outcome{}, err
	}
	defer b.Close()
	abs, err := filepath.Abs(opts.Playbook)
	if err != nil {
		return Outcome{}, err
	}
	l, err := lab.Open(name, b, opts.Paths, abs)
	if err != nil {
		return Outcome{}, err
	}
	// A teardown that failed leaves the lab open: release its lock, so
	// that `nsplay down` (or the next run in this process) can take it.
	defer l.Close()
	l.AllowHost, l.Keeping, l.HostEnds = opts.AllowHost, opts.Keep, opts.HostEnds
	if opts.Opened != nil {
		opts.Opened(l)
	}
	var out Outcome
	out.Result, out.RunErr = interp.Run(ctx, l, opts.Playbook, interp.Options{Vars: opts.Vars, Emit: emit, Lib: opts.Lib})
	var pe *interp.Error
	if errors.As(out.RunErr, &pe) {
		if opts.Plan && strings.Contains(pe.Msg, "nsplay.unknown") {
			pe.Msg += " (in a plan, what only the kernel knows is unknown, and Starlark cannot compare, order, hash or convert an unknown: check it in one expect.* call, like expect.true(r.rc == 0))"
		}
		emit(interp.Event{Kind: "error", Pos: pe.Pos, Msg: pe.Msg})
	}
	if opts.Snapshot {
		snap, err := l.Snapshot(nil)
		out.Snapshot, out.DownErr = snap, err
	}
	down := time.Now()
	if opts.Keep && !l.Empty() { // a lab of nothing is not kept: ls would list it
		out.DownErr = errors.Join(out.DownErr, l.Keep())
		emit(interp.Event{Kind: "kept", Msg: keptMessage(name, l.Namespaces())})
	} else {
		out.DownErr = errors.Join(out.DownErr, l.Teardown(func(msg string) { emit(interp.Event{Kind: "teardown", Msg: msg}) }))
	}
	out.Teardown = time.Since(down)
	r := out.Result
	summary := interp.Event{Kind: "summary", Passed: &r.Passed, Failed: &r.Failed,
		Phases: &interp.Phases{Build: r.Build, Check: r.Check, Teardown: out.Teardown}}
	if opts.Plan {
		summary.UndecidedCount = &r.Undecided
	}
	emit(summary)
	if ctx.Err() != nil {
		var sig SignalError
		var timeout TimeoutError
		switch cause := context.Cause(ctx); {
		case errors.As(cause, &sig):
			out.Interrupted = &sig
		case errors.As(cause, &timeout) && out.RunErr != nil:
			// It stopped the playbook (not only a teardown that ran past it).
			out.TimedOut = &timeout
		}
	}
	return out, nil
}

// stamped is emit (nil: none) with the time on every event that has none
// yet: the playbook's events carry theirs (interp), the run's own (error,
// teardown, kept, summary) get it here.
func stamped(emit func(interp.Event)) func(interp.Event) {
	return func(e interp.Event) {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		if emit != nil {
			emit(e)
		}
	}
}

func openBackend(opts Options) (model.Backend, error) {
	switch {
	case opts.Plan:
		return model.NewMemory(opts.Paths), nil
	case opts.Backend != nil:
		return opts.Backend(opts.Paths)
	}
	return kernel.NewBackend(opts.Paths)
}

// planBackend is the in-memory model, with the folders the lab writes in
// that the machine has already (read, never changed), so that the plan's
// teardown removes what the run's would.
func planBackend(paths model.Paths) (model.Backend, error) {
	m := model.NewMemory(paths)
	if st, err := os.Stat(paths.EtcNetns); err == nil && st.IsDir() {
		if err := m.Apply(model.DirAdd{Path: paths.EtcNetns}); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// PlanPaths are the paths of a plan: named namespaces and /etc/netns as on
// the machine (for the step lines), no lab folder: the journal lives in
// memory.
func PlanPaths() model.Paths {
	p := model.DefaultPaths
	p.Labs = ""
	return p
}

// keptMessage tells how to enter and remove a kept lab.
func keptMessage(name string, spaces []string) string {
	enter := ""
	switch {
	case len(spaces) == 1:
		enter = fmt.Sprintf("enter it with 'nsplay shell %s %s', ", name, spaces[0])
	case len(spaces) > 1:
		enter = fmt.Sprintf("enter its namespaces (%s) with 'nsplay shell %s NAME', ", strings.Join(spaces[:min(len(spaces), 4)], ", "), name)
		if len(spaces) > 4 {
			enter = strings.Replace(enter, ") with", fmt.Sprintf(" and %d more) with", len(spaces)-4), 1)
		}
	}
	return fmt.Sprintf("lab %s is up: %sremove it with 'nsplay down %s'", name, enter, name)
}

// TimeoutError is the cause of a run's cancellation by Options.Timeout.
type TimeoutError struct{ After time.Duration }

func (e TimeoutError) Error() string { return fmt.Sprintf("timed out after %s (--timeout)", e.After) }

// SignalError is the cause of a run's cancellation by a signal.
type SignalError struct{ Sig syscall.Signal }

func (e SignalError) Error() string { return "interrupted by " + unix.SignalName(e.Sig) }

// SignalContext is cancelled by the first SIGINT, SIGTERM or SIGHUP (a
// closed terminal). Later ones are swallowed until stop, so that they cannot
// cut the teardown short. SIGPIPE is ignored: output to a closed pipe
// (nsplay run ... | head) fails, and the run goes on to its teardown.
func SignalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for s := range sigs {
			cancel(SignalError{s.(syscall.Signal)})
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(sigs)
		cancel(nil)
	}
}
