package lab_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
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
func buildTutorial(t *testing.T, l *lab.Lab, host *kernel.NS) tutorial {
	t.Helper()
	tu := tutorial{ns1: uniq("ns"), bridge: uniq("lxcbr"), veth: uniq("veth-ns"), port: uniq("lxcbr0.")}
	tu.resolv = filepath.Join(kernel.EtcNetnsDir, tu.ns1, "resolv.conf")

	_, _, _, err := l.CreateLink(lab.LinkSpec{NS: host, Name: tu.bridge, Kind: "bridge"}, func() error { return host.AddBridge(tu.bridge, 0) })
	must(t, err)
	must(t, host.SetSTP(tu.bridge, false))
	_, err = l.AddAddr(host, tu.bridge, "192.168.10.1/24")
	must(t, err)
	must(t, host.SetUp(tu.bridge))

	ns1, _, err := l.Netns(tu.ns1)
	must(t, err)
	must(t, ns1.SetUp("lo"))

	spec, mk := veth(host, tu.veth, host, tu.port)
	_, _, _, err = l.CreateLink(spec, mk)
	must(t, err)
	must(t, host.MoveTo(tu.veth, ns1))
	must(t, l.LinkMoved(host, tu.veth, ns1, tu.veth))
	must(t, ns1.Rename(tu.veth, "eth0"))
	must(t, l.LinkMoved(ns1, tu.veth, ns1, "eth0"))
	_, err = l.AddAddr(ns1, "eth0", "192.168.10.11/24")
	must(t, err)
	must(t, ns1.SetUp("eth0"))
	must(t, host.SetMaster(tu.port, tu.bridge))
	must(t, host.SetUp(tu.port))

	_, err = l.AddRoute(ns1, kernel.RouteSpec{Dst: "default", Via: "192.168.10.1"})
	must(t, err)
	_, err = l.AddRoute(host, kernel.RouteSpec{Dst: "10.99.0.0/16", Via: "192.168.10.11"})
	must(t, err)
	must(t, l.WriteFile(tu.resolv, []byte("nameserver 8.8.8.8\n")))

	// It works: ns1 reaches the bridge.
	waitOperUp(t, ns1, "eth0")
	res, err := ns1.Ping(context.Background(), net.ParseIP("192.168.10.1"), 1, 2*time.Second)
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
	if _, err := os.Stat(filepath.Join(lab.Dir, labName)); !os.IsNotExist(err) {
		t.Errorf("the lab's folder %s is still there: %v", filepath.Join(lab.Dir, labName), err)
	}
	if _, ok := labInfo(t, labName); ok {
		t.Errorf("List still shows %s", labName)
	}
}

