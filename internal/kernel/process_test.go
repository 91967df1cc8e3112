package kernel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// procNS is the path of a process's namespace of a kind.
func procNS(pid int, kind string) string { return fmt.Sprintf("/proc/%d/ns/%s", pid, kind) }

// procStat returns the fields of /proc/PID/stat after the command's name:
// [0] state, [1] ppid, [2] process group, ... [19] start time.
func procStat(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: %q", pid, data)
	}
	return strings.Fields(string(data[i+1:])), nil
}

// procStatus returns the fields of one line ("Uid", "NSpid", ...) of
// /proc/PID/status.
func procStatus(t *testing.T, pid int, key string) []string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the status of process %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.Fields(v)
		}
	}
	t.Fatalf("/proc/%d/status has no %s line", pid, key)
	return nil
}

// livePIDs lists the sandbox's processes that run (a zombie does not: the
// test binary is PID 1 of the sandbox and does not reap orphans), but the
// test's own, with their command names.
func livePIDs() map[int]string {
	dirs, _ := os.ReadDir("/proc")
	live := map[int]string{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if f, err := procStat(pid); err == nil && len(f) > 0 && f[0] != "Z" {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			live[pid] = strings.TrimSpace(string(comm))
		}
	}
	return live
}

// noNewProcesses fails the test if, once it ended and cleaned up, a process
// runs that did not run when it began. Call it first, so that its check
// runs after every other cleanup. It kills what it finds: the sandbox holds
// only the test binary's processes.
func noNewProcesses(t *testing.T) {
	t.Helper()
	before := livePIDs()
	t.Cleanup(func() {
		var left map[int]string
		gone := eventually(3*time.Second, func() bool {
			left = livePIDs()
			for pid := range before {
				delete(left, pid)
			}
			return len(left) == 0
		})
		if !gone {
			t.Errorf("processes left running after the test: %v", left)
			for pid := range left {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	})
}

// startProc starts spec with the test's environment, and stops the command
// and checks it is gone when the test ends.
func startProc(t *testing.T, spec kernel.ExecSpec) *kernel.Proc {
	t.Helper()
	if spec.Env == nil {
		spec.Env = os.Environ()
	}
	p, err := kernel.Start(spec)
	if err != nil {
		t.Fatalf("Start(%q): %v", spec.Argv, err)
	}
	stopAtEnd(t, p, spec.Argv)
	return p
}

func stopAtEnd(t *testing.T, p *kernel.Proc, argv []string) {
	t.Helper()
	pid := p.PID()
	t.Cleanup(func() {
		p.Stop(200 * time.Millisecond)
		if !eventually(2*time.Second, func() bool { return !alive(pid) }) {
			t.Errorf("process %d %q still runs after Stop", pid, argv)
			unix.Kill(-pid, unix.SIGKILL)
			unix.Kill(pid, unix.SIGKILL)
		}
	})
}

// childPID waits for a command to write the pid of its child to file.
func childPID(t *testing.T, file string) int {
	t.Helper()
	var pid int
	if !eventually(5*time.Second, func() bool {
		b, err := os.ReadFile(file)
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	}) {
		t.Fatalf("the command never wrote its child's pid to %s", file)
	}
	// The tests check that the child ends; this only cleans up after a
	// failure (the sandbox holds only the test binary's processes).
	t.Cleanup(func() { unix.Kill(pid, unix.SIGKILL) })
	return pid
}

// nsenter runs nsenter(1) with args and returns its output.
func nsenter(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("nsenter", args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("nsenter %q: %v\n%s", args, err, stderr)
	}
	return string(out)
}

// Start runs the command in the namespace, as /proc and ip see it, in the
// background: Wait with a timeout leaves it running, Stop ends it.
func TestStartRunsInTheNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	p := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sleep", "30"}})
	pid := p.PID()

	if got, want := nsInode(t, procNS(pid, "net")), fdInode(t, ns); got != want {
		t.Errorf("/proc/%d/ns/net is namespace %d, want %s's %d", pid, got, ns, want)
	}
	if got := strings.TrimSpace(testenv.IP(t, "netns", "identify", strconv.Itoa(pid))); got != ns.Name {
		t.Errorf("ip netns identify %d = %q, want %q", pid, got, ns.Name)
	}
	if got := strings.Fields(testenv.IP(t, "netns", "pids", ns.Name)); !slices.Contains(got, strconv.Itoa(pid)) {
		t.Errorf("ip netns pids %s = %v, want %d among them", ns.Name, got, pid)
	}
	if f, err := procStat(pid); err != nil || f[2] != strconv.Itoa(pid) {
		t.Errorf("process %d is not the leader of its own process group: stat %v, %v", pid, f, err)
	}
	if !p.Alive() || !alive(pid) {
		t.Fatalf("Alive = %v, /proc says alive = %v, right after Start", p.Alive(), alive(pid))
	}

	start := time.Now()
	_, err := p.Wait(context.Background(), 200*time.Millisecond)
	if !errors.Is(err, kernel.ErrTimeout) {
		t.Errorf("Wait(200ms) on a running command = %v, want ErrTimeout", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 3*time.Second {
		t.Errorf("Wait(200ms) returned after %s", took)
	}
	if !p.Alive() || !alive(pid) {
		t.Fatalf("after Wait timed out: Alive = %v, /proc says alive = %v; want it still running", p.Alive(), alive(pid))
	}

	if !p.Stop(2 * time.Second) {
		t.Errorf("Stop of a running command = false, want true")
	}
	if p.Alive() || alive(pid) {
		t.Errorf("after Stop: Alive = %v, /proc says alive = %v", p.Alive(), alive(pid))
	}
	res, err := p.Wait(context.Background(), time.Second)
	if err != nil || res.RC != 128+int(unix.SIGTERM) {
		t.Errorf("Wait after Stop = %+v, %v; want rc %d (SIGTERM)", res, err, 128+int(unix.SIGTERM))
	}
	if p.Stop(time.Second) {
		t.Errorf("Stop of an ended command = true, want false")
	}
	if err := p.Signal(unix.SIGTERM); err != nil {
		t.Errorf("Signal to an ended command: %v, want nil", err)
	}
	if pids, _ := ns.PIDs(); len(pids) != 0 {
		t.Errorf("processes in %s after Stop: %v", ns, pids)
	}
}

func TestStartCollectsOutput(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	p := startProc(t, kernel.ExecSpec{NS: ns, Stdin: "in\n",
		Argv: []string{"sh", "-c", `read x; echo "out $x"; echo err >&2; exit 4`}})
	res, err := p.Wait(context.Background(), 5*time.Second)
	if err != nil || res.RC != 4 || res.Stdout != "out in\n" || res.Stderr != "err\n" {
		t.Errorf("Wait = %+v, %v; want rc 4, stdout %q, stderr %q", res, err, "out in\n", "err\n")
	}
	if p.Alive() {
		t.Errorf("Alive after the command ended")
	}
	if again, err := p.Wait(context.Background(), 0); err != nil || again != res {
		t.Errorf("a second Wait = %+v, %v; want %+v again", again, err, res)
	}
	// Wait(0) waits as long as it takes.
	p = startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sh", "-c", "sleep 0.3; echo done"}})
	if res, err := p.Wait(context.Background(), 0); err != nil || res.Stdout != "done\n" {
		t.Errorf("Wait(0) = %+v, %v", res, err)
	}
}

// Signal and Stop reach the command's whole process group: a shell and the
// child it waits for both end, also when they ignore SIGTERM.
func TestProcSignalReachesTheGroup(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	for _, tc := range []struct {
		name, script string
		end          func(p *kernel.Proc) error
		rc           int
		slow         bool // SIGTERM is ignored: Stop waits for its grace, then kills
	}{
		{"Signal", "sleep 30 & echo $! > PIDFILE; wait", func(p *kernel.Proc) error { return p.Signal(unix.SIGTERM) }, 143, false},
		{"Stop", "sleep 30 & echo $! > PIDFILE; wait", func(p *kernel.Proc) error { p.Stop(5 * time.Second); return nil }, 143, false},
		{"Stop past its grace", "trap '' TERM; sleep 30 & echo $! > PIDFILE; wait", func(p *kernel.Proc) error {
			if !p.Stop(300 * time.Millisecond) {
				return errors.New("Stop = false for a running command")
			}
			return nil
		}, 137, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noNewProcesses(t)
			file := filepath.Join(t.TempDir(), "pid")
			p := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sh", "-c", strings.ReplaceAll(tc.script, "PIDFILE", file)}})
			child := childPID(t, file)
			if f, err := procStat(child); err != nil || f[2] != strconv.Itoa(p.PID()) {
				t.Fatalf("the child %d is not in the command's process group %d: %v, %v", child, p.PID(), f, err)
			}
			start := time.Now()
			if err := tc.end(p); err != nil {
				t.Fatal(err)
			}
			res, err := p.Wait(context.Background(), 5*time.Second)
			took := time.Since(start)
			if err != nil || res.RC != tc.rc {
				t.Errorf("Wait = %+v, %v; want rc %d", res, err, tc.rc)
			}
			if !eventually(2*time.Second, func() bool { return !alive(child) }) {
				t.Errorf("the shell's child %d still runs", child)
			}
			if alive(p.PID()) {
				t.Errorf("the shell %d still runs", p.PID())
			}
			if tc.slow && took < 300*time.Millisecond {
				t.Errorf("a command that ignores SIGTERM ended after %s, before Stop's grace", took)
			}
			if !tc.slow && took > 2*time.Second {
				t.Errorf("ending the command took %s", took)
			}
		})
	}
}

// Proc.Signal and Proc.Stop reach the process group also after the command
// itself has ended: what it left in the background is stopped too (a pid
// is not reused while the group it led has members).
func TestProcStopReachesTheGroupAfterTheCommandEnded(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	file := filepath.Join(t.TempDir(), "pid")
	p := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $! > " + file}})
	child := childPID(t, file)
	if res, err := p.Wait(context.Background(), 5*time.Second); err != nil || res.RC != 0 {
		t.Fatalf("the shell did not end at once: %+v, %v", res, err)
	}
	if f, err := procStat(child); err != nil || f[2] != strconv.Itoa(p.PID()) {
		t.Fatalf("the child %d is not in the command's process group %d: %v, %v", child, p.PID(), f, err)
	}
	if err := p.Signal(unix.SIGTERM); err != nil {
		t.Errorf("Signal: %v", err)
	}
	p.Stop(time.Second)
	if !eventually(2*time.Second, func() bool { return !alive(child) }) {
		t.Errorf("the command's child %d, in its process group %d, still runs after Signal and Stop", child, p.PID())
	}
}

// A command that leaves a background process holding its output (a daemon
// started with `&`) still gives its result, one second (WaitDelay) after it
// ended, with what it printed until then.
func TestExecWithABackgroundChildHoldingTheOutput(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	file := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	res, err := kernel.Exec(context.Background(), kernel.ExecSpec{NS: ns, Env: os.Environ(), Timeout: 10 * time.Second,
		Argv: []string{"sh", "-c", "sleep 30 & echo $! > " + file + "; echo started"}})
	childPID(t, file) // killed when the test ends
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Exec took %s: the background child's hold on the output was not cut", took)
	}
	// That child is not stopped: it is what the command wanted.
	if err != nil || res.RC != 0 || res.Stdout != "started\n" {
		t.Errorf("Exec of a command that leaves a background child = %+v, %v; want rc 0 and stdout %q", res, err, "started\n")
	}
}

// TestStartParentDeathSignal reads the command's parent-death signal with
// prctl(PR_GET_PDEATHSIG), from perl: SIGKILL in a namespace, none for a
// command that joins a process (its thread is discarded).
func TestStartParentDeathSignal(t *testing.T) {
	testenv.RequireRoot(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the prctl syscall number below is amd64's")
	}
	noNewProcesses(t)
	ns := newNS(t)
	const getPdeathsig = `my $s = pack("i", -1); syscall(157, 2, $s) == 0 or die "prctl: $!"; print unpack("i", $s), "\n"`
	res := run(t, kernel.ExecSpec{NS: ns, Argv: []string{"perl", "-e", getPdeathsig}})
	if res.RC != 0 || res.Stdout != fmt.Sprintf("%d\n", unix.SIGKILL) {
		t.Errorf("parent-death signal of a command in %s = %+v, want %d (SIGKILL)", ns, res, unix.SIGKILL)
	}
	target := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sleep", "30"}})
	res = run(t, kernel.ExecSpec{JoinPID: target.PID(), Argv: []string{"perl", "-e", getPdeathsig}})
	if res.RC != 0 || res.Stdout != fmt.Sprintf("%d\n", unix.SIGKILL) {
		t.Errorf("parent-death signal of a command joining process %d = %+v, want %d (SIGKILL)", target.PID(), res, unix.SIGKILL)
	}
}

// nsKinds are the namespaces /proc/PID/ns shows.
var nsKinds = []string{"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"}

// Each kind in New gives the command a namespace of that kind of its own;
// the others stay the test's (the mount namespace is always fresh, as with
// ip netns exec), and the network namespace is the target's unless "net"
// is asked for. Every kind the model lets a command have fresh is one the
// kernel backend makes.
func TestStartNewNamespaces(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	labNet := fdInode(t, ns)
	self := map[string]uint64{}
	for _, k := range nsKinds {
		self[k] = nsInode(t, "/proc/self/ns/"+k)
	}
	for _, k := range model.NamespaceKinds() {
		if !k.Fresh() {
			continue
		}
		kind := k.Name
		t.Run(kind, func(t *testing.T) {
			if !slices.Contains(nsKinds, kind) {
				t.Fatalf("the test does not look at %s namespaces: add the kind to nsKinds", kind)
			}
			noNewProcesses(t)
			p := startProc(t, kernel.ExecSpec{NS: ns, New: []string{kind}, Argv: []string{"sleep", "30"}})
			for _, k := range nsKinds {
				got := nsInode(t, procNS(p.PID(), k))
				switch {
				case k == "net" && kind == "net":
					if got == labNet || got == self["net"] {
						t.Errorf("new=[net]: the command's network namespace %d is %s's or the test's", got, ns)
					}
				case k == "net":
					if got != labNet {
						t.Errorf("new=[%s]: the command's network namespace is %d, want %s's %d", kind, got, ns, labNet)
					}
				case k == kind || k == "mnt":
					if got == self[k] {
						t.Errorf("new=[%s]: the command's %s namespace is the test's (%d)", kind, k, got)
					}
				default:
					if got != self[k] {
						t.Errorf("new=[%s]: the command's %s namespace %d is not the test's %d", kind, k, got, self[k])
					}
				}
			}
		})
	}
}

// A fresh PID namespace: the command is PID 1 there and sees a /proc of
// its own; the test's /proc is untouched.
func TestStartNewPID(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	res := run(t, kernel.ExecSpec{NS: ns, New: []string{"pid"}, Argv: []string{"sh", "-c", `echo $$; ls /proc | grep -c '^[0-9]'`}})
	lines := strings.Fields(res.Stdout)
	if res.RC != 0 || len(lines) != 2 || lines[0] != "1" {
		t.Fatalf("new=[pid]: %+v, want the shell as PID 1", res)
	}
	if n, _ := strconv.Atoi(lines[1]); n < 1 || n > 3 {
		t.Errorf("new=[pid]: the command's /proc shows %d processes, want only the shell and its pipeline (at most 3)", n)
	}
	if self, err := os.Readlink("/proc/self"); err != nil || self != strconv.Itoa(os.Getpid()) {
		t.Errorf("the test's /proc/self = %q, %v; want %d: its /proc changed", self, err, os.Getpid())
	}

	p := startProc(t, kernel.ExecSpec{NS: ns, New: []string{"pid"}, Argv: []string{"sleep", "30"}})
	if got, want := procStatus(t, p.PID(), "NSpid"), []string{strconv.Itoa(p.PID()), "1"}; !slices.Equal(got, want) {
		t.Errorf("NSpid of the command = %v, want %v", got, want)
	}
}

// A hostname gives the command a UTS namespace of its own, with or without
// "uts" in New; nsenter sees the name there, and the test's hostname stays.
func TestStartHostname(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	before, err := os.Hostname()
	must(t, err)
	selfUTS := nsInode(t, "/proc/self/ns/uts")
	for _, tc := range []struct {
		name string
		new  []string
	}{{"with uts", []string{"uts"}}, {"without uts", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			noNewProcesses(t)
			name := uniq("box-")
			p := startProc(t, kernel.ExecSpec{NS: ns, New: tc.new, Hostname: name, Argv: []string{"sleep", "30"}})
			if got := nsenter(t, "-t", strconv.Itoa(p.PID()), "-u", "hostname"); got != name+"\n" {
				t.Errorf("nsenter -t %d -u hostname = %q, want %q", p.PID(), got, name)
			}
			if nsInode(t, procNS(p.PID(), "uts")) == selfUTS {
				t.Errorf("the command shares the test's UTS namespace")
			}
			res := run(t, kernel.ExecSpec{NS: ns, New: tc.new, Hostname: name, Argv: []string{"hostname"}})
			if res.Stdout != name+"\n" {
				t.Errorf("hostname in the command = %q, want %q", res.Stdout, name)
			}
			if now, _ := os.Hostname(); now != before {
				t.Errorf("the test's hostname changed from %q to %q", before, now)
			}
			if out, _ := exec.Command("hostname").Output(); string(out) != before+"\n" {
				t.Errorf("hostname outside = %q, want %q", out, before)
			}
		})
	}
	// A fresh UTS namespace without a name starts with a copy of the test's.
	noNewProcesses(t)
	p := startProc(t, kernel.ExecSpec{NS: ns, New: []string{"uts"}, Argv: []string{"sleep", "30"}})
	if got := nsenter(t, "-t", strconv.Itoa(p.PID()), "-u", "hostname"); got != before+"\n" {
		t.Errorf("new=[uts] without a hostname: nsenter hostname = %q, want %q", got, before)
	}
}

