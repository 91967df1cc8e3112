package main

import (
	"io"
	"sync"
	"time"

	"github.com/nsplay/nsplay/interp"
)

// batchedWriter passes on what run prints within flushAfter, in one write
// for all the lines that came meanwhile: a star of a thousand hosts prints
// fifteen thousand step lines, and a write each cost ~5% of the run. A
// reader of the output sees a step line at most flushAfter late, and any
// other line (a print, a check, the teardown) at once, with what came
// before it.
type batchedWriter struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	timer *time.Timer // set while buf holds what is to be written
}

// flushAfter is how long a line may wait for the lines after it.
const flushAfter = 5 * time.Millisecond

func newBatchedWriter(w io.Writer) *batchedWriter { return &batchedWriter{w: w} }

func (b *batchedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if b.timer == nil {
		b.timer = time.AfterFunc(flushAfter, func() { b.Flush() })
	}
	return len(p), nil
}

// Flush writes what is waiting now.
func (b *batchedWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// unlessTerminal is the writer a report writes to: b, or on a terminal
// what b writes to, where the progress line counts the steps instead and
// every line is to be seen at once.
func (b *batchedWriter) unlessTerminal() io.Writer {
	if isTerminal(b.w) {
		return b.w
	}
	return b
}

// flushing is emit followed by a flush of the writers, but for step lines
// and their results.
func flushing(emit func(interp.Event), writers ...*batchedWriter) func(interp.Event) {
	return func(e interp.Event) {
		emit(e)
		if e.Kind != "step" && e.Kind != "result" {
			for _, w := range writers {
				w.Flush()
			}
		}
	}
}
