package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// asNsplay makes the test binary behave as nsplay itself, for tests that
// need nsplay in a process of its own (signals, kill -9).
const asNsplay = "NSPLAY_TEST_AS_NSPLAY"

func TestMain(m *testing.M) {
	// First: a command that nsplay started from a process that serves as
	// nsplay (asNsplay) inherits its environment.
	kernel.MaybeExecHelper()
	if os.Getenv(asNsplay) == "1" {
		os.Exit(process())
	}
	testenv.Main(m)
}

const tutorial = "../../playbooks/lxcbr0.star"

// writePlaybook writes src to a playbook file of that name in a folder of
// the test's own, and returns its path.
func writePlaybook(t *testing.T, name, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// run runs nsplay in this process and returns its output and exit status.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = nsplay(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// wantExit fails the test unless the run ended with the status.
func wantExit(t *testing.T, code, want int, stdout, stderr string) {
	t.Helper()
	if code != want {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, want, stdout, stderr)
	}
}

// cleanLabs takes down, when the test ends, the labs the test left up
// (those that were up before it are not its own), so the next test starts
// clean.
func cleanLabs(t *testing.T) {
	before := labsUp()
	t.Cleanup(func() {
		for name := range labsUp() {
			if !before[name] {
				run(t, "down", name)
			}
		}
	})
}

// labsUp returns the names of the labs with a folder in model.DefaultPaths.Labs.
func labsUp() map[string]bool {
	entries, _ := os.ReadDir(model.DefaultPaths.Labs)
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	return names
}

func TestTutorial(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	stdout, stderr, code := run(t, "run", tutorial)
	wantExit(t, code, exitOK, stdout, stderr)
	for _, line := range []string{
		"lxcbr0.star:12: ip link add lxcbr0 type bridge stp_state 0\n",
		"lxcbr0.star:12: ip addr add 192.168.10.1/24 brd 192.168.10.255 dev lxcbr0\n",
		"lxcbr0.star:15: ip netns add ns1\n",
		"lxcbr0.star:22: ip link set veth-ns1 netns ns1\n",
		"lxcbr0.star:22: ip -n ns1 link set veth-ns1 name eth0\n",
		"lxcbr0.star:26: ip link set lxcbr0.1 master lxcbr0\n",
		"lxcbr0.star:29: ip -n ns1 route add default via 192.168.10.1\n",
		"PASS ../../playbooks/lxcbr0.star:47: expect.reachable: 192.168.10.1 answers from ns1",
		"down: ip netns del ns1\n",
	} {
		if !strings.Contains(stdout, line) {
			t.Errorf("output lacks %q:\n%s", line, stdout)
		}
	}
	if !strings.HasSuffix(stdout, "\n15 passed, 0 failed\n") {
		t.Errorf("output does not end with the summary line:\n%s", stdout)
	}
	before.AssertUnchanged(t)
}

