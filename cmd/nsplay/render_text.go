package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/interp"
)

// textLog writes events as lines for people: one line an event. With
// quiet, only the checks that did not pass, warnings, the kept lab's line
// and the summary. On a terminal, the steps of a long build and of a long
// teardown are counted on one live line instead (progress.go).
type textLog struct {
	w        io.Writer
	quiet    bool
	progress *progress // nil when w is not a terminal
}

func newTextLog(w io.Writer, quiet bool) *textLog {
	t := &textLog{w: w, quiet: quiet}
	if isTerminal(w) {
		t.progress = newProgress(w, quiet)
	}
	return t
}

func (t *textLog) opened(l *lab.Lab) {
	if t.progress != nil {
		t.progress.lab = l
	}
}

func (t *textLog) event(e interp.Event) {
	switch {
	case e.Kind == "error": // main prints the error on stderr
		return
	case t.progress != nil && t.progress.counts(e):
		return
	case t.quiet && !quietShows(e):
		return
	}
	if t.progress != nil {
		t.progress.clear()
	}
	fmt.Fprintln(t.w, textLine(e))
}

func (t *textLog) end(error) error {
	if t.progress != nil {
		t.progress.clear()
	}
	return nil
}

// quietShows tells whether -q prints the event: a check that did not
// pass, a warning, the line that tells how to remove a kept lab, the
// summary.
func quietShows(e interp.Event) bool {
	switch e.Kind {
	case "check":
		return e.Pass == nil || !*e.Pass
	case "warning", "kept", "summary":
		return true
	}
	return false
}

// textLine is an event as a line of text output, without the newline.
// One line is one event: the message is written by oneLine. (The error
// line is what golden files record; the text output leaves it to main.)
func textLine(e interp.Event) string {
	msg := oneLine(e.Msg)
	switch e.Kind {
	case "summary":
		if e.UndecidedCount != nil {
			return fmt.Sprintf("%d passed, %d failed, %d undecided", *e.Passed, *e.Failed, *e.UndecidedCount)
		}
		return fmt.Sprintf("%d passed, %d failed", *e.Passed, *e.Failed)
	case "check":
		return fmt.Sprintf("%s %s: %s", verdict(e), e.Pos, msg)
	case "error":
		if e.Pos == "" {
			return "error " + msg
		}
		return fmt.Sprintf("error %s: %s", e.Pos, msg)
	case "teardown":
		return "down: " + msg
	case "result":
		return "    = " + msg // under its step line
	case "kept":
		return msg
	case "warning":
		return "warning: " + msg
	}
	return fmt.Sprintf("%s: %s", e.Pos, msg)
}

// verdict is PASS, FAIL or UNDECIDED, what a check event says.
func verdict(e interp.Event) string {
	switch {
	case e.Undecided:
		return "UNDECIDED"
	case !*e.Pass:
		return "FAIL"
	}
	return "PASS"
}

// oneLine is a message as text output writes it: a message that holds a
// newline or another character strconv.IsPrint refuses (a tab, an escape,
// invalid UTF-8) is written as a Go string literal,
// "in host: echo one\necho two (exit 0)"; any other as it is.
func oneLine(msg string) string {
	if utf8.ValidString(msg) && !strings.ContainsFunc(msg, func(r rune) bool { return !strconv.IsPrint(r) }) {
		return msg
	}
	return strconv.Quote(msg)
}

// textTests is the text output of nsplay test: a line a playbook, PASS or
// FAIL with why (a diff), then "N passed, M failed", counting playbooks.
// With quiet, the playbooks that passed are left out.
type textTests struct {
	w     io.Writer
	out   *ordered
	quiet bool
}

func newTextTests(w io.Writer, n int, quiet bool) *textTests {
	return &textTests{w: w, out: newOrdered(w, n), quiet: quiet}
}

func (t *textTests) playbook(i int, file, _ string) testPart {
	return &textTest{tests: t, i: i, file: file}
}

func (t *textTests) end(passed, failed int, _ error) error {
	t.out.finishAll()
	_, err := fmt.Fprintf(t.w, "%d passed, %d failed\n", passed, failed)
	return err
}

type textTest struct {
	tests *textTests
	i     int
	file  string
}

func (t *textTest) event(interp.Event) {}

func (t *textTest) done(r testResult) {
	if !r.pass || !t.tests.quiet {
		verdict := "PASS"
		if !r.pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(t.tests.out.part(t.i), "%s %s%s\n", verdict, t.file, r.msg)
	}
	t.tests.out.finish(t.i)
}