// A fresh user namespace: the command is root inside and nobody (65534)
// outside.
func TestStartNewUser(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	p := startProc(t, kernel.ExecSpec{NS: ns, New: []string{"user"}, Argv: []string{"sleep", "30"}})
	pid := p.PID()
	for _, key := range []string{"Uid", "Gid"} {
		if got := procStatus(t, pid, key); !slices.Equal(got, []string{"65534", "65534", "65534", "65534"}) {
			t.Errorf("%s of the command seen from outside = %v, want 65534 (nobody)", key, got)
		}
	}
	uidMap, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	must(t, err)
	if got := strings.Fields(string(uidMap)); !slices.Equal(got, []string{"0", "65534", "1"}) {
		t.Errorf("uid_map = %q, want 0 65534 1", uidMap)
	}
	if got := nsenter(t, "-t", strconv.Itoa(pid), "-U", "id", "-u"); got != "0\n" {
		t.Errorf("nsenter -t %d -U id -u = %q, want 0", pid, got)
	}

	res := run(t, kernel.ExecSpec{NS: ns, New: []string{"user"}, Argv: []string{"sh", "-c", "id -u; id -g; cat /proc/self/uid_map"}})
	if f := strings.Fields(res.Stdout); res.RC != 0 || !slices.Equal(f, []string{"0", "0", "0", "65534", "1"}) {
		t.Errorf("id -u, id -g, uid_map inside = %+v, want 0, 0, 0 65534 1", res)
	}
}

