package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/sandbox"
	"github.com/nsplay/nsplay/interp"
	"golang.org/x/sys/unix"
)

type runOptions struct {
	vars      defines
	name      string
	keep      bool
	allowHost bool
	json      bool
	sandbox   bool
}

func runFlagSet(o *runOptions) *flagSet {
	fs := newFlagSet("run", "[flags] PLAYBOOK", `Builds the lab PLAYBOOK describes in real namespaces, runs its checks against
the live kernel, prints one line per step and per check, and ends with the
line "N passed, M failed". The lab is then torn down, also on an error and on
SIGINT, SIGTERM or SIGHUP, unless --keep is given.

Needs root, unless --sandbox is given. Everything the playbook creates is
journalled under /run/nsplay/LAB before it is created, so 'nsplay down LAB'
can remove it even after nsplay was killed.

With --sandbox the playbook runs in fresh namespaces of its own: "host" is a
private network namespace, /run and /etc are private, and nothing of the lab
is visible from the machine. When nsplay ends, however it ends, the sandbox
and everything in it are gone. Any user may use it: an unprivileged user gets
a user namespace in which they are root. Use it for tests, CI and trying
recipes; run without it for a lab you want to reach from the host. It keeps
the lab off the machine's network, /run and /etc, but is no security
boundary: a command a playbook runs as root can still write other files.`)
	o.vars = defines{}
	fs.Var(o.vars, "D", "set a playbook variable: -D `name=value` is what var(\"name\", default) returns (repeatable)")
	fs.StringVar(&o.name, "name", "", "call the lab `LAB` (default: the playbook's file name without .star)")
	fs.BoolVar(&o.keep, "keep", false, "leave the lab up after the run (also after an error or a signal); remove it later with 'nsplay down LAB'")
	fs.BoolVar(&o.allowHost, "allow-host", false, "let the playbook change and delete objects it did not create (host links, routes, addresses; never a namespace)")
	fs.BoolVar(&o.json, "json", false, "write events as JSON lines to stdout instead of text")
	fs.BoolVar(&o.sandbox, "sandbox", false, "run in a private sandbox (network, mount, PID, UTS, IPC and cgroup namespaces) that nothing outlives; works without root")
	return fs
}

func runFlags() *flagSet { return runFlagSet(&runOptions{}) }

func runCmd(args []string, stdout, stderr io.Writer) (int, error) {
	var o runOptions
	fs := runFlagSet(&o)
	fs.help = stdout
	rest, err := fs.parse(args)
	if err != nil {
		return exitError, err
	}
	if len(rest) != 1 {
		return exitError, usageError{"run takes one playbook, e.g. nsplay run playbooks/lxcbr0.star"}
	}
	file := rest[0]
	if _, err := os.Stat(file); err != nil {
		return exitError, fmt.Errorf("playbook %s: %w", file, err)
	}
	if o.sandbox && o.keep {
		return exitError, usageError{"--keep and --sandbox do not go together: the sandbox ends with nsplay, and the lab with it; run without --sandbox to keep a lab"}
	}
	if sandbox.Inside() {
		if err := sandbox.Setup(); err != nil {
			return exitError, err
		}
	} else if o.sandbox {
		return sandbox.Run(append([]string{"run"}, args...))
	}

	if os.Geteuid() != 0 {
		return exitError, errors.New("run needs root to create namespaces and links (CAP_SYS_ADMIN, CAP_NET_ADMIN): run it with sudo, or add --sandbox to run the lab in a private sandbox, which needs no root")
	}
	name := o.name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(file), ".star")
	}
	abs, _ := filepath.Abs(file)

	// Signals are caught before the lab exists, so none can end nsplay
	// between its first object and the teardown.
	ctx, stop := signalContext()
	defer stop()
	host, err := kernel.Current()
	if err != nil {
		return exitError, err
	}
	defer host.Close()
	l, err := lab.Open(name, host, abs)
	if err != nil {
		return exitError, err
	}
	l.AllowHost = o.allowHost

	out := newRenderer(stdout, o.json)
	res, runErr := interp.Run(ctx, l, file, interp.Options{Vars: o.vars, Emit: out.event})

	var pe *interp.Error
	if errors.As(runErr, &pe) {
		out.event(interp.Event{Kind: "error", Pos: pe.Pos, Msg: pe.Msg})
		if pe.Backtrace != "" && !o.json {
			fmt.Fprintln(stderr, pe.Backtrace)
		}
	}
	interrupted := ctx.Err() != nil
	var downErr error
	if o.keep {
		var spaces []string
		for _, obj := range l.Objects() {
			if obj.Kind == "netns" {
				spaces = append(spaces, obj.Name)
			}
		}
		enter := ""
		switch {
		case len(spaces) == 1:
			enter = fmt.Sprintf("enter it with 'ip netns exec %s bash', ", spaces[0])
		case len(spaces) > 1:
			enter = fmt.Sprintf("enter its namespaces (%s) with 'ip netns exec NAME bash', ", strings.Join(spaces[:min(len(spaces), 4)], ", "))
			if len(spaces) > 4 {
				enter = strings.Replace(enter, ") with", fmt.Sprintf(" and %d more) with", len(spaces)-4), 1)
			}
		}
		downErr = l.Keep()
		out.event(interp.Event{Kind: "kept", Msg: fmt.Sprintf("lab %s is up: %sremove it with 'nsplay down %s'", name, enter, name)})
	} else {
		downErr = l.Teardown(func(msg string) { out.event(interp.Event{Kind: "teardown", Msg: msg}) })
	}
	out.event(interp.Event{Kind: "summary", Passed: &res.Passed, Failed: &res.Failed})

	switch {
	case interrupted:
		return interruption(ctx, pe, o.keep, downErr)
	case runErr != nil:
		if pe != nil {
			return exitError, errors.Join(pe, downErr)
		}
		return exitError, errors.Join(runErr, downErr)
	case downErr != nil:
		return exitError, downErr
	case res.Failed > 0:
		return exitFailed, nil
	}
	return exitOK, nil
}

