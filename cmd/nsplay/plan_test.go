package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/nsplay/nsplay/internal/testenv"
)

// TestPlanCatchesTheTutorialsMistake: the tutorial leaves lxcbr0.1 down;
// the plan fails the carrier and reachability checks at their lines, as
// nobody, and nothing on the machine changes.
func TestPlanCatchesTheTutorialsMistake(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	dir, err := os.MkdirTemp("", "nsplay-plan")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	src, err := os.ReadFile(tutorial)
	if err != nil {
		t.Fatal(err)
	}
	mistake := strings.Replace(string(src), "v.peer.set_master(br).set_up()", "v.peer.set_master(br)", 1)
	if mistake == string(src) {
		t.Fatal("the tutorial no longer sets lxcbr0.1 up in one line; update this test")
	}
	if err := os.WriteFile(filepath.Join(dir, "lxcbr0.star"), []byte(mistake), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(copySelf(t, dir), "plan", "lxcbr0.star")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), asNsplay+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, _ := cmd.Output()
	if code := cmd.ProcessState.ExitCode(); code != exitFailed {
		t.Errorf("plan of the tutorial with lxcbr0.1 down as nobody: status %d, want %d\n%s", code, exitFailed, out)
	}
	for _, want := range []string{
		"FAIL lxcbr0.star:42: eth0 has carrier: expect.true: got False, want a true value\n",
		"FAIL lxcbr0.star:47: expect.reachable: 192.168.10.1 does not answer from ns1 within 2s: eth0 in ns1 has no carrier: its peer lxcbr0.1 in host is down\n",
		"UNDECIDED lxcbr0.star:50: ",
		"\n11 passed, 2 failed, 2 undecided\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	before.AssertUnchanged(t)
}

// TestPlanUnknowns: what only the kernel knows is undecided in a plan, a
// branch on it is reported where it is, and the exit status counts only
// decided checks.
func TestPlanUnknowns(t *testing.T) {
	src := `n = netns("u1")
n.link("lo").set_up()
r = exec_in(n, "echo hi")
expect.eq(r.rc, 0)
if r.stdout.strip():
    fail("a plan takes a branch on an unknown as false")
for line in r.stdout.splitlines():
    fail("a plan runs a loop over an unknown zero times")
p = spawn(n, "sleep 100")
expect.listening(n, 80, timeout = "10ms")
expect.true(ping(n, "127.0.0.1").rtt_ms)
expect.eq(n.link("lo").up, True)
`
	playbook := writePlaybook(t, "unknowns.star", src)
	stdout, stderr, code := run(t, "plan", playbook)
	wantExit(t, code, exitOK, stdout, stderr)
	for _, want := range []string{
		"UNDECIDED " + playbook + ":4: expect.eq: exec_in(...).rc is known only to the kernel\n",
		"UNDECIDED " + playbook + ":5: a branch on exec_in(...).stdout.strip(), which only the kernel knows: the plan takes it as false\n",
		"UNDECIDED " + playbook + ":7: a loop over exec_in(...).stdout.splitlines(), which only the kernel knows: the plan runs it zero times\n",
		"UNDECIDED " + playbook + ":10: expect.listening: whether tcp port 80 is listened on in u1 is known only to the kernel\n",
		"PASS " + playbook + ":12: expect.eq(True, True)\n",
		"UNDECIDED " + playbook + ":11: expect.true: ping(...).rtt_ms is known only to the kernel\n",
		"1 passed, 0 failed, 5 undecided\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout)
		}
	}
}

// TestPlanLinkLocalEchoes: the model has no IPv6 link-local addresses, so
// an echo to one is undecided in a plan, where the run decides it; and a
// pair only the kernel knows does not hide a bad pair after it.
func TestPlanLinkLocalEchoes(t *testing.T) {
	src := `a = netns("lla")
b = netns("llb")
e = veth("eth0", peer = "eth0", ns = a, peer_ns = b)
expect.reachable(a, "fe80::1")
expect.all_reachable([(a, "10.0.0.1"), (a, "fe80::1")])
expect.eq(ping(a, "fe80::1").received, 1)
expect.all_reachable([(a, exec_in(a, "echo 10.0.0.1").stdout.strip()), (a, "not-an-ip")])
`
	playbook := writePlaybook(t, "ll.star", src)
	stdout, stderr, code := run(t, "plan", playbook)
	wantExit(t, code, exitError, stdout, stderr)
	for _, want := range []string{
		"UNDECIDED " + playbook + ":4: expect.reachable: whether the link-local fe80::1 answers: the model has no IPv6 link-local addresses, only the kernel knows\n",
		"UNDECIDED " + playbook + ":5: expect.all_reachable: whether the link-local fe80::1 answers",
		"UNDECIDED " + playbook + ":6: expect.eq: ping(...).received is known only to the kernel\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout)
		}
	}
	if want := playbook + `:7:21: expect.all_reachable: pairs[1][1]: "not-an-ip" is not an IP address`; !strings.Contains(stderr, want) {
		t.Errorf("plan stderr lacks %q:\n%s", want, stderr)
	}
}

