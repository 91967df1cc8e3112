package main

import (
	"bufio"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/testenv"
)

// TestPlanPrintsTheStepsOfRun plans and runs every repository playbook:
// the plan prints the step and teardown lines the run prints, in the same
// order, but for the pids of processes, which only the kernel gives.
func TestPlanPrintsTheStepsOfRun(t *testing.T) {
	testenv.RequireRoot(t)
	files, err := filepath.Glob("../../playbooks/*.star")
	if err != nil || len(files) < 2 {
		t.Fatalf("playbooks: %v %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			cleanLabs(t)
			planned, stderr, code := run(t, "plan", "--json", file)
			wantExit(t, code, exitOK, planned, stderr)
			ran, stderr, code := run(t, "run", "--json", file)
			wantExit(t, code, exitOK, ran, stderr)
			if want, got := stepsOf(t, ran), stepsOf(t, planned); !slices.Equal(got, want) {
				t.Errorf("plan's steps differ from run's:\nplan:\n  %s\nrun:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

var pids = regexp.MustCompile(`/proc/\d+/|-t \d+ |kill \d+ `)

// stepsOf lists the step and teardown events of a --json run as
// "pos: msg", with pids left out.
func stepsOf(t *testing.T, jsonLines string) []string {
	t.Helper()
	var steps []string
	sc := bufio.NewScanner(strings.NewReader(jsonLines))
	for sc.Scan() {
		var e struct{ Kind, Pos, Msg string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%v: %q", err, sc.Text())
		}
		if e.Kind == "step" || e.Kind == "teardown" {
			steps = append(steps, pids.ReplaceAllString(e.Pos+": "+e.Msg, "PID "))
		}
	}
	return steps
}
