package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nsplay/nsplay/internal/model"

	"golang.org/x/sys/unix"
)

// ExecSpec is one command to run in a lab.
type ExecSpec struct {
	NS      *NS    // the network namespace to run in, when JoinPID is 0
	JoinPID int    // else: join all namespaces of this process, like `nsenter -t PID -a`, but those in New
	Etc     string // bind-mount the entries of this folder over /etc, as ip netns exec NAME does /etc/netns/NAME; "" for none
	// New lists fresh namespaces to run in, like unshare(1): the kinds
	// that are model.NamespaceKind.Fresh. "pid" brings a fresh /proc (and
	// so "mnt"); "user" maps root inside to nobody (65534) outside.
	New      []string
	Hostname string   // the hostname in a fresh UTS namespace (implies "uts")
	Argv     []string // argv[0] is looked up in PATH
	Env      []string // the command's whole environment; nil for nsplay's own
	Stdin    string
	Timeout  time.Duration // Exec only; 0 for none
	// Detach lets the command outlive nsplay (see Start).
	Detach bool
	// Stdio, when set, connects the command to these streams in place of
	// Stdin and the output Wait returns (nsplay exec and shell), and
	// leaves it in nsplay's process group, where a shell can take the
	// terminal over.
	Stdio *Stdio
}

// Stdio are the streams of a command that the user talks to.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// ExecResult is how a command ended and what it printed.
type ExecResult = model.ExecResult

// ErrTimeout reports that a command ran past its timeout and was killed.
var ErrTimeout = errors.New("timed out")

// nobody is the uid and gid that root in a fresh user namespace is outside.
const nobody = 65534

// Exec runs a command and waits for it, the way `ip netns exec` does: in
// the namespace, in a private mount namespace with /sys remounted for that
// namespace and the entries of spec.Etc bind-mounted over /etc. The command
// runs in its own process group; the whole group is killed on timeout or
// when ctx is cancelled.
func Exec(ctx context.Context, spec ExecSpec) (ExecResult, error) {
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, spec.Timeout)
		defer cancel()
	}
	p, err := Start(spec)
	if err != nil {
		return ExecResult{}, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.Signal(unix.SIGKILL)
		<-p.done
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && spec.Timeout > 0 {
			return ExecResult{}, fmt.Errorf("%w after %s and was killed", ErrTimeout, spec.Timeout)
		}
		return ExecResult{}, fmt.Errorf("killed: %w", ctx.Err())
	}
	return p.result()
}

// Proc is a command started by Start.
type Proc struct {
	cmd            *exec.Cmd
	stdout, stderr output
	// outputs are the files in memory that a detached command writes its
	// stdout and stderr to; read into stdout and stderr once it ends.
	outputs []*os.File
	done    chan struct{} // closed when the command has ended
	err     error         // from Wait, once done is closed
}

