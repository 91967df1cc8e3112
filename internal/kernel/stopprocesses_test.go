package kernel_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// StopProcesses ends every process in the namespace, with SIGKILL for one
// that ignores SIGTERM, and nothing else: not a process in another
// namespace, and not the test itself while one of its threads is inside.
func TestStopProcesses(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns, other := newNS(t), newNS(t)
	plain := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sleep", "30"}})
	stubborn := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"perl", "-e", `$SIG{TERM} = "IGNORE"; sleep 30`}})
	// PID 1 of a PID namespace of its own, still in ns.
	nested := startProc(t, kernel.ExecSpec{NS: ns, New: []string{"pid"}, Argv: []string{"sleep", "30"}})
	outside := startProc(t, kernel.ExecSpec{NS: other, Argv: []string{"sleep", "30"}})
	want := []int{plain.PID(), stubborn.PID(), nested.PID()}
	slices.Sort(want)
	// perl must have set its handler before the signal comes.
	if !eventually(5*time.Second, func() bool {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", stubborn.PID()))
		return strings.TrimSpace(string(comm)) == "perl" && sigIgnored(stubborn.PID(), unix.SIGTERM)
	}) {
		t.Fatalf("perl never ignored SIGTERM")
	}

	pids, err := ns.PIDs()
	slices.Sort(pids)
	var ipPIDs []int
	for _, f := range strings.Fields(testenv.IP(t, "netns", "pids", ns.Name)) {
		pid, _ := strconv.Atoi(f)
		ipPIDs = append(ipPIDs, pid)
	}
	slices.Sort(ipPIDs)
	if err != nil || !slices.Equal(pids, want) || !slices.Equal(ipPIDs, want) {
		t.Fatalf("PIDs of %s = %v, %v; ip netns pids = %v; want %v", ns, pids, err, ipPIDs, want)
	}

	// A thread of the test sits in ns meanwhile.
	inside, release, done := make(chan int), make(chan struct{}), make(chan error)
	go func() {
		done <- ns.In(func() error {
			inside <- unix.Gettid()
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			return nil
		})
	}()
	tid := <-inside
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
			<-done
		}
	})
	if got := nsInode(t, fmt.Sprintf("/proc/self/task/%d/ns/net", tid)); got != fdInode(t, ns) {
		t.Fatalf("the parked thread %d is not in %s", tid, ns)
	}

	start := time.Now()
	stopped, err := ns.StopProcesses(300 * time.Millisecond)
	took := time.Since(start)
	close(release)
	released = true
	if err := <-done; err != nil {
		t.Errorf("the parked thread: %v", err)
	}
	if err != nil {
		t.Errorf("StopProcesses: %v", err)
	}
	var got []int
	for _, p := range stopped {
		got = append(got, p.PID)
		if p.PID == os.Getpid() {
			t.Errorf("StopProcesses reports stopping the test itself: %+v", p)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("StopProcesses stopped %+v, want pids %v", stopped, want)
	}
	commands := map[int]string{}
	for _, p := range stopped {
		commands[p.PID] = p.Command
	}
	if commands[plain.PID()] != "sleep" || commands[stubborn.PID()] != "perl" || commands[nested.PID()] != "sleep" {
		t.Errorf("StopProcesses named the commands %v", commands)
	}
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("StopProcesses took %s with a 300ms grace and one process ignoring SIGTERM", took)
	}
	for _, tc := range []struct {
		p  *kernel.Proc
		rc int
	}{{plain, 143}, {stubborn, 137}, {nested, 137}} { // the init of a PID namespace takes only SIGKILL from outside
		if res, err := tc.p.Wait(context.Background(), 2*time.Second); err != nil || res.RC != tc.rc {
			t.Errorf("process %d ended with %+v, %v; want rc %d", tc.p.PID(), res, err, tc.rc)
		}
	}
	if pids, err := ns.PIDs(); err != nil || len(pids) != 0 {
		t.Errorf("PIDs of %s after StopProcesses = %v, %v", ns, pids, err)
	}
	if out := strings.TrimSpace(testenv.IP(t, "netns", "pids", ns.Name)); out != "" {
		t.Errorf("ip netns pids %s after StopProcesses = %q", ns.Name, out)
	}
	if !outside.Alive() || !alive(outside.PID()) {
		t.Errorf("StopProcesses in %s stopped process %d of %s", ns, outside.PID(), other)
	}

	// Nothing to stop: at once.
	start = time.Now()
	if stopped, err := ns.StopProcesses(time.Second); err != nil || len(stopped) != 0 || time.Since(start) > 500*time.Millisecond {
		t.Errorf("StopProcesses of an empty namespace = %v, %v after %s", stopped, err, time.Since(start))
	}
}

// sigIgnored tells whether process pid ignores sig (SigIgn in its status).
func sigIgnored(pid int, sig unix.Signal) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return false
}

// The test's own namespace holds the test: StopProcesses there stops the
// other processes and never the test, whose pid PIDs lists.
func TestStopProcessesNeverStopsTheCaller(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	host := current(t)
	pids, err := host.PIDs()
	if err != nil || !slices.Contains(pids, os.Getpid()) {
		t.Fatalf("PIDs of the test's namespace = %v, %v; want the test's pid %d among them", pids, err, os.Getpid())
	}
	p := startProc(t, kernel.ExecSpec{NS: host, Argv: []string{"sleep", "30"}})
	stopped, err := host.StopProcesses(time.Second)
	if err != nil {
		t.Errorf("StopProcesses: %v", err)
	}
	for _, s := range stopped {
		if s.PID == os.Getpid() {
			t.Errorf("StopProcesses reports stopping the test itself")
		}
	}
	if !slices.ContainsFunc(stopped, func(s kernel.Process) bool { return s.PID == p.PID() }) {
		t.Errorf("StopProcesses in the test's namespace = %+v, want %d among them", stopped, p.PID())
	}
	if res, err := p.Wait(context.Background(), 2*time.Second); err != nil || res.RC != 143 {
		t.Errorf("the sleep ended with %+v, %v", res, err)
	}
}
