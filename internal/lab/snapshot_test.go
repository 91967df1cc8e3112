package lab_test

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/testenv"
)

// A small lab's snapshot: only the lab's own objects (and the routes
// through its links) in the host and in an attached namespace, not what
// someone else made there; everything in the lab's namespace; the files
// the lab wrote; sorted, settled, the same on every call, and the same
// when read by Inspect from outside the running lab.
func TestSnapshot(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	br, hEnd, nsName := uniq("sbr"), uniq("sh"), uniq("sn")
	resolv := filepath.Join(kernel.EtcNetnsDir, nsName, "resolv.conf")

	_, _, _, err := l.CreateLink(lab.LinkSpec{NS: host, Name: br, Kind: "bridge"}, func() error { return host.AddBridge(br, 0) })
	must(t, err)
	must(t, host.SetSTP(br, false))
	_, err = l.AddAddr(host, br, "10.77.0.1/24")
	must(t, err)
	must(t, host.SetUp(br))
	ns, _, err := l.Netns(nsName)
	must(t, err)
	must(t, ns.SetUp("lo"))
	spec, mk := veth(host, hEnd, ns, "eth0")
	_, _, _, err = l.CreateLink(spec, mk)
	must(t, err)
	must(t, host.SetMaster(hEnd, br))
	must(t, host.SetUp(hEnd))
	_, err = l.AddAddr(ns, "eth0", "10.77.0.2/24")
	must(t, err)
	must(t, ns.SetUp("eth0"))
	_, err = l.AddRoute(ns, kernel.RouteSpec{Dst: "default", Via: "10.77.0.1"})
	must(t, err)
	_, err = l.AddRoute(host, kernel.RouteSpec{Dst: "10.78.0.0/16", Via: "10.77.0.2"})
	must(t, err)
	must(t, l.WriteFile(resolv, []byte("nameserver 8.8.8.8\nsearch lab.test\n")))
	// Not the lab's: a veth pair in the host, with an address and so a route.
	xa, xb := outsideVeth(t, host)
	must(t, host.SetUp(xa))
	must(t, host.AddAddr(xa, mustCIDR(t, "10.88.0.1/24")))

	// An attached namespace: the lab's veth there, not what else is there.
	out := outsideNS(t)
	att, err := l.Attach(out.Path)
	must(t, err)
	spec, mk = veth(att, "la", att, "lb")
	_, _, _, err = l.CreateLink(spec, mk)
	must(t, err)
	_, err = l.AddAddr(att, "la", "10.66.0.1/24")
	must(t, err)
	must(t, att.SetUp("la"))
	must(t, att.SetUp("lb"))
	must(t, l.WriteFile(filepath.Join(kernel.EtcNetnsDir, out.Name, "resolv.conf"), []byte("nameserver 10.66.0.1\n")))
	must(t, os.WriteFile(filepath.Join(kernel.EtcNetnsDir, out.Name, "hosts"), []byte("10.66.0.1 la\n"), 0o644))
	t.Cleanup(func() { os.Remove(filepath.Join(kernel.EtcNetnsDir, out.Name, "hosts")) })
	ya, yb := outsideVeth(t, att)
	must(t, att.SetUp(ya))
	must(t, att.AddAddr(ya, mustCIDR(t, "10.55.0.1/24")))

	want := strings.NewReplacer("BR", br, "HEND", hEnd, "NS", nsName, "OUT", out.Name).Replace(`netns host
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
	only, err := l.Snapshot(ns)
	must(t, err)
	if len(snap.Namespaces) != 3 || len(only.Namespaces) != 1 || !reflect.DeepEqual(only.Namespaces[0], snap.Namespaces[1]) {
		t.Errorf("Snapshot(%s):\n%s\nwant its part of the whole:\n%s", nsName, only.Text(), snap.Text())
	}

	// Inspect reads the same from the journal, while the lab runs.
	in, err := lab.Inspect(name, host)
	must(t, err)
	defer in.Close()
	inspected, err := in.Snapshot(nil)
	must(t, err)
	if !reflect.DeepEqual(inspected, snap) {
		t.Errorf("Inspect's snapshot:\n%s\nthe running lab's:\n%s", inspected.Text(), snap.Text())
	}
}

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	n, err := kernel.ParseCIDR(s)
	must(t, err)
	return n
}