// TestGraph draws the tutorial from the model in both formats, and a kept
// lab from the kernel.
func TestGraph(t *testing.T) {
	mermaid := `flowchart LR
  subgraph s0["host"]
    n0["lxcbr0<br/>bridge<br/>192.168.10.1/24"]
    n1["lxcbr0.1<br/>veth"]
  end
  subgraph s1["ns1 (created by the lab)"]
    n2["eth0<br/>veth<br/>192.168.10.11/24"]
  end
  n1 ---|veth| n2
  n1 ---|port| n0
`
	stdout, stderr, code := run(t, "graph", "--format", "mermaid", tutorial)
	if code != exitOK || stdout != mermaid {
		t.Errorf("graph --format mermaid: status %d\n%s%s\nwant:\n%s", code, stdout, stderr, mermaid)
	}
	dot, stderr, code := run(t, "graph", tutorial)
	for _, want := range []string{"graph \"" + tutorial + "\" {\n", "\tsubgraph cluster_1 {\n\t\tlabel=\"ns1 (created by the lab)\";\n",
		"\t\tn0 [label=\"lxcbr0\\nbridge\\n192.168.10.1/24\"];\n", "\tn1 -- n2 [label=\"veth\"];\n", "\tn1 -- n0 [label=\"port\"];\n"} {
		if code != exitOK || !strings.Contains(dot, want) {
			t.Errorf("graph (dot) lacks %q: status %d\n%s%s", want, code, dot, stderr)
		}
	}
	if _, stderr, code := run(t, "graph", "--format", "svg", tutorial); code != exitError || !strings.Contains(stderr, "use dot or mermaid") {
		t.Errorf("graph --format svg: status %d %q", code, stderr)
	}
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	if stdout, stderr, code := run(t, "run", "--keep", tutorial); code != exitOK {
		t.Fatalf("run --keep: %d\n%s\n%s", code, stdout, stderr)
	}
	live, stderr, code := run(t, "graph", "--format", "mermaid", "lxcbr0")
	if code != exitOK || live != mermaid {
		t.Errorf("graph of the kept lab: status %d\n%s%s\nwant:\n%s", code, live, stderr, mermaid)
	}
	run(t, "down", "lxcbr0")
	before.AssertUnchanged(t)
}

// TestPlanPrintsTheStepsOfRun plans and runs every repository playbook:
// the plan prints the step and teardown lines the run prints, in the same
// order, but for the pids of processes, which only the kernel gives.
func TestPlanPrintsTheStepsOfRun(t *testing.T) {
	testenv.RequireRoot(t)
	files, err := filepath.Glob("../../playbooks/*.star")
	if err != nil || len(files) < 2 {
		t.Fatalf("playbooks: %v %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			cleanLabs(t)
			planned, stderr, code := run(t, "plan", "--json", file)
			wantExit(t, code, exitOK, planned, stderr)
			// A check of the run may fail on a loaded machine (a shaped
			// link's rate): the steps are what this test compares.
			ran, stderr, code := run(t, "run", "--json", file)
			if code != exitOK && code != exitFailed {
				t.Fatalf("run: exit status %d\n%s\n%s", code, ran, stderr)
			}
			if want, got := stepsOf(t, ran), stepsOf(t, planned); !slices.Equal(got, want) {
				t.Errorf("plan's steps differ from run's:\nplan:\n  %s\nrun:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

var pids = regexp.MustCompile(`/proc/\d+/|-t \d+ |kill \d+ `)

// stepsOf lists the step and teardown events of a --json run as
// "pos: msg", with pids left out.
func stepsOf(t *testing.T, jsonLines string) []string {
	t.Helper()
	var steps []string
	sc := bufio.NewScanner(strings.NewReader(jsonLines))
	for sc.Scan() {
		var e struct{ Kind, Pos, Msg string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%v: %q", err, sc.Text())
		}
		if e.Kind == "step" || e.Kind == "teardown" {
			steps = append(steps, pids.ReplaceAllString(e.Pos+": "+e.Msg, "PID "))
		}
	}
	return steps
}
