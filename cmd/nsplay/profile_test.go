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

// TestCPUProfileInTheSandboxsOwnFolders: with --sandbox, a profile under
// /run or /etc (also by way of /var/run) would be written to the
// sandbox's own folder and go with it, so it is an error before the
// sandbox starts.
func TestCPUProfileInTheSandboxsOwnFolders(t *testing.T) {
	for _, path := range []string{"/run/nsplay-test.prof", "/var/run/nsplay-test.prof", "/etc/nsplay-test.prof"} {
		cmd := nsplayProcess(t, "run", "--sandbox", "--cpuprofile", path, tutorial)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != exitError || !strings.Contains(stderr.String(), "is the sandbox's own") || stdout.Len() > 0 {
			t.Errorf("run --sandbox --cpuprofile %s: status %d (%v), want %d, an error and no output\nstdout:\n%s\nstderr:\n%s", path, code, err, exitError, &stdout, &stderr)
		}
	}
}
