package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nsplay/nsplay/internal/testenv"
)

func TestFormatFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"run", "--json", "--format", "tap", "testdata/report.star"}, exitError, "--json is the short form of --format json, and --format tap asks for another report"},
		{[]string{"plan", "--format", "xml", "testdata/report.star"}, exitError, "--format xml: want one of text, json, junit, tap"},
		{[]string{"test", "--format", "yaml", "testdata/report.star"}, exitError, "--format yaml: want one of text, json, junit, tap"},
		{[]string{"plan", "--json", "--format", "json", "testdata/report.star"}, exitFailed, ""},
	} {
		stdout, stderr, code := run(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.err) {
			t.Errorf("nsplay %v: status %d, stderr %q; want status %d and %q\nstdout:\n%s", tc.args, code, stderr, tc.code, tc.err, stdout)
		}
	}
	stdout, _, _ := run(t, "help", "run")
	for _, flag := range []string{"    --format FORMAT", "-q, --quiet "} {
		if !strings.Contains(stdout, "  "+flag) {
			t.Errorf("help run does not explain %s:\n%s", flag, stdout)
		}
	}
}

// TestJUnitReport runs a playbook that prints, passes and fails, and one
// that stops at an error, with --format junit: stdout is one JUnit
// document and nothing else, valid against the xunit plugin's schema,
// with a testcase a check (the same names in every run) and the error as
// an error; the step lines and the print go to stderr.
func TestJUnitReport(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	stdout, stderr, code := run(t, "run", "--format", "junit", "testdata/report.star")
	wantExit(t, code, exitFailed, stdout, stderr)
	root := parseJUnit(t, stdout)
	want := `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nsplay" tests="4" failures="1" errors="0" time="T">
  <testsuite name="testdata/report.star" tests="4" failures="1" errors="0" skipped="0" time="T" timestamp="TS">
    <properties>
      <property name="nsplay.build_time" value="T"></property>
      <property name="nsplay.check_time" value="T"></property>
      <property name="nsplay.teardown_time" value="T"></property>
    </properties>
    <testcase name="testdata/report.star:5: lo is up" classname="testdata/report" time="T">
      <failure message="lo is up: expect.eq: got False, want True" type="check">at: testdata/report.star:5&#xA;message: lo is up: expect.eq: got False, want True&#xA;got: False&#xA;want: True</failure>
    </testcase>
    <testcase name="testdata/report.star:6: expect.true" classname="testdata/report" time="T"></testcase>
    <testcase name="testdata/report.star:8: expect.contains" classname="testdata/report" time="T"></testcase>
    <testcase name="testdata/report.star:8: expect.contains #2" classname="testdata/report" time="T"></testcase>
  </testsuite>
</testsuites>
`
	if diff := cmp.Diff(want, junitTimes(stdout)); diff != "" {
		t.Errorf("JUnit report (-want +got):\n%s", diff)
	}
	if s := root.Suites[0]; !regexpMatch(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`, s.Timestamp) {
		t.Errorf("timestamp %q", s.Timestamp)
	}
	for _, line := range []string{"testdata/report.star:3: hello from the playbook\n", "testdata/report.star:4: ip netns add rp1\n", "FAIL testdata/report.star:5: lo is up", "down: ip netns del rp1\n"} {
		if !strings.Contains(stderr, line) {
			t.Errorf("stderr lacks %q:\n%s", line, stderr)
		}
	}
	before.AssertUnchanged(t)

	stdout, stderr, code = run(t, "run", "--format", "junit", "testdata/error.star")
	wantExit(t, code, exitError, stdout, stderr)
	root = parseJUnit(t, stdout)
	s := root.Suites[0]
	msg := `testdata/error.star:3:5: veth: interface name "a-veth-name-too-long" is 20 bytes; Linux allows at most 15`
	if root.Errors != 1 || s.Errors != 1 || s.Tests != 1 || len(s.Cases) != 1 || s.Cases[0].Error == nil ||
		s.Cases[0].Name != "testdata/error.star:3:5: error" || s.Cases[0].Error.Message != msg {
		t.Errorf("the error is not one error testcase with the message %q:\n%s", msg, stdout)
	}
	if !strings.HasSuffix(stderr, "nsplay: "+msg+"\n") || !strings.Contains(stderr, "down: ip link del er-br0\n") {
		t.Errorf("stderr:\n%s", stderr)
	}
	before.AssertUnchanged(t)
}

// junitTimes writes the times and timestamps of a JUnit report as T and TS.
func junitTimes(s string) string {
	s = regexp.MustCompile(`(time|value)="\d+\.\d{3}"`).ReplaceAllString(s, `$1="T"`)
	return regexp.MustCompile(`timestamp="[^"]*"`).ReplaceAllString(s, `timestamp="TS"`)
}

