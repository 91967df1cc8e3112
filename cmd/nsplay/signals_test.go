package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

const signalsPlaybook = "testdata/signals.star"

// signalled is an nsplay started in a process of its own whose stdout
// lines the test follows as they come, so that it can signal the run
// right after a given line: no sleep decides when.
type signalled struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	mu     sync.Mutex
	lines  []string
	more   chan struct{} // a line came
	eof    chan struct{} // stdout ended
}

func startFollowed(t *testing.T, args ...string) *signalled {
	t.Helper()
	s := &signalled{cmd: nsplayProcess(t, args...), more: make(chan struct{}, 1), eof: make(chan struct{})}
	s.cmd.Stderr = &s.stderr
	pipe, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill(); s.wait() })
	go func() {
		defer close(s.eof)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
			select {
			case s.more <- struct{}{}:
			default:
			}
		}
	}()
	return s
}

// awaitLine waits until the n-th line (from 1) of stdout has come, or a
// line matches match if n is 0, and returns it.
func (s *signalled) awaitLine(t *testing.T, n int, match func(string) bool) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for ended := false; ; {
		s.mu.Lock()
		lines := slices.Clone(s.lines)
		s.mu.Unlock()
		for i, line := range lines {
			if i+1 == n || (n == 0 && match(line)) {
				return line
			}
		}
		if ended {
			s.cmd.Wait()
			t.Fatalf("nsplay ended before that line came\nstdout:\n%s\nstderr:\n%s", s.out(), s.stderr.String())
		}
		select {
		case <-s.more:
		case <-s.eof:
			ended = true // look at the last lines once more
		case <-deadline:
			t.Fatalf("the line did not come within 60s\nstdout:\n%s", s.out())
		}
	}
}

// wait waits until nsplay has ended and returns its exit status (-1 when
// a signal ended it).
func (s *signalled) wait() int {
	<-s.eof
	s.cmd.Wait()
	return s.cmd.ProcessState.ExitCode()
}

// waitWithin is wait, but nsplay that has not ended within limit is a
// failure of the test, and is killed.
func (s *signalled) waitWithin(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-s.eof:
	case <-time.After(limit):
		t.Errorf("nsplay did not end within %s of the signal\nstdout:\n%s", limit, s.out())
		s.cmd.Process.Kill()
	}
	return s.wait()
}

func (s *signalled) out() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n") + "\n"
}

// awaitProcessesOf waits (10 s at most) until no process runs that did not
// run when the snapshot was taken: after kill -9, the commands nsplay ran
// die of the parent-death signal, a little later.
func awaitProcessesOf(t *testing.T, before testenv.Snapshot) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
		if !slices.ContainsFunc(testenv.Processes(t), func(p string) bool { _, ok := before["process "+p]; return !ok }) {
			return
		}
	}
}

// awaitBlocked waits until every thread of process pid sleeps (state S
// in /proc/PID/task/*/stat): a thread with work to do is R (running or
// runnable), so the process is then blocked, waiting for something.
func awaitBlocked(t *testing.T, pid int) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 60*time.Second; time.Sleep(time.Millisecond) {
		stats, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		blocked := len(stats) > 0
		for _, path := range stats {
			data, err := os.ReadFile(path)
			end := bytes.LastIndexByte(data, ')')
			if err != nil || end < 0 || !bytes.HasPrefix(data[end:], []byte(") S ")) {
				blocked = false
				break
			}
		}
		if blocked {
			return
		}
	}
	t.Fatalf("nsplay (pid %d) was not blocked within 60s", pid)
}

// lineOf is the line number of the first line of file that contains text.
func lineOf(t *testing.T, file, text string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, text) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", file, text)
	return 0
}

// signalPoint is where a test signals a run of signals.star: right after
// the n-th line of its output (or the first line that matches), with the
// -D settings given; for a point inside a long builtin, once nsplay is
// blocked there too. A run signalled inside a long builtin must say that
// builtin's line.
type signalPoint struct {
	name   string
	vars   []string
	n      int
	match  func(string) bool
	inside int // the playbook line of the long builtin the signal lands in, or 0
	// teardown: the signal may come after the teardown, once the run
	// has ended by itself (with status 1: the reachability check failed).
	teardown bool
}

