package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/interp"
	"golang.org/x/sys/unix"
)

// On a terminal, a long build does not scroll thousands of step lines by:
// past the first progressAfter step lines, the steps are counted on one
// live line, "building: 512 namespaces, 2048 steps", rewritten in place;
// the teardown likewise. Any other line (a check, a print) clears it and
// is written above; the summary clears it for good. With -q no step line
// is printed, so the live line counts from the first step.
//
// The line has no total ("512/1000"): only a run of the playbook knows
// how many namespaces it makes, and a plan (the in-memory model) of the
// scale benchmark's 1000 hosts takes 2.5 s to build, about as long as the
// kernel's build itself (2.3-5.5 s): counting first would double the wait. When the output is not a terminal, nothing
// changes: pipes, files and tests get every line.

// progressAfter is how many step lines, and teardown lines, a run prints
// on a terminal before it counts the rest: the tutorial's twenty all show.
const progressAfter = 50

// redrawEvery is how often the live line is rewritten at most.
const redrawEvery = 100 * time.Millisecond

// progress is the live line of one run's text output on a terminal.
type progress struct {
	w     io.Writer
	lab   *lab.Lab // counts the namespaces; nil until the lab is open
	after int      // the step lines printed before counting starts
	steps int
	downs int
	shown bool
	drawn time.Time
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, after: progressAfter}
	if quiet {
		p.after = 0
	}
	return p
}

// counts tells whether the event is counted on the live line instead of
// printed: a step past the first ones, the result line under it, a
// teardown step past the first ones.
func (p *progress) counts(e interp.Event) bool {
	switch e.Kind {
	case "step":
		p.steps++
		if p.steps > p.after {
			p.draw(p.building)
		}
	case "result":
	case "teardown":
		p.downs++
		if p.downs <= p.after {
			return false
		}
		p.draw(func() string { return fmt.Sprintf("tearing down: %d steps", p.downs) })
		return true
	default:
		return false
	}
	return p.steps > p.after
}

// building is the live line of the build. Events come from the
// playbook's thread between its changes, so the lab may be read here.
func (p *progress) building() string {
	if p.lab == nil {
		return fmt.Sprintf("building: %d steps", p.steps)
	}
	return fmt.Sprintf("building: %d namespaces, %d steps", len(p.lab.Namespaces()), p.steps)
}

// draw rewrites the live line, unless it was rewritten a moment ago.
func (p *progress) draw(text func() string) {
	if p.shown && time.Since(p.drawn) < redrawEvery {
		return
	}
	fmt.Fprint(p.w, "\r\x1b[K"+text())
	p.shown, p.drawn = true, time.Now()
}

// clear removes the live line, so that a line can be written in its place.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// isTerminal tells whether w is a terminal that understands the escape
// that clears a line (TERM is not "dumb").
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
