package model

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// ExecSpec is one command to run in a lab, in the foreground (exec_in) or
// in the background (spawn).
type ExecSpec struct {
	NS      NSRef // the network namespace to run in, when JoinPID is 0
	JoinPID int   // else: join all namespaces of this process, like `nsenter -t PID -a`, but those in New
	// New lists fresh namespaces to run in, like unshare(1): the names of
	// the kinds that are Fresh (NamespaceKinds).
	New      []string
	Hostname string   // the hostname in a fresh UTS namespace (implies "uts")
	Argv     []string // argv[0] is looked up in PATH
	Shown    string   // the command as the user wrote it, for messages
	Env      []string // the command's whole environment; nil for nsplay's own
	Stdin    string
	Timeout  time.Duration // exec only; 0 for none
	// Detach lets a background command outlive nsplay: spawn in a run
	// that keeps its lab (--keep), whose services stay until `nsplay down`.
	Detach bool
}

// maxHostname is the longest hostname Linux keeps (__NEW_UTS_LEN).
const maxHostname = 64

// Check tells what is wrong with the spec before a backend sees it.
func (s ExecSpec) Check() error {
	if len(s.Argv) == 0 {
		return errors.New("the command is empty")
	}
	for _, arg := range s.Argv {
		if strings.ContainsRune(arg, 0) {
			return fmt.Errorf("the command holds a NUL byte (in %q), which no command line can", arg)
		}
	}
	if len(s.Hostname) > maxHostname || strings.ContainsRune(s.Hostname, 0) {
		return fmt.Errorf("hostname %q is %d bytes or holds a NUL byte; Linux takes at most %d bytes, without NUL", s.Hostname, len(s.Hostname), maxHostname)
	}
	for _, kind := range s.New {
		if err := CheckFresh(kind); err != nil {
			return err
		}
	}
	return nil
}

// Where says where the command runs, in words of ip, nsenter and unshare.
func (s ExecSpec) Where() string {
	where := "in host:"
	switch {
	case s.JoinPID != 0:
		where = fmt.Sprintf("nsenter -t %d -a", s.JoinPID)
	case !s.NS.IsHost():
		where = "ip netns exec " + s.NS.String()
	}
	if len(s.New) > 0 || s.Hostname != "" {
		where += " unshare"
		for _, kind := range s.New {
			if k, _ := NamespaceKindOf(kind); k.Fresh() {
				where += " " + k.Unshare
			}
		}
		if s.Hostname != "" {
			where += " (hostname " + s.Hostname + ")"
		}
	}
	return where
}

// Text is the command as the step line shows it.
func (s ExecSpec) Text() string { return s.Where() + " " + s.Shown }

// ExecResult is how a command ended and what it printed. Unknown is set by
// a backend that cannot run commands (a plan): then the rest is empty.
type ExecResult struct {
	RC             int // exit status, or 128+signal when a signal ended it
	Stdout, Stderr string
	// StdoutCut and StderrCut count the bytes left out after the first
	// OutputLimit of each stream.
	StdoutCut, StderrCut int64
	Unknown              bool
}

// OutputLimit is how much of each of a command's stdout and stderr is
// kept: the first MiB.
const OutputLimit = 1 << 20

// Proc is a command running in the background.
type Proc interface {
	// PID is its process id; a plan's stand-in process has a stand-in
	// pid (see memory_proc.go).
	PID() int
	// Known is false for a plan's stand-in: whether it still runs, and
	// how it ended, only the kernel knows.
	Known() bool
	Alive() bool
	Signal(sig syscall.Signal) error
	// Wait waits for the command to end, up to timeout, and returns how.
	Wait(ctx context.Context, timeout time.Duration) (ExecResult, error)
	// Stop ends it: SIGTERM to its group, SIGKILL after grace. It tells
	// whether there was anything to stop.
	Stop(grace time.Duration) bool
}

// ProcStart records a process the lab started. It is journalled once the
// process runs (its pid is not known before), so that teardown, and `down`
// after a crash, stop it by pid and start time.
type ProcStart struct {
	PID     int    `json:"pid"`
	Start   uint64 `json:"start"` // start time in clock ticks since boot, against pid reuse
	Command string `json:"command"`
}

func (o ProcStart) Text() string { return fmt.Sprintf("start %d (%s)", o.PID, o.Command) }
func (o ProcStart) Inverse() Op  { return ProcStop(o) }

// ProcStop ends a process the lab started, if it is still the one that
// started then.
type ProcStop struct {
	PID     int    `json:"pid"`
	Start   uint64 `json:"start"`
	Command string `json:"command"`
}

func (o ProcStop) Text() string { return fmt.Sprintf("kill %d (%s)", o.PID, o.Command) }
func (o ProcStop) Inverse() Op  { return nil }

var _ = register("proc.start", ProcStart{}) && register("proc.stop", ProcStop{})

// ShellJoin shows argv as a shell would need it typed.
func ShellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
