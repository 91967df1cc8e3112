package main

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// benchStar is the star lab of the scale benchmark.
const benchStar = "../../bench/star.star"

// TestStopAtScale stops a star of a thousand hosts halfway through its
// build: after SIGTERM the run tears the lab down itself, after SIGKILL
// `nsplay down` does, from the journal. Either way nothing of the lab is
// left: the journal was true at every moment, and teardown by namespace
// deletion leaves none of the thousand veths behind.
func TestStopAtScale(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		s := startFollowed(t, "run", "-D", "hosts=1000", benchStar)
		s.awaitLine(t, 0, func(l string) bool { return strings.HasSuffix(l, ": ip netns add star-h500") })
		s.cmd.Process.Signal(sig)
		code := s.waitWithin(t, 5*time.Minute)
		if sig == syscall.SIGKILL {
			downAfterKill(t, "star")
			awaitProcessesOf(t, before)
		} else if code != exitSignal+int(sig) {
			t.Errorf("%v: exit status %d, want %d\nstderr:\n%s", sig, code, exitSignal+int(sig), s.stderr.String())
		}
		before.AssertUnchanged(t)
	}
}

// downAfterKill runs `nsplay down name` once the killed nsplay's lock is
// free: a command it was forking may hold a copy for a moment more.
func downAfterKill(t *testing.T, name string) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		if infos, err := lab.List(model.DefaultPaths); err != nil || !slices.ContainsFunc(infos, func(i lab.Info) bool { return i.Name == name && i.State == "running" }) {
			break
		}
	}
	stdout, stderr, code := run(t, "down", name)
	wantExit(t, code, exitOK, stdout, stderr)
}
