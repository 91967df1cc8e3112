package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/testenv"
)

// TestPlanAgreesOnAllReachable: nsplay plan decides expect.all_reachable
// in the model and prints the check lines nsplay run prints, failed pairs
// and their diagnoses too, but for the round trips, which only the kernel
// knows.
func TestPlanAgreesOnAllReachable(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	const file = "testdata/allreachable.star"
	ran, stderr, code := run(t, "run", file)
	wantExit(t, code, exitFailed, ran, stderr)
	planned, stderr, code := run(t, "plan", file)
	wantExit(t, code, exitFailed, planned, stderr)
	got, want := batchChecks(planned, " (in the model)"), batchChecks(ran, ", p50 N ms, max N ms")
	if len(want) != 2 || !slices.Equal(got, want) {
		t.Errorf("plan's checks differ from run's\nplan:\n%s\nrun:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(ran, "3 of 8 answered") || !strings.Contains(ran, "10.8.0.1 from arh1 (eth0 in arh1 has no carrier: its peer arh1 in host is down)") {
		t.Errorf("the failed check does not count the answers or diagnose the pair whose port is down:\n%s", ran)
	}
	before.AssertUnchanged(t)
}

// TestPlanAllReachableUnknown: a pair whose address only the kernel knows
// makes the check undecided in a plan, not an error.
func TestPlanAllReachableUnknown(t *testing.T) {
	src := `n = netns("u1")
n.link("lo").set_up()
expect.all_reachable([(n, "127.0.0.1"), (n, exec_in(n, "echo 127.0.0.1").stdout.strip())])
`
	playbook := writePlaybook(t, "unknown.star", src)
	stdout, stderr, code := run(t, "plan", playbook)
	wantExit(t, code, exitOK, stdout, stderr)
	if want := "UNDECIDED " + playbook + ":3: expect.all_reachable: exec_in(...).stdout.strip() is known only to the kernel\n"; !strings.Contains(stdout, want) {
		t.Errorf("plan output lacks %q:\n%s", want, stdout)
	}
}

var echoTime = regexp.MustCompile(`\d+\.\d+ ms`)

// batchChecks are the PASS and FAIL lines of a text report, with the
// round trips' place (given as the plan or the run prints it) left out.
func batchChecks(out, roundTrips string) []string {
	var lines []string
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "PASS ") || strings.HasPrefix(line, "FAIL ") {
			line = strings.Replace(echoTime.ReplaceAllString(line, "N ms"), roundTrips, "", 1)
			lines = append(lines, strings.TrimSuffix(line, "\n"))
		}
	}
	return lines
}