// A fresh network namespace holds only lo, whatever the target holds.
func TestStartNewNet(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	must(t, ns.AddBridge("nbr0", 0))
	p := startProc(t, kernel.ExecSpec{NS: ns, New: []string{"net"}, Argv: []string{"sleep", "30"}})
	var links []struct {
		Name string `json:"ifname"`
	}
	if err := json.Unmarshal([]byte(nsenter(t, "-t", strconv.Itoa(p.PID()), "-n", "ip", "-j", "link")), &links); err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].Name != "lo" {
		t.Errorf("nsenter -n ip link in a fresh network namespace = %+v, want only lo", links)
	}
	res := run(t, kernel.ExecSpec{NS: ns, New: []string{"net"}, Argv: []string{"ls", "/sys/class/net"}})
	if res.Stdout != "lo\n" {
		t.Errorf("/sys/class/net in a fresh network namespace = %q, want lo only", res.Stdout)
	}
	if !ipHasLink(t, ns, "nbr0") {
		t.Errorf("the target lost its bridge")
	}
}

func TestStartNewErrors(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	for _, kind := range []string{"cgroup", "bogus", ""} {
		_, err := kernel.Start(kernel.ExecSpec{NS: ns, New: []string{"uts", kind}, Argv: []string{"sleep", "30"}, Env: os.Environ()})
		wantErrContains(t, err, strconv.Quote(kind), "mnt, uts, ipc, pid, net or user")
		_, err = kernel.Exec(context.Background(), kernel.ExecSpec{NS: ns, New: []string{kind}, Argv: []string{"true"}, Env: os.Environ()})
		wantErrContains(t, err, strconv.Quote(kind), "mnt, uts, ipc, pid, net or user")
	}
	if pids, _ := ns.PIDs(); len(pids) != 0 {
		t.Errorf("a refused Start left processes in %s: %v", ns, pids)
	}
}

