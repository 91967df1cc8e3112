package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/testenv"
)

const starPlaybook = "../../playbooks/star.star"

// TestStarOverSeveralBridges builds the star over three bridges (two
// hosts a bridge), whose hosts reach each other through the switch's
// routing, and plans it: plan and run print the same steps and checks.
func TestStarOverSeveralBridges(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	args := []string{"-D", "hosts=5", "-D", "per_bridge=2", starPlaybook}
	ran, stderr, code := run(t, append([]string{"run"}, args...)...)
	wantExit(t, code, exitOK, ran, stderr)
	for _, want := range []string{"link add br2 type bridge", "set h5-eth0 master br2", "every host of br2 is a port of it: expect.eq(1, 1)", "expect.all_reachable: 5 of 5 answered", "8 passed, 0 failed"} {
		if !strings.Contains(ran, want) {
			t.Errorf("run lacks %q:\n%s", want, ran)
		}
	}
	planned, stderr, code := run(t, append([]string{"plan"}, args...)...)
	wantExit(t, code, exitOK, planned, stderr)
	if got, want := steps(planned), steps(ran); !slices.Equal(got, want) {
		t.Errorf("plan's steps differ from run's\nplan:\n%s\nrun:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := batchChecks(planned, " (in the model)"), batchChecks(ran, ", p50 N ms, max N ms"); !slices.Equal(got, want) {
		t.Errorf("plan's checks differ from run's\nplan:\n%s\nrun:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	before.AssertUnchanged(t)
}

// TestStarRefusesNonsense: sizes the star cannot be are refused before
// anything is made, saying what would do.
func TestStarRefusesNonsense(t *testing.T) {
	for _, tc := range []struct{ defines, want string }{
		{"hosts=1", "fail: hosts=1: choose between 2 and 10000 hosts"},
		{"hosts=10001", "fail: hosts=10001: choose between 2 and 10000 hosts"},
		{"per_bridge=0", "fail: per_bridge=0: a bridge takes from 1 to 1023 ports"},
		{"per_bridge=1024", "fail: per_bridge=1024: a bridge takes from 1 to 1023 ports"},
		{"per_bridge=10", "fail: hosts=3000, per_bridge=10 make 300 bridges: each takes a /16 of 10.0.0.0/8, so at most 256; put more hosts on a bridge"},
	} {
		args := []string{"plan", "-D", "hosts=3000", "-D", tc.defines, starPlaybook}
		stdout, stderr, code := run(t, args...)
		if code != exitError || !strings.Contains(stderr, tc.want) || strings.Contains(stdout, "netns add") {
			t.Errorf("nsplay %s: exit %d, want %d with %q and no step\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, exitError, tc.want, stdout, stderr)
		}
	}
}
