package lab_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// tutorial is what buildTutorial made.
type tutorial struct {
	ns1, bridge, veth, port, resolv string
}

// buildTutorial builds the tutorial's lab through l, as the builtins do:
// bridge with an address, namespace, veth moved in and renamed, its peer on
// the bridge, a default route inside, a route in the host through the
// bridge, and /etc/netns/<ns1>/resolv.conf.
func buildTutorial(t *testing.T, l *lab.Lab) tutorial {
	t.Helper()
	tu := tutorial{ns1: uniq("ns"), bridge: uniq("lxcbr"), veth: uniq("veth-ns"), port: uniq("lxcbr0.")}
	tu.resolv = filepath.Join(paths.EtcNetns, tu.ns1, "resolv.conf")
	host, ns1 := model.Host, model.Named(tu.ns1)

	do(t, l, bridge(tu.bridge))
	do(t, l, model.BridgeSetSTP{Link: model.Link(host, tu.bridge), On: false})
	do(t, l, model.AddrAdd{Link: model.Link(host, tu.bridge), CIDR: "192.168.10.1/24"})
	do(t, l, up(host, tu.bridge))

	do(t, l, model.NetnsAdd{Name: tu.ns1})
	do(t, l, up(ns1, "lo"))

	do(t, l, veth(host, tu.veth, host, tu.port))
	do(t, l, model.LinkMove{Link: model.Link(host, tu.veth), To: ns1})
	do(t, l, model.LinkRename{Link: model.Link(ns1, tu.veth), To: "eth0"})
	do(t, l, model.AddrAdd{Link: model.Link(ns1, "eth0"), CIDR: "192.168.10.11/24"})
	do(t, l, up(ns1, "eth0"))
	do(t, l, model.LinkSetMaster{Link: model.Link(host, tu.port), Master: tu.bridge})
	do(t, l, up(host, tu.port))

	do(t, l, model.RouteAdd{NS: ns1, Route: model.Route{Dst: "default", Via: "192.168.10.1", Table: "main"}})
	do(t, l, model.RouteAdd{NS: host, Route: model.Route{Dst: "10.99.0.0/16", Via: "192.168.10.11", Table: "main"}})
	do(t, l, model.FileWrite{Path: tu.resolv, Data: "nameserver 8.8.8.8\n"})

	// It works: ns1 reaches the bridge. The bridge's carrier (and the
	// linkdown flag of the host route through it) settles in the
	// background, up to a second late: wait for it, so that what tests
	// compare with the built lab does not change under them.
	waitOperUp(t, tu.ns1, "eth0")
	waitOperUp(t, "", tu.bridge)
	res, err := l.B.Ping(context.Background(), ns1, net.ParseIP("192.168.10.1"), 1, 2*time.Second)
	if err != nil || res.Received != 1 {
		t.Fatalf("ping from %s to the bridge: %+v, %v", tu.ns1, res, err)
	}
	return tu
}

// snapshot is what the machine (the sandbox) shows outside any lab, and
// the names of the links and namespaces, to count.
type snapshot struct {
	links, netns []string
	machine      testenv.Snapshot
}

func take(t *testing.T) snapshot {
	t.Helper()
	ns := testenv.Netns(t)
	slices.Sort(ns)
	return snapshot{links: linkNames(t, ""), netns: ns, machine: testenv.TakeSnapshot(t)}
}

// assertBackTo checks that the machine is as it was before the lab, and
// that the lab's folder is gone.
func assertBackTo(t *testing.T, before snapshot, labName string, tu tutorial) {
	t.Helper()
	before.machine.AssertUnchanged(t)
	if _, err := os.Stat(filepath.Dir(tu.resolv)); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", filepath.Dir(tu.resolv), err)
	}
	if _, err := os.Stat(filepath.Join(paths.Labs, labName)); !os.IsNotExist(err) {
		t.Errorf("the lab's folder %s is still there: %v", filepath.Join(paths.Labs, labName), err)
	}
	if _, ok := labInfo(t, labName); ok {
		t.Errorf("List still shows %s", labName)
	}
}

