package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/sandbox"
	"github.com/nsplay/nsplay/internal/session"
	"github.com/nsplay/nsplay/interp"
)

type runOptions struct {
	vars      defines
	name      string
	keep      bool
	allowHost bool
	json      bool
	sandbox   bool
	timeout   time.Duration
	// cpuProfile is where the run writes a pprof CPU profile of itself.
	cpuProfile string
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
	timeoutFlag(fs, &o.timeout)
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `FILE` (go tool pprof FILE shows where the time went)")
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
	if err := checkTimeout(o.timeout); err != nil {
		return exitError, err
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
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return exitError, err
		}
		defer func() {
			if err := stop(); err != nil {
				fmt.Fprintln(stderr, "nsplay:", err)
			}
		}()
	}
	printed := newBatchedWriter(stdout)
	out := newRenderer(printed, o.json)
	res, err := session.Run(session.Options{Playbook: file, Name: o.name, Vars: o.vars, Keep: o.keep,
		AllowHost: o.allowHost, Paths: model.DefaultPaths, Emit: printed.after(out.event), Timeout: o.timeout})
	printed.Flush() // before what goes to stderr
	if err != nil {
		return exitError, err
	}
	return outcome(res, o.keep, o.json, stderr)
}

// outcome is the exit status and the error of a finished run: the
// playbook's error (with its backtrace on stderr), where a signal or
// --timeout stopped it and what became of the lab, or a failed teardown.
func outcome(res session.Outcome, kept, asJSON bool, stderr io.Writer) (int, error) {
	var pe *interp.Error
	if errors.As(res.RunErr, &pe) && pe.Backtrace != "" && !asJSON {
		fmt.Fprintln(stderr, pe.Backtrace)
	}
	var stopped error
	switch {
	case res.Interrupted != nil:
		stopped = *res.Interrupted
	case res.TimedOut != nil:
		stopped = *res.TimedOut
	}
	if stopped != nil {
		where := ""
		if pe != nil && pe.Pos != "" {
			where = pe.Pos + ": "
		}
		what := "the lab was torn down"
		switch {
		case kept:
			what = "the lab is kept"
		case res.DownErr != nil:
			what = "the lab could not be torn down fully"
		}
		if errors.Is(res.RunErr, interp.ErrAbandoned) {
			what += " (" + interp.ErrAbandoned.Error() + ")"
		}
		return res.Status(), errors.Join(fmt.Errorf("%s%w; %s", where, stopped, what), res.DownErr)
	}
	if pe != nil {
		return res.Status(), errors.Join(pe, res.DownErr)
	}
	return res.Status(), errors.Join(res.RunErr, res.DownErr)
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
		if e.UndecidedCount != nil {
			return fmt.Sprintf("%d passed, %d failed, %d undecided", *e.Passed, *e.Failed, *e.UndecidedCount)
		}
		return fmt.Sprintf("%d passed, %d failed", *e.Passed, *e.Failed)
	case "check":
		verdict := "PASS"
		switch {
		case e.Undecided:
			verdict = "UNDECIDED"
		case !*e.Pass:
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
	case "result":
		return "    = " + msg // under its step line
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
