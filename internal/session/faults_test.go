package session_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/session"
	"github.com/nsplay/nsplay/internal/testenv"
	"github.com/nsplay/nsplay/interp"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// faultyRun is one run of a playbook on a backend that fails one
// operation.
type faultyRun struct {
	out     session.Outcome
	ops     []model.Op // every operation applied (or failed), in order
	inRun   int        // how many of them the playbook made; the rest are teardown's
	stepAt  []string   // the playbook position (file:line) of each operation the playbook made
	downMsg []string   // the removals the run's teardown reported
}

// runFaulty runs file with a fault at the failAt-th operation (0: none).
func runFaulty(t *testing.T, file string, failAt int) faultyRun {
	t.Helper()
	var f *testenv.Faulty
	var r faultyRun
	open := func(paths model.Paths) (model.Backend, error) {
		var err error
		f, err = testenv.NewFaulty(paths, failAt)
		return f, err
	}
	emit := func(e interp.Event) {
		switch e.Kind {
		case "teardown":
			r.downMsg = append(r.downMsg, e.Msg)
		case "summary", "kept", "error":
		default:
			// Each operation of the playbook is followed by its step
			// line (or the error), before the next operation.
			r.inRun = len(f.Ops())
			for len(r.stepAt) < r.inRun {
				r.stepAt = append(r.stepAt, e.Pos)
			}
		}
	}
	out, err := session.Run(session.Options{Playbook: file, Paths: model.DefaultPaths, Backend: open, Emit: emit})
	if err != nil {
		t.Fatalf("%s did not start: %v", file, err)
	}
	r.out, r.ops = out, f.Ops()
	return r
}

// down runs `nsplay down` of the lab and returns what it reported.
func down(t *testing.T, name string) ([]string, error) {
	t.Helper()
	b, err := kernel.NewBackend(model.DefaultPaths)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var msgs []string
	err = lab.Down(name, b, model.DefaultPaths, func(msg string) { msgs = append(msgs, msg) })
	return msgs, err
}

// TestFaultAtEveryOperation runs every playbook of the repository once
// for each operation its clean run makes, with that operation failing:
// first each operation the playbook makes, then each operation of its
// teardown. A failed step stops the run with exit status 2 and an error
// that names the operation and the playbook line, and the teardown leaves
// nothing. A failed teardown operation is reported with exit status 2,
// everything else is still removed, and `nsplay down` removes the rest,
// leaving nothing.
func TestFaultAtEveryOperation(t *testing.T) {
	testenv.RequireRoot(t)
	files, err := filepath.Glob("../../playbooks/*.star")
	if err != nil || len(files) < 2 {
		t.Fatalf("playbooks: %v %v", files, err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".star")
		t.Run(name, func(t *testing.T) {
			before := testenv.TakeSnapshot(t)
			clean := runFaulty(t, file, 0)
			if st := clean.out.Status(); st != 0 {
				t.Fatalf("the clean run ended with status %d: %v %v", st, clean.out.RunErr, clean.out.DownErr)
			}
			before.AssertUnchanged(t)
			t.Logf("%d operations: %d of the playbook, %d of its teardown", len(clean.ops), clean.inRun, len(clean.ops)-clean.inRun)
			for n := 1; n <= len(clean.ops); n++ {
				t.Run(fmt.Sprint(n), func(t *testing.T) {
					r := runFaulty(t, file, n)
					if len(r.ops) < n {
						t.Fatalf("the run made %d operations, the clean run %d: the runs differ", len(r.ops), len(clean.ops))
					}
					op := r.ops[n-1]
					if got, want := pidless(op.Text()), pidless(clean.ops[n-1].Text()); got != want {
						t.Fatalf("operation %d is %q, in the clean run %q: the runs differ", n, got, want)
					}
					if st := r.out.Status(); st != 2 {
						t.Errorf("fault at %q: exit status %d, want 2", op.Text(), st)
					}
					if n <= clean.inRun {
						checkStepFault(t, r, op, clean.stepAt[n-1])
						if _, err := down(t, name); !errors.Is(err, model.ErrNotFound) {
							t.Errorf("after the run, nsplay down %s: %v; want no lab up", name, err)
						}
					} else {
						checkTeardownFault(t, r, op, name, clean.downMsg)
					}
					before.AssertUnchanged(t)
				})
			}
		})
	}
}

// checkStepFault checks the error of a run whose operation op, made at
// where (file:line), failed.
func checkStepFault(t *testing.T, r faultyRun, op model.Op, where string) {
	t.Helper()
	var pe *interp.Error
	if !errors.As(r.out.RunErr, &pe) || !errors.Is(r.out.RunErr, testenv.ErrInjected) {
		t.Fatalf("fault at %q: the run's error is %v, want the injected fault", op.Text(), r.out.RunErr)
	}
	if !strings.Contains(pe.Msg, op.Text()+": ") || !strings.HasPrefix(pe.Pos, where+":") {
		t.Errorf("fault at %q (%s): error %q does not name the operation and its line", op.Text(), where, pe)
	}
	if r.out.DownErr != nil {
		t.Errorf("fault at %q: the teardown failed: %v", op.Text(), r.out.DownErr)
	}
}

// checkTeardownFault checks a run whose teardown operation op failed: the
// failure is reported, and every other removal the clean run's teardown
// made (clean) is made, by the run or by `nsplay down`. (op itself may
// have nothing left to remove by then: a route in a process's namespace
// goes with the process.)
func checkTeardownFault(t *testing.T, r faultyRun, op model.Op, name string, clean []string) {
	t.Helper()
	err := r.out.DownErr
	if r.out.RunErr != nil || !errors.Is(err, testenv.ErrInjected) || !strings.Contains(err.Error(), op.Text()+": ") ||
		!strings.Contains(err.Error(), "nsplay down "+name) {
		t.Errorf("fault at %q in the teardown: run error %v, teardown error %v; want the teardown error to name the operation and `nsplay down %s`",
			op.Text(), r.out.RunErr, err, name)
	}
	msgs, err := down(t, name)
	if err != nil {
		t.Fatalf("fault at %q in the teardown, then nsplay down %s: %v (it reported %q)", op.Text(), name, err, msgs)
	}
	done := map[string]bool{}
	for _, m := range append(r.downMsg, msgs...) {
		done[pidless(m)] = true
	}
	for _, m := range clean {
		if !done[pidless(m)] && pidless(m) != pidless(op.Text()) {
			t.Errorf("fault at %q in the teardown: %q was never done (the run's teardown did %q, down %q)", op.Text(), m, r.downMsg, msgs)
		}
	}
	// The teardown went on past the failure: down has only that left, and
	// the folders that hold it.
	for _, m := range msgs {
		dir, isDir := strings.CutPrefix(m, "rmdir ")
		if pidless(m) != pidless(op.Text()) && !(isDir && strings.Contains(op.Text(), " "+dir+"/")) {
			t.Errorf("fault at %q in the teardown: down did %q, which the run's teardown should have done", op.Text(), m)
		}
	}
	t.Logf("%q failed; the teardown did %q, down %q", op.Text(), r.downMsg, msgs)
}

var pid = regexp.MustCompile(`(kill |/proc/)\d+`)

// pidless is a step or teardown line with its process ids written PID:
// they differ from run to run.
func pidless(line string) string { return pid.ReplaceAllString(line, "${1}PID") }