// Start starts a command in the background. Its output is kept until Wait,
// the first model.OutputLimit bytes of each stream.
//
// The command is forked from a thread that is, for that moment, in the
// namespaces it is to run in. Most commands (a lab namespace, perhaps a
// fresh mount, UTS or IPC namespace) get their mounts and hostname made on
// that thread itself, which goes back to nsplay's namespaces once the
// command is forked and ends with the command (inPlace): the fork execs
// the command at once. The others (joining a process, a fresh
// PID or user namespace, which a thread of a Go program cannot enter
// alone) get the fresh namespaces as clone flags and run nsplay's own
// binary as a small helper first (see MaybeExecHelper), which makes the
// mounts and then execs the command, so the command's pid is the
// helper's; that costs a start of nsplay, tens of milliseconds. nsplay's
// own threads never stay in another namespace.
func Start(spec ExecSpec) (*Proc, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("command is empty")
	}
	if !helperReady.Load() {
		return nil, errors.New("this program cannot start commands: it must call kernel.MaybeExecHelper first thing in main (in a test binary: in TestMain)")
	}
	flags, cfg, err := plan(spec)
	if err != nil {
		return nil, err
	}
	var sw nsSwitch
	if spec.JoinPID != 0 {
		sw, err = joinSwitch(spec.JoinPID, spec.New)
	} else if err = spec.NS.Err(); err == nil {
		sw = spec.NS.enter()
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Argv[0], err)
	}
	env := spec.Env
	if env == nil {
		env = os.Environ()
	}
	p := &Proc{done: make(chan struct{})}
	var cmd *exec.Cmd
	start := func() error { return cmd.Start() }
	// errR reports the helper's setup errors; nil in place.
	var errR, errW *os.File
	cloneFlags := flags
	if inPlace(spec, flags) {
		path, err := lookPath(spec.Argv[0], env)
		if err != nil {
			return nil, fmt.Errorf("command %q not found: %w", spec.Argv[0], err)
		}
		cmd = &exec.Cmd{Path: path, Args: spec.Argv, Env: slices.Clone(env)}
		start = func() error {
			if err := unix.Unshare(int(flags)); err != nil {
				return fmt.Errorf("unshare namespaces for the command: %w", err)
			}
			if err := cfg.mount(); err != nil {
				return err
			}
			return cmd.Start()
		}
		// The switch takes the thread back from those namespaces too,
		// but its filesystem attributes stay its own (unshare made
		// them so): it ends with the command.
		sw.kinds = append(slices.Clone(sw.kinds), kindsOf(flags)...)
		sw.discard = true
		cloneFlags = 0
	} else {
		conf, err := json.Marshal(cfg)
		if err != nil {
			return nil, err
		}
		if errR, errW, err = os.Pipe(); err != nil {
			return nil, err
		}
		defer errR.Close()
		cmd = exec.Command("/proc/self/exe")
		cmd.Args = append([]string{"nsplay-exec"}, spec.Argv...)
		cmd.Env = append(slices.Clone(env), helperEnv+"="+string(conf))
		cmd.ExtraFiles = []*os.File{errW}
	}
	cmd.Stdin = strings.NewReader(spec.Stdin)
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: cloneFlags, Setpgid: true}
	if spec.Stdio != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdio.In, spec.Stdio.Out, spec.Stdio.Err
		cmd.SysProcAttr.Setpgid = false
	}
	if spec.Detach {
		if err := p.detach(cmd); err != nil {
			errW.Close()
			return nil, fmt.Errorf("start %s: %w", spec.Argv[0], err)
		}
	}
	// Output is collected until the command ends; a background process it
	// left holding the pipes gets a second more, not forever.
	cmd.WaitDelay = time.Second
	if flags&unix.CLONE_NEWUSER != 0 {
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: nobody, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: nobody, Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
		// Become that root: without it the child stays the outside root,
		// which the new namespace does not map, and has no capability in it.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	if cfg.Pdeathsig {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if cfg.JoinMnt {
		mnt, oerr := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", spec.JoinPID))
		if oerr != nil {
			errW.Close()
			p.closeOutputs()
			return nil, fmt.Errorf("process %d has ended: %w", spec.JoinPID, classify(oerr))
		}
		defer mnt.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, mnt)
	}
	err = sw.runThen(start, func() {
		p.err = cmd.Wait()
		p.readOutput()
		close(p.done)
	})
	errW.Close()
	if err != nil {
		if cmd.Process != nil {
			// Started, but the thread could not come back, and nothing
			// waits for the command: stop it here.
			unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
			cmd.Wait()
		}
		p.closeOutputs()
		return nil, fmt.Errorf("start %s: %w", spec.Argv[0], namespaceLimit(kindsOf(flags), explainLimit(err)))
	}
	p.cmd = cmd
	if errR == nil {
		return p, nil
	}
	setupErr, _ := io.ReadAll(errR)
	if len(setupErr) > 0 {
		<-p.done
		return nil, errors.New(string(setupErr))
	}
	return p, nil
}

// detach makes cmd a command that can outlive nsplay (spawn in a run that
// keeps its lab): a session of its own, so that no terminal's hangup
// reaches it, and stdout and stderr in files in memory (memfd) rather than
// pipes, which would break, and end it with SIGPIPE, when nsplay exits.
// plan leaves out its parent-death signal. Its output stays readable at
// /proc/PID/fd/1 and /proc/PID/fd/2 while it runs.
func (p *Proc) detach(cmd *exec.Cmd) error {
	for _, name := range []string{"stdout", "stderr"} {
		fd, err := unix.MemfdCreate("nsplay-"+name, unix.MFD_CLOEXEC)
		if err != nil {
			p.closeOutputs()
			return fmt.Errorf("make a file in memory for its %s: %w", name, err)
		}
		p.outputs = append(p.outputs, os.NewFile(uintptr(fd), "nsplay-"+name))
	}
	cmd.Stdout, cmd.Stderr = p.outputs[0], p.outputs[1]
	cmd.SysProcAttr.Setpgid, cmd.SysProcAttr.Setsid = false, true
	return nil
}