// junitDoc is a JUnit report as the tests read it back.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Time     string   `xml:"time,attr"`
	Suites   []struct {
		Name      string `xml:"name,attr"`
		Tests     int    `xml:"tests,attr"`
		Failures  int    `xml:"failures,attr"`
		Errors    int    `xml:"errors,attr"`
		Skipped   int    `xml:"skipped,attr"`
		Time      string `xml:"time,attr"`
		Timestamp string `xml:"timestamp,attr"`
		Cases     []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// parseJUnit reads a report that must be one JUnit document, valid
// against the schema, with nothing before or after it, and with counts
// that add up.
func parseJUnit(t *testing.T, s string) junitDoc {
	t.Helper()
	if !strings.HasPrefix(s, xml.Header) {
		t.Fatalf("the report does not start with the XML header:\n%s", s)
	}
	validateJUnit(t, s)
	var doc junitDoc
	dec := xml.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not a JUnit document: %v\n%s", err, s)
	}
	if rest := s[dec.InputOffset():]; strings.TrimSpace(rest) != "" {
		t.Fatalf("text after the JUnit document: %q", rest)
	}
	tests, failures, errs := 0, 0, 0
	for _, suite := range doc.Suites {
		f, e := 0, 0
		for _, c := range suite.Cases {
			if c.Failure != nil {
				f++
			}
			if c.Error != nil {
				e++
			}
			if _, err := strconv.ParseFloat(c.Time, 64); err != nil {
				t.Errorf("testcase %s: time %q", c.Name, c.Time)
			}
		}
		if suite.Tests != len(suite.Cases) || suite.Failures != f || suite.Errors != e {
			t.Errorf("suite %s counts %d tests, %d failures, %d errors; it has %d, %d, %d", suite.Name, suite.Tests, suite.Failures, suite.Errors, len(suite.Cases), f, e)
		}
		tests, failures, errs = tests+suite.Tests, failures+f, errs+e
	}
	if doc.Tests != tests || doc.Failures != failures || doc.Errors != errs {
		t.Errorf("testsuites counts %d tests, %d failures, %d errors; the suites %d, %d, %d", doc.Tests, doc.Failures, doc.Errors, tests, failures, errs)
	}
	return doc
}

// junitSchema is what the Jenkins xunit plugin's junit-10.xsd allows of
// the elements nsplay writes: attributes (required ones marked !) and
// children.
var junitSchema = map[string]struct{ attrs, children []string }{
	"testsuites": {[]string{"name", "time", "tests", "failures", "errors"}, []string{"testsuite"}},
	"testsuite": {[]string{"name!", "tests!", "failures!", "errors!", "group", "time", "skipped", "timestamp", "hostname", "id", "package", "file", "log", "url"},
		[]string{"testsuite", "properties", "testcase", "system-out", "system-err"}},
	"properties": {nil, []string{"property"}},
	"property":   {[]string{"name!", "value!"}, nil},
	"testcase":   {[]string{"name!", "time", "classname", "group"}, []string{"skipped", "error", "failure", "system-out", "system-err"}},
	"failure":    {[]string{"type", "message"}, nil},
	"error":      {[]string{"type", "message"}, nil},
	"skipped":    {[]string{"type", "message"}, nil},
}

// surefireTime is the schema's SUREFIRE_TIME, the type of suite times.
var surefireTime = regexp.MustCompile(`^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?$`)