// threadKinds are the namespaces a thread of the test can change.
var threadKinds = []string{"net", "mnt", "uts", "ipc", "cgroup", "pid_for_children"}

// processNamespaces returns the namespaces of the process (its main
// thread), by kind.
func processNamespaces(t *testing.T) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	for _, k := range threadKinds {
		m[k] = nsInode(t, "/proc/self/ns/"+k)
	}
	return m
}

// JoinPID: the command joins a process's namespaces (its hostname, its
// mounts, its network namespace), and no thread of the test stays in them.
func TestJoinPID(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	start := processNamespaces(t)
	if away := testenv.ThreadsAway(t); len(away) > 0 {
		t.Fatalf("threads away from the process's namespaces before the test: %v", away)
	}
	ns := newNS(t)
	must(t, ns.AddBridge("jbr0", 0))
	mnt := t.TempDir()
	host := uniq("joined-")
	target := startProc(t, kernel.ExecSpec{NS: ns, New: []string{"mnt"}, Hostname: host,
		Argv: []string{"sh", "-c", "mount -t tmpfs nsplay-join " + mnt + " && exec sleep 30"}})
	tpid := target.PID()
	if !eventually(5*time.Second, func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mounts", tpid))
		return strings.Contains(string(b), "nsplay-join "+mnt+" tmpfs")
	}) {
		t.Fatalf("the target never mounted its tmpfs")
	}
	if b, _ := os.ReadFile("/proc/self/mounts"); strings.Contains(string(b), "nsplay-join") {
		t.Fatalf("the target's mount is in the test's mount namespace")
	}

	res := run(t, kernel.ExecSpec{JoinPID: tpid, Argv: []string{"sh", "-c",
		"hostname; grep -c '^nsplay-join ' /proc/self/mounts; readlink /proc/self/ns/net; ls /sys/class/net"}})
	want := fmt.Sprintf("%s\n1\nnet:[%d]\njbr0\nlo\n", host, fdInode(t, ns))
	if res.RC != 0 || res.Stdout != want {
		t.Errorf("a command joining process %d printed %+v, want:\n%s", tpid, res, want)
	}

	// A process that joined is in every namespace of the target, as /proc
	// and nsenter see it.
	j := startProc(t, kernel.ExecSpec{JoinPID: tpid, Argv: []string{"sleep", "30"}})
	for _, k := range nsKinds {
		if got, want := nsInode(t, procNS(j.PID(), k)), nsInode(t, procNS(tpid, k)); got != want {
			t.Errorf("the joined process's %s namespace is %d, the target's %d", k, got, want)
		}
	}
	if got := nsenter(t, "-t", strconv.Itoa(j.PID()), "-u", "hostname"); got != host+"\n" {
		t.Errorf("nsenter -t %d -u hostname = %q, want %q", j.PID(), got, host)
	}
	if got := nsenter(t, "-t", strconv.Itoa(j.PID()), "-m", "grep", "-c", "^nsplay-join ", "/proc/self/mounts"); got != "1\n" {
		t.Errorf("the joined process's mount namespace has the target's tmpfs %q times", got)
	}

	var away []string
	if !eventually(2*time.Second, func() bool { away = testenv.ThreadsAway(t); return len(away) == 0 }) {
		t.Errorf("threads of the test left in other namespaces (tid:kind): %v", away)
	}
	if got := processNamespaces(t); !mapsEqual(got, start) {
		t.Errorf("the process's namespaces changed: %v, at the start %v", got, start)
	}
	if !target.Alive() {
		t.Errorf("the target died")
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Joining a process in a fresh PID namespace: the command is in it, and
// sees its /proc.
func TestJoinPIDNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	target := startProc(t, kernel.ExecSpec{NS: ns, New: []string{"pid"}, Argv: []string{"sleep", "30"}})
	res := run(t, kernel.ExecSpec{JoinPID: target.PID(), Argv: []string{"sh", "-c", "cat /proc/1/comm; echo $$"}})
	f := strings.Fields(res.Stdout)
	if res.RC != 0 || len(f) != 2 || f[0] != "sleep" || f[1] == "1" {
		t.Errorf("a command joining a PID namespace printed %+v, want PID 1 to be sleep and itself another pid", res)
	}
	j := startProc(t, kernel.ExecSpec{JoinPID: target.PID(), Argv: []string{"sleep", "30"}})
	if got := procStatus(t, j.PID(), "NSpid"); len(got) != 2 || got[0] != strconv.Itoa(j.PID()) || got[1] == "1" {
		t.Errorf("NSpid of a process that joined a PID namespace = %v, want two levels", got)
	}
}

