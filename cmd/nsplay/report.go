package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/session"
	"github.com/nsplay/nsplay/interp"
	"github.com/spf13/pflag"
)

// The formats of --format. A report on stdout is only the report: in the
// junit and tap formats the text lines (steps, prints, checks, warnings)
// go to stderr, where they are the same as in the text format.
var formats = []string{"text", "json", "junit", "tap"}

// reportOptions are the flags that choose how run, plan and test report.
type reportOptions struct {
	format string
	json   bool // --json, the short form of --format json
	quiet  bool
}

// reportFlags adds --format, --json and -q/--quiet to a command.
func reportFlags(fs *pflag.FlagSet, o *reportOptions) {
	fs.StringVar(&o.format, "format", "", "write the report as `FORMAT`: text (lines for people), json (one JSON object a line), junit (JUnit XML at the end) or tap (TAP 14, as it happens); the junit and tap reports alone go to stdout, the text lines to stderr (default text)")
	fs.BoolVar(&o.json, "json", false, "the short form of --format json")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "of the text lines, print only the checks that did not pass, warnings and the summary")
}

// resolve is the format the flags ask for; --json and another --format
// are a mistake.
func (o reportOptions) resolve() (string, error) {
	switch {
	case o.json && o.format != "" && o.format != "json":
		return "", usageError{fmt.Sprintf("--json is the short form of --format json, and --format %s asks for another report: give one of them", o.format)}
	case o.json:
		return "json", nil
	case o.format == "":
		return "text", nil
	case !slices.Contains(formats, o.format):
		return "", usageError{fmt.Sprintf("--format %s: want one of %s", o.format, strings.Join(formats, ", "))}
	}
	return o.format, nil
}

// report is how run and plan write what a playbook does.
type report interface {
	// event takes one event of the run, as it happens.
	event(interp.Event)
	// opened gives the report the lab once it is open (session.Options.Opened).
	opened(*lab.Lab)
	// end ends the report once the run is over; err is what stopped the
	// playbook or failed in its teardown, nil if nothing did.
	end(err error) error
}

// newReport makes the report the options ask for, of one playbook.
func newReport(o reportOptions, playbook string, stdout, stderr io.Writer) (report, error) {
	format, err := o.resolve()
	if err != nil {
		return nil, err
	}
	switch format {
	case "json":
		return newJSONLines(stdout), nil
	case "junit":
		return reports{newTextLog(stderr, o.quiet), newJUnitReport(stdout, playbook)}, nil
	case "tap":
		return reports{newTextLog(stderr, o.quiet), newTAPReport(stdout)}, nil
	}
	return newTextLog(stdout, o.quiet), nil
}

// reported ends the report of a run that session.Run returned (err: it
// could not start), and returns the run's exit status and error. JSON
// output leaves the Starlark backtrace out of stderr.
func reported(out report, o reportOptions, res session.Outcome, err error, kept bool, stderr io.Writer) (int, error) {
	status := exitError
	if err == nil {
		format, _ := o.resolve()
		status, err = outcome(res, kept, format == "json", stderr)
	}
	if werr := out.end(err); werr != nil {
		err = errors.Join(err, fmt.Errorf("write the report: %w", werr))
	}
	return status, err
}

// testReport is how nsplay test writes what its playbooks do. Each
// playbook has a part of its own, which the report keeps together and in
// the order of the list, whichever playbook finishes first.
type testReport interface {
	// playbook starts the part of the i-th playbook of the list.
	playbook(i int, file, golden string) testPart
	// end ends the report once no playbook runs any more: passed and
	// failed count playbooks; err is the signal that stopped the test.
	end(passed, failed int, err error) error
}

// testPart is one playbook's part of a test report.
type testPart interface {
	// event takes an event of the playbook's run, as it happens.
	event(interp.Event)
	// done ends the part with the playbook's verdict.
	done(testResult)
}

// newTestReport makes the report the options ask for, of n playbooks.
func newTestReport(o reportOptions, n int, stdout, stderr io.Writer) (testReport, error) {
	format, err := o.resolve()
	if err != nil {
		return nil, err
	}
	switch format {
	case "json":
		return newJSONTests(stdout, n), nil
	case "junit":
		return testReports{newTextTests(stderr, n, o.quiet), newJUnitTests(stdout, n)}, nil
	case "tap":
		return testReports{newTextTests(stderr, n, o.quiet), newTAPTests(stdout, n)}, nil
	}
	return newTextTests(stdout, n, o.quiet), nil
}

// testReports is several reports of one test.
type testReports []testReport

func (rs testReports) playbook(i int, file, golden string) testPart {
	var parts testParts
	for _, r := range rs {
		parts = append(parts, r.playbook(i, file, golden))
	}
	return parts
}

func (rs testReports) end(passed, failed int, err error) error {
	var errs []error
	for _, r := range rs {
		errs = append(errs, r.end(passed, failed, err))
	}
	return errors.Join(errs...)
}

type testParts []testPart

func (ps testParts) event(e interp.Event) {
	for _, p := range ps {
		p.event(e)
	}
}

func (ps testParts) done(r testResult) {
	for _, p := range ps {
		p.done(r)
	}
}

// reports is several reports of one run.
type reports []report

func (rs reports) event(e interp.Event) {
	for _, r := range rs {
		r.event(e)
	}
}

func (rs reports) opened(l *lab.Lab) {
	for _, r := range rs {
		r.opened(l)
	}
}

func (rs reports) end(err error) error {
	var errs []error
	for _, r := range rs {
		errs = append(errs, r.end(err))
	}
	return errors.Join(errs...)
}