// TestTutorialKept checks the lab the tutorial builds with ip, re-runs it
// (adopting what it owns), and removes it with down.
func TestTutorialKept(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	stdout, stderr, code := run(t, "run", "--keep", tutorial)
	wantExit(t, code, exitOK, stdout, stderr)

	host := testenv.Links(t, "")
	br := host["lxcbr0"]
	if br.LinkInfo.Kind != "bridge" || br.LinkInfo.Data.STPState == nil || *br.LinkInfo.Data.STPState != 0 || !has(br.Flags, "UP") {
		t.Errorf("lxcbr0 = %+v, want an up bridge with STP off", br)
	}
	if port := host["lxcbr0.1"]; port.Master != "lxcbr0" || !has(port.Flags, "UP") {
		t.Errorf("lxcbr0.1 = %+v, want an up port of lxcbr0", port)
	}
	inNS := testenv.Links(t, "ns1")
	if eth0 := inNS["eth0"]; eth0.LinkInfo.Kind != "veth" || !has(eth0.Flags, "UP") || !has(eth0.Flags, "LOWER_UP") {
		t.Errorf("eth0 in ns1 = %+v, want an up veth with carrier", eth0)
	}
	if lo := inNS["lo"]; !has(lo.Flags, "UP") {
		t.Errorf("lo in ns1 is not up: %+v", lo)
	}
	assertAddr(t, "", "lxcbr0", "192.168.10.1", 24, "192.168.10.255")
	assertAddr(t, "ns1", "eth0", "192.168.10.11", 24, "192.168.10.255")
	var routes []struct{ Dst, Gateway, Dev string }
	testenv.IPJSON(t, &routes, "-n", "ns1", "route", "show", "default")
	if len(routes) != 1 || routes[0].Gateway != "192.168.10.1" || routes[0].Dev != "eth0" {
		t.Errorf("default route in ns1 = %+v, want via 192.168.10.1 dev eth0", routes)
	}
	if out := testenv.IP(t, "netns", "exec", "ns1", "cat", "/etc/resolv.conf"); out != "nameserver 8.8.8.8\n" {
		t.Errorf("ip netns exec ns1 cat /etc/resolv.conf = %q", out)
	}

	stdout, _, _ = run(t, "ls")
	if !regexpMatch(`lxcbr0\s+kept\s+\d+\s+\S*lxcbr0.star`, stdout) {
		t.Errorf("ls does not list lxcbr0 as kept:\n%s", stdout)
	}

	stdout, stderr, code = run(t, "run", "--keep", tutorial)
	wantExit(t, code, exitOK, stdout, stderr)
	for _, line := range []string{"bridge lxcbr0 is the lab's already: adopted", "veth veth-ns1 is the lab's already (now eth0 in ns1): adopted"} {
		if !strings.Contains(stdout, line) {
			t.Errorf("re-run output lacks %q:\n%s", line, stdout)
		}
	}

	stdout, stderr, code = run(t, "down", "lxcbr0")
	wantExit(t, code, exitOK, stdout, stderr)
	before.AssertUnchanged(t)

	_, stderr, code = run(t, "down", "lxcbr0")
	if code != exitError || !strings.Contains(stderr, "no lab lxcbr0 is up") {
		t.Errorf("down of a lab that is gone: status %d, stderr %q", code, stderr)
	}
}

func assertAddr(t *testing.T, netns, dev, local string, prefix int, brd string) {
	t.Helper()
	var links []struct {
		AddrInfo []struct {
			Family    string `json:"family"`
			Local     string `json:"local"`
			Prefixlen int    `json:"prefixlen"`
			Broadcast string `json:"broadcast"`
		} `json:"addr_info"`
	}
	args := []string{"addr", "show", "dev", dev}
	if netns != "" {
		args = append([]string{"-n", netns}, args...)
	}
	testenv.IPJSON(t, &links, args...)
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Family == "inet" {
				if a.Local != local || a.Prefixlen != prefix || a.Broadcast != brd {
					t.Errorf("%s: inet %s/%d brd %s, want %s/%d brd %s", dev, a.Local, a.Prefixlen, a.Broadcast, local, prefix, brd)
				}
				return
			}
		}
	}
	t.Errorf("%s in %q has no IPv4 address", dev, netns)
}

func TestExitStatus(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	stdout, stderr, code := run(t, "run", "testdata/failing.star")
	wantExit(t, code, exitFailed, stdout, stderr)
	if !strings.Contains(stdout, "FAIL testdata/failing.star:2: lo is up: expect.eq: got False, want True\n") ||
		!strings.HasSuffix(stdout, "1 passed, 1 failed\n") {
		t.Errorf("failing check not reported:\n%s", stdout)
	}
	before.AssertUnchanged(t)

	stdout, stderr, code = run(t, "run", "testdata/error.star")
	wantExit(t, code, exitError, stdout, stderr)
	want := `nsplay: testdata/error.star:3:5: veth: interface name "a-veth-name-too-long" is 20 bytes; Linux allows at most 15` + "\n"
	if stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if !strings.Contains(stdout, "down: ip link del er-br0\n") || !strings.HasSuffix(stdout, "0 passed, 0 failed\n") {
		t.Errorf("lab not torn down after the error:\n%s", stdout)
	}
	before.AssertUnchanged(t)
}

