package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/testenv"
)

// TestCPUProfile checks that run --cpuprofile writes a pprof profile of
// the run (gzip-compressed protobuf), and that a file it cannot create is
// an error before anything is built.
func TestCPUProfile(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	file := filepath.Join(t.TempDir(), "cpu.prof")
	stdout, stderr, code := run(t, "run", "--cpuprofile", file, tutorial)
	wantExit(t, code, exitOK, stdout, stderr)
	data, err := os.ReadFile(file)
	if err != nil || !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		t.Errorf("--cpuprofile %s: %d bytes, %v; want a gzip-compressed pprof profile", file, len(data), err)
	}

	stdout, stderr, code = run(t, "run", "--cpuprofile", filepath.Join(t.TempDir(), "no", "such", "dir", "cpu.prof"), tutorial)
	wantExit(t, code, exitError, stdout, stderr)
	if !strings.Contains(stderr, "--cpuprofile") || strings.Contains(stdout, "ip netns add") {
		t.Errorf("a profile file that cannot be made: want an error naming --cpuprofile and no step\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	before.AssertUnchanged(t)
}