func TestTeardownLeavesNothing(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	name := newLabName(t, b)
	l := openLab(t, name, b)
	tu := buildTutorial(t, l)
	if got := take(t); len(got.links) != len(before.links)+2 || len(got.netns) != len(before.netns)+1 {
		t.Fatalf("the lab is not up as expected: links %v, netns %v", got.links, got.netns)
	}

	var reports []string
	if err := l.Teardown(func(s string) { reports = append(reports, s) }); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	assertBackTo(t, before, name, tu)
	for _, want := range []string{
		"rm " + tu.resolv,
		"rmdir " + filepath.Dir(tu.resolv),
		"ip route del 10.99.0.0/16",
		"ip link del " + tu.bridge,
		"ip netns del " + tu.ns1,
	} {
		if !contains(reports, want) {
			t.Errorf("reports lack %q:\n  %s", want, strings.Join(reports, "\n  "))
		}
	}
	// Newest first: the file before the namespace, the route before the
	// bridge it goes through.
	if i, j := index(reports, "rm "+tu.resolv), index(reports, "ip netns del "+tu.ns1); i > j {
		t.Errorf("the namespace went before the file:\n  %s", strings.Join(reports, "\n  "))
	}
	if i, j := index(reports, "ip route del 10.99.0.0/16"), index(reports, "ip link del "+tu.bridge); i > j {
		t.Errorf("the bridge went before the route through it:\n  %s", strings.Join(reports, "\n  "))
	}
}

// A crash: the lab is built (and journalled), then its process lets go of it
// without tearing down, even in the middle of a journal line. Down, from a
// later process, removes everything.
func TestCrashThenDown(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	name := newLabName(t, b)
	l, err := lab.Open(name, b, paths, "crash.star")
	must(t, err)
	tu := buildTutorial(t, l)
	// And a namespace someone deleted after the crash.
	gone := uniq("gone")
	do(t, l, model.NetnsAdd{Name: gone})
	l.Close()
	// Journalled but never created: killed between the journal write and
	// the kernel call.
	ghost := uniq("ghost")
	appendJournal(t, name, doRecord(t, 500, bridge(ghost)))
	n := len(objects(t, name))
	testenv.IP(t, "netns", "del", gone)
	appendJournal(t, name, `{"rec":"do","id":501,"op":{"op":"link.add","args":{"li`)

	info, ok := labInfo(t, name)
	if !ok || info.State != "orphaned" || info.Objects != n || info.Playbook != "crash.star" {
		t.Errorf("List after the crash: %+v (listed %v); want orphaned, %d objects, crash.star", info, ok, n)
	}
	if !kernel.NamedExists(paths.RunNetns, tu.ns1) || !hasLink(t, "", tu.bridge) {
		t.Fatalf("the crashed lab is not up")
	}

	var reports []string
	if err := lab.Down(name, b, paths, func(s string) { reports = append(reports, s) }); err != nil {
		t.Fatalf("Down after a crash: %v", err)
	}
	assertBackTo(t, before, name, tu)
	if len(reports) == 0 {
		t.Errorf("Down reported nothing")
	}
	if err := lab.Down(name, b, paths, func(string) {}); err == nil {
		t.Errorf("Down twice succeeded")
	}
}

// Down of a lab kept with Keep, from the same process.
func TestKeepThenDown(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	name := newLabName(t, b)
	l, err := lab.Open(name, b, paths, "keep.star")
	must(t, err)
	tu := buildTutorial(t, l)
	must(t, l.Keep())
	if info, _ := labInfo(t, name); info.State != "kept" {
		t.Errorf("List after Keep: %+v", info)
	}
	if !kernel.NamedExists(paths.RunNetns, tu.ns1) || !hasLink(t, "", tu.bridge) {
		t.Fatalf("Keep did not keep the lab")
	}
	must(t, lab.Down(name, b, paths, func(string) {}))
	assertBackTo(t, before, name, tu)
}

