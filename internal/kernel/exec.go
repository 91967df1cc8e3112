package kernel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// EtcNetnsDir holds per-namespace files that commands run in a namespace see
// over /etc, as with `ip netns exec`.
const EtcNetnsDir = "/etc/netns"

// ExecSpec is one command to run inside a network namespace.
type ExecSpec struct {
	NS      *NS
	EtcName string   // bind-mount /etc/netns/<EtcName>/* over /etc/*; "" for none
	Argv    []string // argv[0] is looked up in PATH
	Env     []string // the command's whole environment; nil for nsplay's own
	Stdin   string
	Timeout time.Duration // 0 for none
}

// ExecResult is how a command ended and what it printed.
type ExecResult struct {
	RC             int // exit status, or 128+signal when a signal ended it
	Stdout, Stderr string
}

// ErrTimeout reports that a command ran past its timeout and was killed.
var ErrTimeout = errors.New("timed out")

// Exec runs a command the way `ip netns exec` does: in the namespace, in a
// private mount namespace with /sys remounted for that namespace and
// /etc/netns/<name>/* bind-mounted over /etc/*. It re-executes nsplay's own
// binary as a small helper (see init below), which sets that up on its only
// thread and then execs the command, so nsplay's own threads never change
// namespace. The command runs in its own process group; the whole group is
// killed on timeout or when ctx is cancelled.
func Exec(ctx context.Context, spec ExecSpec) (ExecResult, error) {
	if len(spec.Argv) == 0 {
		return ExecResult{}, errors.New("command is empty")
	}
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, spec.Timeout)
		defer cancel()
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return ExecResult{}, err
	}
	defer errR.Close()
	nsFd, err := unix.Dup(spec.NS.Fd())
	if err != nil {
		errW.Close()
		return ExecResult{}, fmt.Errorf("duplicate namespace descriptor: %w", err)
	}
	nsFile := os.NewFile(uintptr(nsFd), "netns")

	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = append([]string{"nsplay-exec", spec.EtcName}, spec.Argv...)
	env := spec.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(append([]string{}, env...), helperEnv+"=1")
	cmd.Stdin = strings.NewReader(spec.Stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.ExtraFiles = []*os.File{errW, nsFile}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return unix.Kill(-cmd.Process.Pid, unix.SIGKILL) }
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	errW.Close()
	nsFile.Close()
	if err != nil {
		return ExecResult{}, fmt.Errorf("start %s: %w", spec.Argv[0], err)
	}
	setupErr, _ := io.ReadAll(errR)
	err = cmd.Wait()
	switch {
	case len(setupErr) > 0:
		return ExecResult{}, errors.New(string(setupErr))
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && spec.Timeout > 0:
		return ExecResult{}, fmt.Errorf("%w after %s and was killed", ErrTimeout, spec.Timeout)
	case ctx.Err() != nil:
		return ExecResult{}, fmt.Errorf("killed: %w", ctx.Err())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return ExecResult{}, fmt.Errorf("run %s: %w", spec.Argv[0], err)
	}
	res := ExecResult{RC: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.RC = 128 + int(ws.Signal())
	}
	return res, nil
}

// helperEnv marks a process started by Exec as the helper.
const helperEnv = "NSPLAY_EXEC_HELPER"

// The helper's descriptors: 3 reports setup errors (closed by a successful
// exec), 4 is the network namespace to enter.
const (
	helperErrFd = 3
	helperNsFd  = 4
)

// init turns the process into the exec helper when Exec started it. It
// runs before main, on the main thread, so the namespace switches below
// apply to the thread that calls execve. Any binary that imports this
// package, nsplay and its test binaries alike, can therefore serve as the
// helper.
func init() {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	runtime.LockOSThread()
	os.Unsetenv(helperEnv)
	report := os.NewFile(helperErrFd, "errors")
	if err := execHelper(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprint(report, err)
		os.Exit(127)
	}
}

func execHelper(etcName string, argv []string) error {
	if err := unix.Setns(helperNsFd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace: %w", err)
	}
	unix.Close(helperNsFd)
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "none", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	// /sys shows the links of the namespace that mounted it: mount a fresh
	// one. In a user namespace the old one may be locked; then the new one
	// goes on top of it.
	unix.Unmount("/sys", unix.MNT_DETACH)
	if err := unix.Mount("sysfs", "/sys", "sysfs", 0, ""); err != nil {
		return fmt.Errorf("mount /sys for the namespace: %w", err)
	}
	if etcName != "" {
		if err := bindEtc(filepath.Join(EtcNetnsDir, etcName)); err != nil {
			return err
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