// A process in a user namespace of its own cannot be joined; the message
// says why.
func TestJoinPIDRefusesAUserNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	start := processNamespaces(t)
	ns := newNS(t)
	target := startProc(t, kernel.ExecSpec{NS: ns, New: []string{"user"}, Argv: []string{"sleep", "30"}})
	_, err := kernel.Start(kernel.ExecSpec{JoinPID: target.PID(), Argv: []string{"sleep", "30"}, Env: os.Environ()})
	wantErrContains(t, err, strconv.Itoa(target.PID()), "user namespace of its own")
	_, err = kernel.Exec(context.Background(), kernel.ExecSpec{JoinPID: target.PID(), Argv: []string{"true"}, Env: os.Environ()})
	wantErrContains(t, err, "user namespace of its own")
	if pids, _ := ns.PIDs(); !slices.Equal(pids, []int{target.PID()}) {
		t.Errorf("processes in %s: %v, want only the target %d", ns, pids, target.PID())
	}
	var away []string
	if !eventually(2*time.Second, func() bool { away = testenv.ThreadsAway(t); return len(away) == 0 }) {
		t.Errorf("threads of the test left in other namespaces (tid:kind): %v", away)
	}
	if got := processNamespaces(t); !mapsEqual(got, start) {
		t.Errorf("the process's namespaces changed: %v, at the start %v", got, start)
	}
}