// readOutput takes what a detached command wrote, once it has ended.
func (p *Proc) readOutput() {
	for i, f := range p.outputs {
		_, err := io.Copy([]io.Writer{&p.stdout, &p.stderr}[i], io.NewSectionReader(f, 0, math.MaxInt64))
		if err != nil {
			p.err = errors.Join(p.err, fmt.Errorf("read its %s: %w", f.Name(), err))
		}
	}
	p.closeOutputs()
}

func (p *Proc) closeOutputs() {
	for _, f := range p.outputs {
		f.Close()
	}
	p.outputs = nil
}

// kindsOf names the kinds of namespace that clone flags make, sorted.
func kindsOf(flags uintptr) []string {
	var kinds []string
	for _, k := range model.NamespaceKinds() {
		if f, err := cloneFlag(k.Name); err == nil && flags&f != 0 {
			kinds = append(kinds, k.Name)
		}
	}
	slices.Sort(kinds)
	return kinds
}

// helperConfig tells the helper what to set up before it execs the command.
type helperConfig struct {
	JoinMnt    bool   `json:"join_mnt,omitempty"`    // join the mount namespace on helperMntFd first
	UnshareMnt bool   `json:"unshare_mnt,omitempty"` // then make a fresh one, a copy of it
	Mounts     bool   `json:"mounts,omitempty"`      // in a fresh mount namespace: make it private, remount /sys
	Proc       bool   `json:"proc,omitempty"`        // mount a /proc for a fresh PID namespace
	Etc        string `json:"etc,omitempty"`         // bind the entries of this folder over /etc
	Hostname   string `json:"hostname,omitempty"`
	// Pdeathsig: the kernel kills the command if the thread that forked
	// it ends. That thread waits for the command, locked to the goroutine
	// that forked (nsSwitch.runThen), so it ends after the command.
	Pdeathsig bool `json:"pdeathsig,omitempty"`
}

// plan works out the clone flags and what the helper must do.
func plan(spec ExecSpec) (uintptr, helperConfig, error) {
	var flags uintptr
	for _, kind := range spec.New {
		f, err := cloneFlag(kind)
		if err != nil {
			return 0, helperConfig{}, err
		}
		flags |= f
	}
	if spec.Hostname != "" {
		flags |= unix.CLONE_NEWUTS
	}
	if spec.JoinPID == 0 || flags&(unix.CLONE_NEWPID|unix.CLONE_NEWUSER) != 0 {
		// Like ip netns exec; a fresh PID namespace needs its own /proc;
		// a fresh user namespace cannot join a mount namespace it does
		// not own.
		flags |= unix.CLONE_NEWNS
	}
	cfg := helperConfig{
		Mounts:   flags&unix.CLONE_NEWNS != 0,
		Proc:     flags&unix.CLONE_NEWPID != 0,
		Hostname: spec.Hostname,
		// Not for a command that joins another PID namespace: there it
		// sees no parent, and Go's fork would take that for its parent's
		// death and kill it at once.
		// Nor for one that is to outlive nsplay.
		Pdeathsig: !spec.Detach && (spec.JoinPID == 0 || sameNS(spec.JoinPID, "pid") || flags&unix.CLONE_NEWPID != 0),
	}
	if spec.JoinPID == 0 {
		cfg.Etc = spec.Etc
		return flags, cfg, nil
	}
	// Joining a process: the helper joins its mount namespace, and makes
	// the fresh one, if any, as a copy of that.
	if !sameNS(spec.JoinPID, "mnt") && flags&unix.CLONE_NEWUSER == 0 {
		cfg.JoinMnt = true
		cfg.UnshareMnt = flags&unix.CLONE_NEWNS != 0
		flags &^= unix.CLONE_NEWNS
	}
	return flags, cfg, nil
}

