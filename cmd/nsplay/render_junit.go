package main

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/interp"
)

// A JUnit report, as Jenkins (the xunit plugin's junit-10.xsd), GitLab
// and GitHub actions read it: a testsuites root, a testsuite a playbook,
// a testcase a check. It is written whole at the end of the run.

type junitSuites struct {
	XMLName  xml.Name      `xml:"testsuites"`
	Name     string        `xml:"name,attr"`
	Tests    int           `xml:"tests,attr"`
	Failures int           `xml:"failures,attr"`
	Errors   int           `xml:"errors,attr"`
	Time     string        `xml:"time,attr"`
	Suites   []*junitSuite `xml:"testsuite"`
}

// junitSuite is one playbook. Skipped counts the undecided checks of a
// plan. Timestamp is when it started, in UTC without a zone, as Ant
// writes it.
type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`

	start     time.Time
	took      time.Duration
	classname string
	seen      map[string]int // how often a testcase name came, to number repeats
	errorAt   string         // the position of the playbook's error event
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// junitCase is one check, or the playbook's error. Its classname is the
// playbook without .star (Jenkins reads dots in it as packages); its
// name the check's position and name (builtins.Check.Name), which stay
// the same from run to run, numbered " #2", " #3" when a loop repeats a
// check on one line.
type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func newJUnitSuite(playbook string) *junitSuite {
	return &junitSuite{Name: playbook, classname: strings.TrimSuffix(playbook, ".star"), start: time.Now(), seen: map[string]int{}}
}

// event adds a check as a testcase, and takes note of the error's
// position and of the phases.
func (s *junitSuite) event(e interp.Event) {
	switch e.Kind {
	case "check":
		c := s.testcase(e.Pos+": "+e.Name, e.Duration)
		switch {
		case e.Undecided:
			s.Skipped++
			c.Skipped = &junitProblem{Message: e.Msg, Type: "undecided", Text: problemText(e)}
		case !*e.Pass:
			s.Failures++
			c.Failure = &junitProblem{Message: e.Msg, Type: "check", Text: problemText(e)}
		}
		s.Cases = append(s.Cases, *c)
	case "error":
		s.errorAt = e.Pos
	case "summary":
		if p := e.Phases; p != nil {
			s.Properties = []junitProperty{
				{"nsplay.build_time", seconds(p.Build)},
				{"nsplay.check_time", seconds(p.Check)},
				{"nsplay.teardown_time", seconds(p.Teardown)},
			}
		}
	}
}

// testcase is a new testcase named name, numbered if the name came before.
func (s *junitSuite) testcase(name string, took time.Duration) *junitCase {
	s.seen[name]++
	if n := s.seen[name]; n > 1 {
		name = fmt.Sprintf("%s #%d", name, n)
	}
	s.Tests++
	return &junitCase{Name: name, Classname: s.classname, Time: seconds(took)}
}

// fail adds what stopped the playbook, or broke its run, as a testcase
// with an error: its message is err, its text err's position and the
// Starlark backtrace.
func (s *junitSuite) fail(err error) {
	name := "error"
	if s.errorAt != "" {
		name = s.errorAt + ": error"
	}
	c := s.testcase(name, 0)
	text := err.Error()
	var pe *interp.Error
	if errors.As(err, &pe) && pe.Backtrace != "" {
		text += "\n" + pe.Backtrace
	}
	c.Error = &junitProblem{Message: err.Error(), Type: "error", Text: text}
	s.Errors++
	s.Cases = append(s.Cases, *c)
}

// finish ends the suite: err is what stopped the playbook, or nil.
func (s *junitSuite) finish(err error) {
	if err != nil {
		s.fail(err)
	}
	s.took = time.Since(s.start)
	s.Time = seconds(s.took)
	s.Timestamp = s.start.UTC().Format("2006-01-02T15:04:05")
}

// problemText is the text of a failure: where, what, and the values.
func problemText(e interp.Event) string {
	text := "at: " + e.Pos + "\nmessage: " + e.Msg
	if e.Got != "" || e.Want != "" {
		text += "\ngot: " + e.Got + "\nwant: " + e.Want
	}
	return text
}

// seconds is a duration as JUnit writes it: seconds, to the millisecond.
func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// writeJUnit writes the suites as one JUnit document.
func writeJUnit(w io.Writer, suites []*junitSuite) error {
	root := junitSuites{Name: "nsplay", Suites: suites}
	var took time.Duration
	for _, s := range suites {
		root.Tests += s.Tests
		root.Failures += s.Failures
		root.Errors += s.Errors
		took += s.took
	}
	root.Time = seconds(took)
	out, err := xml.MarshalIndent(root, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s%s\n", xml.Header, out)
	return err
}

// junitReport is the JUnit report of nsplay run and plan: one suite.
type junitReport struct {
	w     io.Writer
	suite *junitSuite
}

func newJUnitReport(w io.Writer, playbook string) *junitReport {
	return &junitReport{w: w, suite: newJUnitSuite(playbook)}
}

func (j *junitReport) event(e interp.Event) { j.suite.event(e) }

func (j *junitReport) opened(*lab.Lab) {}

func (j *junitReport) end(err error) error {
	j.suite.finish(err)
	return writeJUnit(j.w, []*junitSuite{j.suite})
}

// junitTests is the JUnit report of nsplay test: a testsuite a
// playbook, with a testcase a check, the playbook's error if it stopped
// at one, and last the comparison with its golden file, which fails with
// the diff (an error if the playbook could not be run to its end).
type junitTests struct {
	w      io.Writer
	suites []*junitSuite // by the playbook's place in the list; nil if it did not run
}

func newJUnitTests(w io.Writer, n int) *junitTests {
	return &junitTests{w: w, suites: make([]*junitSuite, n)}
}

func (j *junitTests) playbook(i int, file, golden string) testPart {
	s := newJUnitSuite(file)
	j.suites[i] = s
	return &junitTest{suite: s, golden: golden}
}

func (j *junitTests) end(int, int, error) error {
	var ran []*junitSuite
	for _, s := range j.suites {
		if s != nil {
			ran = append(ran, s)
		}
	}
	return writeJUnit(j.w, ran)
}

type junitTest struct {
	suite  *junitSuite
	golden string
}

func (j *junitTest) event(e interp.Event) {
	j.suite.event(e)
	if e.Kind == "error" {
		j.suite.fail(&interp.Error{Pos: e.Pos, Msg: e.Msg})
	}
}

func (j *junitTest) done(r testResult) {
	c := j.suite.testcase("golden file "+j.golden, r.took)
	msg := r.why()
	first, _, _ := strings.Cut(msg, "\n")
	switch {
	case r.broken:
		j.suite.Errors++
		c.Error = &junitProblem{Message: first, Type: "error", Text: msg}
	case !r.pass:
		j.suite.Failures++
		c.Failure = &junitProblem{Message: first, Type: "golden", Text: msg}
	}
	j.suite.Cases = append(j.suite.Cases, *c)
	j.suite.finish(nil)
}
