package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/sandbox"
	"github.com/nsplay/nsplay/internal/session"
	"github.com/nsplay/nsplay/interp"
	"github.com/spf13/cobra"
)

type runOptions struct {
	vars      defines
	name      string
	keep      bool
	allowHost bool
	report    reportOptions
	sandbox   bool
	timeout   time.Duration
	lib       []string
	// cpuProfile is where the run writes a pprof CPU profile of itself.
	cpuProfile string
}

func (c *cli) runCommand() *cobra.Command {
	var o runOptions
	cmd := c.command("run [flags] PLAYBOOK", "build the lab, run its checks, tear it down", `Builds the lab PLAYBOOK describes in real namespaces, runs its checks against
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
boundary: a command a playbook runs as root can still write other files.`,
		takes(one, "run takes one playbook, e.g. nsplay run playbooks/lxcbr0.star"),
		func(args []string) (int, error) { return runCmd(o, args[0], c.args, c.stdout, c.stderr) })
	fs := cmd.Flags()
	o.vars = defines{}
	definesFlag(fs, o.vars)
	fs.StringVar(&o.name, "name", "", "call the lab `LAB` (default: the playbook's file name without .star)")
	fs.BoolVarP(&o.keep, "keep", "k", false, "leave the lab up after the run (also after an error or a signal); remove it later with 'nsplay down LAB'")
	fs.BoolVar(&o.allowHost, "allow-host", false, "let the playbook change and delete objects it did not create (host links, routes, addresses; never a namespace)")
	reportFlags(fs, &o.report)
	fs.BoolVar(&o.sandbox, "sandbox", false, "run in a private sandbox (network, mount, PID, UTS, IPC and cgroup namespaces) that nothing outlives; works without root")
	timeoutFlag(fs, &o.timeout)
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `FILE` (go tool pprof FILE shows where the time went)")
	libFlag(cmd, &o.lib)
	cmd.ValidArgsFunction = playbookArg
	return cmd
}

// runCmd runs the playbook file; args is the whole command line, which
// --sandbox runs again inside the sandbox.
func runCmd(o runOptions, file string, args []string, stdout, stderr io.Writer) (int, error) {
	if err := checkTimeout(o.timeout); err != nil {
		return exitError, err
	}
	lib, err := libraryPath(o.lib)
	if err != nil {
		return exitError, err
	}
	if err := checkPlaybookFile(file); err != nil {
		return exitError, err
	}
	if o.sandbox && o.keep {
		return exitError, usageError{"--keep and --sandbox do not go together: the sandbox ends with nsplay, and the lab with it; run without --sandbox to keep a lab"}
	}
	if sandbox.Inside() {
		if err := sandbox.Setup(); err != nil {
			return exitError, err
		}
	} else if o.sandbox {
		if dir := sandbox.PrivateDir(o.cpuProfile); o.cpuProfile != "" && dir != "" {
			return exitError, usageError{fmt.Sprintf("--cpuprofile %s: with --sandbox, %s is the sandbox's own, and the profile would go with it; give a path outside %s, like /tmp/nsplay.prof", o.cpuProfile, dir, dir)}
		}
		return sandbox.Run(args)
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
	printed, logged := newBatchedWriter(stdout), newBatchedWriter(stderr)
	defer printed.Flush()
	defer logged.Flush()
	out, err := newReport(o.report, file, printed.unlessTerminal(), logged.unlessTerminal())
	if err != nil {
		return exitError, err
	}
	res, err := session.Run(session.Options{Playbook: file, Name: o.name, Vars: o.vars, Keep: o.keep,
		AllowHost: o.allowHost, HostEnds: sandboxEndsWithProcess, Paths: model.DefaultPaths, Emit: flushing(out.event, printed, logged), Opened: out.opened,
		Timeout: o.timeout, Lib: lib})
	printed.Flush() // before what goes to stderr
	logged.Flush()
	return reported(out, o.report, res, err, o.keep, stderr)
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

// checkPlaybookFile refuses a playbook that is missing or a folder before
// anything runs, so the error is the only thing printed.
func checkPlaybookFile(file string) error {
	st, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("playbook %s: %w", file, err)
	}
	if st.IsDir() {
		return usageError{fmt.Sprintf("playbook %s is a folder; give one .star file, or run every playbook in it with nsplay test %s", file, file)}
	}
	return nil
}
