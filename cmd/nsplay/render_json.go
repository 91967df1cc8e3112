package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/interp"
)

// jsonEvent is an event as --format json writes it: the fields of
// interp.Event, its time (RFC 3339 in UTC with milliseconds, a fixed
// width, so that the times of a run sort as strings; `nsplay monitor
// --json` writes the same field), a check's duration, the summary's
// phases, in milliseconds to the microsecond, and, in nsplay test, the
// playbook it belongs to.
type jsonEvent struct {
	interp.Event
	Playbook   string   `json:"playbook,omitempty"`
	Time       string   `json:"time"`
	DurationMS *float64 `json:"duration_ms,omitempty"`
	BuildMS    *float64 `json:"build_ms,omitempty"`
	CheckMS    *float64 `json:"check_ms,omitempty"`
	TeardownMS *float64 `json:"teardown_ms,omitempty"`
}

// eventTime is the layout of jsonEvent.Time.
const eventTime = "2006-01-02T15:04:05.000Z07:00"

func newJSONEvent(e interp.Event) jsonEvent {
	j := jsonEvent{Event: e, Time: e.Time.UTC().Format(eventTime)}
	if e.Kind == "check" {
		j.DurationMS = millis(e.Duration)
	}
	if p := e.Phases; p != nil {
		j.BuildMS, j.CheckMS, j.TeardownMS = millis(p.Build), millis(p.Check), millis(p.Teardown)
	}
	return j
}

// event is the interp.Event a JSON line describes.
func (j jsonEvent) event() (interp.Event, error) {
	e := j.Event
	t, err := time.Parse(eventTime, j.Time)
	if err != nil {
		return e, fmt.Errorf("event %s: time: %w", e.Kind, err)
	}
	e.Time = t
	if j.DurationMS != nil {
		e.Duration = duration(*j.DurationMS)
	}
	if j.BuildMS != nil && j.CheckMS != nil && j.TeardownMS != nil {
		e.Phases = &interp.Phases{Build: duration(*j.BuildMS), Check: duration(*j.CheckMS), Teardown: duration(*j.TeardownMS)}
	}
	return e, nil
}

func millis(d time.Duration) *float64 {
	ms := math.Round(float64(d)/float64(time.Microsecond)) / 1000
	return &ms
}

func duration(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}

// jsonLines writes one JSON object a line, one line an event.
type jsonLines struct {
	enc *json.Encoder
}

func newJSONLines(w io.Writer) *jsonLines {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // commands like "echo x >&2" stay readable
	return &jsonLines{enc: enc}
}

func (j *jsonLines) event(e interp.Event) { j.write(newJSONEvent(e)) }

func (j *jsonLines) write(v any) {
	j.enc.Encode(v) // a closed stdout does not stop the run (SIGPIPE is ignored)
}

func (j *jsonLines) opened(*lab.Lab) {}

func (j *jsonLines) end(error) error { return nil }

// jsonTests is the JSON output of nsplay test: the events of each
// playbook, with its name in "playbook", then its verdict, an event of
// kind "test" (pass, msg: why not, duration_ms), and last the summary,
// counting playbooks.
type jsonTests struct {
	lines *jsonLines
	out   *ordered
}

func newJSONTests(w io.Writer, n int) *jsonTests {
	return &jsonTests{lines: newJSONLines(w), out: newOrdered(w, n)}
}

func (j *jsonTests) playbook(i int, file, _ string) testPart {
	return &jsonTest{tests: j, i: i, file: file, lines: newJSONLines(j.out.part(i))}
}

func (j *jsonTests) end(passed, failed int, _ error) error {
	j.out.finishAll()
	j.lines.event(interp.Event{Kind: "summary", Passed: &passed, Failed: &failed, Time: time.Now()})
	return nil
}

type jsonTest struct {
	tests *jsonTests
	i     int
	file  string
	lines *jsonLines
}

func (j *jsonTest) event(e interp.Event) {
	line := newJSONEvent(e)
	line.Playbook = j.file
	j.lines.write(line)
}

func (j *jsonTest) done(r testResult) {
	line := newJSONEvent(interp.Event{Kind: "test", Pass: &r.pass, Msg: r.why(), Time: time.Now()})
	line.Playbook, line.DurationMS = j.file, millis(r.took)
	j.lines.write(line)
	j.tests.out.finish(j.i)
}
