package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// spawnedPID is the pid keepspawn.star printed.
func spawnedPID(t *testing.T, out string) int {
	t.Helper()
	m := regexp.MustCompile(`keepspawn.star:\d+: pid (\d+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keepspawn.star printed no pid:\n%s", out)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// running tells whether process pid runs (and is not a zombie), and its
// command name.
func running(pid int) (bool, string) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false, ""
	}
	s := string(data)
	comm := s[strings.IndexByte(s, '(')+1 : strings.LastIndexByte(s, ')')]
	return !strings.HasPrefix(s[strings.LastIndexByte(s, ')')+2:], "Z"), comm
}

// With --keep, a spawned service outlives nsplay: it runs on, and writes
// its output, after nsplay has exited; `nsplay down` stops it.
func TestKeptLabKeepsItsServices(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	cmd := nsplayProcess(t, "run", "--keep", "testdata/keepspawn.star")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run --keep: %v\n%s", err, out)
	}
	pid := spawnedPID(t, string(out))
	// nsplay has exited; the service wrote its line a second after it
	// started, and went on.
	time.Sleep(1500 * time.Millisecond)
	if ok, comm := running(pid); !ok || comm != "sleep" {
		t.Fatalf("the spawned process %d is not running on after nsplay exited (running %v, %q)", pid, ok, comm)
	}
	if data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/fd/1"); err != nil || string(data) != "late\n" {
		t.Errorf("its stdout holds %q, %v; want \"late\\n\"", data, err)
	}
	stdout, stderr, code := run(t, "down", "keepspawn")
	wantExit(t, code, exitOK, stdout, stderr)
	if !strings.Contains(stdout, "down: kill "+strconv.Itoa(pid)+" (sh)\n") {
		t.Errorf("down did not stop the service %d:\n%s", pid, stdout)
	}
	if ok, _ := running(pid); ok {
		t.Errorf("the service %d runs on after down", pid)
	}
	before.AssertUnchanged(t)
}

// Without --keep nothing changes: a spawned process dies with nsplay, also
// when nsplay is killed.
func TestSpawnedDiesWithNsplay(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	cmd, out := startNsplay(t, "run", "-D", "wait=yes", "testdata/keepspawn.star")
	pid := spawnedPID(t, out.String())
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if ok, _ := running(pid); !ok {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the spawned process %d runs on after nsplay was killed", pid)
		}
	}
	stdout, stderr, code := run(t, "down", "keepspawn")
	wantExit(t, code, exitOK, stdout, stderr)
	before.AssertUnchanged(t)
}

// A kept NAT lab keeps its service, and `nsplay show` lists the sysctls
// and the NAT rules the lab set, in tables and in JSON.
func TestShowKeptNATLab(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	stdout, stderr, code := run(t, "run", "--keep", "../../playbooks/nat.star")
	wantExit(t, code, exitOK, stdout, stderr)
	stdout, stderr, code = run(t, "show", "nat")
	wantExit(t, code, exitOK, stdout, stderr)
	for _, row := range []string{
		`(?m)^NETNS\s+SYSCTL\s+VALUE$`,
		`(?m)^nat-gw\s+net\.ipv4\.ip_forward\s+1$`,
		`(?m)^nat-gw\s+net\.ipv6\.conf\.all\.forwarding\s+1$`,
		`(?m)^NETNS\s+NAT RULE$`,
		`(?m)^nat-gw\s+prerouting iifname eth1 fib daddr type local tcp dport 80 dnat ip to 10\.10\.0\.2:8080$`,
		`(?m)^nat-gw\s+postrouting oifname eth1 ip saddr 10\.10\.0\.0/24 masquerade$`,
	} {
		if !regexpMatch(row, stdout) {
			t.Errorf("show lacks %s:\n%s", row, stdout)
		}
	}
	stdout, stderr, code = run(t, "show", "--json", "nat")
	wantExit(t, code, exitOK, stdout, stderr)
	for _, want := range []string{`"sysctls": {`, `"net.ipv4.ip_forward": "1"`, `"nat": [`, `"postrouting oifname eth1 ip saddr 10.10.0.0/24 masquerade"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("show --json lacks %s:\n%s", want, stdout)
		}
	}
	// The LAN's service is still there.
	if out := testenv.IP(t, "netns", "exec", "nat-h1", "ss", "-Htln", "sport", "8080"); !strings.Contains(out, ":8080") {
		t.Errorf("nothing listens on port 8080 in nat-h1 in the kept lab: %q", out)
	}
	stdout, stderr, code = run(t, "down", "nat")
	wantExit(t, code, exitOK, stdout, stderr)
	if !regexpMatch(`down: kill \d+ \(/bin/sh\)\n`, stdout) {
		t.Errorf("down did not stop the service:\n%s", stdout)
	}
	before.AssertUnchanged(t)
}

// A host sysctl changed with --allow-host is written back by down after
// nsplay was killed.
func TestHostSysctlAfterKill9(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	const path = "/proc/sys/net/ipv4/ip_forward"
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := startNsplay(t, "run", "--allow-host", "testdata/hostsysctl.star")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if now, _ := os.ReadFile(path); string(now) == string(old) {
		t.Fatalf("ip_forward is %q after the run was killed: the playbook did not change it", now)
	}
	stdout, stderr, code := run(t, "down", "hostsysctl")
	wantExit(t, code, exitOK, stdout, stderr)
	if want := "down: sysctl -w net.ipv4.ip_forward=" + strings.TrimSpace(string(old)) + "\n"; !strings.Contains(stdout, want) {
		t.Errorf("down did not write the old value back:\n%s", stdout)
	}
	before.AssertUnchanged(t)
}

// TestDownGoesOnThroughSignals: `nsplay down` whose output is closed
// (`| head -1`), and one that gets SIGINT once it has begun, both tear the
// kept lab down to its end; the one interrupted exits 130 and says so.
func TestDownGoesOnThroughSignals(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	for _, interrupt := range []bool{false, true} {
		stdout, stderr, code := run(t, "run", "-q", "--keep", tutorial)
		wantExit(t, code, exitOK, stdout, stderr)
		cmd := nsplayProcess(t, "down", "lxcbr0")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errOut strings.Builder
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		first := make([]byte, len("down: "))
		if _, err := io.ReadFull(out, first); err != nil {
			t.Fatalf("nsplay down printed no first line: %v", err)
		}
		if interrupt {
			cmd.Process.Signal(syscall.SIGINT)
		}
		out.Close() // what is written from now on breaks the pipe
		cmd.Wait()
		want := exitOK
		if interrupt {
			want = 128 + int(syscall.SIGINT)
		}
		if code := cmd.ProcessState.ExitCode(); code != want || interrupt != strings.Contains(errOut.String(), "interrupted by SIGINT, and went on to the end of the teardown") {
			t.Errorf("nsplay down (interrupted: %v): status %d, want %d; stderr:\n%s", interrupt, code, want, &errOut)
		}
		if labsUp()["lxcbr0"] {
			t.Fatalf("nsplay down (interrupted: %v) left lab lxcbr0 up", interrupt)
		}
		before.AssertUnchanged(t)
	}
}

// TestNamespaceLeftAsAnEmptyFile: an nsplay killed while it made or
// deleted a namespace leaves its name, an empty file under /run/netns with
// no namespace mounted on it. Of a kept lab's namespace, `down` removes
// it, with what was in the namespace counted gone, and a run of the lab
// makes the namespace anew; one the lab did not leave is an error that
// says what it is and how to remove it, and stays.
func TestNamespaceLeftAsAnEmptyFile(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	ns1 := filepath.Join(model.DefaultPaths.RunNetns, "ns1")
	leaveName := func() {
		t.Helper()
		if err := unix.Unmount(ns1, unix.MNT_DETACH); err != nil {
			t.Fatalf("unmount %s: %v", ns1, err)
		}
		// The kernel frees the namespace, and the veth whose end was in
		// it, in the background: as after a crash, they are gone when the
		// user comes to run nsplay again.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, ok := testenv.Links(t, "")["lxcbr0.1"]; !ok {
				return
			}
		}
		t.Fatal("the kernel did not free the veth of ns1 within 5 s")
	}
	for _, then := range [][]string{{"down", "lxcbr0"}, {"run", "-q", tutorial}} {
		stdout, stderr, code := run(t, "run", "-q", "--keep", tutorial)
		wantExit(t, code, exitOK, stdout, stderr)
		leaveName()
		stdout, stderr, code = run(t, then...)
		wantExit(t, code, exitOK, stdout, stderr)
		if labsUp()["lxcbr0"] {
			t.Fatalf("nsplay %v left lab lxcbr0 up:\n%s", then, stdout)
		}
		before.AssertUnchanged(t)
	}

	if err := os.WriteFile(ns1, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(ns1) })
	stdout, stderr, code := run(t, "run", "-q", tutorial)
	wantExit(t, code, exitError, stdout, stderr)
	if !strings.Contains(stderr, ns1+" is an empty file with no namespace mounted on it") || !strings.Contains(stderr, "remove it (rm "+ns1+")") {
		t.Errorf("an empty %s the lab did not leave: stderr does not say what it is:\n%s", ns1, stderr)
	}
	if _, err := os.Stat(ns1); err != nil {
		t.Errorf("the empty %s the lab did not leave is gone: %v", ns1, err)
	}
}

// TestKeepOfNothing: a run with --keep that made nothing (its first step
// failed) leaves no lab for ls to list.
func TestKeepOfNothing(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	playbook := writePlaybook(t, "nothing.star", `veth("a-veth-name-too-long", peer = "b")`+"\n")
	stdout, stderr, code := run(t, "run", "--keep", playbook)
	wantExit(t, code, exitError, stdout, stderr)
	if labsUp()["nothing"] || strings.Contains(stdout, "is up") {
		t.Errorf("a run with --keep that made nothing left lab nothing up:\n%s", stdout)
	}
	before.AssertUnchanged(t)
}
