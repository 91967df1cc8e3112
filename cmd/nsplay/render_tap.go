package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/interp"
)

// A TAP 14 report (testanything.org), written as the run goes: a test
// point a check, "ok 3 - POS: MESSAGE" or "not ok 3 - ..." with a YAML
// block of what failed under it; an undecided check of a plan is "ok ...
// # SKIP". The plan line 1..N comes last, when N is known; a playbook
// that stops at an error ends the report with "Bail out!" instead.

const tapVersion = "TAP version 14"

// tapWriter writes the test points of one level: the report itself, or a
// subtest, indented by four spaces.
type tapWriter struct {
	w      io.Writer
	indent string
	n      int // test points so far
}

func (t *tapWriter) line(s string) { fmt.Fprintf(t.w, "%s%s\n", t.indent, s) }

// point writes one test point, with diag (key, value pairs) as a YAML
// block under it. Values are written as double-quoted YAML strings
// (strconv.Quote's escapes are YAML's), so that any message is one line.
func (t *tapWriter) point(ok bool, desc, directive string, diag ...[2]string) {
	t.n++
	status := "ok"
	if !ok {
		status = "not ok"
	}
	line := fmt.Sprintf("%s %d - %s", status, t.n, tapEscape(oneLine(desc)))
	if directive != "" {
		line += " # " + directive
	}
	t.line(line)
	if len(diag) == 0 {
		return
	}
	t.line("  ---")
	for _, kv := range diag {
		t.line("  " + kv[0] + ": " + strconv.Quote(kv[1]))
	}
	t.line("  ...")
}

// check writes a check event as a test point.
func (t *tapWriter) check(e interp.Event) {
	desc := e.Pos + ": " + e.Msg
	switch {
	case e.Undecided:
		t.point(true, desc, "SKIP undecided: it depends on what only the kernel knows")
	case *e.Pass:
		t.point(true, desc, "")
	default:
		diag := [][2]string{{"at", e.Pos}, {"message", e.Msg}}
		if e.Got != "" || e.Want != "" {
			diag = append(diag, [2]string{"got", e.Got}, [2]string{"want", e.Want})
		}
		t.point(false, desc, "", diag...)
	}
}

// plan writes the plan line of the points written.
func (t *tapWriter) plan() { t.line(fmt.Sprintf("1..%d", t.n)) }

// bail ends the report early.
func (t *tapWriter) bail(err error) { t.line("Bail out! " + oneLine(err.Error())) }

// tapEscape escapes what TAP reads in a description: # starts a
// directive, and \ escapes it.
func tapEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "#", `\#`).Replace(s)
}

// tapReport is the TAP report of nsplay run and plan.
type tapReport struct {
	t tapWriter
}

func newTAPReport(w io.Writer) *tapReport {
	fmt.Fprintln(w, tapVersion)
	return &tapReport{t: tapWriter{w: w}}
}

func (r *tapReport) event(e interp.Event) {
	if e.Kind == "check" {
		r.t.check(e)
	}
}

func (r *tapReport) opened(*lab.Lab) {}

func (r *tapReport) end(err error) error {
	if err != nil {
		r.t.bail(err)
	} else {
		r.t.plan()
	}
	return nil
}

// tapTests is the TAP report of nsplay test: the plan, a test point a
// playbook (its comparison with the golden file, why it failed in a YAML
// block), each after a subtest of its checks. A playbook's error is a
// failed point of its subtest: the next playbooks still run. A signal
// ends the report with Bail out!.
type tapTests struct {
	w   io.Writer
	out *ordered
}

func newTAPTests(w io.Writer, n int) *tapTests {
	fmt.Fprintf(w, "%s\n1..%d\n", tapVersion, n)
	return &tapTests{w: w, out: newOrdered(w, n)}
}

func (t *tapTests) playbook(i int, file, _ string) testPart {
	w := t.out.part(i)
	fmt.Fprintf(w, "# Subtest: %s\n", file)
	return &tapTest{tests: t, i: i, file: file, sub: tapWriter{w: w, indent: "    "}, top: tapWriter{w: w, n: i}}
}

func (t *tapTests) end(_, _ int, err error) error {
	t.out.finishAll()
	if err != nil {
		(&tapWriter{w: t.w}).bail(err)
	}
	return nil
}

type tapTest struct {
	tests    *tapTests
	i        int
	file     string
	sub, top tapWriter
}

func (t *tapTest) event(e interp.Event) {
	switch e.Kind {
	case "check":
		t.sub.check(e)
	case "error":
		t.sub.point(false, "error "+e.Pos+": "+e.Msg, "", [2]string{"at", e.Pos}, [2]string{"message", e.Msg})
	}
}

func (t *tapTest) done(r testResult) {
	t.sub.plan()
	if r.pass {
		t.top.point(true, t.file, "")
	} else {
		t.top.point(false, t.file, "", [2]string{"message", r.why()})
	}
	t.tests.out.finish(t.i)
}