// A re-run of a kept lab adopts everything and builds nothing twice; its
// teardown then removes it all.
func TestRerunAdoptsKeptLab(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	name := newLabName(t, b)
	l, err := lab.Open(name, b, paths, "rerun.star")
	must(t, err)
	tu := buildTutorial(t, l)
	objs := objects(t, name)
	must(t, l.Keep())
	built := take(t)

	l = openLab(t, name, b)
	host, ns1 := model.Host, model.Named(tu.ns1)
	if res, err := l.Do(model.NetnsAdd{Name: tu.ns1}); err != nil || !res.Adopted {
		t.Fatalf("NetnsAdd on re-run = %+v, %v", res, err)
	}
	if res, err := l.Do(bridge(tu.bridge)); err != nil || !res.Adopted {
		t.Errorf("bridge on re-run = %+v, %v", res, err)
	}
	if res, err := l.Do(model.AddrAdd{Link: model.Link(host, tu.bridge), CIDR: "192.168.10.1/24"}); err != nil || !res.Adopted {
		t.Errorf("bridge address on re-run = %+v, %v", res, err)
	}
	if res, err := l.Do(veth(host, tu.veth, host, tu.port)); err != nil || !res.Adopted || res.At != model.Link(ns1, "eth0") {
		t.Errorf("veth on re-run = %+v, %v; want eth0 in %s", res, err, tu.ns1)
	}
	if res, err := l.Do(model.RouteAdd{NS: ns1, Route: model.Route{Dst: "default", Via: "192.168.10.1", Table: "main"}}); err != nil || !res.Adopted {
		t.Errorf("route in ns1 on re-run = %+v, %v", res, err)
	}
	if res, err := l.Do(model.RouteAdd{NS: host, Route: model.Route{Dst: "10.99.0.0/16", Via: "192.168.10.11", Table: "main"}}); err != nil || !res.Adopted {
		t.Errorf("host route on re-run = %+v, %v", res, err)
	}
	do(t, l, model.FileWrite{Path: tu.resolv, Data: "nameserver 8.8.8.8\n"})
	if got := objects(t, name); !slices.Equal(got, objs) {
		t.Errorf("objects after the re-run:\n  %s\nafter the first run:\n  %s", strings.Join(got, "\n  "), strings.Join(objs, "\n  "))
	}
	// Nothing was built twice: the machine is as the first run left it,
	// but for the lab's journal.
	now, journal := take(t), "file "+filepath.Join(paths.Labs, name, "journal")
	for what := range joinKeys(built.machine, now.machine) {
		was, wasThere := built.machine[what]
		is, isThere := now.machine[what]
		if what != journal && (wasThere != isThere || was != is) {
			t.Errorf("the re-run changed %s: %q (there: %v), after the first run %q (there: %v)", what, is, isThere, was, wasThere)
		}
	}
	must(t, l.Teardown(func(string) {}))
	assertBackTo(t, before, name, tu)
}

// joinKeys is the set of what either snapshot holds.
func joinKeys(a, b testenv.Snapshot) map[string]bool {
	keys := map[string]bool{}
	for _, s := range []testenv.Snapshot{a, b} {
		for k := range s {
			keys[k] = true
		}
	}
	return keys
}