// cloneFlag is the clone(2) flag that gives a command a fresh namespace of
// a kind. The model lists the kinds (model.NamespaceKinds) and which a
// command may have fresh; this is the one place that maps them to the
// kernel's flags.
func cloneFlag(kind string) (uintptr, error) {
	if err := model.CheckFresh(kind); err != nil {
		return 0, err
	}
	switch kind {
	case "mnt":
		return unix.CLONE_NEWNS, nil
	case "uts":
		return unix.CLONE_NEWUTS, nil
	case "ipc":
		return unix.CLONE_NEWIPC, nil
	case "pid":
		return unix.CLONE_NEWPID, nil
	case "net":
		return unix.CLONE_NEWNET, nil
	case "user":
		return unix.CLONE_NEWUSER, nil
	}
	return 0, fmt.Errorf("the kernel backend cannot make a fresh %s namespace: %w", kind, model.ErrUnsupported)
}

// joinOrder is the order in which a thread joins another process's
// namespaces. The mount namespace is not among them: the helper joins it
// (JoinMnt), since after it /proc/self/exe, which the thread is about to
// run, may not be there.
var joinOrder = []string{"cgroup", "ipc", "uts", "net", "pid"}

// joinSwitch is the switch into the namespaces of process pid, except the
// kinds in fresh (the command gets new ones of those; the kernel could not
// make a fresh PID namespace after joining one).
func joinSwitch(pid int, fresh []string) (nsSwitch, error) {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return nsSwitch{}, fmt.Errorf("process %d has ended", pid)
	}
	if !sameNS(pid, "user") && !slices.Contains(fresh, "user") {
		return nsSwitch{}, fmt.Errorf("process %d is in a user namespace of its own, and nsplay cannot join one (a Go program has too many threads for it): pass new=[\"user\"] to run in a fresh one instead", pid)
	}
	var kinds []string
	for _, kind := range joinOrder {
		if !sameNS(pid, kind) && !slices.Contains(fresh, kind) {
			kinds = append(kinds, kind)
		}
	}
	return nsSwitch{kinds: kinds, enter: func() error {
		for _, kind := range kinds {
			fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, kind), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open the %s namespace of process %d: %w", kind, pid, classify(err))
			}
			err = unix.Setns(fd, 0)
			unix.Close(fd)
			if err != nil {
				return fmt.Errorf("join the %s namespace of process %d: %w", kind, pid, err)
			}
		}
		return nil
	}}, nil
}

// sameNS tells whether process pid and the calling thread share the
// namespace of that kind.
func sameNS(pid int, kind string) bool {
	var a, b unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, kind), &a) != nil || unix.Stat("/proc/thread-self/ns/"+kind, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// PID is the command's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Known is true: the kernel knows whether a command it runs still runs.
func (p *Proc) Known() bool { return true }

// Alive tells whether the command is still running.
func (p *Proc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the command's process group: the command and what it
// started, also after the command itself has ended (Linux gives no process
// its pid while the group it led has members). A command in nsplay's group
// (Stdio) gets it alone.
func (p *Proc) Signal(sig unix.Signal) error {
	target := -p.cmd.Process.Pid
	if !p.cmd.SysProcAttr.Setpgid && !p.cmd.SysProcAttr.Setsid {
		target = p.cmd.Process.Pid
	}
	err := unix.Kill(target, sig)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

// running tells whether the command or anything in its process group runs.
func (p *Proc) running() bool {
	return p.Alive() || groupAlive(p.cmd.Process.Pid)
}

// groupAlive tells whether process group pgid has members that are not
// zombies.
func groupAlive(pgid int) bool {
	if unix.Kill(-pgid, 0) != nil {
		return false
	}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.state != "Z" && st.pgrp == pgid {
			return true
		}
	}
	return false
}

// procStat is what nsplay reads of /proc/PID/stat.
type procStat struct {
	state string // "R", "S", ..., "Z" for a zombie
	pgrp  int
	start uint64 // clock ticks since boot
}

// readStat reads /proc/PID/stat: "pid (comm) state ppid pgrp ... starttime
// ...", where comm may hold spaces and parentheses.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, classify(err)
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("/proc/%d/stat is short", pid)
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return procStat{state: f[0], pgrp: pgrp, start: start}, nil
}

// Wait waits up to timeout (0: no limit) for the command to end and
// returns how it ended. A command still running then is ErrTimeout, and
// goes on running; so it does when ctx is cancelled.
func (p *Proc) Wait(ctx context.Context, timeout time.Duration) (ExecResult, error) {
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-p.done:
		return p.result()
	case <-expired:
		return ExecResult{}, fmt.Errorf("still running: %w after %s", ErrTimeout, timeout)
	case <-ctx.Done():
		return ExecResult{}, ctx.Err()
	}
}

