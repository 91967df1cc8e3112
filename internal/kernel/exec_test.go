package kernel_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// run runs argv in ns with the test's environment and fails on an error.
func run(t *testing.T, spec kernel.ExecSpec) kernel.ExecResult {
	t.Helper()
	if spec.Env == nil {
		spec.Env = os.Environ()
	}
	res, err := kernel.Exec(context.Background(), spec)
	if err != nil {
		t.Fatalf("Exec(%q): %v", spec.Argv, err)
	}
	return res
}

func TestExecSeesOnlyItsNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	must(t, p.A.AddBridge("br0", 0))

	// ip inside sees A's links, as netlink does.
	res := run(t, kernel.ExecSpec{NS: p.A, Argv: []string{"ip", "-br", "link"}})
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		name, _, _ := strings.Cut(strings.Fields(line)[0], "@")
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"br0", "lo", "va"}; res.RC != 0 || !slices.Equal(names, want) {
		t.Errorf("ip -br link in %s: rc %d, links %v, want %v\n%s", p.A, res.RC, names, want, res.Stderr)
	}

	// So does /sys, which Exec mounts afresh for the namespace.
	res = run(t, kernel.ExecSpec{NS: p.B, Argv: []string{"sh", "-c", "ls /sys/class/net; cat /sys/class/net/*/address"}})
	fields := strings.Fields(res.Stdout)
	vb := ipLink(t, p.B, p.vb)
	if len(fields) != 4 || fields[0] != "lo" || fields[1] != "vb" || !slices.Contains(fields, vb.Address) {
		t.Errorf("in %s /sys/class/net shows %q, want lo and vb with address %s", p.B, res.Stdout, vb.Address)
	}

	// The test's own /sys is untouched: it still shows the sandbox's links.
	if _, err := os.Stat("/sys/class/net/va"); err == nil {
		t.Errorf("the test's /sys shows va: Exec's mounts leaked into the test's mount namespace")
	}
}

func TestExecEtcNetnsResolvConf(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	// /etc is an overlay inside the sandbox: writing here is safe.
	dir := filepath.Join(paths.EtcNetns, ns.Name)
	createdParent := false
	if _, err := os.Stat(paths.EtcNetns); os.IsNotExist(err) {
		createdParent = true
	}
	must(t, os.MkdirAll(dir, 0o755))
	t.Cleanup(func() {
		os.RemoveAll(dir)
		if createdParent {
			os.Remove(paths.EtcNetns)
		}
	})
	must(t, os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 8.8.8.8\n"), 0o644))
	orig, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Skipf("this machine has no /etc/resolv.conf to replace: %v", err)
	}

	res := run(t, kernel.ExecSpec{NS: ns, Etc: dir, Argv: []string{"cat", "/etc/resolv.conf"}})
	if res.RC != 0 || res.Stdout != "nameserver 8.8.8.8\n" {
		t.Errorf("cat /etc/resolv.conf in %s with Etc: rc %d, %q, stderr %q", ns, res.RC, res.Stdout, res.Stderr)
	}
	// Without Etc the file is the machine's.
	res = run(t, kernel.ExecSpec{NS: ns, Argv: []string{"cat", "/etc/resolv.conf"}})
	if res.Stdout != string(orig) {
		t.Errorf("cat /etc/resolv.conf without Etc = %q, want the original %q", res.Stdout, orig)
	}
	// The bind mount is private to the command.
	if now, _ := os.ReadFile("/etc/resolv.conf"); string(now) != string(orig) {
		t.Errorf("the test's /etc/resolv.conf changed to %q", now)
	}
	// A folder that is not there is fine: nothing is replaced.
	res = run(t, kernel.ExecSpec{NS: ns, Etc: filepath.Join(paths.EtcNetns, "no-such-"+ns.Name), Argv: []string{"cat", "/etc/resolv.conf"}})
	if res.Stdout != string(orig) {
		t.Errorf("Etc without a folder: /etc/resolv.conf = %q", res.Stdout)
	}

	// A file that does not exist in /etc cannot be replaced: a clear error.
	must(t, os.WriteFile(filepath.Join(dir, "nsplay-no-such-file"), []byte("x"), 0o644))
	_, err = kernel.Exec(context.Background(), kernel.ExecSpec{NS: ns, Etc: dir, Argv: []string{"true"}, Env: os.Environ()})
	wantErrContains(t, err, "nsplay-no-such-file", "must exist in /etc")
}

func TestExecResult(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	for _, tc := range []struct {
		name           string
		argv           []string
		stdin          string
		rc             int
		stdout, stderr string
	}{
		{"exit status", []string{"sh", "-c", "exit 3"}, "", 3, "", ""},
		{"stdout and stderr", []string{"sh", "-c", "echo out; echo err >&2"}, "", 0, "out\n", "err\n"},
		{"stdin", []string{"cat"}, "hello\nworld", 0, "hello\nworld", ""},
		{"no stdin is empty", []string{"cat"}, "", 0, "", ""},
		{"signal", []string{"sh", "-c", "kill -TERM $$"}, "", 128 + 15, "", ""},
		{"argv is not split", []string{"printf", "%s|", "a b", "c"}, "", 0, "a b|c|", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, kernel.ExecSpec{NS: ns, Argv: tc.argv, Stdin: tc.stdin})
			if res.RC != tc.rc || res.Stdout != tc.stdout || res.Stderr != tc.stderr {
				t.Errorf("Exec(%q) = %+v, want rc %d stdout %q stderr %q", tc.argv, res, tc.rc, tc.stdout, tc.stderr)
			}
		})
	}
}

