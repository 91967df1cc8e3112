package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nsplay/nsplay/internal/model"

	"golang.org/x/sys/unix"
)

// EtcNetnsDir holds per-namespace files that commands run in a namespace see
// over /etc, as with `ip netns exec`.
const EtcNetnsDir = "/etc/netns"

// ExecSpec is one command to run in a lab.
type ExecSpec struct {
	NS      *NS    // the network namespace to run in, when JoinPID is 0
	JoinPID int    // else: join all namespaces of this process, like `nsenter -t PID -a`, but those in New
	EtcName string // bind-mount /etc/netns/<EtcName>/* over /etc/*; "" for none
	// New lists fresh namespaces to run in, like unshare(1): "mnt", "uts",
	// "ipc", "pid", "net", "user". "pid" brings a fresh /proc (and so
	// "mnt"); "user" maps root inside to nobody (65534) outside.
	New      []string
	Hostname string   // the hostname in a fresh UTS namespace (implies "uts")
	Argv     []string // argv[0] is looked up in PATH
	Env      []string // the command's whole environment; nil for nsplay's own
	Stdin    string
	Timeout  time.Duration // Exec only; 0 for none
}

// ExecResult is how a command ended and what it printed.
type ExecResult = model.ExecResult

// ErrTimeout reports that a command ran past its timeout and was killed.
var ErrTimeout = errors.New("timed out")

// NamespaceKinds are the kinds of namespace a command can get fresh ones of.
var NamespaceKinds = map[string]uintptr{
	"mnt":  unix.CLONE_NEWNS,
	"uts":  unix.CLONE_NEWUTS,
	"ipc":  unix.CLONE_NEWIPC,
	"pid":  unix.CLONE_NEWPID,
	"net":  unix.CLONE_NEWNET,
	"user": unix.CLONE_NEWUSER,
}

// nobody is the uid and gid that root in a fresh user namespace is outside.
const nobody = 65534

// Exec runs a command and waits for it, the way `ip netns exec` does: in
// the namespace, in a private mount namespace with /sys remounted for that
// namespace and /etc/netns/<name>/* bind-mounted over /etc/*. The command
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
	stdout, stderr bytes.Buffer
	done           chan struct{} // closed when the command has ended
	err            error         // from Wait, once done is closed
}

// Start starts a command in the background. Its output is kept until Wait.
//
// The command is forked from a thread that is, for that moment, in the
// namespaces it is to run in, with the fresh namespaces it asks for (clone
// flags), and runs nsplay's own binary as a small helper first (see init
// below): the helper makes the mounts and the hostname, then execs the
// command, so the command's pid is the helper's. nsplay's own threads never
// stay in another namespace.
func Start(spec ExecSpec) (*Proc, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("command is empty")
	}
	flags, cfg, err := plan(spec)
	if err != nil {
		return nil, err
	}
	conf, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer errR.Close()
	p := &Proc{done: make(chan struct{})}
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = append([]string{"nsplay-exec"}, spec.Argv...)
	env := spec.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(append([]string{}, env...), helperEnv+"="+string(conf))
	cmd.Stdin = strings.NewReader(spec.Stdin)
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	cmd.ExtraFiles = []*os.File{errW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Setpgid: true}
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
	// The kernel kills the command if the thread that forked it ends:
	// nsplay's threads live as long as nsplay. Not a command that joins
	// another PID namespace: there it sees no parent, and Go's fork would
	// take that for its parent's death and kill it at once.
	if spec.JoinPID == 0 || sameNS(spec.JoinPID, "pid") || slices.Contains(spec.New, "pid") {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if spec.JoinPID != 0 {
		if cfg.JoinMnt {
			mnt, oerr := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", spec.JoinPID))
			if oerr != nil {
				errW.Close()
				return nil, fmt.Errorf("process %d has ended: %w", spec.JoinPID, classify(oerr))
			}
			defer mnt.Close()
			cmd.ExtraFiles = append(cmd.ExtraFiles, mnt)
		}
		err = startJoined(spec.JoinPID, spec.New, cmd)
	} else {
		err = spec.NS.In(cmd.Start)
	}
	errW.Close()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Argv[0], err)
	}
	p.cmd = cmd
	setupErr, _ := io.ReadAll(errR)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if len(setupErr) > 0 {
		<-p.done
		return nil, errors.New(string(setupErr))
	}
	return p, nil
}