// interruption is the exit status and the error of a run a signal stopped:
// where the playbook was, and what became of the lab.
func interruption(ctx context.Context, pe *interp.Error, kept bool, downErr error) (int, error) {
	var sig signalError
	errors.As(context.Cause(ctx), &sig)
	where := ""
	if pe != nil && pe.Pos != "" {
		where = pe.Pos + ": "
	}
	what := "the lab was torn down"
	switch {
	case kept:
		what = "the lab is kept"
	case downErr != nil:
		what = "the lab could not be torn down fully"
	}
	return exitSignal + int(sig.sig), errors.Join(fmt.Errorf("%s%w; %s", where, sig, what), downErr)
}

// signalError is the cause of a run's cancellation by a signal.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string { return "interrupted by " + unix.SignalName(e.sig) }

// signalContext is cancelled by the first SIGINT, SIGTERM or SIGHUP (a
// closed terminal). Later ones are swallowed until stop, so that they cannot
// cut the teardown short. SIGPIPE is ignored: output to a closed pipe
// (nsplay run ... | head) fails, and the run goes on to its teardown.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for s := range sigs {
			cancel(signalError{s.(syscall.Signal)})
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(sigs)
		cancel(nil)
	}
}

// renderer prints events as text lines or JSON lines.
type renderer struct {
	w    io.Writer
	json *json.Encoder
}

func newRenderer(w io.Writer, asJSON bool) *renderer {
	r := &renderer{w: w}
	if asJSON {
		r.json = json.NewEncoder(w)
		r.json.SetEscapeHTML(false) // commands like "echo x >&2" stay readable
	}
	return r
}

func (r *renderer) event(e interp.Event) {
	switch {
	case r.json != nil:
		r.json.Encode(e)
	case e.Kind != "error": // main prints the error on stderr
		fmt.Fprintln(r.w, textLine(e))
	}
}

// textLine is an event as a line of text output, without the newline.
// One line is one event: the message is written by oneLine. (The error
// line is what golden files record; the text output leaves it to main.)
func textLine(e interp.Event) string {
	msg := oneLine(e.Msg)
	switch e.Kind {
	case "summary":
		return fmt.Sprintf("%d passed, %d failed", *e.Passed, *e.Failed)
	case "check":
		verdict := "PASS"
		if !*e.Pass {
			verdict = "FAIL"
		}
		return fmt.Sprintf("%s %s: %s", verdict, e.Pos, msg)
	case "error":
		if e.Pos == "" {
			return "error " + msg
		}
		return fmt.Sprintf("error %s: %s", e.Pos, msg)
	case "teardown":
		return "down: " + msg
	case "kept":
		return msg
	case "warning":
		return "warning: " + msg
	}
	return fmt.Sprintf("%s: %s", e.Pos, msg)
}

// oneLine is a message as text output writes it: a message that holds a
// newline or another character strconv.IsPrint refuses (a tab, an escape,
// invalid UTF-8) is written as a Go string literal,
// "in host: echo one\necho two (exit 0)"; any other as it is.
func oneLine(msg string) string {
	if utf8.ValidString(msg) && !strings.ContainsFunc(msg, func(r rune) bool { return !strconv.IsPrint(r) }) {
		return msg
	}
	return strconv.Quote(msg)
}