// Env is the command's whole environment, and the helper's marker does not
// leak into it.
func TestExecEnv(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	env := []string{"PATH=" + os.Getenv("PATH"), "FOO=bar baz", "EMPTY="}
	res := run(t, kernel.ExecSpec{NS: ns, Argv: []string{"env"}, Env: env})
	got := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	slices.Sort(got)
	want := slices.Clone(env)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("env in the command = %q, want exactly %q", got, want)
	}
}

// A command is looked up in the PATH of its own environment, as execvp
// would in the namespace, not in nsplay's; and the threads that forked
// commands in place (a private mount and UTS namespace each) are back in
// nsplay's namespaces afterwards.
func TestExecLooksUpItsOwnPATH(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "nsplay-own-path"), []byte("#!/bin/sh\necho found\n"), 0o755))
	env := []string{"PATH=/nonexistent:" + dir}
	for range 5 {
		res := run(t, kernel.ExecSpec{NS: ns, Argv: []string{"nsplay-own-path"}, Env: env, Hostname: "in-place", Etc: t.TempDir()})
		if res.RC != 0 || res.Stdout != "found\n" {
			t.Fatalf("a command in the PATH of its environment: %+v, want rc 0 and \"found\"", res)
		}
	}
	_, err := kernel.Exec(context.Background(), kernel.ExecSpec{NS: ns, Argv: []string{"nsplay-own-path"}, Env: []string{"PATH=/nonexistent"}})
	wantErrContains(t, err, `"nsplay-own-path"`, "not found")
	var away []string
	if !eventually(2*time.Second, func() bool { away = testenv.ThreadsAway(t); return len(away) == 0 }) {
		t.Errorf("threads left in other namespaces (tid:kind): %v", away)
	}
}

func TestExecTimeout(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	// The background sleep holds stdout open: the whole process group must
	// be killed, or Exec would wait for it.
	_, err := kernel.Exec(context.Background(), kernel.ExecSpec{
		NS:      ns,
		Argv:    []string{"sh", "-c", "sleep 30 & echo $! > " + pidFile + "; wait"},
		Env:     os.Environ(),
		Timeout: 300 * time.Millisecond,
	})
	took := time.Since(start)
	if !errors.Is(err, kernel.ErrTimeout) {
		t.Fatalf("Exec past its timeout: %v, want ErrTimeout", err)
	}
	wantErrContains(t, err, "timed out after 300ms")
	if took > 3*time.Second {
		t.Errorf("Exec took %s with a 300ms timeout", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Skipf("the command was killed before it could start its child (a slow machine?): %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if !eventually(2*time.Second, func() bool { return !alive(pid) }) {
		t.Errorf("the command's background child %d outlived the timeout", pid)
	}
}

// alive tells whether a process runs (a zombie does not count).
func alive(pid int) bool {
	if unix.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func TestExecCancel(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := kernel.Exec(ctx, kernel.ExecSpec{NS: ns, Argv: []string{"sleep", "30"}, Env: os.Environ(), Timeout: time.Minute})
	if !errors.Is(err, context.Canceled) || errors.Is(err, kernel.ErrTimeout) {
		t.Errorf("Exec cancelled: %v, want context.Canceled and not ErrTimeout", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a cancelled Exec took %s", took)
	}
	if pids, _ := ns.PIDs(); len(pids) != 0 {
		t.Errorf("processes still in %s after cancel: %v", ns, pids)
	}
}

func TestExecErrors(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	_, err := kernel.Exec(context.Background(), kernel.ExecSpec{NS: ns, Argv: []string{"nsplay-no-such-command", "arg"}, Env: os.Environ()})
	wantErrContains(t, err, `"nsplay-no-such-command"`, "not found")

	_, err = kernel.Exec(context.Background(), kernel.ExecSpec{NS: ns, Env: os.Environ()})
	wantErrContains(t, err, "command is empty")

	// A command that is found but cannot run is not a silent rc.
	_, err = kernel.Exec(context.Background(), kernel.ExecSpec{NS: ns, Argv: []string{"/etc/hostname"}, Env: os.Environ()})
	if err == nil {
		t.Errorf("Exec of a file that is not executable succeeded")
	}
}

// Exec in the start namespace runs there: the command sees the sandbox's
// links, not a lab's.
func TestExecInStartNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	host := current(t)
	res := run(t, kernel.ExecSpec{NS: host, Argv: []string{"cat", "/proc/self/net/dev"}})
	if !strings.Contains(res.Stdout, "lo:") {
		t.Errorf("/proc/self/net/dev in the start namespace: %q", res.Stdout)
	}
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	res = run(t, kernel.ExecSpec{NS: host, Argv: []string{"readlink", "/proc/self/ns/net"}})
	if strings.TrimSpace(res.Stdout) != self {
		t.Errorf("the command runs in %s, the test in %s", strings.TrimSpace(res.Stdout), self)
	}
}
