package lab_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// alive tells whether process pid runs; a zombie does not (the test binary
// is PID 1 of its sandbox and does not reap orphans).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(data[strings.LastIndexByte(string(data), ')'):]), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func eventually(limit time.Duration, cond func() bool) bool {
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Since(start) > limit {
			return false
		}
	}
}

// startProc starts a command through the backend as spawn does; when the
// test ends it is stopped if it still runs, and checked to be gone.
func startProc(t *testing.T, b model.Backend, ns model.NSRef, argv ...string) model.Proc {
	t.Helper()
	p, err := b.Start(model.ExecSpec{NS: ns, Argv: argv, Env: os.Environ()})
	if err != nil {
		t.Fatalf("Start(%q): %v", argv, err)
	}
	pid := p.PID()
	t.Cleanup(func() {
		p.Stop(200 * time.Millisecond)
		if !eventually(2*time.Second, func() bool { return !alive(pid) }) {
			t.Errorf("process %d %q still runs after the test", pid, argv)
			unix.Kill(-pid, unix.SIGKILL)
			unix.Kill(pid, unix.SIGKILL)
		}
	})
	return p
}

// journalProcs returns the processes the lab's journal file says it
// started and has not stopped.
func journalProcs(t *testing.T, name string) []model.ProcStart {
	t.Helper()
	var procs []model.ProcStart
	for _, e := range journalEntries(t, name) {
		if p, ok := e.Op.(model.ProcStart); ok {
			procs = append(procs, p)
		}
	}
	return procs
}

// Spawned journals the process with its pid and start time; Teardown stops
// it through its handle first, then stops what else runs in the lab's
// namespaces, and says so.
func TestTeardownStopsSpawnedProcesses(t *testing.T) {
	l, name, b := newLab(t)
	nsName := uniq("sp")
	ns := model.Named(nsName)
	do(t, l, model.NetnsAdd{Name: nsName})

	p := startProc(t, b, ns, "sleep", "30")
	must(t, l.Spawned(p, "sleep"))
	start, err := kernel.StartTime(p.PID())
	must(t, err)
	want := model.ProcStart{PID: p.PID(), Start: start, Command: "sleep"}
	if js := journalProcs(t, name); len(js) != 1 || js[0] != want {
		t.Errorf("the journal's processes = %+v, want %+v", js, want)
	}
	// A process spawned here that has ended already is not journalled.
	done := startProc(t, b, ns, "true")
	done.Wait(context.Background(), 5*time.Second)
	must(t, l.Spawned(done, "true"))
	if n := countKind(t, name, "proc"); n != 1 {
		t.Errorf("%d proc objects after spawning a process that ended; want 1", n)
	}

	// A process the lab did not spawn (a shell a user opened in the lab).
	shell := startProc(t, b, ns, "sleep", "31")

	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	spawned := fmt.Sprintf("kill %d (sleep)", p.PID())
	stray := fmt.Sprintf("kill %d (sleep) in %s", shell.PID(), nsName)
	for _, line := range []string{spawned, stray} {
		if !slices.Contains(reports, line) {
			t.Errorf("the reports lack %q:\n  %s", line, strings.Join(reports, "\n  "))
		}
	}
	if i, j := slices.Index(reports, spawned), index(reports, "ip netns del "+nsName); i > j {
		t.Errorf("the namespace went before the process in it:\n  %s", strings.Join(reports, "\n  "))
	}
	if p.Alive() || alive(p.PID()) {
		t.Errorf("the spawned process %d still runs after Teardown", p.PID())
	}
	// StopProcesses returns once the namespace is empty; the process may
	// still be on its way out.
	if !eventually(2*time.Second, func() bool { return !alive(shell.PID()) }) {
		t.Errorf("the process %d in the lab's namespace still runs after Teardown", shell.PID())
	}
	if res, err := p.Wait(context.Background(), time.Second); err != nil || res.RC != 143 {
		t.Errorf("the spawned process ended with %+v, %v; want SIGTERM (rc 143)", res, err)
	}
	if kernel.NamedExists(paths.RunNetns, nsName) {
		t.Errorf("namespace %s is still there", nsName)
	}
}

// After a crash (the lab let go of without teardown), Down stops the
// spawned process by its pid and start time, and leaves a process alone
// whose start time does not match: its pid now names another process.
func TestDownStopsSpawnedProcessesAfterACrash(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	name := newLabName(t, b)
	l, err := lab.Open(name, b, paths, "crash.star")
	must(t, err)
	// In the host namespace, which teardown does not sweep: only the
	// journal leads to it.
	p := startProc(t, b, model.Host, "sleep", "30")
	must(t, l.Spawned(p, "sleep"))
	ended := startProc(t, b, model.Host, "sleep", "30")
	must(t, l.Spawned(ended, "sleep"))
	l.Close()
	ended.Stop(time.Second)

	other := startProc(t, b, model.Host, "sleep", "30")
	st, err := kernel.StartTime(other.PID())
	must(t, err)
	appendJournal(t, name, doRecord(t, 1000, model.ProcStart{PID: other.PID(), Start: st + 1, Command: "impostor"}))

	if info, ok := labInfo(t, name); !ok || info.State != "orphaned" || info.Objects != 3 {
		t.Errorf("List after the crash: %+v (listed %v); want orphaned with 3 objects", info, ok)
	}
	var reports []string
	must(t, lab.Down(name, b, paths, func(s string) { reports = append(reports, s) }))
	if want := []string{fmt.Sprintf("kill %d (sleep)", p.PID())}; !slices.Equal(reports, want) {
		t.Errorf("Down reported:\n  %s\nwant:\n  %s", strings.Join(reports, "\n  "), strings.Join(want, "\n  "))
	}
	if !eventually(2*time.Second, func() bool { return !alive(p.PID()) }) {
		t.Errorf("the spawned process %d still runs after Down", p.PID())
	}
	if res, err := p.Wait(context.Background(), time.Second); err != nil || res.RC != 143 {
		t.Errorf("the spawned process ended with %+v, %v; want SIGTERM (rc 143)", res, err)
	}
	time.Sleep(50 * time.Millisecond)
	if !other.Alive() || !alive(other.PID()) {
		t.Errorf("Down stopped process %d, whose start time is not the journal's", other.PID())
	}
	if _, err := os.Stat(filepath.Join(paths.Labs, name)); !os.IsNotExist(err) {
		t.Errorf("the lab's folder is still there: %v", err)
	}
}

// Teardown stops what a spawned command started in the
// background after the command itself ended (a server started with "&").
func TestTeardownStopsWhatASpawnedCommandLeft(t *testing.T) {
	l, _, b := newLab(t)
	file := filepath.Join(t.TempDir(), "pid")
	p := startProc(t, b, model.Host, "sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $! > "+file)
	must(t, l.Spawned(p, "sh"))
	var child int
	if !eventually(5*time.Second, func() bool {
		b, _ := os.ReadFile(file)
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return child > 0
	}) {
		t.Fatalf("the shell never wrote its child's pid")
	}
	t.Cleanup(func() { unix.Kill(child, unix.SIGKILL) })
	p.Wait(context.Background(), 5*time.Second)
	must(t, l.Teardown(func(string) {}))
	if !eventually(2*time.Second, func() bool { return !alive(child) }) {
		t.Errorf("process %d, started in the background by a spawned command (process group %d), still runs after Teardown", child, p.PID())
	}
}