func TestNameClash(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	testenv.IP(t, "netns", "add", "ns1")
	t.Cleanup(func() { exec.Command("ip", "netns", "del", "ns1").Run() })
	stdout, stderr, code := run(t, "run", tutorial)
	wantExit(t, code, exitError, stdout, stderr)
	if !strings.Contains(stderr, "lxcbr0.star:15:12: netns: namespace ns1 already exists in /run/netns and lab lxcbr0 did not create it") {
		t.Errorf("stderr does not explain the clash: %s", stderr)
	}
	if ns := before.NewNetns(t); len(ns) != 1 || ns[0] != "ns1" {
		t.Errorf("new namespaces after the run: %v, want the user's ns1 untouched", ns)
	}
	if _, ok := testenv.Links(t, "")["lxcbr0"]; ok {
		t.Error("lxcbr0 was not torn down")
	}
	testenv.IP(t, "netns", "del", "ns1")

	testenv.IP(t, "link", "add", "lxcbr0", "type", "bridge")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "lxcbr0").Run() })
	stdout, stderr, code = run(t, "run", tutorial)
	wantExit(t, code, exitError, stdout, stderr)
	if !strings.Contains(stderr, "link lxcbr0 already exists in host and lab lxcbr0 did not create it") {
		t.Errorf("stderr does not explain the clash: %s", stderr)
	}
	if _, ok := testenv.Links(t, "")["lxcbr0"]; !ok {
		t.Error("the user's lxcbr0 was deleted")
	}
}

// TestResolvConfThroughASymlink: a symbolic link at the path of the
// tutorial's resolv.conf, made by someone else and pointing nowhere, is a
// clash like a file there: nsplay writes nothing through it, and leaves it.
func TestResolvConfThroughASymlink(t *testing.T) {
	testenv.RequireRoot(t)
	cleanLabs(t)
	before := testenv.TakeSnapshot(t)
	dir := "/etc/netns/ns1"
	if _, err := os.Lstat(dir); err == nil {
		t.Skipf("%s is there already", dir) // not this test's to change
	}
	made := dir // what this test makes, to remove at its end
	if _, err := os.Lstat(filepath.Dir(dir)); err != nil {
		made = filepath.Dir(dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(made) })
	victim := filepath.Join(t.TempDir(), "victim")
	link := filepath.Join(dir, "resolv.conf")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := run(t, "run", tutorial)
	wantExit(t, code, exitError, stdout, stderr)
	if !strings.Contains(stderr, "lxcbr0.star:32:12: resolv_conf: file "+link+" already exists in the file system and lab lxcbr0 did not create it") {
		t.Errorf("stderr does not explain the clash: %s", stderr)
	}
	if _, err := os.Lstat(victim); err == nil {
		t.Errorf("%s was written through the symbolic link %s", victim, link)
	}
	if target, err := os.Readlink(link); err != nil || target != victim {
		t.Errorf("the symbolic link %s is now %q, %v; want it left as it was", link, target, err)
	}
	if err := os.RemoveAll(made); err != nil {
		t.Fatal(err)
	}
	before.AssertUnchanged(t)
}

func TestAllowHost(t *testing.T) {
	testenv.RequireRoot(t)
	cleanLabs(t)
	testenv.IP(t, "link", "add", "hv0", "up", "type", "veth", "peer", "name", "hv1")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "hv0").Run() })
	stdout, stderr, code := run(t, "run", "testdata/hostlink.star")
	wantExit(t, code, exitError, stdout, stderr)
	if !strings.Contains(stderr, "hostlink.star:2:26: set_down: link hv0 in host was not created by lab hostlink; nsplay changes only what the lab created (--allow-host lifts this)") {
		t.Errorf("stderr does not explain the refusal: %s", stderr)
	}
	if hv0, ok := testenv.Links(t, "")["hv0"]; !ok || !has(hv0.Flags, "UP") {
		t.Errorf("hv0 was changed without --allow-host: %+v", hv0)
	}
	stdout, stderr, code = run(t, "run", "--allow-host", "testdata/hostlink.star")
	wantExit(t, code, exitOK, stdout, stderr)
	if _, ok := testenv.Links(t, "")["hv0"]; ok {
		t.Error("hv0 is still there after the playbook deleted it with --allow-host")
	}
}

// startNsplay runs nsplay in a process of its own and waits until the
// playbook prints "ready".
func startNsplay(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), asNsplay+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool)
	var out bytes.Buffer
	go func() {
		sc := bufio.NewScanner(pipe)
		signalled := false
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.HasSuffix(sc.Text(), ": ready") && !signalled {
				signalled = true
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("nsplay ended before it was ready\nstdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nsplay did not get ready within 30s")
	}
	return cmd, &out
}