// Stop ends the command and what it started: SIGTERM to its process group,
// then SIGKILL after grace. It reports whether anything was still running.
func (p *Proc) Stop(grace time.Duration) bool {
	if !p.running() {
		return false
	}
	p.Signal(unix.SIGTERM)
	if !waitFor(func() bool { return !p.running() }, grace) {
		p.Signal(unix.SIGKILL)
		waitFor(func() bool { return !p.running() }, time.Second)
	}
	<-p.done
	return true
}

// waitFor polls until gone returns true or limit passes, and says which.
func waitFor(gone func() bool, limit time.Duration) bool {
	for deadline := time.Now().Add(limit); ; time.Sleep(10 * time.Millisecond) {
		if gone() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

func (p *Proc) result() (ExecResult, error) {
	var exitErr *exec.ExitError
	// ErrWaitDelay: the command ended, but something it left running held
	// its output open; what it printed until then is the result.
	if p.err != nil && !errors.As(p.err, &exitErr) && !errors.Is(p.err, exec.ErrWaitDelay) {
		return ExecResult{}, fmt.Errorf("run %s: %w", p.cmd.Args[1], p.err)
	}
	res := ExecResult{RC: p.cmd.ProcessState.ExitCode(), Stdout: p.stdout.buf.String(), Stderr: p.stderr.buf.String(),
		StdoutCut: p.stdout.cut, StderrCut: p.stderr.cut}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.RC = 128 + int(ws.Signal())
	}
	return res, nil
}

// helperEnv carries the helper's configuration to a process started by
// Start.
const helperEnv = "NSPLAY_EXEC_HELPER"

// helperErrFd reports setup errors; a successful exec closes it.
// helperMntFd is the mount namespace to join, with JoinMnt.
const (
	helperErrFd = 3
	helperMntFd = 4
)

// helperReady is set once the program has called MaybeExecHelper: only
// then can the commands Start starts run the helper.
var helperReady atomic.Bool

// MaybeExecHelper turns the process into the exec helper when Start
// started it, and then never returns; in any other process it returns at
// once. Start runs the program's own binary as the helper, so every
// program that starts commands, nsplay and its test binaries alike, calls
// it first thing in main (in TestMain), before anything else of the
// program runs in a process that is only to become the command.
//
// It is a call, not an init function of this package: a library's init
// would act in every program that imports the package, whether it starts
// commands or not.
func MaybeExecHelper() {
	helperReady.Store(true)
	conf, ok := os.LookupEnv(helperEnv)
	if !ok {
		return
	}
	// What the helper sets up (mount namespace, mounts, parent-death
	// signal) belongs to the thread that makes it, and must be that of the
	// thread that calls execve: the command keeps that thread's.
	runtime.LockOSThread()
	// Start passes a pipe on fd 3. Without one, the variable was passed on
	// by mistake: do not make mounts in a namespace that may be the
	// machine's.
	var st unix.Stat_t
	if unix.Fstat(helperErrFd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		fmt.Fprintf(os.Stderr, "nsplay: %s is set, but nsplay did not start this process; unset it\n", helperEnv)
		os.Exit(2)
	}
	os.Unsetenv(helperEnv)
	report := os.NewFile(helperErrFd, "errors")
	var cfg helperConfig
	err := json.Unmarshal([]byte(conf), &cfg)
	if err == nil {
		err = execHelper(cfg, os.Args[1:])
	}
	fmt.Fprint(report, err)
	os.Exit(127)
}

func execHelper(cfg helperConfig, argv []string) error {
	if cfg.Pdeathsig {
		// Start's fork set the signal on the process's first thread, and
		// it holds until the exec; but the exec keeps only the setting of
		// the thread that calls execve, which need not be the first.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
			return fmt.Errorf("set the parent-death signal: %w", err)
		}
	}
	if cfg.JoinMnt {
		// A thread that shares its filesystem attributes with others (all
		// of a Go program's do) may not change its mount namespace.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fmt.Errorf("unshare filesystem attributes: %w", err)
		}
		if err := unix.Setns(helperMntFd, unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("join the mount namespace: %w", err)
		}
		unix.Close(helperMntFd)
	}
	if cfg.UnshareMnt {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("unshare the mount namespace: %w", err)
		}
	}
	if err := cfg.mount(); err != nil {
		return err
	}
	path, err := lookPath(argv[0], os.Environ())
	if err != nil {
		return fmt.Errorf("command %q not found: %w", argv[0], err)
	}
	unix.CloseOnExec(helperErrFd)
	err = unix.Exec(path, argv, os.Environ())
	return fmt.Errorf("exec %s: %w", path, err)
}