// helperConfig tells the helper what to set up before it execs the command.
type helperConfig struct {
	JoinMnt    bool   `json:"join_mnt,omitempty"`    // join the mount namespace on helperMntFd first
	UnshareMnt bool   `json:"unshare_mnt,omitempty"` // then make a fresh one, a copy of it
	Mounts     bool   `json:"mounts,omitempty"`      // in a fresh mount namespace: make it private, remount /sys
	Proc       bool   `json:"proc,omitempty"`        // mount a /proc for a fresh PID namespace
	Etc        string `json:"etc,omitempty"`         // bind /etc/netns/<Etc>/* over /etc/*
	Hostname   string `json:"hostname,omitempty"`
}

// plan works out the clone flags and what the helper must do.
func plan(spec ExecSpec) (uintptr, helperConfig, error) {
	var flags uintptr
	for _, kind := range spec.New {
		f, ok := NamespaceKinds[kind]
		if !ok {
			return 0, helperConfig{}, fmt.Errorf("unknown namespace kind %q: use mnt, uts, ipc, pid, net or user", kind)
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
	}
	if spec.JoinPID == 0 {
		cfg.Etc = spec.EtcName
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

// startJoined starts cmd from a thread that has joined the namespaces of
// process pid, except the kinds in fresh (the command gets new ones of
// those; the kernel could not make a fresh PID namespace after joining one),
// and then returns the thread to nsplay's namespaces. The thread must live
// on: the kernel sends a parent-death signal to the commands a thread
// forked when that thread ends. Only if it cannot be returned is it left
// locked, for the runtime to end with this goroutine.
func startJoined(pid int, fresh []string, cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- joinNamespaces(pid, fresh, cmd.Start)
	}()
	return <-errc
}

// joinOrder is the order in which a thread joins another process's
// namespaces. The mount namespace is not among them: the helper joins it
// (JoinMnt), since after it /proc/self/exe, which the thread is about to
// run, may not be there.
var joinOrder = []string{"cgroup", "ipc", "uts", "net", "pid"}

func joinNamespaces(pid int, fresh []string, start func() error) (err error) {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return fmt.Errorf("process %d has ended", pid)
	}
	if !sameNS(pid, "user") && !slices.Contains(fresh, "user") {
		return fmt.Errorf("process %d is in a user namespace of its own, and nsplay cannot join one (a Go program has too many threads for it): pass new=[\"user\"] to run in a fresh one instead", pid)
	}
	var joined []int // the thread's own namespaces, to return to
	defer func() {
		for i := len(joined) - 1; i >= 0; i-- {
			if rerr := unix.Setns(joined[i], 0); rerr != nil {
				err = errors.Join(err, fmt.Errorf("return from the namespaces of process %d: %w", pid, rerr))
				return // the thread stays locked and is discarded
			}
			unix.Close(joined[i])
		}
		runtime.UnlockOSThread() // back home: the thread may fork again
	}()
	for _, kind := range joinOrder {
		if sameNS(pid, kind) || slices.Contains(fresh, kind) {
			continue
		}
		own, err := unix.Open("/proc/thread-self/ns/"+kind, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open this thread's %s namespace: %w", kind, err)
		}
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, kind), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(own)
			return fmt.Errorf("open the %s namespace of process %d: %w", kind, pid, classify(err))
		}
		err = unix.Setns(fd, 0)
		unix.Close(fd)
		if err != nil {
			unix.Close(own)
			return fmt.Errorf("join the %s namespace of process %d: %w", kind, pid, err)
		}
		joined = append(joined, own)
	}
	return start()
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
// its pid while the group it led has members).
func (p *Proc) Signal(sig unix.Signal) error {
	err := unix.Kill(-p.cmd.Process.Pid, sig)
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
	res := ExecResult{RC: p.cmd.ProcessState.ExitCode(), Stdout: p.stdout.String(), Stderr: p.stderr.String()}
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

// init turns the process into the exec helper when Start started it. It
// runs before main, on the main thread, so what it sets up applies to the
// thread that calls execve. Any binary that imports this package, nsplay
// and its test binaries alike, can therefore serve as the helper.
//
// In any other process, init locks the main goroutine to the main thread.
// A thread that joined another process's namespaces is discarded by ending
// its goroutine while locked (startJoined), but the runtime cannot discard
// the main thread: were such a goroutine to run there, the process's own
// namespaces, as /proc/PID/ns shows them, would change for good.
func init() {
	runtime.LockOSThread()
	conf, ok := os.LookupEnv(helperEnv)
	if !ok {
		return
	}
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
		if err := bindEtc(filepath.Join(EtcNetnsDir, cfg.Etc)); err != nil {
			return err
		}
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("set hostname %q: %w", cfg.Hostname, err)
		}
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("command %q not found: %w", argv[0], err)
	}
	unix.CloseOnExec(helperErrFd)
	err = unix.Exec(path, argv, os.Environ())
	return fmt.Errorf("exec %s: %w", path, err)
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