// JoinPID with fresh namespaces: those kinds are new, the others the
// target's. A fresh mount or PID namespace starts as a copy of the
// target's mounts (and a PID namespace gets its own /proc); a fresh user
// namespace cannot join a mount namespace it does not own, so it gets a
// fresh mount namespace of nsplay's.
func TestJoinPIDWithFreshNamespaces(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	mnt, mine := t.TempDir(), t.TempDir()
	target := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sh", "-c", "mount -t tmpfs nsplay-fresh " + mnt + " && exec sleep 30"}})
	tpid := target.PID()
	if !eventually(5*time.Second, func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mounts", tpid))
		return strings.Contains(string(b), "nsplay-fresh "+mnt)
	}) {
		t.Fatalf("the target never mounted its tmpfs")
	}
	netns := fmt.Sprintf("net:[%d]", fdInode(t, ns))
	hasMount := "grep -c '^nsplay-fresh " + mnt + " ' /proc/self/mounts"

	// A fresh mount namespace: a copy of the target's; a mount made in it
	// stays there.
	res := run(t, kernel.ExecSpec{JoinPID: tpid, New: []string{"mnt"}, Argv: []string{"sh", "-c",
		hasMount + "; mount -t tmpfs nsplay-mine " + mine + " && grep -c nsplay-mine /proc/self/mounts; readlink /proc/self/ns/net"}})
	if want := "1\n1\n" + netns + "\n"; res.RC != 0 || res.Stdout != want {
		t.Errorf("JoinPID with new=[mnt] printed %+v, want:\n%s", res, want)
	}
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mounts", tpid)); strings.Contains(string(b), "nsplay-mine") {
		t.Errorf("a mount made in a fresh mount namespace reached the target's")
	}
	// A fresh PID namespace: PID 1, a /proc of its own, the target's mounts.
	res = run(t, kernel.ExecSpec{JoinPID: tpid, New: []string{"pid"}, Argv: []string{"sh", "-c",
		"echo $$; ls /proc | grep -c '^[0-9]'; " + hasMount + "; readlink /proc/self/ns/net"}})
	f := strings.Fields(res.Stdout)
	if n := 0; len(f) == 4 {
		n, _ = strconv.Atoi(f[1])
		f[1] = strconv.FormatBool(n >= 1 && n <= 3)
	}
	if res.RC != 0 || !slices.Equal(f, []string{"1", "true", "1", netns}) {
		t.Errorf("JoinPID with new=[pid] printed %+v, want PID 1, at most 3 processes, the target's tmpfs, %s", res, netns)
	}
	// A fresh user namespace: root inside, the target's network namespace.
	res = run(t, kernel.ExecSpec{JoinPID: tpid, New: []string{"user"}, Argv: []string{"sh", "-c", "id -u; readlink /proc/self/ns/net"}})
	if want := "0\n" + netns + "\n"; res.RC != 0 || res.Stdout != want {
		t.Errorf("JoinPID with new=[user] printed %+v, want:\n%s", res, want)
	}
	j := startProc(t, kernel.ExecSpec{JoinPID: tpid, New: []string{"user", "uts"}, Hostname: "fresh-box", Argv: []string{"sleep", "30"}})
	for _, k := range nsKinds {
		same := nsInode(t, procNS(j.PID(), k)) == nsInode(t, procNS(tpid, k))
		if fresh := k == "user" || k == "uts" || k == "mnt"; same == fresh {
			t.Errorf("JoinPID with new=[user uts]: the %s namespace is the target's: %v, want %v", k, same, !fresh)
		}
	}
	if got := procStatus(t, j.PID(), "Uid"); got[0] != "65534" {
		t.Errorf("JoinPID with new=[user]: Uid outside = %v, want 65534", got)
	}
}

