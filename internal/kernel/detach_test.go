package kernel_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/testenv"
)

// A detached command (spawn in a run that keeps its lab) has no
// parent-death signal and a session of its own, and its output, written
// to files in memory, is what Wait returns.
func TestStartDetached(t *testing.T) {
	testenv.RequireRoot(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the prctl syscall number below is amd64's")
	}
	noNewProcesses(t)
	ns := newNS(t)
	const script = `my $s = pack("i", -1); syscall(157, 2, $s) == 0 or die "prctl: $!"; print unpack("i", $s), "\n";
open(my $f, "<", "/proc/self/stat") or die; my @f = split(" ", (split(/\) /, <$f>))[1]); print STDERR "$f[3] $$\n"`
	p, err := kernel.Start(kernel.ExecSpec{NS: ns, Argv: []string{"perl", "-e", script}, Detach: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait(context.Background(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d %d\n", p.PID(), p.PID()); res.RC != 0 || res.Stdout != "0\n" || res.Stderr != want {
		t.Errorf("a detached command printed %+v; want rc 0, parent-death signal 0 on stdout, and %q (its session is its own) on stderr", res, want)
	}
}
