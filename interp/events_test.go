package interp_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nsplay/nsplay/internal/session"
	"github.com/nsplay/nsplay/interp"
)

// TestEventsCarryTimesAndValues runs a plan (no kernel needed): every event
// carries its time, in order; each check its duration, its stable name and
// the values it compared; the summary the phases of the run, whose check
// time is the sum of the checks' durations.
func TestEventsCarryTimesAndValues(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ev.star")
	src := `netns("ev1")
squares = [i * i for i in range(100000)]
expect.eq(len(squares), 2, msg = "two squares")
expect.ne("a", "a")
expect.true(False)
expect.contains([1], 2)
expect.eq(1, 1)
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var events []interp.Event
	start := time.Now()
	res, err := session.Run(session.Options{Playbook: file, Plan: true, Paths: session.PlanPaths(),
		Emit: func(e interp.Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	type check struct{ Name, Got, Want string }
	var checks []check
	var checkTime time.Duration
	last := start
	for _, e := range events {
		if e.Time.Before(last) || e.Time.After(end) {
			t.Errorf("%s event at %s, not between the one before (%s) and the end (%s)", e.Kind, e.Time, last, end)
		}
		last = e.Time
		if e.Kind == "check" {
			checks = append(checks, check{e.Name, e.Got, e.Want})
			checkTime += e.Duration
			if e.Duration <= 0 {
				t.Errorf("check %s took %s", e.Pos, e.Duration)
			}
		}
	}
	want := []check{
		{"two squares", "100000", "2"},
		{"expect.ne", `"a"`, `anything but "a"`},
		{"expect.true", "False", "a true value"},
		{"expect.contains", "[1]", "something that holds 2"},
		{"expect.eq", "1", "1"},
	}
	if diff := cmp.Diff(want, checks); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
	summary := events[len(events)-1]
	if summary.Kind != "summary" || summary.Phases == nil {
		t.Fatalf("last event %+v, want the summary with its phases", summary)
	}
	p := summary.Phases
	if p.Check != checkTime || p.Check != res.Result.Check || p.Build != res.Result.Build || p.Teardown != res.Teardown {
		t.Errorf("phases %+v; the checks took %s, the result says %+v and teardown %s", p, checkTime, res.Result, res.Teardown)
	}
	if p.Build <= 0 || p.Teardown <= 0 || p.Build+p.Check+p.Teardown > end.Sub(start) {
		t.Errorf("phases %+v do not fit in the run's %s", p, end.Sub(start))
	}
	// The squares are computed before the first check: its time.
	first := events[slices.IndexFunc(events, func(e interp.Event) bool { return e.Kind == "check" })]
	if first.Duration < p.Check/2 {
		t.Errorf("the first check (%+v) did not take most of the check time %s", first, p.Check)
	}
}