func TestTeardownLeavesNothing(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	before := take(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	tu := buildTutorial(t, l, host)
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

func index(list []string, prefix string) int {
	return slices.IndexFunc(list, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// A crash: the lab is built (and journalled), then its process lets go of it
// without tearing down, even in the middle of a journal line. Down, from a
// later process, removes everything.
func TestCrashThenDown(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	before := take(t)
	name := newLabName(t, host)
	l, err := lab.Open(name, host, "crash.star")
	must(t, err)
	tu := buildTutorial(t, l, host)
	// Journalled but never created: killed between the journal write and
	// the kernel call.
	ghost := uniq("ghost")
	_, _, _, err = l.CreateLink(lab.LinkSpec{NS: host, Name: ghost, Kind: "bridge"}, func() error { return nil })
	must(t, err)
	// And a namespace someone deleted after the crash.
	gone := uniq("gone")
	_, _, err = l.Netns(gone)
	must(t, err)
	n := len(l.Objects())
	l.Close()
	must(t, kernel.DeleteNamed(gone))
	f, err := os.OpenFile(filepath.Join(lab.Dir, name, "journal"), os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	f.WriteString(`{"op":"add","obj":{"id":99,"kind":"li`)
	f.Close()

	info, ok := labInfo(t, name)
	if !ok || info.State != "orphaned" || info.Objects != n || info.Playbook != "crash.star" {
		t.Errorf("List after the crash: %+v (listed %v); want orphaned, %d objects, crash.star", info, ok, n)
	}
	if !kernel.NamedExists(tu.ns1) || !hasLink(t, "", tu.bridge) {
		t.Fatalf("the crashed lab is not up")
	}

	var reports []string
	if err := lab.Down(name, host, func(s string) { reports = append(reports, s) }); err != nil {
		t.Fatalf("Down after a crash: %v", err)
	}
	assertBackTo(t, before, name, tu)
	if len(reports) == 0 {
		t.Errorf("Down reported nothing")
	}
	if err := lab.Down(name, host, func(string) {}); err == nil {
		t.Errorf("Down twice succeeded")
	}
}

// Down of a lab kept with Keep, from the same process.
func TestKeepThenDown(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	before := take(t)
	name := newLabName(t, host)
	l, err := lab.Open(name, host, "keep.star")
	must(t, err)
	tu := buildTutorial(t, l, host)
	must(t, l.Keep())
	if info, _ := labInfo(t, name); info.State != "kept" {
		t.Errorf("List after Keep: %+v", info)
	}
	if !kernel.NamedExists(tu.ns1) || !hasLink(t, "", tu.bridge) {
		t.Fatalf("Keep did not keep the lab")
	}
	must(t, lab.Down(name, host, func(string) {}))
	assertBackTo(t, before, name, tu)
}

// A re-run of a kept lab adopts everything and builds nothing twice; its
// teardown then removes it all.
func TestRerunAdoptsKeptLab(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	before := take(t)
	name := newLabName(t, host)
	l, err := lab.Open(name, host, "rerun.star")
	must(t, err)
	tu := buildTutorial(t, l, host)
	objs := objects(l)
	must(t, l.Keep())

	l = openLab(t, name, host)
	ns1, adopted, err := l.Netns(tu.ns1)
	if err != nil || !adopted {
		t.Fatalf("Netns on re-run = adopted %v, %v", adopted, err)
	}
	_, _, adopted, err = l.CreateLink(lab.LinkSpec{NS: host, Name: tu.bridge, Kind: "bridge"}, mustNotMake(t))
	if err != nil || !adopted {
		t.Errorf("bridge on re-run = adopted %v, %v", adopted, err)
	}
	if adopted, err := l.AddAddr(host, tu.bridge, "192.168.10.1/24"); err != nil || !adopted {
		t.Errorf("bridge address on re-run = adopted %v, %v", adopted, err)
	}
	spec, _ := veth(host, tu.veth, host, tu.port)
	now, nowName, adopted, err := l.CreateLink(spec, mustNotMake(t))
	if err != nil || !adopted || now != ns1 || nowName != "eth0" {
		t.Errorf("veth on re-run = %v, %q, adopted %v, %v; want eth0 in %s", now, nowName, adopted, err, tu.ns1)
	}
	if adopted, err := l.AddRoute(ns1, kernel.RouteSpec{Dst: "default", Via: "192.168.10.1"}); err != nil || !adopted {
		t.Errorf("route in ns1 on re-run = adopted %v, %v", adopted, err)
	}
	if adopted, err := l.AddRoute(host, kernel.RouteSpec{Dst: "10.99.0.0/16", Via: "192.168.10.11"}); err != nil || !adopted {
		t.Errorf("host route on re-run = adopted %v, %v", adopted, err)
	}
	must(t, l.WriteFile(tu.resolv, []byte("nameserver 8.8.8.8\n")))
	if got := objects(l); !slices.Equal(got, objs) {
		t.Errorf("objects after the re-run:\n  %s\nafter the first run:\n  %s", strings.Join(got, "\n  "), strings.Join(objs, "\n  "))
	}
	must(t, l.Teardown(func(string) {}))
	assertBackTo(t, before, name, tu)
}

// The fast way to build (DESIGN.md): a veth created with its peer already
// in the lab's namespace. Teardown deletes the namespace, which takes the
// host end along, and waits until the kernel has done so.
func TestTeardownVethWithPeerInLabNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	before := take(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	hostEnds := map[string]bool{}
	for range 5 {
		ns, _, err := l.Netns(uniq("fast"))
		must(t, err)
		end := uniq("h")
		spec, mk := veth(host, end, ns, "eth0")
		_, _, _, err = l.CreateLink(spec, mk)
		must(t, err)
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
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	br := uniq("dw")
	_, _, _, err := l.CreateLink(lab.LinkSpec{NS: host, Name: br, Kind: "bridge"}, func() error { return host.AddBridge(br, 0) })
	must(t, err)
	must(t, l.Keep())

	other, err := kernel.CreateNamed(uniq("dwo"))
	must(t, err)
	t.Cleanup(func() { other.Delete(nil) })
	err = lab.Down(name, other, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "another network namespace") {
		t.Fatalf("Down from another namespace: %v", err)
	}
	if !hasLink(t, "", br) {
		t.Errorf("the lab's bridge is gone after the refused Down")
	}
	must(t, lab.Down(name, host, func(string) {}))
	if hasLink(t, "", br) {
		t.Errorf("the bridge is still there after Down from the lab's host")
	}
}
