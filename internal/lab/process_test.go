package lab_test

import (
	"bufio"
	"context"
	"encoding/json"
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

// startProc starts a command as spawn does; when the test ends it is
// stopped if it still runs, and checked to be gone.
func startProc(t *testing.T, spec kernel.ExecSpec) *kernel.Proc {
	t.Helper()
	spec.Env = os.Environ()
	p, err := kernel.Start(spec)
	if err != nil {
		t.Fatalf("Start(%q): %v", spec.Argv, err)
	}
	pid := p.PID()
	t.Cleanup(func() {
		p.Stop(200 * time.Millisecond)
		if !eventually(2*time.Second, func() bool { return !alive(pid) }) {
			t.Errorf("process %d %q still runs after the test", pid, spec.Argv)
			unix.Kill(-pid, unix.SIGKILL)
			unix.Kill(pid, unix.SIGKILL)
		}
	})
	return p
}

// journalProcs returns the proc objects the lab's journal file adds.
func journalProcs(t *testing.T, name string) []lab.Object {
	t.Helper()
	f, err := os.Open(filepath.Join(lab.Dir, name, "journal"))
	must(t, err)
	defer f.Close()
	var procs []lab.Object
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Op  string      `json:"op"`
			Obj *lab.Object `json:"obj"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Op == "add" && r.Obj.Kind == "proc" {
			procs = append(procs, *r.Obj)
		}
	}
	return procs
}

// appendJournal adds a raw line to a lab's journal, as an older run would
// have written it.
func appendJournal(t *testing.T, name, line string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(lab.Dir, name, "journal"), os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.WriteString(line + "\n")
	must(t, err)
	must(t, f.Close())
}

// Spawned journals the process with its pid and start time; Teardown stops
// it through its handle first, then stops what else runs in the lab's
// namespaces, and says so.
func TestTeardownStopsSpawnedProcesses(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	nsName := uniq("sp")
	ns, _, err := l.Netns(nsName)
	must(t, err)

	p := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sleep", "30"}})
	must(t, l.Spawned(p, "sleep"))
	start, err := kernel.StartTime(p.PID())
	must(t, err)
	want := lab.Object{Kind: "proc", Name: "sleep", PID: p.PID(), Start: start}
	var got []lab.Object
	for _, o := range l.Objects() {
		if o.Kind == "proc" {
			o.ID = 0
			got = append(got, o)
		}
	}
	if len(got) != 1 || got[0] != want {
		t.Errorf("the lab's proc objects = %+v, want %+v", got, want)
	}
	if js := journalProcs(t, name); len(js) != 1 || js[0].PID != p.PID() || js[0].Start != start || js[0].Name != "sleep" {
		t.Errorf("the journal's proc objects = %+v, want pid %d start %d", js, p.PID(), start)
	}
	// A process spawned here that has ended already is not journalled.
	done := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"true"}})
	done.Wait(context.Background(), 5*time.Second)
	must(t, l.Spawned(done, "true"))
	if n := countKind(l, "proc"); n != 1 {
		t.Errorf("%d proc objects after spawning a process that ended; want 1", n)
	}

	// A process the lab did not spawn (a shell a user opened in the lab).
	shell := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sleep", "31"}})

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
	if kernel.NamedExists(nsName) {
		t.Errorf("namespace %s is still there", nsName)
	}
}

// After a crash (the lab let go of without teardown), Down stops the
// spawned process by its pid and start time, and leaves a process alone
// whose start time does not match: its pid now names another process.
func TestDownStopsSpawnedProcessesAfterACrash(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l, err := lab.Open(name, host, "crash.star")
	must(t, err)
	// In the host namespace, which teardown does not sweep: only the
	// journal leads to it.
	p := startProc(t, kernel.ExecSpec{NS: host, Argv: []string{"sleep", "30"}})
	must(t, l.Spawned(p, "sleep"))
	ended := startProc(t, kernel.ExecSpec{NS: host, Argv: []string{"sleep", "30"}})
	must(t, l.Spawned(ended, "sleep"))
	l.Close()
	ended.Stop(time.Second)

	other := startProc(t, kernel.ExecSpec{NS: host, Argv: []string{"sleep", "30"}})
	st, err := kernel.StartTime(other.PID())
	must(t, err)
	appendJournal(t, name, fmt.Sprintf(`{"op":"add","obj":{"id":1000,"kind":"proc","name":"impostor","pid":%d,"start":%d}}`, other.PID(), st+1))

	if info, ok := labInfo(t, name); !ok || info.State != "orphaned" || info.Objects != 3 {
		t.Errorf("List after the crash: %+v (listed %v); want orphaned with 3 objects", info, ok)
	}
	var reports []string
	must(t, lab.Down(name, host, func(s string) { reports = append(reports, s) }))
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
	if _, err := os.Stat(filepath.Join(lab.Dir, name)); !os.IsNotExist(err) {
		t.Errorf("the lab's folder is still there: %v", err)
	}
}

// Teardown stops what a spawned command started in the
// background after the command itself ended (a server started with "&").
func TestTeardownStopsWhatASpawnedCommandLeft(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	file := filepath.Join(t.TempDir(), "pid")
	p := startProc(t, kernel.ExecSpec{NS: host, Argv: []string{"sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $! > " + file}})
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
