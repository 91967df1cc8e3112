// Package sandbox runs the current program again inside fresh namespaces of
// its own: a network namespace (the sandbox's "host"), a mount namespace
// where /run is an empty tmpfs and /etc an overlay whose changes stay in
// memory, a PID namespace whose first process is the program itself, and
// UTS, IPC and cgroup namespaces. It keeps a lab off the machine's network
// and out of its /run and /etc; it is no security boundary: a command a
// playbook runs as root can still write the machine's other files.
// Named namespaces (/run/netns), /etc/netns files and lab journals
// (/run/nsplay) made inside are invisible to the machine, the machine's are
// invisible inside (a machine's /etc/netns is replaced by an empty one of
// the sandbox's), and when the program ends, however it ends, the kernel ends every process in the
// sandbox and frees everything it held.
//
// An unprivileged user gets a user namespace as well, mapping the user to
// root inside: no capability and no setuid helper is needed, only a kernel
// that allows unprivileged user namespaces.
//
// nsplay's `run --sandbox` and its test binaries use it.
package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// markerEnv is set in the environment of the re-executed process.
const markerEnv = "NSPLAY_SANDBOXED"

// inside is read once; Setup removes the marker, so that programs the
// sandboxed process starts (an nsplay run by exec_in, say) do not take
// themselves for it.
var inside = os.Getenv(markerEnv) == "1"

// Inside tells whether this process is the one Run started in a sandbox.
func Inside() bool { return inside }

// Run runs this program again, with args, inside a new sandbox, with the
// same standard streams, waits for it and returns its exit status.
func Run(args []string) (int, error) {
	cmd, err := Command(args...)
	if err != nil {
		return 0, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return Wait(cmd)
}

// Command prepares this program to run again, with args, inside a new
// sandbox; start it with Wait. The sandboxed process must call Setup first.
func Command(args ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), markerEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
			syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWCGROUP,
		// The kernel sends this when the thread that started the child
		// ends, so that thread stays locked until the child has ended.
		Pdeathsig: syscall.SIGKILL,
	}
	if os.Geteuid() != 0 {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	return cmd, nil
}

// Wait starts a command made by Command and waits for it, passing SIGINT,
// SIGTERM and SIGHUP on to it, and returns its exit status (128+N after signal N). If
// this process dies, the kernel kills the sandbox.
func Wait(cmd *exec.Cmd) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)
	if err := cmd.Start(); err != nil {
		if cmd.SysProcAttr.Cloneflags&syscall.CLONE_NEWUSER != 0 {
			return 0, userNamespaceError(err)
		}
		return 0, fmt.Errorf("start the sandbox: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-signals:
			cmd.Process.Signal(s)
		case err := <-done:
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return 128 + int(ws.Signal()), nil
				}
				return exit.ExitCode(), nil
			}
			return 0, err
		}
	}
}

// userNamespaceError explains why the kernel refused an unprivileged user
// namespace, naming the setting that forbids it where one does.
func userNamespaceError(err error) error {
	settings := []struct{ file, want, fix string }{
		{"/proc/sys/kernel/unprivileged_userns_clone", "1", "sysctl -w kernel.unprivileged_userns_clone=1"},
		{"/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "0", "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile that allows userns for nsplay)"},
		{"/proc/sys/user/max_user_namespaces", "", "sysctl -w user.max_user_namespaces=15000"},
	}
	for _, s := range settings {
		data, rerr := os.ReadFile(s.file)
		if rerr != nil {
			continue
		}
		v := strings.TrimSpace(string(data))
		if (s.want != "" && v != s.want) || (s.want == "" && v == "0") {
			return fmt.Errorf("the sandbox needs an unprivileged user namespace, and the kernel refused one (%w): %s is %s; allow it with `%s`, or run nsplay as root", err, strings.TrimPrefix(s.file, "/proc/sys/"), v, s.fix)
		}
	}
	return fmt.Errorf("the sandbox needs an unprivileged user namespace, and the kernel refused one (%w): check kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns and user.max_user_namespaces, or run nsplay as root", err)
}

