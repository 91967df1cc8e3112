package interp

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// A run whose context ends (a signal, --timeout) stops its playbook, and
// says where it stopped.
//
// Starlark stops a thread at its next step once it is cancelled, and
// gives the position of the step before. But the jumps of a loop carry no
// position of their own, only that of whatever instruction was compiled
// before them: a thread stopped there, say in `while True: pass`, would
// be reported at a line before the loop. So a thread is not cancelled at
// once: a hook the interpreter calls between steps (OnMaxSteps) sees that
// the run is stopping, follows the next steps, and cancels the thread
// with the position of the statement they ran (stopper.where).
//
// One step can also run long by itself, "%s" % a huge value, sorted() of
// millions: no hook runs during it. The run waits stopGrace for the
// thread, then gives up on it (Run): it closes the builtins' gate, so that
// the thread touches neither lab nor output again, and the lab is taken
// down while that step goes on; the process ends after.

const (
	// checkEvery is how many steps a thread runs between two looks at
	// whether the run is stopping.
	checkEvery = 1 << 12
	// sampleSteps is how many steps a stopping thread is followed for,
	// to see which statement it runs.
	sampleSteps = 256
	// stopGrace is how long a stopping run waits for its playbook's
	// thread before it gives up on it.
	stopGrace = time.Second
)

// ErrAbandoned reports a playbook that did not stop within stopGrace of
// the run's end, and was left running while the lab was taken down.
var ErrAbandoned = errors.New(`the playbook was inside one step that does not stop, such as "%s" % a huge value, and was left to run meanwhile`)

// stopper stops the threads of one run when its context ends.
type stopper struct {
	ctx      context.Context
	stopping atomic.Bool
	// Set on the thread that stopped, read after it has returned.
	samples []sample
	at      syntax.Position
}

type sample struct {
	depth int
	pos   syntax.Position
}

func newStopper(ctx context.Context) (*stopper, func() bool) {
	st := &stopper{ctx: ctx}
	return st, context.AfterFunc(ctx, func() { st.stopping.Store(true) })
}

// watch makes the interpreter call st between the steps of thread.
func (st *stopper) watch(thread *starlark.Thread) {
	thread.SetMaxExecutionSteps(checkEvery)
	thread.OnMaxSteps = st.onSteps
}

func (st *stopper) onSteps(thread *starlark.Thread) {
	if !st.stopping.Load() {
		thread.SetMaxExecutionSteps(thread.Steps + checkEvery)
		return
	}
	if depth := thread.CallStackDepth(); depth > 0 {
		st.samples = append(st.samples, sample{depth, thread.CallFrame(0).Pos})
	}
	if len(st.samples) < sampleSteps {
		thread.SetMaxExecutionSteps(thread.Steps + 1)
		return
	}
	st.at = st.where()
	thread.Cancel(context.Cause(st.ctx).Error())
}

// where is the position of the statement the samples ran in: within the
// loop that holds most of them (the innermost, of loops that hold as
// many), the last position inside it. Samples at one position only are a
// loop none of whose instructions has a position of its own: the first
// loop after that position, in the same function.
func (st *stopper) where() syntax.Position {
	last := st.samples[len(st.samples)-1]
	var in []syntax.Position // the samples in the innermost frame, in order
	distinct := map[syntax.Position]bool{}
	for _, s := range st.samples {
		if s.depth == last.depth && s.pos.Filename() == last.pos.Filename() {
			in = append(in, s.pos)
			distinct[s.pos] = true
		}
	}
	loops := loopsAround(last.pos)
	if len(distinct) == 1 {
		for _, l := range loops {
			if start, _ := l.Span(); before(last.pos, start) {
				return start
			}
		}
		return last.pos
	}
	var best syntax.Node
	most := 0
	for _, l := range loops {
		n := 0
		for _, p := range in {
			if within(l, p) {
				n++
			}
		}
		if n > most || n == most && n > 0 && within(best, first(l)) {
			best, most = l, n
		}
	}
	for i := len(in) - 1; i >= 0 && best != nil; i-- {
		if within(best, in[i]) {
			return in[i]
		}
	}
	return last.pos
}

// loopsAround lists the for and while loops of the function (or file)
// that holds pos, in the order they start, without those of functions
// defined inside it.
func loopsAround(pos syntax.Position) []syntax.Node {
	data, err := os.ReadFile(pos.Filename())
	if err != nil {
		return nil
	}
	f, err := fileOptions.Parse(pos.Filename(), data, 0)
	if err != nil {
		return nil
	}
	// The innermost function that holds pos.
	var body syntax.Node = f
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n.(type) {
		case *syntax.DefStmt, *syntax.LambdaExpr:
			if !within(n, pos) {
				return false
			}
			body = n
		}
		return true
	})
	var loops []syntax.Node
	syntax.Walk(body, func(n syntax.Node) bool {
		switch n.(type) {
		case *syntax.DefStmt, *syntax.LambdaExpr:
			return n == body
		case *syntax.ForStmt, *syntax.WhileStmt:
			loops = append(loops, n)
		}
		return true
	})
	return loops
}

func first(n syntax.Node) syntax.Position { start, _ := n.Span(); return start }

// within tells whether pos is inside n's source.
func within(n syntax.Node, pos syntax.Position) bool {
	if n == nil {
		return false
	}
	start, end := n.Span()
	return !before(pos, start) && !before(end, pos)
}

func before(a, b syntax.Position) bool {
	return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
}