func TestKill9ThenDown(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	sleeps := countProcesses(t, "sleep")
	cmd, _ := startNsplay(t, "run", "testdata/slow.star")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	if ns := before.NewNetns(t); len(ns) != 1 || ns[0] != "slow1" {
		t.Fatalf("new namespaces after kill -9: %v, want slow1 (the lab is left behind)", ns)
	}
	// The command the playbook was running dies with nsplay; the one it
	// left in the background is still there.
	for start := time.Now(); countProcesses(t, "sleep") != sleeps+1; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%d sleep processes after nsplay was killed, want %d", countProcesses(t, "sleep"), sleeps+1)
		}
	}
	stdout, _, _ := run(t, "ls")
	if !regexpMatch(`slow\s+orphaned\s+\d+`, stdout) {
		t.Errorf("ls does not show the killed lab as left behind:\n%s", stdout)
	}
	stdout, stderr, code := run(t, "down", "slow")
	wantExit(t, code, exitOK, stdout, stderr)
	if !regexpMatch(`down: kill \d+ \(sleep\) in slow1\n`, stdout) {
		t.Errorf("down did not stop the process left in slow1:\n%s", stdout)
	}
	before.AssertUnchanged(t)
}

// A second run of a lab that is running is refused with the pid of the
// nsplay that runs it, and ls shows that pid.
func TestSecondRunNamesTheFirst(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	cmd, _ := startNsplay(t, "run", "testdata/slow.star")
	pid := strconv.Itoa(cmd.Process.Pid)
	stdout, stderr, code := run(t, "run", "testdata/slow.star")
	wantExit(t, code, exitError, stdout, stderr)
	if want := "lab slow is in use: nsplay (pid " + pid + ") is running it"; !strings.Contains(stderr, want) {
		t.Errorf("the second run's error does not name the first run's pid:\n%s\nwant %q", stderr, want)
	}
	if stdout, _, _ := run(t, "ls"); !regexpMatch(`slow\s+running\s+\d+\s+\S*slow.star\s+`+pid+`\n`, stdout) {
		t.Errorf("ls does not show pid %s holding the lab:\n%s", pid, stdout)
	}
	if stdout, _, _ := run(t, "ls", "--json"); !strings.Contains(stdout, `"state":"running"`) || !strings.Contains(stdout, `"pid":`+pid+`}`) {
		t.Errorf("ls --json does not give pid %s:\n%s", pid, stdout)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	before.AssertUnchanged(t)
}

func TestSignalsTearDown(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		cmd, out := startNsplay(t, "run", "testdata/slow.star")
		start := time.Now()
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != exitSignal+int(sig) {
			t.Errorf("%v: exit status %d (%v), want %d", sig, code, err, exitSignal+int(sig))
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%v: nsplay took %s to stop; the running command should have been killed", sig, d)
		}
		if !strings.Contains(out.String(), "down: ip netns del slow1") {
			t.Errorf("%v: no teardown in the output:\n%s", sig, out)
		}
		before.AssertUnchanged(t)
	}

	// With --keep, a signal ends the run and keeps the lab.
	cmd, _ := startNsplay(t, "run", "--keep", "testdata/slow.star")
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitSignal+int(syscall.SIGINT) {
		t.Errorf("--keep and SIGINT: exit status %d", code)
	}
	if ns := before.NewNetns(t); len(ns) != 1 || ns[0] != "slow1" {
		t.Errorf("--keep and SIGINT: new namespaces %v, want the kept slow1", ns)
	}
	stdout, stderr, code := run(t, "down", "slow")
	wantExit(t, code, exitOK, stdout, stderr)
	before.AssertUnchanged(t)
}

