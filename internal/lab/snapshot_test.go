package lab_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// A small lab's snapshot: only the lab's own objects (and the routes
// through its links) in the host and in an attached namespace, not what
// someone else made there; everything in the lab's namespace; the files
// the lab wrote; sorted, settled, the same on every call, and the same
// when read by Inspect from outside the running lab.
func TestSnapshot(t *testing.T) {
	l, name, b := newLab(t)
	// Named namespaces, the lab's and attached ones, sort by name: the
	// lab's (sn…) comes before the attached one (so…).
	br, hEnd, nsName := uniq("sbr"), uniq("sh"), uniq("sn")
	ns := model.Named(nsName)
	resolv := filepath.Join(paths.EtcNetns, nsName, "resolv.conf")

	do(t, l, bridge(br))
	do(t, l, model.BridgeSetSTP{Link: model.Link(model.Host, br), On: false})
	do(t, l, model.AddrAdd{Link: model.Link(model.Host, br), CIDR: "10.77.0.1/24"})
	do(t, l, up(model.Host, br))
	do(t, l, model.NetnsAdd{Name: nsName})
	do(t, l, up(ns, "lo"))
	do(t, l, veth(model.Host, hEnd, ns, "eth0"))
	do(t, l, model.LinkSetMaster{Link: model.Link(model.Host, hEnd), Master: br})
	do(t, l, up(model.Host, hEnd))
	do(t, l, model.AddrAdd{Link: model.Link(ns, "eth0"), CIDR: "10.77.0.2/24"})
	do(t, l, up(ns, "eth0"))
	do(t, l, model.RouteAdd{NS: ns, Route: model.Route{Dst: "default", Via: "10.77.0.1", Table: "main"}})
	do(t, l, model.RouteAdd{NS: model.Host, Route: model.Route{Dst: "10.78.0.0/16", Via: "10.77.0.2", Table: "main"}})
	do(t, l, model.FileWrite{Path: resolv, Data: "nameserver 8.8.8.8\nsearch lab.test\n"})
	// Not the lab's: a veth pair in the host, with an address and so a route.
	xa, xb := outsideVeth(t, "")
	testenv.IP(t, "link", "set", xa, "up")
	testenv.IP(t, "addr", "add", "10.88.0.1/24", "dev", xa)

	// An attached namespace (netns(path="/run/netns/OUT") names it by
	// name): the lab's veth there, not what else is there.
	out := uniq("so")
	testenv.IP(t, "netns", "add", out)
	t.Cleanup(func() { testenv.IP(t, "netns", "del", out) })
	att := model.Named(out)
	do(t, l, veth(att, "la", att, "lb"))
	do(t, l, model.AddrAdd{Link: model.Link(att, "la"), CIDR: "10.66.0.1/24"})
	do(t, l, up(att, "la"))
	do(t, l, up(att, "lb"))
	do(t, l, model.FileWrite{Path: filepath.Join(paths.EtcNetns, out, "resolv.conf"), Data: "nameserver 10.66.0.1\n"})
	must(t, os.WriteFile(filepath.Join(paths.EtcNetns, out, "hosts"), []byte("10.66.0.1 la\n"), 0o644))
	t.Cleanup(func() { os.Remove(filepath.Join(paths.EtcNetns, out, "hosts")) })
	ya, yb := outsideVeth(t, out)
	testenv.IP(t, "-n", out, "link", "set", ya, "up")
	testenv.IP(t, "-n", out, "addr", "add", "10.55.0.1/24", "dev", ya)

	want := strings.NewReplacer("BR", br, "HEND", hEnd, "NS", nsName, "OUT", out).Replace(`netns host
  link BR bridge up oper=up mtu=1500 stp=off ports=HEND
    addr 10.77.0.1/24 brd 10.77.0.255 scope global
  link HEND veth up oper=up mtu=1500 master=BR peer=eth0@NS
  route 10.77.0.0/24 dev BR table main proto kernel scope link
  route 10.78.0.0/16 via 10.77.0.2 dev BR table main proto boot scope global
netns NS (created by the lab)
  link eth0 veth up oper=up mtu=1500 peer=HEND@host
    addr 10.77.0.2/24 brd 10.77.0.255 scope global
  link lo loopback up oper=unknown mtu=65536
    addr 127.0.0.1/8 scope host
    addr ::1/128 scope host
  route 10.77.0.0/24 dev eth0 table main proto kernel scope link
  route default via 10.77.0.1 dev eth0 table main proto boot scope global
  file /etc/netns/NS/resolv.conf
    | nameserver 8.8.8.8
    | search lab.test
netns OUT
  link la veth up oper=up mtu=1500 peer=lb@OUT
    addr 10.66.0.1/24 brd 10.66.0.255 scope global
  link lb veth up oper=up mtu=1500 peer=la@OUT
  route 10.66.0.0/24 dev la table main proto kernel scope link
  file /etc/netns/OUT/resolv.conf
    | nameserver 10.66.0.1
`)
	snap, err := l.Snapshot(nil)
	must(t, err)
	if got := snap.Text(); got != want {
		t.Errorf("Snapshot().Text():\n%s\nwant:\n%s", got, want)
	}
	for _, outside := range []string{xa, xb, ya, yb, "10.88.0.", "10.55.0.", "hosts"} {
		if strings.Contains(snap.Text(), outside) {
			t.Errorf("the snapshot shows %s, which the lab did not create", outside)
		}
	}
	again, err := l.Snapshot(nil)
	must(t, err)
	if !reflect.DeepEqual(again, snap) {
		t.Errorf("a second Snapshot differs:\n%s\nthe first:\n%s", again.Text(), snap.Text())
	}

	// One namespace only.
	only, err := l.Snapshot(&ns)
	must(t, err)
	if len(snap.Namespaces) != 3 || len(only.Namespaces) != 1 || !reflect.DeepEqual(only.Namespaces[0], snap.Namespaces[1]) {
		t.Errorf("Snapshot(%s):\n%s\nwant its part of the whole:\n%s", nsName, only.Text(), snap.Text())
	}

	// Inspect reads the same from the journal, while the lab runs.
	in, err := lab.Inspect(name, b, paths)
	must(t, err)
	defer in.Close()
	inspected, err := in.Snapshot(nil)
	must(t, err)
	if !reflect.DeepEqual(inspected, snap) {
		t.Errorf("Inspect's snapshot:\n%s\nthe running lab's:\n%s", inspected.Text(), snap.Text())
	}
	must(t, l.Teardown(func(string) {}))
}

// TestSnapshotLeavesOutANamespaceMadeAgain: the lab's namespace deleted
// from outside and another made under its name is not the lab's: a
// snapshot (nsplay show, graph) leaves it out.
func TestSnapshotLeavesOutANamespaceMadeAgain(t *testing.T) {
	l, name, b := newLab(t)
	ns := uniq("sn")
	do(t, l, model.NetnsAdd{Name: ns})
	must(t, l.Keep())
	testenv.IP(t, "netns", "del", ns)
	testenv.IP(t, "netns", "add", ns) // someone else's
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	seen, err := lab.Inspect(name, b, paths)
	must(t, err)
	snap, err := seen.Snapshot(nil)
	must(t, err)
	if slices.ContainsFunc(snap.Namespaces, func(s model.NSState) bool { return s.Name == ns }) {
		t.Errorf("the snapshot of lab %s lists %s, which someone else made after the lab's was deleted: %+v", name, ns, snap.Namespaces)
	}
	must(t, lab.Down(name, b, paths, func(string) {}))
}
