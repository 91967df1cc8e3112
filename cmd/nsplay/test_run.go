package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nsplay/nsplay/internal/session"
	"github.com/nsplay/nsplay/interp"
)

// testResult is how one playbook fared under nsplay test.
type testResult struct {
	pass bool
	// broken: the playbook could not be run to its end (the sandbox
	// failed, a signal, --timeout), rather than differing from its golden
	// file. JUnit reports it as an error, not a failure.
	broken bool
	// stopped: a signal ended the test while the playbook ran.
	stopped bool
	// msg is what the text output writes after the file name: ": why"
	// for a failure, " (wrote FILE)" for an update.
	msg  string
	took time.Duration
}

// why is msg without the text output's lead: the reason alone.
func (r testResult) why() string { return strings.TrimLeft(r.msg, ": ") }

// runTests runs the playbooks, o.jobs at a time, each in a sandbox of its
// own, and reports them in the order of the list, whichever finishes
// first: the report of the first unfinished playbook goes out as it
// happens, the others' when those before them are done. A signal lets
// the running playbooks tear their labs down and starts no other.
//
// Playbooks run one at a time unless -j says otherwise: the sandboxes
// share the machine's CPUs, and its neighbour table (gc_thresh3 is
// host-wide, see DESIGN.md), which checks of reachability, throughput and
// timeouts measure; a test that passes alone must not fail in company.
func runTests(ctx context.Context, files []string, o testOptions, rep testReport) (int, error) {
	results := make([]*testResult, len(files))
	slots := make(chan struct{}, o.jobs)
	var wg sync.WaitGroup
	for i, file := range files {
		slots <- struct{}{}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			golden := o.goldenOf(file)
			part := rep.playbook(i, file, golden)
			start := time.Now()
			r := testPlaybook(ctx, file, golden, o, part.event)
			r.took = time.Since(start)
			part.done(r)
			results[i] = &r
		}()
	}
	wg.Wait()
	passed, failed := 0, 0
	var stopped []string
	for i, r := range results {
		switch {
		case r == nil:
			continue
		case r.pass:
			passed++
		default:
			failed++
		}
		if r.stopped {
			stopped = append(stopped, fmt.Sprintf("%s (playbook %d of %d)", files[i], i+1, len(files)))
		}
	}
	var err error
	status := exitOK
	if ctx.Err() != nil {
		var sig session.SignalError
		errors.As(context.Cause(ctx), &sig)
		status = exitSignal + int(sig.Sig)
		err = fmt.Errorf("%w between two playbooks", sig)
		if len(stopped) > 0 {
			err = fmt.Errorf("%w while testing %s", sig, strings.Join(stopped, ", "))
		}
	} else if failed > 0 {
		status = exitFailed
	}
	if werr := rep.end(passed, failed, err); werr != nil {
		err = errors.Join(err, fmt.Errorf("write the report: %w", werr))
	}
	return status, err
}

// goldenOf is the golden file of a playbook: beside it, or in --golden.
func (o testOptions) goldenOf(file string) string {
	golden := strings.TrimSuffix(file, ".star") + ".golden"
	if o.golden != "" {
		golden = filepath.Join(o.golden, filepath.Base(golden))
	}
	return golden
}

// playbookName is what --run matches: the file name without .star, the
// lab's name.
func playbookName(file string) string { return strings.TrimSuffix(filepath.Base(file), ".star") }

// selected is the playbooks whose name --run matches (all without it).
func (o testOptions) selected(files []string) ([]string, error) {
	if o.run == "" {
		return files, nil
	}
	re, err := regexp.Compile(o.run)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--run %s: %v", o.run, err)}
	}
	var names []string
	picked := slices.DeleteFunc(slices.Clone(files), func(file string) bool {
		names = append(names, playbookName(file))
		return !re.MatchString(playbookName(file))
	})
	if len(picked) == 0 {
		return nil, fmt.Errorf("--run %s matches none of the playbooks (%s): it is matched against their names, the file names without .star", o.run, strings.Join(names, ", "))
	}
	return picked, nil
}

// args is the defines as command-line arguments, sorted.
func (d defines) args() []string {
	var args []string
	for _, name := range slices.Sorted(maps.Keys(d)) {
		args = append(args, "-D", name+"="+d[name])
	}
	return args
}

// goldenEvents reads what `nsplay golden` writes on stdout, JSON lines:
// the events go to emit as they come, the golden text is kept.
type goldenEvents struct {
	emit    func(interp.Event)
	partial []byte
	golden  string
	err     error // the first line that could not be read
}

func (g *goldenEvents) Write(p []byte) (int, error) {
	g.partial = append(g.partial, p...)
	for {
		i := bytes.IndexByte(g.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		g.line(g.partial[:i])
		g.partial = g.partial[i+1:]
	}
}

func (g *goldenEvents) line(data []byte) {
	var j jsonEvent
	err := json.Unmarshal(data, &j)
	e, terr := j.event()
	switch {
	case g.err != nil:
	case err != nil || terr != nil:
		g.err = fmt.Errorf("%q: %w", data, errors.Join(err, terr))
	case e.Kind == "golden":
		g.golden = e.Msg
	default:
		g.emit(e)
	}
}

// ordered keeps the output of playbooks that run at the same time
// together, in the order of the list: part i goes out as it is written
// once every part before it is finished, and is held until then.
type ordered struct {
	mu    sync.Mutex
	w     io.Writer
	held  []bytes.Buffer
	done  []bool
	first int // the first part not finished: the one that goes out
}

func newOrdered(w io.Writer, n int) *ordered {
	return &ordered{w: w, held: make([]bytes.Buffer, n), done: make([]bool, n)}
}

// part is where playbook i writes.
func (o *ordered) part(i int) io.Writer { return orderedPart{o, i} }

type orderedPart struct {
	o *ordered
	i int
}

func (p orderedPart) Write(b []byte) (int, error) {
	p.o.mu.Lock()
	defer p.o.mu.Unlock()
	if p.i == p.o.first {
		return p.o.w.Write(b)
	}
	return p.o.held[p.i].Write(b)
}

// finish ends part i, and writes out the parts that were waiting for it.
func (o *ordered) finish(i int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done[i] = true
	for o.first < len(o.done) && o.done[o.first] {
		o.first++
		if o.first < len(o.held) {
			o.w.Write(o.held[o.first].Bytes())
			o.held[o.first] = bytes.Buffer{}
		}
	}
}

// finishAll ends every part, those of playbooks that never started too.
func (o *ordered) finishAll() {
	for i := range o.done {
		o.finish(i)
	}
}