// The fast way to build (DESIGN.md): a veth created with its peer already
// in the lab's namespace. Teardown deletes the namespace, which takes the
// host end along, and waits until the kernel has done so.
func TestTeardownVethWithPeerInLabNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	name := newLabName(t, b)
	l := openLab(t, name, b)
	hostEnds := map[string]bool{}
	for range 5 {
		ns := uniq("fast")
		do(t, l, model.NetnsAdd{Name: ns})
		end := uniq("h")
		do(t, l, veth(model.Host, end, model.Named(ns), "eth0"))
		hostEnds[end] = true
	}
	start := time.Now()
	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	took := time.Since(start)
	// No polling: Teardown returns once the host ends are gone.
	for _, link := range linkNames(t, "") {
		if hostEnds[link] {
			t.Errorf("%s is still in the host right after Teardown", link)
		}
	}
	before.machine.AssertUnchanged(t)
	if contains(reports, "ip link del") {
		t.Errorf("Teardown deleted veths one by one instead of letting the namespaces take them:\n  %s", strings.Join(reports, "\n  "))
	}
	if took > 5*time.Second {
		t.Errorf("Teardown of 5 namespaces took %s", took)
	}
}

// Down from another network namespace than the lab's host removes nothing
// and keeps the lab: by name it would hit other objects there.
func TestDownFromAnotherNamespaceRefuses(t *testing.T) {
	l, name, b := newLab(t)
	br := uniq("dw")
	do(t, l, bridge(br))
	must(t, l.Keep())

	other := outsideNS(t)
	err := lab.Down(name, backendIn(t, other), paths, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "another network namespace") {
		t.Fatalf("Down from another namespace: %v", err)
	}
	if !hasLink(t, "", br) {
		t.Errorf("the lab's bridge is gone after the refused Down")
	}
	if info, ok := labInfo(t, name); !ok || info.State != "kept" {
		t.Errorf("List after the refused Down: %+v (listed %v), want kept", info, ok)
	}
	// nsplay show and graph ask the same before they read the lab.
	for _, from := range []struct {
		b    model.Backend
		want bool
	}{{backendIn(t, other), true}, {b, false}} {
		seen, err := lab.Inspect(name, from.b, paths)
		must(t, err)
		if got, err := seen.BuiltElsewhere(); err != nil || got != from.want {
			t.Errorf("BuiltElsewhere = %v, %v; want %v", got, err, from.want)
		}
	}
	must(t, lab.Down(name, b, paths, func(string) {}))
	if hasLink(t, "", br) {
		t.Errorf("the bridge is still there after Down from the lab's host")
	}
}

// TestListSkipsWhatIsNoLab: a folder under the folder of the labs without
// a journal, or with a name no lab has, is no lab: ls does not list it,
// and down --all does not take it down.
func TestListSkipsWhatIsNoLab(t *testing.T) {
	testenv.RequireRoot(t)
	for _, dir := range []string{uniq("empty"), ".hidden" + uniq("")} {
		path := filepath.Join(paths.Labs, dir)
		must(t, os.MkdirAll(path, 0o755))
		t.Cleanup(func() { os.RemoveAll(path) })
		if dir[0] == '.' {
			must(t, os.WriteFile(filepath.Join(path, "journal"), nil, 0o644))
		}
		labs, err := lab.List(paths)
		must(t, err)
		if slices.ContainsFunc(labs, func(i lab.Info) bool { return i.Name == dir }) {
			t.Errorf("lab.List lists %s, which is no lab: %+v", path, labs)
		}
	}
}

// TestFileWhereItsFolderWouldBe: a file where the folder of a file to
// write would be is the clash, named as what it is.
func TestFileWhereItsFolderWouldBe(t *testing.T) {
	l, name, _ := newLab(t)
	dir := filepath.Join(t.TempDir(), "ns1")
	must(t, os.WriteFile(dir, nil, 0o644))
	_, err := l.Do(model.FileWrite{Path: filepath.Join(dir, "resolv.conf"), Data: "nameserver 192.0.2.1\n"})
	if !errors.Is(err, lab.ErrNotOwned) || !strings.Contains(err.Error(), "file "+dir+" already exists in the file system and lab "+name+" did not create it") {
		t.Errorf("a file where the folder would be: %v, want the clash naming %s", err, dir)
	}
	must(t, l.Teardown(func(string) {}))
}