func TestJSON(t *testing.T) {
	testenv.RequireRoot(t)
	cleanLabs(t)
	stdout, stderr, code := run(t, "run", "--json", tutorial)
	wantExit(t, code, exitOK, stdout, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	kinds := map[string]int{}
	var last map[string]any
	for _, line := range lines {
		last = nil
		if err := json.Unmarshal([]byte(line), &last); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		kinds[last["kind"].(string)]++
	}
	if last["kind"] != "summary" || last["passed"] != float64(15) {
		t.Errorf("last event = %v, want the summary with 15 passed", last)
	}
	if kinds["step"] == 0 || kinds["check"] != 15 || kinds["teardown"] == 0 {
		t.Errorf("event counts %v", kinds)
	}
}

// TestOneLinePerEvent runs a playbook whose command, print() and check
// messages hold newlines and tabs: each event is one line of the text
// output, quoted, and the JSON output keeps the text as it is.
func TestOneLinePerEvent(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	stdout, stderr, code := run(t, "run", "testdata/multiline.star")
	wantExit(t, code, exitOK, stdout, stderr)
	want := `testdata/multiline.star:2: "in host: echo one\necho two"
testdata/multiline.star:3: "a\nb"
PASS testdata/multiline.star:4: "two\nlines: expect.true(True)"
PASS testdata/multiline.star:5: "tab\there: expect.eq(\"x\\ty\", \"x\\ty\")"
2 passed, 0 failed
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	stdout, stderr, code = run(t, "run", "--json", "testdata/multiline.star")
	wantExit(t, code, exitOK, stdout, stderr)
	var msgs []string
	for line := range strings.Lines(stdout) {
		var e struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		msgs = append(msgs, e.Msg)
	}
	if len(msgs) < 4 || msgs[0] != "in host: echo one\necho two" || msgs[1] != "a\nb" || msgs[2] != "two\nlines: expect.true(True)" {
		t.Errorf("JSON messages are not the raw text: %q", msgs)
	}
	before.AssertUnchanged(t)
}

func TestStarWithVars(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	stdout, stderr, code := run(t, "run", "-D", "hosts=4", "../../playbooks/star.star", "-D", "nosuch=1")
	wantExit(t, code, exitOK, stdout, stderr)
	if !strings.Contains(stdout, "netns add h4\n") || strings.Contains(stdout, "netns add h5") {
		t.Errorf("-D hosts=4 did not build 4 hosts:\n%s", stdout)
	}
	if !strings.Contains(stdout, `warning: -D nosuch was given, but the playbook never calls var("nosuch")`) {
		t.Errorf("no warning for an unused -D:\n%s", stdout)
	}
	before.AssertUnchanged(t)

	stdout, stderr, code = run(t, "run", "-D", "hosts=x", "../../playbooks/star.star")
	wantExit(t, code, exitError, stdout, stderr)
	if !strings.Contains(stderr, "var: -D hosts=x: want an integer, like the default 3") {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{}, exitError, "", "Usage:"},
		{[]string{"help"}, exitOK, "nsplay run [flags] PLAYBOOK", ""},
		{[]string{"--help"}, exitOK, "--allow-host", ""},
		{[]string{"help", "run"}, exitOK, "--allow-host", ""},
		{[]string{"run", "-h"}, exitOK, "-D, --define name=value", ""},
		{[]string{"version"}, exitOK, "nsplay " + version, ""},
		{[]string{"frobnicate"}, exitError, "", `unknown command "frobnicate"`},
		{[]string{"run"}, exitError, "", "run takes one playbook"},
		{[]string{"run", "--nosuch", tutorial}, exitError, "", "unknown flag: --nosuch"},
		{[]string{"run", "-D", "novalue", tutorial}, exitError, "", `want name=value, got "novalue"`},
		{[]string{"run", "nosuch.star"}, exitError, "", "playbook nosuch.star: stat nosuch.star: no such file or directory"},
		{[]string{"run", "../../playbooks"}, exitError, "", "playbook ../../playbooks is a folder; give one .star file, or run every playbook in it with nsplay test ../../playbooks"},
		{[]string{"plan", "../../playbooks"}, exitError, "", "is a folder"},
		{[]string{"down"}, exitError, "", "down takes the names of the labs"},
	} {
		stdout, stderr, code := run(t, tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.out) || !strings.Contains(stderr, tc.err) {
			t.Errorf("nsplay %v: status %d, stdout %q, stderr %q; want status %d, stdout with %q, stderr with %q",
				tc.args, code, stdout, stderr, tc.code, tc.out, tc.err)
		}
	}
	stdout, _, _ := run(t, "help", "run")
	for _, flag := range []string{"-D, --define", "    --name", "-k, --keep", "    --allow-host", "    --json"} {
		if !strings.Contains(stdout, "  "+flag) {
			t.Errorf("help run does not explain %s:\n%s", flag, stdout)
		}
	}
}

// copySelf copies the test binary into dir, which it opens to all users, so
// that an unprivileged user can run it.
func copySelf(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "nsplay")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func regexpMatch(pattern, s string) bool {
	return regexp.MustCompile(pattern).MatchString(s)
}

// TestNotRoot runs nsplay as nobody: run and down say they need root.
func TestNotRoot(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	dir, err := os.MkdirTemp("", "nsplay-notroot")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := copySelf(t, dir)
	playbook, err := filepath.Abs(tutorial)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"run", playbook}, {"down", "lxcbr0"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), asNsplay+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != exitError || !strings.Contains(string(out), "needs root") {
			t.Errorf("nsplay %v as nobody: status %d, output %q; want status 2 and a word about root", args, code, out)
		}
	}
	before.AssertUnchanged(t)
}

// nsplayProcess prepares the test binary to run as nsplay in a process of
// its own.
func nsplayProcess(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), asNsplay+"=1")
	return cmd
}

// TestSandboxPlaybooks runs every playbook in playbooks/ sandboxed, all at
// the same time, the tutorial three times over: the runs share names and
// addresses and must not interfere, and none may leave anything behind.
func TestSandboxPlaybooks(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	files, err := filepath.Glob("../../playbooks/*.star")
	if err != nil || len(files) < 2 {
		t.Fatalf("playbooks: %v %v", files, err)
	}
	files = append(files, tutorial, tutorial)
	t.Run("parallel", func(t *testing.T) {
		for i, file := range files {
			t.Run(fmt.Sprintf("%d-%s", i, filepath.Base(file)), func(t *testing.T) {
				t.Parallel()
				cmd := nsplayProcess(t, "run", "--sandbox", file)
				out, _ := cmd.CombinedOutput()
				if code := cmd.ProcessState.ExitCode(); code != exitOK || !regexpMatch(`\n\d+ passed, 0 failed\n$`, string(out)) {
					t.Errorf("nsplay run --sandbox %s: status %d\n%s", file, code, out)
				}
			})
		}
	})
	before.AssertUnchanged(t)
}

// TestUsedMachine runs the repository's playbooks with run, and with test
// (each in a sandbox), and the tutorial with run --keep and down, on a
// machine that has been used: first one with only an empty /etc/netns of
// root's, then one with namespaces, links, a process, /etc/netns folders
// and a kept lab of other tools and runs. Every playbook passes, and all
// of that is left as it was.
func TestUsedMachine(t *testing.T) {
	testenv.RequireRoot(t)
	files, err := filepath.Glob("../../playbooks/*.star")
	if err != nil || len(files) < 2 {
		t.Fatalf("playbooks: %v %v", files, err)
	}
	for _, used := range []struct {
		name string
		make func(testing.TB)
	}{
		{"etc-netns", func(t testing.TB) { testenv.UseEtcNetns(t) }},
		{"used", testenv.UseMachine},
	} {
		t.Run(used.name, func(t *testing.T) {
			used.make(t)
			before := testenv.TakeSnapshot(t)
			cleanLabs(t)
			wantPass := func(args []string, code int, stdout, stderr string) {
				t.Helper()
				if code != exitOK || !regexpMatch(`\n\d+ passed, 0 failed\n$`, stdout) {
					t.Errorf("nsplay %v: status %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
				}
			}
			for _, file := range files {
				args := []string{"run", file}
				stdout, stderr, code := run(t, args...)
				wantPass(args, code, stdout, stderr)
			}
			args := []string{"run", "--keep", tutorial}
			stdout, stderr, code := run(t, args...)
			wantPass(args, code, stdout, stderr)
			stdout, stderr, code = run(t, "down", "lxcbr0")
			wantExit(t, code, exitOK, stdout, stderr)
			args = []string{"test", "--golden", "../../testdata/golden", "../../playbooks"}
			cmd := nsplayProcess(t, args...)
			out, _ := cmd.CombinedOutput()
			wantPass(args, cmd.ProcessState.ExitCode(), string(out), "")
			before.AssertUnchanged(t)
		})
	}
}

// TestSandboxHidesAndEnds checks that nothing of a sandboxed lab is seen
// outside while it runs (but its processes: PID namespaces nest), and that
// after kill -9 nothing of it is left: no link, namespace, file, journal or
// process.
func TestSandboxHidesAndEnds(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	sleeps := countProcesses(t, "sleep")
	cmd, _ := startNsplay(t, "run", "--sandbox", "testdata/slow.star")
	before.AssertObjectsUnchanged(t)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	for start := time.Now(); countProcesses(t, "sleep") > sleeps; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the sandbox's sleep outlived nsplay")
		}
	}
	before.AssertUnchanged(t)
}

// countProcesses counts the live processes whose command name is comm.
func countProcesses(t *testing.T, comm string) int {
	t.Helper()
	n := 0
	for _, p := range testenv.Processes(t) {
		if strings.HasSuffix(p, " ("+comm+")") {
			n++
		}
	}
	return n
}

func TestSandboxInterrupt(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cmd, out := startNsplay(t, "run", "--sandbox", "testdata/slow.star")
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitSignal+int(syscall.SIGINT) {
		t.Errorf("exit status %d, want %d", code, exitSignal+int(syscall.SIGINT))
	}
	if !strings.Contains(out.String(), "down: ip netns del slow1") {
		t.Errorf("the sandboxed run did not tear down:\n%s", out)
	}
	before.AssertUnchanged(t)
}

// TestSandboxRootless runs the tutorial sandboxed as the unprivileged user
// nobody: it passes, and nothing of it is seen outside.
func TestSandboxRootless(t *testing.T) {
	testenv.RequireRoot(t)
	runRootless(t)
}

// TestSandboxRootlessOnUsedMachine runs the tutorial sandboxed as nobody on
// a used machine, whose /etc/netns is root's and not writable for nobody,
// not even through the sandbox's overlay: the sandbox has one of its own.
func TestSandboxRootlessOnUsedMachine(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.UseMachine(t)
	runRootless(t)
}

// runRootless runs the tutorial with run --sandbox as nobody and checks
// that it passes and leaves nothing.
func runRootless(t *testing.T) {
	before := testenv.TakeSnapshot(t)
	dir, err := os.MkdirTemp("", "nsplay-rootless")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for src, dst := range map[string]string{tutorial: "lxcbr0.star"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, code := asNobody(t, dir, "run", "--sandbox", "lxcbr0.star")
	if code != exitOK || !strings.HasSuffix(out, "\n15 passed, 0 failed\n") {
		t.Errorf("nsplay run --sandbox as nobody: status %d\n%s", code, out)
	}
	before.AssertUnchanged(t)
}

// asNobody runs a copy of nsplay in dir as nobody and returns its stdout
// and stderr, and its exit status.
func asNobody(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	bin := copySelf(t, dir)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), asNsplay+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

// A rootless sandbox is a user namespace of its own, whose root may lower
// its limit on network namespaces: the namespace over the limit is an
// error that names the limit.
func TestNamespaceLimitInPlainWords(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	dir, err := os.MkdirTemp("", "nsplay-limit") // not t.TempDir(): nobody must reach it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	playbook := `exec_in(host, "echo 3 > /proc/sys/user/max_net_namespaces")
for i in range(5):
    netns("lim%d" % i)
`
	if err := os.WriteFile(filepath.Join(dir, "limit.star"), []byte(playbook), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := asNobody(t, dir, "run", "--sandbox", "limit.star")
	want := "limit.star:3:10: netns: ip netns add lim2: create namespace lim2: the kernel allows no more net namespaces here (/proc/sys/user/max_net_namespaces is 3): raise the limit, or make fewer (unshare network namespace: no space left on device)"
	if code != exitError || !strings.Contains(out, want) || !strings.Contains(out, "down: ip netns del lim0") {
		t.Errorf("status %d, output:\n%s\nwant status 2, the teardown, and %q", code, out, want)
	}
	before.AssertUnchanged(t)
}

func TestSandboxKeepRefused(t *testing.T) {
	_, stderr, code := run(t, "run", "--sandbox", "--keep", tutorial)
	if code != exitError || !strings.Contains(stderr, "--keep and --sandbox do not go together") {
		t.Errorf("status %d, stderr %q", code, stderr)
	}
}

// TestProcessPlaybooksLeaveNoProcess runs the playbooks that spawn
// processes outside a sandbox of their own, and checks by pid that every
// process they started is gone afterwards.
func TestProcessPlaybooksLeaveNoProcess(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	for _, file := range []string{"../../playbooks/namespaces.star", "../../playbooks/attach.star"} {
		stdout, stderr, code := run(t, "run", file)
		wantExit(t, code, exitOK, stdout, stderr)
		pids := regexp.MustCompile(`(?m)^down: kill (\d+) `).FindAllStringSubmatch(stdout, -1)
		if len(pids) == 0 {
			t.Fatalf("%s started no process?\n%s", file, stdout)
		}
		for _, m := range pids {
			data, err := os.ReadFile("/proc/" + m[1] + "/stat")
			if err == nil && !strings.Contains(string(data), ") Z ") {
				t.Errorf("%s: process %s is still running: %s", file, m[1], data)
			}
		}
		before.AssertUnchanged(t)
	}
}