// Setup makes the sandbox's private mounts and removes the marker from the
// environment; the sandboxed process calls it first. Later calls do
// nothing and return the first call's error.
func Setup() error {
	setupOnce.Do(func() {
		os.Unsetenv(markerEnv)
		setupErr = setup()
	})
	return setupErr
}

var (
	setupOnce sync.Once
	setupErr  error
)

// The overlay on /etc keeps its changes in these folders of the private
// /run; etcNetns is the sandbox's own /etc/netns.
const (
	etcUpper = "/run/.sandbox/etc"
	etcWork  = "/run/.sandbox/work"
	etcNetns = "/run/.sandbox/netns"
)

// setup mounts over what the sandbox inherited rather than unmounting it:
// in a user namespace, inherited mounts are locked.
func setup() error {
	// Run starts the sandboxed process as the first of a fresh PID
	// namespace. Anything else carrying the marker (an environment passed
	// on by mistake) must not remount the machine's /run and /etc.
	if os.Getpid() != 1 {
		return errors.New("sandbox: this process was not started by nsplay's sandbox (it is not PID 1 of a namespace of its own); unset " + markerEnv)
	}
	steps := []struct {
		what                      string
		src, dst, fstype, options string
		flags                     uintptr
	}{
		{"keep mounts from propagating to the machine", "", "/", "", "", unix.MS_SLAVE | unix.MS_REC},
		{"mount a private /run", "sandbox", "/run", "tmpfs", "mode=755", 0},
		{"mount /sys for the sandbox's network namespace", "sysfs", "/sys", "sysfs", "", 0},
		{"mount /proc for the sandbox's processes", "proc", "/proc", "proc", "", 0},
	}
	for _, s := range steps {
		if s.fstype == "proc" && os.Getpid() != 1 {
			continue // not in a PID namespace of its own
		}
		if err := unix.Mount(s.src, s.dst, s.fstype, s.flags, s.options); err != nil {
			return fmt.Errorf("sandbox: %s: %w", s.what, err)
		}
	}
	for _, d := range []string{etcUpper, etcWork} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	if err := privateEtcNetns(); err != nil {
		return err
	}
	opts := "lowerdir=/etc,upperdir=" + etcUpper + ",workdir=" + etcWork
	if err := unix.Mount("overlay", "/etc", "overlay", 0, opts); err != nil {
		return fmt.Errorf("sandbox: mount an overlay on /etc: %w", err)
	}
	// A machine's loopback is up; so is the sandbox's.
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("sandbox: set lo up: %w", err)
	}
	return nil
}

// privateDirs are the folders the sandbox has its own of (setup): what is
// written there inside stays inside, and goes when the sandbox ends.
var privateDirs = []string{"/run", "/etc", "/sys", "/proc"}

// PrivateDir is the folder of the sandbox's own that path, seen from
// outside it, would be in inside (after symbolic links, as /var/run is
// /run), or "" when it is in none.
func PrivateDir(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs))
	}
	for _, d := range privateDirs {
		if abs == d || strings.HasPrefix(abs, d+"/") {
			return d
		}
	}
	return ""
}

// privateEtcNetns gives the sandbox an empty /etc/netns of its own where
// the machine has one. The machine's folders there belong to the machine's
// namespaces, not to the sandbox's (its ns1 would clash with a lab's ns1);
// and in a user namespace the machine's /etc/netns cannot even be written
// through the overlay, since the root that owns it is not mapped there. A
// link in the overlay's upper layer hides it and points to a folder in the
// private /run. (A tmpfs mounted on /etc/netns would do too, but a mount
// under /etc keeps a sandbox started inside this one without root from
// mounting its own overlay on /etc.) Where the machine has no /etc/netns,
// the lab makes one in the upper layer, which the sandbox owns.
func privateEtcNetns() error {
	dir := model.DefaultPaths.EtcNetns
	_, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = os.Mkdir(etcNetns, 0o755)
	}
	if err == nil {
		err = os.Symlink(etcNetns, filepath.Join(etcUpper, strings.TrimPrefix(dir, "/etc/")))
	}
	if err != nil {
		return fmt.Errorf("sandbox: make a private %s: %w", dir, err)
	}
	return nil
}
