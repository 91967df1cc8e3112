package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the playbooks")

// TestGoldenPlaybooks checks every playbook in playbooks/ against its
// golden file in testdata/golden, the way a user runs nsplay test.
func TestGoldenPlaybooks(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	args := []string{"test", "--golden", "../../testdata/golden", "../../playbooks"}
	if *update {
		args = append(args, "--update")
	}
	cmd := nsplayProcess(t, args...)
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != exitOK {
		t.Errorf("nsplay %v: status %d\n%s", args, code, out)
	}
	playbooks, _ := filepath.Glob("../../playbooks/*.star")
	goldens, _ := filepath.Glob("../../testdata/golden/*.golden")
	if len(goldens) != len(playbooks) {
		t.Errorf("%d playbooks but %d golden files: %v", len(playbooks), len(goldens), goldens)
	}
	before.AssertUnchanged(t)
}

// TestGoldenWorkflow follows a user: no golden file, --update, a pass, a
// change in the playbook, a diff, and a second --update that changes
// nothing because runs are byte for byte the same.
func TestGoldenWorkflow(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	playbook := filepath.Join(dir, "lab.star")
	write := func(src string) {
		if err := os.WriteFile(playbook, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`ns = netns("g1")
veth("a", "b", ns = ns).add_addr("10.1.0.1/24").set_up()
expect.true(ns.link("a").up)
`)
	out, code := nsplayTest(t, dir)
	if code != exitFailed || !strings.Contains(out, "no golden file "+filepath.Join(dir, "lab.golden")+"; review the run and create it with 'nsplay test --update") {
		t.Fatalf("without a golden file: status %d\n%s", code, out)
	}
	out, code = nsplayTest(t, "--update", playbook)
	if code != exitOK || !strings.Contains(out, "(wrote ") {
		t.Fatalf("--update: status %d\n%s", code, out)
	}
	first, err := os.ReadFile(filepath.Join(dir, "lab.golden"))
	if err != nil {
		t.Fatal(err)
	}
	out, code = nsplayTest(t, "--update", playbook)
	if code != exitOK || !strings.Contains(out, "(golden file unchanged)") {
		t.Errorf("a second --update changed the golden file: status %d\n%s", code, out)
	}
	if out, code = nsplayTest(t, playbook); code != exitOK || !strings.HasSuffix(out, "1 passed, 0 failed\n") {
		t.Errorf("against its own golden file: status %d\n%s", code, out)
	}
	write(`ns = netns("g1")
veth("a", "b", ns = ns).add_addr("10.1.0.9/24").set_up()
expect.true(ns.link("a").up)
`)
	out, code = nsplayTest(t, playbook)
	if code != exitFailed || !strings.Contains(out, "-golden +now") {
		t.Errorf("after a change: status %d\n%s", code, out)
	}
	// A line diff, as diff -u writes it: the files, a hunk header, whole
	// lines with - and +, and three lines of context around them.
	wantDiff := "--- " + filepath.Join(dir, "lab.golden") + "\n+++ " + playbook + " (now)\n@@ -2,7 +2,7 @@\n" +
		" netns host\n netns g1 (created by the lab)\n   link a veth up oper=lowerlayerdown mtu=1500 no-carrier peer=b@g1\n" +
		"-    addr 10.1.0.1/24 brd 10.1.0.255 scope global\n+    addr 10.1.0.9/24 brd 10.1.0.255 scope global\n" +
		"   link b veth down oper=down mtu=1500 no-carrier peer=a@g1\n   link lo loopback down oper=down mtu=65536 no-carrier\n" +
		"   route 10.1.0.0/24 dev a table main proto kernel scope link\n0 passed, 1 failed\n"
	if !strings.HasSuffix(out, wantDiff) {
		t.Errorf("the difference is not a line diff ending in %q:\n%s", wantDiff, out)
	}
	if !strings.Contains(string(first), "  link a veth up oper=lowerlayerdown mtu=1500 no-carrier peer=b@g1\n    addr 10.1.0.1/24 brd 10.1.0.255 scope global\n") {
		t.Errorf("golden file:\n%s", first)
	}
}

// nsplayTest runs nsplay test in a process of its own and returns its
// output and exit status.
func nsplayTest(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := nsplayProcess(t, append([]string{"test"}, args...)...)
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

// TestGoldenIgnoresPositions records golden files, then shifts every
// statement down by a comment and a blank line: the golden files still
// match. Check lines carry the source of the check's call (on one line,
// also when it is written on several) instead of its line; error lines
// have no line either.
func TestGoldenIgnoresPositions(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	for _, tc := range []struct {
		name, update, src string
		lines             []string
	}{{
		name:   "passing",
		update: "--update",
		src: `ns = netns("sh1")
expect.true(ns.link("lo") != None)
expect.eq(
    ns.link("lo").up,
    False,
    msg = "lo is down",
)
expect.true(True, msg = "two\nlines")
`,
		lines: []string{
			"check PASS shift.star `expect.true(ns.link(\"lo\") != None)`: expect.true(True)\n",
			"check PASS shift.star `expect.eq(ns.link(\"lo\").up, False, msg = \"lo is down\")`: lo is down: expect.eq(False, False)\n",
			"check PASS shift.star `expect.true(True, msg = \"two\\nlines\")`: \"two\\nlines: expect.true(True)\"\n",
		},
	}, {
		name:   "failing",
		update: "--update-failing",
		src: `expect.eq(1, 2, msg = "one is two")
fail("stop here")
`,
		lines: []string{
			"check FAIL shift.star `expect.eq(1, 2, msg = \"one is two\")`: one is two: expect.eq: got 1, want 2\n",
			"error shift.star: fail: stop here\n",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			playbook := filepath.Join(dir, "shift.star")
			if err := os.WriteFile(playbook, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, code := nsplayTest(t, tc.update, playbook); code != exitOK {
				t.Fatalf("%s: status %d\n%s", tc.update, code, out)
			}
			golden, err := os.ReadFile(filepath.Join(dir, "shift.golden"))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range tc.lines {
				if !strings.Contains(string(golden), line) {
					t.Errorf("golden file lacks %q:\n%s", line, golden)
				}
			}
			if err := os.WriteFile(playbook, []byte("# a comment\n\n"+tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			out, code := nsplayTest(t, playbook)
			if code != exitOK || !strings.HasSuffix(out, "1 passed, 0 failed\n") {
				t.Errorf("after a comment line at the top: status %d\n%s", code, out)
			}
			out, code = nsplayTest(t, tc.update, playbook)
			if code != exitOK || !strings.Contains(out, "(golden file unchanged)") {
				t.Errorf("%s after a comment line at the top: status %d\n%s", tc.update, code, out)
			}
		})
	}
	before.AssertUnchanged(t)
}

// TestGoldenUpdateRefusesFailures checks that --update does not write a
// golden file that records a failed check or an error, and says why and
// where; --update-failing writes it.
func TestGoldenUpdateRefusesFailures(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	for _, tc := range []struct{ name, src, where string }{
		{"check", "expect.eq(1, 2, msg = \"one is two\")\n", "FAIL %s:1: one is two: expect.eq: got 1, want 2\n"},
		{"error", "expect.eq(1, 1)\nfail(\"no\")\n", "error %s:2:5: fail: no\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			playbook := filepath.Join(dir, "bad.star")
			golden := filepath.Join(dir, "bad.golden")
			if err := os.WriteFile(playbook, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			out, code := nsplayTest(t, "--update", playbook)
			if code != exitFailed || !strings.Contains(out, "FAIL "+playbook+": a check failed or the playbook stopped with an error, so "+golden+" was not written") ||
				!strings.Contains(out, fmt.Sprintf(tc.where, "bad.star")) || !strings.Contains(out, "'nsplay test --update-failing "+playbook+"'") || !strings.HasSuffix(out, "0 passed, 1 failed\n") {
				t.Errorf("--update of a failing run: status %d\n%s", code, out)
			}
			if _, err := os.Stat(golden); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("--update wrote %s for a failing run (%v)", golden, err)
			}
			out, code = nsplayTest(t, "--update-failing", playbook)
			if code != exitOK || !strings.Contains(out, "PASS "+playbook+" (wrote "+golden+", which records a failed check or an error)") {
				t.Errorf("--update-failing: status %d\n%s", code, out)
			}
			if out, code = nsplayTest(t, playbook); code != exitOK {
				t.Errorf("against the golden file --update-failing wrote: status %d\n%s", code, out)
			}
		})
	}
	before.AssertUnchanged(t)
}

// TestGoldenDir checks --golden DIR: a folder that does not exist is an
// error before anything runs, and the hint for a missing golden file names
// the folder, so that following it writes the file where test looks.
func TestGoldenDir(t *testing.T) {
	testenv.RequireRoot(t)
	missing := filepath.Join(t.TempDir(), "nosuch")
	stdout, stderr, code := run(t, "test", "--golden", missing, "testdata/failing.star")
	if code != exitError || stdout != "" || !strings.Contains(stderr, "--golden "+missing+": no such folder") {
		t.Errorf("--golden with a missing folder: status %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	dir, gold := t.TempDir(), t.TempDir()
	playbook := filepath.Join(dir, "pair.star")
	if err := os.WriteFile(playbook, []byte("expect.eq(1, 1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := nsplayTest(t, "--golden", gold, playbook)
	m := regexp.MustCompile(`create it with 'nsplay test ([^']*)'`).FindStringSubmatch(out)
	if code != exitFailed || m == nil || m[1] != "--update --golden "+gold+" "+playbook {
		t.Fatalf("hint for a missing golden file: status %d\n%s", code, out)
	}
	if out, code := nsplayTest(t, strings.Fields(m[1])...); code != exitOK {
		t.Fatalf("nsplay test %s: status %d\n%s", m[1], code, out)
	}
	if out, code := nsplayTest(t, "--golden", gold, playbook); code != exitOK {
		t.Errorf("after following the hint: status %d\n%s", code, out)
	}
}

// TestGoldenInterrupt sends SIGINT to nsplay test while the first of two
// playbooks runs: it exits 130, names the playbook, runs no other, and
// leaves nothing: no process, namespace, link or journal.
func TestGoldenInterrupt(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	dir := t.TempDir()
	for dst, src := range map[string]string{"1.star": "testdata/slow.star", "2.star": "testdata/failing.star"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := nsplayProcess(t, "test", "--golden", t.TempDir(), dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// slow.star is at its last statement when both its sleeps run.
	for start := time.Now(); countProcesses(t, "sleep") < 2; time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("slow.star did not start its sleeps within 30s\n%s%s", stdout.String(), stderr.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	first := filepath.Join(dir, "1.star")
	if code := cmd.ProcessState.ExitCode(); code != exitSignal+int(syscall.SIGINT) {
		t.Errorf("exit status %d, want %d", code, exitSignal+int(syscall.SIGINT))
	}
	if !strings.Contains(stdout.String(), "FAIL "+first+": interrupted by SIGINT:\n") ||
		!strings.Contains(stdout.String(), "interrupted by SIGINT; the lab was torn down") ||
		strings.Contains(stdout.String(), "2.star") || !strings.HasSuffix(stdout.String(), "0 passed, 1 failed\n") {
		t.Errorf("stdout does not name the interrupted playbook alone:\n%s", stdout.String())
	}
	if want := "nsplay: interrupted by SIGINT while testing " + first + " (playbook 1 of 2)\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
	for start := time.Now(); countProcesses(t, "sleep") > 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the sandbox's sleep outlived nsplay test")
		}
	}
	before.AssertUnchanged(t)
}

// TestSnapshotAgreesWithIP compares the snapshot of the kept tutorial lab,
// field by field, with what ip reports for the same objects.
func TestSnapshotAgreesWithIP(t *testing.T) {
	testenv.RequireRoot(t)
	cleanLabs(t)
	if stdout, stderr, code := run(t, "run", "--keep", tutorial); code != exitOK {
		t.Fatalf("run --keep: %d\n%s\n%s", code, stdout, stderr)
	}
	b, err := kernel.NewBackend(model.DefaultPaths)
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Inspect("lxcbr0", b, model.DefaultPaths)
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	snap, err := l.Snapshot(nil)
	b.Close() // an open namespace would outlive `down`
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Namespaces) != 2 || snap.Namespaces[0].Name != "host" || snap.Namespaces[1].Name != "ns1" {
		t.Fatalf("namespaces %+v, want host and ns1", snap.Namespaces)
	}
	for _, ns := range snap.Namespaces {
		netns := ns.Name
		if netns == "host" {
			netns = ""
		}
		links := testenv.Links(t, netns)
		var fromIP []model.LinkState
		for _, sl := range ns.Links {
			il, ok := links[sl.Name]
			if !ok {
				t.Errorf("%s: ip has no link %s", ns.Name, sl.Name)
				continue
			}
			fromIP = append(fromIP, model.LinkState{Name: il.Name, Kind: kindOf(il), Up: has(il.Flags, "UP"),
				Oper: strings.ToLower(il.OperState), MTU: il.MTU, Master: il.Master, Carrier: has(il.Flags, "LOWER_UP")})
		}
		var mine []model.LinkState
		for _, sl := range ns.Links {
			mine = append(mine, model.LinkState{Name: sl.Name, Kind: sl.Kind, Up: sl.Up, Oper: sl.Oper, MTU: sl.MTU, Master: sl.Master, Carrier: sl.Carrier})
			if sl.STP != nil {
				if got := links[sl.Name].LinkInfo.Data.STPState; got == nil || (*got == 1) != *sl.STP {
					t.Errorf("%s: stp of %s: snapshot %v, ip %v", ns.Name, sl.Name, *sl.STP, got)
				}
			}
			if got, want := sl.Addrs, ipAddrs(t, netns, sl.Name); !cmp.Equal(got, want) {
				t.Errorf("%s: addresses of %s (-ip +snapshot):\n%s", ns.Name, sl.Name, cmp.Diff(want, got))
			}
		}
		if diff := cmp.Diff(fromIP, mine); diff != "" {
			t.Errorf("%s: links (-ip +snapshot):\n%s", ns.Name, diff)
		}
		for _, r := range ns.Routes {
			var routes []struct {
				Dst, Gateway, Dev, Protocol, Scope string
				Metric                             int
			}
			args := []string{"-d", "route", "show", "table", r.Table, "exact", r.Dst}
			if netns != "" {
				args = append([]string{"-n", netns}, args...)
			}
			testenv.IPJSON(t, &routes, args...)
			if len(routes) != 1 || routes[0].Gateway != r.Via || routes[0].Dev != r.Dev || routes[0].Protocol != r.Proto ||
				routes[0].Scope != r.Scope || routes[0].Metric != r.Metric {
				t.Errorf("%s: route %+v, ip says %+v", ns.Name, r, routes)
			}
		}
	}
	if _, _, code := run(t, "down", "lxcbr0"); code != exitOK {
		t.Error("down failed")
	}
}

func kindOf(l testenv.Link) string {
	if l.LinkInfo.Kind == "" && l.Name == "lo" {
		return "loopback"
	}
	return l.LinkInfo.Kind
}

// ipAddrs lists a link's addresses as ip reports them, without IPv6
// link-local ones.
func ipAddrs(t *testing.T, netns, dev string) []model.AddrInfo {
	var links []struct {
		AddrInfo []struct {
			Family    string `json:"family"`
			Local     string `json:"local"`
			Prefixlen int    `json:"prefixlen"`
			Broadcast string `json:"broadcast"`
			Scope     string `json:"scope"`
		} `json:"addr_info"`
	}
	args := []string{"addr", "show", "dev", dev}
	if netns != "" {
		args = append([]string{"-n", netns}, args...)
	}
	testenv.IPJSON(t, &links, args...)
	addrs := []model.AddrInfo{}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Family == "inet6" && a.Scope == "link" {
				continue
			}
			addrs = append(addrs, model.AddrInfo{CIDR: a.Local + "/" + itoa(a.Prefixlen), Broadcast: a.Broadcast, Scope: a.Scope})
		}
	}
	return addrs
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestShow(t *testing.T) {
	testenv.RequireRoot(t)
	cleanLabs(t)
	if stdout, stderr, code := run(t, "run", "--keep", tutorial); code != exitOK {
		t.Fatalf("run --keep: %d\n%s\n%s", code, stdout, stderr)
	}
	stdout, stderr, code := run(t, "show", "lxcbr0")
	if code != exitOK {
		t.Fatalf("show: %d %s", code, stderr)
	}
	for _, row := range []string{
		`host\s+lxcbr0\s+bridge\s+up\s+1500\s+-\s+-\s+192.168.10.1/24`,
		`host\s+lxcbr0.1\s+veth\s+up\s+1500\s+lxcbr0\s+eth0@ns1\s+-`,
		`ns1\s+eth0\s+veth\s+up\s+1500\s+-\s+lxcbr0.1@host\s+192.168.10.11/24`,
		`ns1\s+default\s+192.168.10.1\s+eth0\s+0\s+main\s+boot\s+global`,
		`ns1\s+/etc/netns/ns1/resolv.conf\s+nameserver 8.8.8.8`,
		`NETNS\s+NEIGHBOUR\s+LLADDR\s+DEV`,
		`host\s+192.168.10.11\s+3e:a9:14:df:36:bf\s+lxcbr0`,
		`ns1\s+192.168.10.1\s+de:91:0c:75:f6:84\s+eth0`,
	} {
		if !regexpMatch(row, stdout) {
			t.Errorf("show lacks a row like %q:\n%s", row, stdout)
		}
	}
	stdout, _, _ = run(t, "show", "--json", "lxcbr0")
	var snap model.Snapshot
	if err := json.Unmarshal([]byte(stdout), &snap); err != nil || len(snap.Namespaces) != 2 || snap.Namespaces[1].Files[0].Content != "nameserver 8.8.8.8\n" {
		t.Errorf("show --json: %v\n%s", err, stdout)
	}
	run(t, "down", "lxcbr0")
	if _, stderr, code := run(t, "show", "lxcbr0"); code != exitError || !strings.Contains(stderr, "no lab lxcbr0 is up") {
		t.Errorf("show of a lab that is down: %d %q", code, stderr)
	}
}
