package main

import (
	"bufio"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/testenv"
)

// TestMonitor watches a lab with nsplay monitor, in a process of its own,
// while the lab runs, and checks that the changes are shown in order.
func TestMonitor(t *testing.T) {
	testenv.RequireRoot(t)
	cleanLabs(t)
	mon := nsplayProcess(t, "monitor", "monitored")
	stderr, err := mon.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	mon.Stdout = &out
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Process.Kill(); mon.Wait() })
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stderr).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if !strings.HasPrefix(line, "monitoring host") {
			t.Fatalf("monitor said %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("monitor did not start")
	}

	if stdout, stderr, code := run(t, "run", "testdata/monitored.star"); code != exitOK {
		t.Fatalf("run: %d\n%s\n%s", code, stdout, stderr)
	}
	time.Sleep(200 * time.Millisecond) // let the last changes arrive
	mon.Process.Signal(syscall.SIGINT)
	if err := mon.Wait(); err != nil {
		t.Errorf("monitor ended with %v", err)
	}

	want := []string{
		"netns mon1 added",
		"mon1: link b (veth) down, no carrier, mtu 1500 added", // the kernel makes the peer first
		"mon1: link a (veth) down, no carrier, mtu 1500 added",
		"mon1: addr 10.77.0.1/24 dev a added",
		"mon1: link a (veth) up, no carrier, mtu 1500 changed",
		"mon1: route 10.77.0.0/24 dev a table main added",
		// (a's carrier comes when the kernel's link watch gets to it: any time now)
		"mon1: route 10.78.0.0/16 via 10.77.0.2 dev a table main added",
		"mon1: link a (veth) up, carrier, mtu 1400 changed",
	}
	lines := strings.Split(out.String(), "\n")
	next := 0
	for _, line := range lines {
		if next < len(want) && line == want[next] {
			next++
		}
	}
	if next < len(want) {
		t.Errorf("monitor output lacks, in this order, %q (after %q):\n%s", want[next], want[max(next-1, 0)], out.String())
	}
	// Changes in a namespace and the namespace's own come from different
	// sources: the deletion is only known to come after the addition.
	if !strings.Contains(out.String(), "\nnetns mon1 deleted\n") {
		t.Errorf("monitor output lacks the deletion of mon1:\n%s", out.String())
	}
	for _, line := range lines {
		if strings.HasPrefix(line, "host:") {
			t.Errorf("the lab has nothing in the host, but the monitor showed %q", line)
		}
	}
}
