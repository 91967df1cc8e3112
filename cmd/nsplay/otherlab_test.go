package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// A run that clashes with what a kept lab owns names that lab and how to
// remove it, and leaves nothing of its own.
func TestClashWithKeptLab(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	stdout, stderr, code := run(t, "run", "--keep", tutorial)
	wantExit(t, code, exitOK, stdout, stderr)

	stdout, stderr, code = run(t, "run", "--name", "second", tutorial)
	want := "bridge: link lxcbr0 in host belongs to lab lxcbr0 (kept): remove that lab with `nsplay down lxcbr0`, or choose another name"
	if code != exitError || !strings.Contains(stderr, want) {
		t.Errorf("a run that clashes with a kept lab: status %d, stderr %q; want status %d and %q", code, stderr, exitError, want)
	}
	if _, err := os.Stat(filepath.Join(model.DefaultPaths.Labs, "second")); err == nil {
		t.Errorf("the clashing run left its lab behind")
	}

	stdout, stderr, code = run(t, "down", "lxcbr0")
	wantExit(t, code, exitOK, stdout, stderr)
	before.AssertUnchanged(t)
}