func validateJUnit(t *testing.T, s string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	var stack []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			name := tok.Name.Local
			rule, ok := junitSchema[name]
			switch {
			case !ok:
				t.Errorf("element %s is not in the schema", name)
			case len(stack) == 0 && name != "testsuites":
				t.Errorf("the root is %s, want testsuites", name)
			case len(stack) > 0 && !slices.Contains(junitSchema[stack[len(stack)-1]].children, name):
				t.Errorf("%s may not hold %s", stack[len(stack)-1], name)
			}
			have := map[string]string{}
			for _, a := range tok.Attr {
				have[a.Name.Local] = a.Value
				if !slices.Contains(rule.attrs, a.Name.Local) && !slices.Contains(rule.attrs, a.Name.Local+"!") {
					t.Errorf("%s has attribute %s, which the schema does not allow", name, a.Name.Local)
				}
			}
			for _, a := range rule.attrs {
				if req, ok := strings.CutSuffix(a, "!"); ok {
					if _, ok := have[req]; !ok {
						t.Errorf("%s lacks the attribute %s", name, req)
					}
				}
			}
			if v, ok := have["time"]; ok && name != "testcase" && !surefireTime.MatchString(v) {
				t.Errorf("%s time=%q is not a SUREFIRE_TIME", name, v)
			}
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && junitSchema[stack[len(stack)-1]].children != nil && strings.TrimSpace(string(tok)) != "" {
				t.Errorf("%s holds text %q", stack[len(stack)-1], tok)
			}
		}
	}
}

// TestTAPReport runs the same playbooks with --format tap: stdout is the
// TAP stream alone, line by line; the error ends it with Bail out!.
func TestTAPReport(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	stdout, stderr, code := run(t, "run", "--format", "tap", "testdata/report.star")
	wantExit(t, code, exitFailed, stdout, stderr)
	want := `TAP version 14
not ok 1 - testdata/report.star:5: lo is up: expect.eq: got False, want True
  ---
  at: "testdata/report.star:5"
  message: "lo is up: expect.eq: got False, want True"
  got: "False"
  want: "True"
  ...
ok 2 - testdata/report.star:6: expect.true(True)
ok 3 - testdata/report.star:8: expect.contains: "a\#b" in ["a\#b", "c"]
ok 4 - testdata/report.star:8: expect.contains: "a\#b" in ["a\#b", "c"]
1..4
`
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(stdout, "\n")); diff != "" {
		t.Errorf("TAP report (-want +got):\n%s", diff)
	}
	if !strings.Contains(stderr, "testdata/report.star:3: hello from the playbook\n") || !strings.Contains(stderr, "3 passed, 1 failed\n") {
		t.Errorf("stderr does not hold the text lines:\n%s", stderr)
	}
	before.AssertUnchanged(t)

	stdout, stderr, code = run(t, "run", "--format", "tap", "testdata/error.star")
	wantExit(t, code, exitError, stdout, stderr)
	want = "TAP version 14\nBail out! testdata/error.star:3:5: veth: interface name \"a-veth-name-too-long\" is 20 bytes; Linux allows at most 15\n"
	if stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	before.AssertUnchanged(t)
}

// TestJSONTimes: every JSON event carries its time, in order; each check
// its duration and what it compared; the summary the phases of the run.
func TestJSONTimes(t *testing.T) {
	testenv.RequireRoot(t)
	cleanLabs(t)
	start := time.Now().Add(-time.Millisecond)
	stdout, stderr, code := run(t, "run", "--format", "json", "testdata/report.star")
	wantExit(t, code, exitFailed, stdout, stderr)
	end := time.Now().Add(time.Millisecond)
	var last time.Time
	var events []map[string]any
	for line := range strings.Lines(stdout) {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		events = append(events, e)
		ts, _ := e["time"].(string)
		at, err := time.Parse(time.RFC3339, ts)
		if err != nil || !regexpMatch(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, ts) || at.Before(last) || at.Before(start) || at.After(end) {
			t.Errorf("time %q (%v) of %s", ts, err, line)
		}
		last = at
		if _, ok := e["duration_ms"].(float64); ok != (e["kind"] == "check") {
			t.Errorf("duration_ms in %s", line)
		}
	}
	var check map[string]any
	for _, e := range events {
		if e["kind"] == "check" {
			check = e
			break
		}
	}
	if check["kind"] != "check" || check["pass"] != false || check["name"] != "lo is up" || check["got"] != "False" || check["want"] != "True" {
		t.Errorf("the failed check: %v", check)
	}
	summary := events[len(events)-1]
	for _, phase := range []string{"build_ms", "check_ms", "teardown_ms"} {
		if ms, ok := summary[phase].(float64); !ok || ms < 0 || ms > float64(end.Sub(start).Milliseconds()) {
			t.Errorf("summary %s = %v", phase, summary[phase])
		}
	}
	if summary["kind"] != "summary" || summary["passed"] != float64(3) || summary["failed"] != float64(1) {
		t.Errorf("summary %v", summary)
	}
}

