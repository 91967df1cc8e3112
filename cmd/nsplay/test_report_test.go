package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nsplay/nsplay/internal/testenv"
)

// testPlaybooks copies playbooks into a folder of their own, named as
// given, and returns the folder.
func testPlaybooks(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		data, err := os.ReadFile(src)
		if err != nil {
			data = []byte(src) // the playbook itself
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// nsplayTestSplit runs nsplay test in a process of its own and returns
// its stdout and stderr apart, and its exit status.
func nsplayTestSplit(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := nsplayProcess(t, append([]string{"test"}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Run()
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// TestTestReports runs three playbooks with nsplay test, one that prints
// and fails (its golden file records the failure), one that fails at an
// error, and one that passes, in each format: stdout is the report alone,
// the playbooks in the order of the list.
func TestTestReports(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	dir := testPlaybooks(t, map[string]string{"a.star": "testdata/report.star", "b.star": "testdata/error.star", "c.star": "testdata/multiline.star"})
	if out, code := nsplayTest(t, "--update-failing", dir); code != exitOK {
		t.Fatalf("--update-failing: status %d\n%s", code, out)
	}
	a, b, c := filepath.Join(dir, "a.star"), filepath.Join(dir, "b.star"), filepath.Join(dir, "c.star")

	stdout, stderr, code := nsplayTestSplit(t, "--format", "junit", "-j", "3", dir)
	wantExit(t, code, exitOK, stdout, stderr)
	doc := parseJUnit(t, stdout)
	var names []string
	for _, s := range doc.Suites {
		var cases []string
		for _, c := range s.Cases {
			cases = append(cases, c.Name)
		}
		names = append(names, s.Name+": "+strings.Join(cases, ", "))
	}
	want := []string{
		a + ": a.star:5: lo is up, a.star:6: expect.true, a.star:8: expect.contains, a.star:8: expect.contains #2, golden file " + strings.TrimSuffix(a, ".star") + ".golden",
		b + ": b.star:3:5: error, golden file " + strings.TrimSuffix(b, ".star") + ".golden",
		c + ": c.star:4: two\nlines, c.star:5: tab\there, golden file " + strings.TrimSuffix(c, ".star") + ".golden",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("suites and testcases (-want +got):\n%s", diff)
	}
	if doc.Failures != 1 || doc.Errors != 1 || doc.Suites[0].Cases[0].Failure == nil || doc.Suites[1].Cases[0].Error == nil {
		t.Errorf("want the failed check as a failure and the error as an error:\n%s", stdout)
	}
	if want := "PASS " + a + "\nPASS " + b + "\nPASS " + c + "\n3 passed, 0 failed\n"; stderr != want {
		t.Errorf("stderr = %q, want the text lines %q", stderr, want)
	}

	stdout, stderr, code = nsplayTestSplit(t, "--format", "tap", a, b)
	wantExit(t, code, exitOK, stdout, stderr)
	wantTAP := `TAP version 14
1..2
# Subtest: ` + a + `
    not ok 1 - a.star:5: lo is up: expect.eq: got False, want True
      ---
      at: "a.star:5"
      message: "lo is up: expect.eq: got False, want True"
      got: "False"
      want: "True"
      ...
    ok 2 - a.star:6: expect.true(True)
    ok 3 - a.star:8: expect.contains: "a\#b" in ["a\#b", "c"]
    ok 4 - a.star:8: expect.contains: "a\#b" in ["a\#b", "c"]
    1..4
ok 1 - ` + a + `
# Subtest: ` + b + `
    not ok 1 - error b.star:3:5: veth: interface name "a-veth-name-too-long" is 20 bytes; Linux allows at most 15
      ---
      at: "b.star:3:5"
      message: "veth: interface name \"a-veth-name-too-long\" is 20 bytes; Linux allows at most 15"
      ...
    1..1
ok 2 - ` + b + `
`
	if diff := cmp.Diff(strings.Split(wantTAP, "\n"), strings.Split(stdout, "\n")); diff != "" {
		t.Errorf("TAP report (-want +got):\n%s", diff)
	}

	// The lab of a.star differs now: FAIL, with the diff, in every format.
	golden := strings.TrimSuffix(a, ".star") + ".golden"
	data, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(golden, bytes.Replace(data, []byte("netns rp1"), []byte("netns rp9"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = nsplayTestSplit(t, "-q", dir)
	wantExit(t, code, exitFailed, stdout, stderr)
	if !strings.HasPrefix(stdout, "FAIL "+a+": the lab differs from "+golden+" (-golden +now):\n") ||
		!strings.Contains(stdout, "\n-netns rp9 (created by the lab)\n+netns rp1 (created by the lab)\n") ||
		strings.Contains(stdout, "\nPASS ") || !strings.HasSuffix(stdout, "\n2 passed, 1 failed\n") {
		t.Errorf("-q: want the failure with its diff and the summary alone:\n%s", stdout)
	}
	stdout, stderr, code = nsplayTestSplit(t, "--format", "junit", a)
	wantExit(t, code, exitFailed, stdout, stderr)
	cases := parseJUnit(t, stdout).Suites[0].Cases
	if f := cases[len(cases)-1].Failure; f == nil || f.Message != "the lab differs from "+golden+" (-golden +now):" || !strings.Contains(f.Text, "+netns rp1") {
		t.Errorf("the golden testcase does not fail with the diff:\n%s", stdout)
	}
	stdout, stderr, code = nsplayTestSplit(t, "--format", "tap", a)
	wantExit(t, code, exitFailed, stdout, stderr)
	if !strings.Contains(stdout, "\nnot ok 1 - "+a+"\n  ---\n  message: \"the lab differs from "+golden+" (-golden +now):\\n") {
		t.Errorf("the TAP point of the playbook does not fail with the diff:\n%s", stdout)
	}
	before.AssertUnchanged(t)
}

// TestTestInParallel runs a slow playbook first and two quick ones with
// -j 3: the quick ones end before the slow one, and the report still has
// each playbook's events together, in the order of the list.
func TestTestInParallel(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	dir := testPlaybooks(t, map[string]string{
		"1.star": "exec_in(host, \"sleep 2\")\nexpect.true(True)\n",
		"2.star": "testdata/failing.star",
		"3.star": "testdata/multiline.star",
	})
	if out, code := nsplayTest(t, "--update-failing", dir); code != exitOK {
		t.Fatalf("--update-failing: status %d\n%s", code, out)
	}
	stdout, stderr, code := nsplayTestSplit(t, "--json", "-j", "3", dir)
	wantExit(t, code, exitOK, stdout, stderr)
	var order []string
	ended := map[string]time.Time{}
	var last map[string]any
	for line := range strings.Lines(stdout) {
		last = nil
		if err := json.Unmarshal([]byte(line), &last); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		p, _ := last["playbook"].(string)
		if len(order) == 0 || order[len(order)-1] != p {
			order = append(order, p)
		}
		if last["kind"] == "test" {
			ended[filepath.Base(p)], _ = time.Parse(time.RFC3339, last["time"].(string))
			if last["pass"] != true {
				t.Errorf("%s failed: %v", p, last)
			}
		}
	}
	want := []string{filepath.Join(dir, "1.star"), filepath.Join(dir, "2.star"), filepath.Join(dir, "3.star"), ""}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("the playbooks' events are not together in the order of the list (-want +got):\n%s", diff)
	}
	if !ended["2.star"].Before(ended["1.star"]) || !ended["3.star"].Before(ended["1.star"]) {
		t.Errorf("the quick playbooks did not end before the slow one: %v", ended)
	}
	if last["kind"] != "summary" || last["passed"] != float64(3) {
		t.Errorf("the last line %v is not the summary of 3 playbooks", last)
	}
	if _, stderr, code := nsplayTestSplit(t, "-j", "0", dir); code != exitError || !strings.Contains(stderr, "-j 0: give the number of playbooks to run at a time, 1 or more") {
		t.Errorf("-j 0: status %d, stderr %q", code, stderr)
	}
	before.AssertUnchanged(t)
}

// TestTestRunAndDefines: --run picks playbooks by name, and -D sets a
// variable in every playbook.
func TestTestRunAndDefines(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	check := "expect.eq(var(\"who\", \"nobody\"), \"me\")\n"
	dir := testPlaybooks(t, map[string]string{"alpha.star": check, "beta.star": check, "gamma.star": "testdata/failing.star"})
	stdout, stderr, code := nsplayTestSplit(t, "--update", "--run", "^(alpha|beta)$", "-D", "who=me", dir)
	wantExit(t, code, exitOK, stdout, stderr)
	if want := "PASS " + filepath.Join(dir, "alpha.star") + " (wrote " + filepath.Join(dir, "alpha.golden") + ")\nPASS " +
		filepath.Join(dir, "beta.star") + " (wrote " + filepath.Join(dir, "beta.golden") + ")\n2 passed, 0 failed\n"; stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	stdout, _, code = nsplayTestSplit(t, "--run", "ph", dir)
	if code != exitFailed || !strings.Contains(stdout, "check FAIL alpha.star `expect.eq(var(\"who\", \"nobody\"), \"me\")`") || strings.Contains(stdout, "beta") || strings.Contains(stdout, "gamma") {
		t.Errorf("without -D: status %d\n%s", code, stdout)
	}
	for _, tc := range []struct {
		run, err string
	}{
		{"(", "--run (: error parsing regexp: missing closing ): `(`"},
		{"delta", "--run delta matches none of the playbooks (alpha, beta, gamma): it is matched against their names, the file names without .star"},
	} {
		if _, stderr, code := nsplayTestSplit(t, "--run", tc.run, dir); code != exitError || !strings.Contains(stderr, tc.err) {
			t.Errorf("--run %s: status %d, stderr %q; want status 2 and %q", tc.run, code, stderr, tc.err)
		}
	}
	before.AssertUnchanged(t)
}

// TestTestInterruptInParallel sends SIGINT while two playbooks run side
// by side with --format junit: both labs are torn down, the report is
// still written, with both interrupted, and the error names both.
func TestTestInterruptInParallel(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	dir := testPlaybooks(t, map[string]string{"1.star": "testdata/slow.star", "2.star": "testdata/slow.star"})
	cmd := nsplayProcess(t, "test", "--format", "junit", "-j", "2", "--golden", t.TempDir(), dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for start := time.Now(); countProcesses(t, "sleep") < 4; time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the playbooks did not start their sleeps within 30s\n%s%s", stdout.String(), stderr.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitSignal+int(syscall.SIGINT) {
		t.Errorf("exit status %d, want %d", code, exitSignal+int(syscall.SIGINT))
	}
	doc := parseJUnit(t, stdout.String())
	if len(doc.Suites) != 2 || doc.Suites[0].Errors == 0 || doc.Suites[1].Errors == 0 {
		t.Errorf("want both playbooks with their interruption as errors:\n%s", stdout.String())
	}
	one, two := filepath.Join(dir, "1.star"), filepath.Join(dir, "2.star")
	if want := "nsplay: interrupted by SIGINT while testing " + one + " (playbook 1 of 2), " + two + " (playbook 2 of 2)\n"; !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("stderr does not end with %q:\n%s", want, stderr.String())
	}
	for start := time.Now(); countProcesses(t, "sleep") > 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("a sandbox's sleep outlived nsplay test")
		}
	}
	before.AssertUnchanged(t)
}
