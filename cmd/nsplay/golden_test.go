package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
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
	nsplayTest := func(args ...string) (string, int) {
		cmd := nsplayProcess(t, append([]string{"test"}, args...)...)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	write(`ns = netns("g1")
veth("a", "b", ns = ns).add_addr("10.1.0.1/24").set_up()
expect.true(ns.link("a").up)
`)
	out, code := nsplayTest(dir)
	if code != exitFailed || !strings.Contains(out, "no golden file "+filepath.Join(dir, "lab.golden")+"; review the run and create it with 'nsplay test --update") {
		t.Fatalf("without a golden file: status %d\n%s", code, out)
	}
	out, code = nsplayTest("--update", playbook)
	if code != exitOK || !strings.Contains(out, "(wrote ") {
		t.Fatalf("--update: status %d\n%s", code, out)
	}
	first, err := os.ReadFile(filepath.Join(dir, "lab.golden"))
	if err != nil {
		t.Fatal(err)
	}
	out, code = nsplayTest("--update", playbook)
	if code != exitOK || !strings.Contains(out, "(golden file unchanged)") {
		t.Errorf("a second --update changed the golden file: status %d\n%s", code, out)
	}
	if out, code = nsplayTest(playbook); code != exitOK || !strings.HasSuffix(out, "1 passed, 0 failed\n") {
		t.Errorf("against its own golden file: status %d\n%s", code, out)
	}
	write(`ns = netns("g1")
veth("a", "b", ns = ns).add_addr("10.1.0.9/24").set_up()
expect.true(ns.link("a").up)
`)
	out, code = nsplayTest(playbook)
	if code != exitFailed || !strings.Contains(out, "-golden +now") || !regexpMatch(`\+[\s\p{Zs}]+"9"`, out) {
		t.Errorf("after a change: status %d\n%s", code, out)
	}
	if !strings.Contains(string(first), "  link a veth up oper=lowerlayerdown mtu=1500 no-carrier peer=b@g1\n    addr 10.1.0.1/24 brd 10.1.0.255 scope global\n") {
		t.Errorf("golden file:\n%s", first)
	}
}

// TestSnapshotAgreesWithIP compares the snapshot of the kept tutorial lab,
// field by field, with what ip reports for the same objects.
func TestSnapshotAgreesWithIP(t *testing.T) {
	testenv.RequireRoot(t)
	cleanLabs(t)
	if stdout, stderr, code := run(t, "run", "--keep", tutorial); code != exitOK {
		t.Fatalf("run --keep: %d\n%s\n%s", code, stdout, stderr)
	}
	host, err := kernel.Current()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	l, err := lab.Inspect("lxcbr0", host)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := l.Snapshot(nil)
	l.Close() // an open namespace would outlive `down`
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
		var fromIP []lab.LinkState
		for _, sl := range ns.Links {
			il, ok := links[sl.Name]
			if !ok {
				t.Errorf("%s: ip has no link %s", ns.Name, sl.Name)
				continue
			}
			fromIP = append(fromIP, lab.LinkState{Name: il.Name, Kind: kindOf(il), Up: has(il.Flags, "UP"),
				Oper: strings.ToLower(il.OperState), MTU: il.MTU, Master: il.Master, Carrier: has(il.Flags, "LOWER_UP")})
		}
		var mine []lab.LinkState
		for _, sl := range ns.Links {
			mine = append(mine, lab.LinkState{Name: sl.Name, Kind: sl.Kind, Up: sl.Up, Oper: sl.Oper, MTU: sl.MTU, Master: sl.Master, Carrier: sl.Carrier})
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
func ipAddrs(t *testing.T, netns, dev string) []lab.AddrState {
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
	addrs := []lab.AddrState{}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Family == "inet6" && a.Scope == "link" {
				continue
			}
			addrs = append(addrs, lab.AddrState{CIDR: a.Local + "/" + itoa(a.Prefixlen), Broadcast: a.Broadcast, Scope: a.Scope})
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
	} {
		if !regexpMatch(row, stdout) {
			t.Errorf("show lacks a row like %q:\n%s", row, stdout)
		}
	}
	stdout, _, _ = run(t, "show", "--json", "lxcbr0")
	var snap lab.Snapshot
	if err := json.Unmarshal([]byte(stdout), &snap); err != nil || len(snap.Namespaces) != 2 || snap.Namespaces[1].Files[0].Content != "nameserver 8.8.8.8\n" {
		t.Errorf("show --json: %v\n%s", err, stdout)
	}
	run(t, "down", "lxcbr0")
	if _, stderr, code := run(t, "show", "lxcbr0"); code != exitError || !strings.Contains(stderr, "no lab lxcbr0 is up") {
		t.Errorf("show of a lab that is down: %d %q", code, stderr)
	}
}
