// Package sandbox runs the current program again inside a fresh network
// namespace and a private mount namespace, where /run is an empty tmpfs and
// /etc an overlay whose changes stay in memory. Named namespaces
// (/run/netns), /etc/netns files and lab journals (/run/nsplay) made inside
// are invisible to the machine, and all of it disappears when the process
// ends, however it ends. nsplay's own test binaries run in one, so the test
// suite cannot change the machine it runs on.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// markerEnv is set in the environment of the re-executed process.
const markerEnv = "NSPLAY_SANDBOXED"

// Inside tells whether this process runs in a sandbox made by Reexec.
func Inside() bool { return os.Getenv(markerEnv) == "1" }

// Reexec runs this program again, with the same arguments, inside a new
// network and mount namespace, waits for it and returns its exit status.
// The child is killed if this process dies.
func Reexec() (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), markerEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	}
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("start sandbox: %w", err)
	}
	return 0, nil
}

// Setup makes the mounts private; the sandboxed process calls it first.
func Setup() error {
	steps := []struct {
		what                      string
		src, dst, fstype, options string
		flags                     uintptr
	}{
		{"keep mounts from propagating to the machine", "", "/", "", "", unix.MS_SLAVE | unix.MS_REC},
		{"mount a private /run", "sandbox", "/run", "tmpfs", "mode=755", 0},
		{"mount /sys for the sandbox's network namespace", "sysfs", "/sys", "sysfs", "", 0},
	}
	for _, s := range steps {
		if s.fstype == "sysfs" {
			if err := unix.Unmount("/sys", unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("sandbox: unmount /sys: %w", err)
			}
		}
		if err := unix.Mount(s.src, s.dst, s.fstype, s.flags, s.options); err != nil {
			return fmt.Errorf("sandbox: %s: %w", s.what, err)
		}
	}
	for _, d := range []string{"/run/.sandbox/etc", "/run/.sandbox/work"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	opts := "lowerdir=/etc,upperdir=/run/.sandbox/etc,workdir=/run/.sandbox/work"
	if err := unix.Mount("overlay", "/etc", "overlay", 0, opts); err != nil {
		return fmt.Errorf("sandbox: mount an overlay on /etc: %w", err)
	}
	return nil
}