// Joining a process that has ended is an error that says so.
func TestJoinPIDOfAnEndedProcess(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	p := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"true"}})
	p.Wait(context.Background(), 5*time.Second)
	for _, fresh := range [][]string{nil, {"user"}, {"pid"}} {
		_, err := kernel.Start(kernel.ExecSpec{JoinPID: p.PID(), New: fresh, Argv: []string{"true"}, Env: os.Environ()})
		wantErrContains(t, err, fmt.Sprintf("process %d has ended", p.PID()))
	}
}

// Joining a process's namespaces does not kill processes that Start started
// earlier: the kernel sends the parent-death signal when a forking thread
// ends, and the thread that joined is returned and lives on.
func TestJoinKeepsOtherProcessesAlive(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	target := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sleep", "30"}})
	var procs []*kernel.Proc
	for i := range 10 {
		// What a playbook does: spawn, then exec_in a process, from one
		// goroutine, here locked to one thread for both calls.
		var p *kernel.Proc
		var startErr, joinErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			p, startErr = kernel.Start(kernel.ExecSpec{NS: ns, Argv: []string{"sleep", "30"}, Env: os.Environ()})
			runtime.UnlockOSThread()
			if startErr == nil {
				_, joinErr = kernel.Exec(context.Background(), kernel.ExecSpec{JoinPID: target.PID(), Argv: []string{"true"}, Env: os.Environ()})
			}
		}()
		<-done
		if startErr != nil {
			t.Fatal(startErr)
		}
		stopAtEnd(t, p, []string{"sleep", "30"})
		procs = append(procs, p)
		if joinErr != nil {
			t.Fatalf("join %d: %v", i, joinErr)
		}
	}
	time.Sleep(100 * time.Millisecond)
	var died []string
	for _, p := range procs {
		if !p.Alive() {
			res, _ := p.Wait(context.Background(), 0)
			died = append(died, fmt.Sprintf("%d (rc %d)", p.PID(), res.RC))
		}
	}
	if len(died) > 0 {
		t.Errorf("%d of %d processes started in %s ended after a later join of process %d: %v", len(died), len(procs), ns, target.PID(), died)
	}
	if !target.Alive() {
		t.Errorf("the joined process %d ended", target.PID())
	}
}

