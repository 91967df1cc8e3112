package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the side a program writes to, and the
// side a terminal reads from.
func openPTY(t *testing.T) (term, screen *os.File) {
	t.Helper()
	screen, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { screen.Close() })
	fd := int(screen.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	return term, screen
}

// runOnTerminal runs nsplay in this process with stdout on a terminal and
// returns what the terminal received, line ends as the program wrote them.
func runOnTerminal(t *testing.T, args ...string) (screen, stderr string, code int) {
	t.Helper()
	t.Setenv("TERM", "xterm")
	term, master := openPTY(t)
	got := make(chan []byte)
	go func() {
		var out bytes.Buffer
		_, err := io.Copy(&out, master)
		if err != nil && !errors.Is(err, syscall.EIO) { // EIO: the terminal side is closed
			t.Errorf("read the pty: %v", err)
		}
		got <- out.Bytes()
	}()
	var errOut bytes.Buffer
	code = nsplay(args, term, &errOut)
	term.Close()
	return strings.ReplaceAll(string(<-got), "\r\n", "\n"), errOut.String(), code
}

// TestProgressOnTerminal runs a playbook of 63 steps and 63 teardown
// steps with stdout on a terminal: 50 step lines show, the rest are
// counted on a live line that the print, the check and the teardown
// clear, the teardown is counted the same way, and the summary comes
// after the live line is cleared. With -q the line counts from the first
// step. Not on a terminal, every line is printed as before.
func TestProgressOnTerminal(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	const clear = "\r\x1b[K"
	screen, stderr, code := runOnTerminal(t, "run", "testdata/many.star")
	wantExit(t, code, exitOK, screen, stderr)
	steps := regexp.MustCompile(`(?m)^testdata/many.star:\d+: (ip|bridge)`).FindAllString(screen, -1)
	downs := regexp.MustCompile(`(?m)^down: `).FindAllString(screen, -1)
	if len(steps) != progressAfter || len(downs) != progressAfter {
		t.Errorf("%d step lines and %d teardown lines on the terminal, want %d of each:\n%q", len(steps), len(downs), progressAfter, screen)
	}
	for _, want := range []string{
		clear + "building: 3 namespaces, 51 steps",
		clear + "testdata/many.star:8: built\n",
		"PASS testdata/many.star:9: the bridges are there: expect.true(True)\n",
		clear + "tearing down: 51 steps",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal did not get %q:\n%q", want, screen)
		}
	}
	if _, last, _ := cutLast(screen, clear); last != "1 passed, 0 failed\n" {
		t.Errorf("after the live line was last cleared the terminal got %q, want the summary", last)
	}
	before.AssertUnchanged(t)

	screen, stderr, code = runOnTerminal(t, "run", "-q", "testdata/many.star")
	wantExit(t, code, exitOK, screen, stderr)
	if !strings.HasPrefix(screen, clear+"building: 1 namespaces, 1 steps") || strings.Contains(screen, "\ntestdata/") {
		t.Errorf("-q on a terminal:\n%q", screen)
	}
	if _, last, _ := cutLast(screen, clear); last != "1 passed, 0 failed\n" {
		t.Errorf("-q: after the live line the terminal got %q, want the summary", last)
	}
	before.AssertUnchanged(t)

	// 60 bridges, 3 namespaces and the quiet_ipv6 sysctls of each
	// (docs/scale.md); the print, the check, 63 teardown steps, the summary.
	stdout, stderr, code := run(t, "run", "testdata/many.star")
	wantExit(t, code, exitOK, stdout, stderr)
	if n := strings.Count(stdout, "\n"); n != 66+1+1+63+1 || strings.Contains(stdout, "\r") {
		t.Errorf("not on a terminal: %d lines, want every step, print, check and teardown line and the summary:\n%s", n, stdout)
	}
	before.AssertUnchanged(t)
}

// cutLast cuts s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