// TestSignalAfterEveryLine signals runs of signals.star, which builds a
// lab step by step and then runs three long builtins: after each line of
// its output up to the first long builtin (a long exec_in), inside a long
// expect.reachable, inside process.wait(), and during the teardown. Each
// point gets SIGINT, SIGTERM, SIGHUP and SIGKILL. After the first three
// the run has stopped at once with exit status 128+N, said where it was,
// and torn the lab down; after SIGKILL, `nsplay down` removes what is
// left. Either way nothing of the lab is left: no link, namespace, file,
// journal or process.
func TestSignalAfterEveryLine(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	execLine := lineOf(t, signalsPlaybook, `exec_in(ns, ["sleep"`)
	reachLine := lineOf(t, signalsPlaybook, "expect.reachable(")
	waitLine := lineOf(t, signalsPlaybook, "p.wait(")
	stepOf := func(line int) string { return fmt.Sprintf("%s:%d: ", signalsPlaybook, line) }

	// The lines up to the long exec_in, which prints its step line first.
	s := startFollowed(t, "run", signalsPlaybook)
	s.awaitLine(t, 0, func(l string) bool { return strings.HasPrefix(l, stepOf(execLine)) })
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.wait()
	steps := strings.Count(s.out(), "\n")
	if _, err := runDown(t); err != nil {
		t.Fatal(err)
	}
	awaitProcessesOf(t, before)
	before.AssertUnchanged(t)

	var points []signalPoint
	for n := 1; n <= steps; n++ {
		p := signalPoint{name: fmt.Sprintf("line%d", n), n: n}
		if n == steps {
			p.inside = execLine
		}
		points = append(points, p)
	}
	short := []string{"-D", "exec=0.01", "-D", "reach=10ms", "-D", "wait=0.01"}
	points = append(points,
		signalPoint{name: "reachable", vars: short[:2], inside: reachLine,
			match: func(l string) bool { return strings.HasSuffix(l, ": exec_in has returned") }},
		signalPoint{name: "wait", vars: append(short[:4:4], "-D", "wait=600"), inside: waitLine,
			match: func(l string) bool { return strings.HasSuffix(l, ": expect.reachable has returned") }},
		signalPoint{name: "teardown", vars: short, teardown: true,
			match: func(l string) bool { return strings.HasPrefix(l, "down: ") }})
	for _, p := range points {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGKILL} {
			t.Run(p.name+"/"+unix.SignalName(sig), func(t *testing.T) {
				s := startFollowed(t, append(append([]string{"run"}, p.vars...), signalsPlaybook)...)
				after := s.awaitLine(t, p.n, p.match)
				if p.inside != 0 {
					awaitBlocked(t, s.cmd.Process.Pid)
				}
				s.cmd.Process.Signal(sig)
				code := s.waitWithin(t, 30*time.Second)
				stderr := s.stderr.String()
				switch {
				case sig == syscall.SIGKILL:
					msgs, err := runDown(t)
					if err != nil && !(p.teardown && strings.Contains(err.Error(), "no lab signals is up")) {
						t.Errorf("kill -9 after %q, then nsplay down: %v (it reported %q)", after, err, msgs)
					}
					awaitProcessesOf(t, before)
				case p.teardown && code == exitFailed:
					// It had ended by itself before the signal came.
				case code != exitSignal+int(sig):
					t.Errorf("%v after %q: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", sig, after, code, exitSignal+int(sig), s.out(), stderr)
				case !strings.Contains(stderr, "interrupted by "+unix.SignalName(sig)+"; the lab was torn down\n"):
					t.Errorf("%v after %q: stderr %q does not say the run was interrupted and the lab torn down", sig, after, stderr)
				case p.inside != 0 && !strings.HasPrefix(stderr, "nsplay: "+strings.TrimSuffix(stepOf(p.inside), " ")):
					t.Errorf("%v inside the builtin at line %d: stderr %q does not name that line", sig, p.inside, stderr)
				case !regexp.MustCompile(`\n\d+ passed, \d+ failed\n$`).MatchString(s.out()):
					t.Errorf("%v after %q: no summary line\nstdout:\n%s", sig, after, s.out())
				}
				before.AssertUnchanged(t)
			})
		}
	}
}

// runDown runs `nsplay down signals` in this process.
func runDown(t *testing.T) ([]string, error) {
	t.Helper()
	// A command the killed nsplay was forking may hold its copy of the
	// lab's lock for a moment more (until it execs): down waits for that.
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		if infos, err := lab.List(model.DefaultPaths); err != nil || !slices.ContainsFunc(infos, func(i lab.Info) bool { return i.Name == "signals" && i.State == "running" }) {
			break
		}
	}
	stdout, stderr, code := run(t, "down", "signals")
	if code != exitOK {
		return strings.Split(stdout, "\n"), fmt.Errorf("exit status %d: %s", code, stderr)
	}
	return strings.Split(stdout, "\n"), nil
}