// TestQuiet: -q prints the failed check and the summary, nothing else;
// the error still goes to stderr.
func TestQuiet(t *testing.T) {
	testenv.RequireRoot(t)
	cleanLabs(t)
	stdout, stderr, code := run(t, "run", "-q", "testdata/report.star")
	wantExit(t, code, exitFailed, stdout, stderr)
	if want := "FAIL testdata/report.star:5: lo is up: expect.eq: got False, want True\n3 passed, 1 failed\n"; stdout != want || stderr != "" {
		t.Errorf("stdout %q, stderr %q; want stdout %q", stdout, stderr, want)
	}
	stdout, stderr, code = run(t, "run", "--quiet", "--format", "tap", "testdata/error.star")
	wantExit(t, code, exitError, stdout, stderr)
	if want := "0 passed, 0 failed\nnsplay: testdata/error.star:3:5: veth: interface name \"a-veth-name-too-long\" is 20 bytes; Linux allows at most 15\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
}

// TestJUnitOnSignal interrupts a run with --format junit: the lab is torn
// down, the report is still written, with the interruption as an error,
// and nsplay exits 130.
func TestJUnitOnSignal(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	cmd := nsplayProcess(t, "run", "--format", "junit", "testdata/slow.star")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var log bytes.Buffer
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.HasSuffix(sc.Text(), ": ready") {
		log.WriteString(sc.Text() + "\n")
	}
	cmd.Process.Signal(syscall.SIGINT)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitSignal+int(syscall.SIGINT) {
		t.Errorf("exit status %d, want %d\nstderr:\n%s", code, exitSignal+int(syscall.SIGINT), log.String())
	}
	doc := parseJUnit(t, stdout.String())
	msg := "testdata/slow.star:11:8: interrupted by SIGINT; the lab was torn down"
	if s := doc.Suites[0]; s.Errors != 1 || s.Cases[0].Error == nil || s.Cases[0].Error.Message != msg {
		t.Errorf("the report does not record the interruption as %q:\n%s", msg, stdout.String())
	}
	if !strings.Contains(log.String(), "down: ip netns del slow1\n") {
		t.Errorf("no teardown on stderr:\n%s", log.String())
	}
	before.AssertUnchanged(t)
}

// TestPlanReportsUndecided: a plan's undecided checks are skipped
// testcases in JUnit, named by their msg or function, and SKIP points in
// TAP.
func TestPlanReportsUndecided(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/undecided.star"
	src := "r = exec_in(host, \"true\")\nexpect.eq(r.rc, 0, msg = \"true succeeds\")\nexpect.true(r.stdout)\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, "plan", "--format", "junit", file)
	wantExit(t, code, exitOK, stdout, stderr)
	s := parseJUnit(t, stdout).Suites[0]
	if s.Skipped != 2 || len(s.Cases) != 2 || s.Cases[0].Name != file+":2: true succeeds" || s.Cases[1].Name != file+":3: expect.true" {
		t.Errorf("want two skipped testcases, the check named by its msg:\n%s", stdout)
	}
	stdout, stderr, code = run(t, "plan", "--format", "tap", file)
	wantExit(t, code, exitOK, stdout, stderr)
	if want := "ok 1 - " + file + ":2: true succeeds: expect.eq: exec_in(...).rc is known only to the kernel # SKIP undecided: it depends on what only the kernel knows\n"; !strings.Contains(stdout, want) || !strings.HasSuffix(stdout, "\n1..2\n") {
		t.Errorf("TAP:\n%s\nwant the line %q and the plan 1..2", stdout, want)
	}
}