// StartTime is stable for a pid, later for a later process, and read
// right even when the command's name holds spaces and parentheses.
func TestStartTime(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	self, err := kernel.StartTime(os.Getpid())
	must(t, err)
	// A copy of sleep named so that /proc/PID/stat's comm field is "x) y (z".
	odd := filepath.Join(t.TempDir(), "x) y (z")
	sleepPath, err := exec.LookPath("sleep")
	must(t, err)
	data, err := os.ReadFile(sleepPath)
	must(t, err)
	must(t, os.WriteFile(odd, data, 0o755))
	for _, argv := range [][]string{{"sleep", "30"}, {odd, "30"}} {
		p := startProc(t, kernel.ExecSpec{NS: ns, Argv: argv})
		a, err := kernel.StartTime(p.PID())
		must(t, err)
		time.Sleep(20 * time.Millisecond)
		b, err := kernel.StartTime(p.PID())
		must(t, err)
		up, err := os.ReadFile("/proc/uptime")
		must(t, err)
		secs, _ := strconv.ParseFloat(strings.Fields(string(up))[0], 64)
		now := uint64(secs * 100) // clock ticks: USER_HZ is 100 on Linux
		if a != b || a < self || a > now+1 {
			t.Errorf("StartTime(%d) = %d then %d; want one value between the test's %d and now %d", p.PID(), a, b, self, now)
		}
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.PID())); argv[0] == odd && string(comm) != "x) y (z\n" {
			t.Errorf("the odd command's comm is %q", comm)
		}
	}
	if _, err := kernel.StartTime(1 << 30); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("StartTime of no process: %v, want ErrNotFound", err)
	}
}

// StopPID stops the process and its group when the start time matches, and
// leaves a process whose start time does not match alone.
func TestStopPID(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	for _, tc := range []struct {
		name, script string
		slow         bool
	}{
		{"TERM", "sleep 30 & echo $! > PIDFILE; wait", false},
		{"KILL after grace", "trap '' TERM; sleep 30 & echo $! > PIDFILE; wait", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noNewProcesses(t)
			file := filepath.Join(t.TempDir(), "pid")
			p := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sh", "-c", strings.ReplaceAll(tc.script, "PIDFILE", file)}})
			child := childPID(t, file)
			st, err := kernel.StartTime(p.PID())
			must(t, err)
			began := time.Now()
			stopped, err := kernel.StopPID(p.PID(), st, 300*time.Millisecond)
			took := time.Since(began)
			if !stopped || err != nil {
				t.Errorf("StopPID of a running process = %v, %v; want true, nil", stopped, err)
			}
			if !eventually(2*time.Second, func() bool { return !alive(p.PID()) && !alive(child) }) {
				t.Errorf("after StopPID: shell alive %v, its child alive %v", alive(p.PID()), alive(child))
			}
			if tc.slow != (took >= 300*time.Millisecond) {
				t.Errorf("StopPID took %s (grace 300ms; the command ignores SIGTERM: %v)", took, tc.slow)
			}
			if stopped, err := kernel.StopPID(p.PID(), st, 300*time.Millisecond); stopped || err != nil {
				t.Errorf("StopPID of an ended process = %v, %v; want false, nil", stopped, err)
			}
		})
	}

	// Another start time: another process under the same pid. Untouched.
	p := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sleep", "30"}})
	st, err := kernel.StartTime(p.PID())
	must(t, err)
	for _, other := range []uint64{st + 1, st - 1, 0} {
		if stopped, err := kernel.StopPID(p.PID(), other, 100*time.Millisecond); stopped || err != nil {
			t.Errorf("StopPID(%d, start %d) of a process that started at %d = %v, %v; want false, nil", p.PID(), other, st, stopped, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if !p.Alive() || !alive(p.PID()) {
		t.Errorf("StopPID with another start time stopped process %d", p.PID())
	}
	if stopped, err := kernel.StopPID(1<<30, st, 100*time.Millisecond); stopped || err != nil {
		t.Errorf("StopPID of no process = %v, %v; want false, nil", stopped, err)
	}
}
