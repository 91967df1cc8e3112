package kernel_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// A command started with Stdio reads and writes the streams it is given,
// in the namespace, and stays in the test's process group (where a shell
// could take the terminal over); its exit status is what Wait returns.
func TestStdioConnectsTheStreams(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	var out, errOut bytes.Buffer
	p, err := kernel.Start(kernel.ExecSpec{NS: ns, Env: os.Environ(),
		Argv:  []string{"sh", "-c", "cat; readlink /proc/self/ns/net; cut -d' ' -f5 /proc/$$/stat; echo oops >&2; exit 3"},
		Stdio: &kernel.Stdio{In: strings.NewReader("typed\n"), Out: &out, Err: &errOut}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait(context.Background(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := "typed\n" + "net:[" + strconv.FormatUint(fdInode(t, ns), 10) + "]\n" + strconv.Itoa(unix.Getpgrp()) + "\n"
	if res.RC != 3 || out.String() != want || errOut.String() != "oops\n" {
		t.Errorf("rc %d, stdout %q, stderr %q; want rc 3, stdout %q (the input, the namespace, the test's process group), stderr \"oops\\n\"", res.RC, out.String(), errOut.String(), want)
	}
	if res.Stdout != "" || res.Stderr != "" {
		t.Errorf("the result keeps output %q %q that went to the streams", res.Stdout, res.Stderr)
	}
}

// Signal reaches a command in the test's process group alone: not the
// group, which is the test's own.
func TestStdioSignalGoesToTheCommand(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	p, err := kernel.Start(kernel.ExecSpec{NS: ns, Env: os.Environ(), Argv: []string{"sleep", "30"},
		Stdio: &kernel.Stdio{In: strings.NewReader(""), Out: os.Stdout, Err: os.Stderr}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait(context.Background(), 10*time.Second)
	if err != nil || res.RC != 128+int(unix.SIGTERM) {
		t.Errorf("after SIGTERM: rc %d, %v; want %d", res.RC, err, 128+int(unix.SIGTERM))
	}
}