// mount makes the mounts and the hostname a command gets, in the fresh
// mount (and UTS) namespace of the calling thread.
func (cfg helperConfig) mount() error {
	if cfg.Mounts {
		if err := unix.Mount("", "/", "none", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("make / a slave mount: %w", err)
		}
		// /sys shows the links of the namespace that mounted it: mount a
		// fresh one. In a user namespace the old one may be locked; then
		// the new one goes on top of it. A fresh user namespace may not
		// mount /sys for a network namespace it does not own: then /sys
		// stays as it was.
		unix.Unmount("/sys", unix.MNT_DETACH)
		if err := unix.Mount("sysfs", "/sys", "sysfs", 0, ""); err != nil && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("mount /sys for the namespace: %w", err)
		}
	}
	if cfg.Proc {
		if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount /proc for the PID namespace: %w", err)
		}
	}
	if cfg.Etc != "" {
		if err := bindEtc(cfg.Etc); err != nil {
			return err
		}
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("set hostname %q: %w", cfg.Hostname, err)
		}
	}
	return nil
}

// inPlace tells whether a command can get its namespaces and mounts on the
// thread that forks it: one in a lab namespace (not joining a process),
// with fresh namespaces of the kinds a single thread may make alone.
func inPlace(spec ExecSpec, flags uintptr) bool {
	return spec.JoinPID == 0 && flags&^(unix.CLONE_NEWNS|unix.CLONE_NEWUTS|unix.CLONE_NEWIPC) == 0
}

// lookPath finds a command as execvp(3) would with the command's own
// environment: the PATH in env, not nsplay's.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return exec.LookPath(name)
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		if found, err := exec.LookPath(dir + "/" + name); err == nil {
			return found, nil
		}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}

// bindEtc bind-mounts each entry of dir over the same name in /etc.
func bindEtc(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		src, dst := filepath.Join(dir, e.Name()), filepath.Join("/etc", e.Name())
		if err := unix.Mount(src, dst, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s over %s: %w (the file must exist in /etc to be replaced)", src, dst, err)
		}
	}
	return nil
}

// StartTime is when process pid started, in clock ticks since boot: with
// the pid, it names one process, even after the pid is reused.
func StartTime(pid int) (uint64, error) {
	st, err := readStat(pid)
	return st.start, err
}

// StopPID ends the process pid and its process group, if it is still the
// process that started at start: SIGTERM, then SIGKILL after grace. It
// reports whether there was something to stop. nsplay uses it for processes
// a run that was killed left behind. When the process itself has ended,
// what is left of its group is still its: no process gets a pid that leads
// a group with members, and a process with that pid and another start time
// is not touched.
func StopPID(pid int, start uint64, grace time.Duration) (bool, error) {
	if now, err := StartTime(pid); err == nil && now != start {
		return false, nil // the pid is someone else's now
	}
	gone := func() bool {
		if st, err := readStat(pid); err == nil && st.start == start && st.state != "Z" {
			return false
		}
		return !groupAlive(pid)
	}
	if gone() {
		return false, nil
	}
	unix.Kill(-pid, unix.SIGTERM)
	unix.Kill(pid, unix.SIGTERM)
	if waitFor(gone, grace) {
		return true, nil
	}
	unix.Kill(-pid, unix.SIGKILL)
	unix.Kill(pid, unix.SIGKILL)
	if waitFor(gone, time.Second) {
		return true, nil
	}
	return true, fmt.Errorf("process %d survived SIGKILL", pid)
}
