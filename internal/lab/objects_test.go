package lab_test

import (
	"errors"
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

func TestCreateLink(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	br := uniq("br")
	ns, name, adopted, err := l.CreateLink(lab.LinkSpec{NS: host, Name: br, Kind: "bridge"}, func() error { return host.AddBridge(br, 0) })
	if err != nil || adopted || ns != host || name != br {
		t.Fatalf("CreateLink(bridge %s) = %v, %q, adopted %v, %v", br, ns, name, adopted, err)
	}
	if !hasLink(t, "", br) {
		t.Errorf("ip does not show %s", br)
	}
	a, b := uniq("va"), uniq("vb")
	spec, mk := veth(host, a, host, b)
	_, _, _, err = l.CreateLink(spec, mk)
	must(t, err)
	want := []string{"link host " + br, "link host " + a, "link host " + b}
	if got := objects(l); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("objects = %v, want %v", got, want)
	}
	for _, link := range []string{br, a, b} {
		if !l.OwnsLink(host, link) || l.MayChange(host, link) != nil {
			t.Errorf("the lab does not own %s, which it created", link)
		}
	}

	// Creating it again adopts it, and nothing is made.
	ns, name, adopted, err = l.CreateLink(lab.LinkSpec{NS: host, Name: br, Kind: "bridge"}, mustNotMake(t))
	if err != nil || !adopted || ns != host || name != br {
		t.Errorf("CreateLink(%s) again = %v, %q, adopted %v, %v; want adopted", br, ns, name, adopted, err)
	}
	if got := len(l.Objects()); got != 3 {
		t.Errorf("%d objects after adoption, want 3", got)
	}
}

// The brief's scenario: a veth is created, one end moved into a lab
// namespace and renamed; after Close and reopen (a re-run of a kept lab),
// CreateLink with the same spec finds it where it is now.
func TestCreateLinkAdoptsAfterMoveAndRename(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	nsName, v, p := uniq("mv"), uniq("veth"), uniq("port")

	ns1, _, err := l.Netns(nsName)
	must(t, err)
	spec, mk := veth(host, v, host, p)
	_, _, adopted, err := l.CreateLink(spec, mk)
	if err != nil || adopted {
		t.Fatalf("CreateLink = adopted %v, %v", adopted, err)
	}
	must(t, host.MoveTo(v, ns1))
	must(t, l.LinkMoved(host, v, ns1, v))
	must(t, ns1.Rename(v, "eth0"))
	must(t, l.LinkMoved(ns1, v, ns1, "eth0"))
	if !hasLink(t, nsName, "eth0") || hasLink(t, "", v) {
		t.Fatalf("the move and rename did not happen")
	}
	l.Close()

	l = openLab(t, name, host)
	ns1, adopted, err = l.Netns(nsName)
	if err != nil || !adopted {
		t.Fatalf("Netns after reopening: adopted %v, %v", adopted, err)
	}
	spec, _ = veth(host, v, host, p)
	now, nowName, adopted, err := l.CreateLink(spec, mustNotMake(t))
	if err != nil || !adopted || !now.Same(ns1) || nowName != "eth0" {
		t.Errorf("CreateLink(%s) after move and rename = %v, %q, adopted %v, %v; want eth0 in %s, adopted", v, now, nowName, adopted, err, nsName)
	}
	// The peer, still in the host, is adopted as itself.
	spec, _ = veth(host, p, host, v)
	now, nowName, adopted, err = l.CreateLink(spec, mustNotMake(t))
	if err != nil || !adopted || now != host || nowName != p {
		t.Errorf("CreateLink(%s) = %v, %q, adopted %v, %v; want %s in host, adopted", p, now, nowName, adopted, err, p)
	}

	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	if hasLink(t, "", p) || kernel.NamedExists(nsName) {
		t.Errorf("teardown left %s in the host or %s; reports: %q", p, nsName, reports)
	}
}

func TestCreateLinkClash(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	xa, xb := outsideVeth(t, host)

	for _, spec := range []lab.LinkSpec{
		{NS: host, Name: xa, Kind: "bridge"},
		{NS: host, Name: xa, Kind: "veth", Peer: uniq("p"), PeerNS: host},
		{NS: host, Name: uniq("n"), Kind: "veth", Peer: xb, PeerNS: host}, // the peer's name is taken
	} {
		_, _, _, err := l.CreateLink(spec, mustNotMake(t))
		if !errors.Is(err, lab.ErrNotOwned) {
			t.Errorf("CreateLink(%+v) over a link the lab did not create: %v, want ErrNotOwned", spec, err)
			continue
		}
		if !strings.Contains(err.Error(), "already exists") {
			t.Errorf("clash error %q does not say the link exists", err)
		}
	}
	if len(l.Objects()) != 0 {
		t.Errorf("clashes left objects: %v", objects(l))
	}
	if err := l.MayChange(host, xa); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("MayChange of a link the lab did not create: %v, want ErrNotOwned", err)
	} else if !strings.Contains(err.Error(), "--allow-host") {
		t.Errorf("MayChange error %q does not mention --allow-host", err)
	}
	must(t, l.Teardown(func(string) {}))
	if !hasLink(t, "", xa) || !hasLink(t, "", xb) {
		t.Errorf("the teardown deleted a link the lab did not create")
	}
}

// Everything inside a namespace the lab created counts as the lab's: a link
// of that name already there is adopted, and may be changed.
func TestCreateLinkInLabNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	ns1, _, err := l.Netns(uniq("in"))
	must(t, err)
	ns, name, adopted, err := l.CreateLink(lab.LinkSpec{NS: ns1, Name: "lo", Kind: "loopback"}, mustNotMake(t))
	if err != nil || !adopted || ns != ns1 || name != "lo" {
		t.Errorf("CreateLink(lo) in a lab namespace = %v, %q, adopted %v, %v", ns, name, adopted, err)
	}
	if err := l.MayChange(ns1, "lo"); err != nil {
		t.Errorf("MayChange(lo) in a lab namespace: %v", err)
	}
	if err := l.MayDeleteNS(ns1); err != nil {
		t.Errorf("MayDeleteNS of the lab's namespace: %v", err)
	}
}

func TestCreateLinkMakeFails(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	boom := errors.New("boom")
	_, _, _, err := l.CreateLink(lab.LinkSpec{NS: host, Name: uniq("f"), Kind: "veth", Peer: uniq("g"), PeerNS: host}, func() error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("CreateLink with a failing make: %v, want make's error", err)
	}
	if len(l.Objects()) != 0 {
		t.Errorf("a failed CreateLink left objects: %v", objects(l))
	}
	l.Close()
	l = openLab(t, name, host)
	if len(l.Objects()) != 0 {
		t.Errorf("a failed CreateLink left objects in the journal: %v", objects(l))
	}
}

// CreateLink forgets a journalled link that was deleted outside the lab,
// and creates it again.
func TestCreateLinkAfterOutsideDeletion(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	a, b := uniq("da"), uniq("db")
	spec, mk := veth(host, a, host, b)
	_, _, _, err := l.CreateLink(spec, mk)
	must(t, err)
	l.Close()
	must(t, host.DeleteLink(a)) // the user deletes it by hand

	l = openLab(t, name, host)
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("CreateLink of a journalled link deleted outside panicked: %v", r)
			}
		}()
		spec, mk = veth(host, a, host, b)
		_, _, adopted, err := l.CreateLink(spec, mk)
		if err != nil || adopted {
			t.Errorf("CreateLink of a link deleted outside = adopted %v, %v; want it created anew", adopted, err)
		}
		if !hasLink(t, "", a) || !hasLink(t, "", b) {
			t.Errorf("the veth was not created anew")
		}
	}()
}

// A peer name that is taken is an error, never taken for the link asked for.
func TestCreateLinkPeerNameTakenInLabNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	ns1, _, err := l.Netns(uniq("pn"))
	must(t, err)
	spec, mk := veth(ns1, "a", ns1, "b")
	_, _, _, err = l.CreateLink(spec, mk)
	must(t, err)

	spec, mk = veth(ns1, "c", ns1, "b") // "b" is taken
	ns, name, adopted, err := l.CreateLink(spec, mk)
	if err == nil && (name != "c" || !hasLink(t, ns1.Name, "c")) {
		t.Errorf("CreateLink(c, peer b) with b taken = %v, %q, adopted %v, nil: it returned another link than c and created nothing", ns, name, adopted)
	}
}

func TestMayChange(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	xa, _ := outsideVeth(t, host)
	out := outsideNS(t)

	if err := l.MayChange(host, xa); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("MayChange(host %s): %v, want ErrNotOwned", xa, err)
	}
	if err := l.MayChange(out, "lo"); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("MayChange(lo in a namespace made outside): %v, want ErrNotOwned", err)
	}
	if err := l.MayDeleteNS(out); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("MayDeleteNS(outside): %v, want ErrNotOwned", err)
	}
	if err := l.MayDeleteNS(host); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("MayDeleteNS(host): %v, want ErrNotOwned", err)
	}

	l.AllowHost = true
	if err := l.MayChange(host, xa); err != nil {
		t.Errorf("MayChange with AllowHost: %v", err)
	}
	if err := l.MayChangeNS(out); err != nil {
		t.Errorf("MayChangeNS with AllowHost: %v", err)
	}
	if err := l.MayDeleteNS(out); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("MayDeleteNS with AllowHost: %v; a namespace the lab attached to is never deleted", err)
	}
	// AllowHost does not make the link the lab's: teardown leaves it.
	if l.OwnsLink(host, xa) {
		t.Errorf("OwnsLink(%s) with AllowHost", xa)
	}
}

// Addresses on links the lab does not own (--allow-host) are journalled and
// removed by teardown, which leaves the link; on its own links they go
// with the link.
func TestAddAddr(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	xa, _ := outsideVeth(t, host)

	_, err := l.AddAddr(host, xa, "192.168.77.1/24")
	if !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("AddAddr on a host link without AllowHost: %v, want ErrNotOwned", err)
	}
	if ipHasAddr(t, "", xa, "192.168.77.1/24") {
		t.Errorf("a refused AddAddr added the address")
	}

	l.AllowHost = true
	adopted, err := l.AddAddr(host, xa, "192.168.77.1/24")
	if err != nil || adopted {
		t.Fatalf("AddAddr with AllowHost = adopted %v, %v", adopted, err)
	}
	if !ipHasAddr(t, "", xa, "192.168.77.1/24") {
		t.Errorf("ip does not show the address")
	}
	if got := objects(l); len(got) != 1 || got[0] != "addr host "+xa+" 192.168.77.1/24" {
		t.Errorf("objects = %v, want the journalled address", got)
	}
	if _, err := l.AddAddr(host, xa, "192.168.77.1"); err == nil {
		t.Errorf("AddAddr without a prefix length succeeded")
	}

	// On the lab's own link the address is not journalled, and adding it
	// again adopts it.
	br := uniq("br")
	_, _, _, err = l.CreateLink(lab.LinkSpec{NS: host, Name: br, Kind: "bridge"}, func() error { return host.AddBridge(br, 0) })
	must(t, err)
	adopted, err = l.AddAddr(host, br, "192.168.78.1/24")
	if err != nil || adopted {
		t.Errorf("AddAddr on the lab's bridge = adopted %v, %v", adopted, err)
	}
	adopted, err = l.AddAddr(host, br, "192.168.78.1/24")
	if err != nil || !adopted {
		t.Errorf("AddAddr twice on the lab's bridge = adopted %v, %v; want adopted", adopted, err)
	}
	if got := countKind(l, "addr"); got != 1 {
		t.Errorf("%d addr objects, want only the one on the host link", got)
	}

	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	if ipHasAddr(t, "", xa, "192.168.77.1/24") {
		t.Errorf("teardown left the address on %s", xa)
	}
	if !hasLink(t, "", xa) {
		t.Errorf("teardown deleted %s, which the lab did not create", xa)
	}
	if !contains(reports, "ip addr del 192.168.77.1/24 dev "+xa) {
		t.Errorf("reports %q do not tell of the address", reports)
	}
}

// On a re-run of a kept --allow-host lab, the address the lab added to a
// host link is adopted, not a clash.
func TestAddAddrAdoptsItsOwnAddressOnAHostLink(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	l.AllowHost = true
	xa, _ := outsideVeth(t, host)
	_, err := l.AddAddr(host, xa, "192.168.79.1/24")
	must(t, err)
	l.Close()

	l = openLab(t, name, host)
	l.AllowHost = true
	adopted, err := l.AddAddr(host, xa, "192.168.79.1/24")
	if err != nil || !adopted {
		t.Errorf("AddAddr of the address the lab added itself, on a re-run = adopted %v, %v; want adopted", adopted, err)
	}
}

// Teardown skips a journalled address that is already gone.
func TestTeardownSkipsAnAddressAlreadyGone(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	l.AllowHost = true
	xa, _ := outsideVeth(t, host)
	_, err := l.AddAddr(host, xa, "192.168.80.1/24")
	must(t, err)
	ipnet, err := kernel.ParseCIDR("192.168.80.1/24")
	must(t, err)
	must(t, host.DelAddr(xa, ipnet)) // someone removed it meanwhile

	if err := l.Teardown(func(string) {}); err != nil {
		t.Errorf("Teardown with an address already gone: %v", err)
		l.Close()
		// Leave nothing behind: drop the journal by hand.
		os.RemoveAll(filepath.Join(lab.Dir, name))
	}
}

func contains(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// Routes outside the lab's namespaces are journalled and removed by
// teardown; in its namespaces they go with the namespace.
func TestAddRoute(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	xa, _ := outsideVeth(t, host)
	must(t, host.SetUp(xa))

	spec := kernel.RouteSpec{Dst: "10.88.0.0/16", Dev: xa}
	adopted, err := l.AddRoute(host, spec)
	if err != nil || adopted {
		t.Fatalf("AddRoute in the host = adopted %v, %v", adopted, err)
	}
	if !strings.Contains(ipRoutes(t, ""), "10.88.0.0/16 dev "+xa) {
		t.Errorf("ip route does not show the route:\n%s", ipRoutes(t, ""))
	}
	if got := objects(l); len(got) != 1 || got[0] != "route host 10.88.0.0/16" {
		t.Errorf("objects = %v, want the journalled route", got)
	}
	adopted, err = l.AddRoute(host, spec)
	if err != nil || !adopted {
		t.Errorf("AddRoute of the lab's own route again = adopted %v, %v; want adopted", adopted, err)
	}

	// A route that is there but not the lab's is a clash.
	other := kernel.RouteSpec{Dst: "10.89.0.0/16", Dev: xa}
	must(t, host.AddRoute(other))
	t.Cleanup(func() { host.DelRoute(other) })
	if _, err := l.AddRoute(host, other); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("AddRoute over a route the lab did not add: %v, want ErrNotOwned", err)
	}
	if err := l.DeleteRoute(host, other); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("DeleteRoute of a route the lab did not add: %v, want ErrNotOwned", err)
	}
	if got := countKind(l, "route"); got != 1 {
		t.Errorf("%d route objects, want 1", got)
	}

	// In the lab's namespace: not journalled, adopted when there.
	ns1, _, err := l.Netns(uniq("rt"))
	must(t, err)
	must(t, ns1.SetUp("lo"))
	inside := kernel.RouteSpec{Dst: "10.90.0.0/16", Dev: "lo"}
	adopted, err = l.AddRoute(ns1, inside)
	if err != nil || adopted {
		t.Errorf("AddRoute in the lab's namespace = adopted %v, %v", adopted, err)
	}
	adopted, err = l.AddRoute(ns1, inside)
	if err != nil || !adopted {
		t.Errorf("AddRoute in the lab's namespace again = adopted %v, %v; want adopted", adopted, err)
	}
	if got := countKind(l, "route"); got != 1 {
		t.Errorf("%d route objects, want 1 (the lab namespace's route is not journalled)", got)
	}
	must(t, l.DeleteRoute(ns1, inside))
	if strings.Contains(ipRoutes(t, ns1.Name), "10.90.0.0/16") {
		t.Errorf("DeleteRoute in the lab's namespace left the route")
	}

	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	routes := ipRoutes(t, "")
	if strings.Contains(routes, "10.88.0.0/16") {
		t.Errorf("teardown left the lab's route:\n%s", routes)
	}
	if !strings.Contains(routes, "10.89.0.0/16") || !hasLink(t, "", xa) {
		t.Errorf("teardown removed what the lab did not create:\n%s", routes)
	}
	if !contains(reports, "ip route del 10.88.0.0/16") {
		t.Errorf("reports %q do not tell of the route", reports)
	}
}

func TestDeleteRouteOfTheLab(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	xa, _ := outsideVeth(t, host)
	must(t, host.SetUp(xa))
	spec := kernel.RouteSpec{Dst: "10.91.0.0/16", Dev: xa}
	_, err := l.AddRoute(host, spec)
	must(t, err)
	must(t, l.DeleteRoute(host, spec))
	if strings.Contains(ipRoutes(t, ""), "10.91.0.0/16") || countKind(l, "route") != 0 {
		t.Errorf("DeleteRoute left the route (objects %v)", objects(l))
	}
	l.Close()
	if l = openLab(t, name, host); countKind(l, "route") != 0 {
		t.Errorf("the journal still holds the deleted route: %v", objects(l))
	}
}

func TestWriteFile(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	base := filepath.Join("/run", uniq("wf"))
	t.Cleanup(func() { os.RemoveAll(base) })
	path := filepath.Join(base, "a", "b", "resolv.conf")

	must(t, l.WriteFile(path, []byte("nameserver 8.8.8.8\n")))
	if b, err := os.ReadFile(path); err != nil || string(b) != "nameserver 8.8.8.8\n" {
		t.Errorf("the file holds %q, %v", b, err)
	}
	want := []string{
		"dir  " + base,
		"dir  " + filepath.Join(base, "a"),
		"dir  " + filepath.Join(base, "a", "b"),
		"file  " + path,
	}
	if got := objects(l); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("objects = %v, want the folders, outermost first, and the file", got)
	}
	// The lab's own file is overwritten, nothing new is journalled.
	must(t, l.WriteFile(path, []byte("nameserver 1.1.1.1\n")))
	if b, _ := os.ReadFile(path); string(b) != "nameserver 1.1.1.1\n" {
		t.Errorf("the file holds %q after a rewrite", b)
	}
	if len(l.Objects()) != 4 {
		t.Errorf("a rewrite journalled more objects: %v", objects(l))
	}
	// A file the lab did not write is not replaced.
	foreign := filepath.Join(base, "a", "foreign")
	must(t, os.WriteFile(foreign, []byte("mine"), 0o644))
	if err := l.WriteFile(foreign, []byte("lab's")); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("WriteFile over a file the lab did not write: %v, want ErrNotOwned", err)
	}
	if b, _ := os.ReadFile(foreign); string(b) != "mine" {
		t.Errorf("the foreign file was changed to %q", b)
	}
	must(t, os.Remove(foreign))

	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	if _, err := os.Stat(base); !os.IsNotExist(err) {
		t.Errorf("teardown left %s: %v", base, err)
	}
	wantReports := []string{"rm " + path, "rmdir " + filepath.Join(base, "a", "b"), "rmdir " + filepath.Join(base, "a"), "rmdir " + base}
	if strings.Join(reports, "|") != strings.Join(wantReports, "|") {
		t.Errorf("reports = %q, want %q", reports, wantReports)
	}
}

// A folder the lab made that now holds someone else's file (another lab's,
// a user's) is left in place, said so, and the lab goes down all the same.
func TestTeardownLeavesForeignFiles(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	base := filepath.Join("/run", uniq("ff"))
	t.Cleanup(func() { os.RemoveAll(base) })
	must(t, l.WriteFile(filepath.Join(base, "lab.conf"), []byte("x")))
	foreign := filepath.Join(base, "user.conf")
	must(t, os.WriteFile(foreign, []byte("y"), 0o644))

	var report []string
	must(t, l.Teardown(func(s string) { report = append(report, s) }))
	if want := "leave " + base + " (it holds files the lab did not write)"; !slices.Contains(report, want) {
		t.Errorf("teardown said %q, want a line %q", report, want)
	}
	if b, err := os.ReadFile(foreign); err != nil || string(b) != "y" {
		t.Errorf("the foreign file is gone or changed: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(base, "lab.conf")); !os.IsNotExist(err) {
		t.Errorf("the lab's own file is still there")
	}
	if _, ok := labInfo(t, name); ok {
		t.Errorf("the lab is still listed")
	}
}

// When Teardown fails, Down releases the lab, so that a second Down after
// fixing the cause succeeds.
func TestDownTwiceAfterAFailure(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	base := filepath.Join("/run", uniq("dd"))
	t.Cleanup(func() { os.RemoveAll(base) })
	conf := filepath.Join(base, "lab.conf")
	must(t, l.WriteFile(conf, []byte("x")))
	l.Close()
	// Someone replaces the lab's file with a folder of theirs: the lab
	// cannot remove it.
	must(t, os.Remove(conf))
	must(t, os.MkdirAll(filepath.Join(conf, "user"), 0o755))

	if err := lab.Down(name, host, func(string) {}); err == nil {
		t.Fatalf("Down with the lab's file replaced by a folder succeeded")
	}
	must(t, os.RemoveAll(conf))
	if err := lab.Down(name, host, func(string) {}); err != nil {
		t.Errorf("Down again after fixing the cause: %v", err)
		if errors.Is(err, lab.ErrBusy) {
			// The leaked lock cannot be released from here; remove the
			// lab's traces by hand so the test leaves nothing.
			os.RemoveAll(base)
			os.RemoveAll(filepath.Join(lab.Dir, name))
		}
	}
}

func TestDownUnknownLab(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	err := lab.Down(uniq("nolab"), host, func(string) {})
	if !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("Down of a lab that is not up: %v, want ErrNotFound", err)
	}
}

// MayChange tells a link the lab deleted, and a link that is not there,
// from one it may not change: each says what is the matter, and matches
// kernel.ErrNotFound.
func TestMayChangeGoneLinks(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	ns1, _, err := l.Netns(uniq("mg"))
	must(t, err)
	for _, ns := range []*kernel.NS{host, ns1} {
		a, b := uniq("ma"), uniq("mb")
		spec, mk := veth(ns, a, ns, b)
		_, _, _, err := l.CreateLink(spec, mk)
		must(t, err)
		must(t, ns.DeleteLink(a))
		must(t, l.LinkDeleted(ns, a, ns, b, "gone.star:7"))
		for _, name := range []string{a, b} {
			want := "link " + name + " in " + ns.String() + " was deleted at gone.star:7"
			if err := l.MayChange(ns, name); !errors.Is(err, kernel.ErrNotFound) || !strings.Contains(err.Error(), want) {
				t.Errorf("MayChange of a deleted link: %v, want ErrNotFound saying %q", err, want)
			}
		}
	}
	nobr := uniq("nobr")
	if err := l.MayChange(host, nobr); !errors.Is(err, kernel.ErrNotFound) || !strings.Contains(err.Error(), "there is no link "+nobr+" in host") {
		t.Errorf("MayChange of a link that is not there: %v, want ErrNotFound saying there is no such link", err)
	}
}

// NSErr names where the lab deleted a namespace, and MayChange refuses
// the links that were in it.
func TestNSErrSaysWhereDeleted(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	ns1, _, err := l.Netns(uniq("nd"))
	must(t, err)
	must(t, ns1.Delete(nil))
	must(t, l.NetnsDeleted(ns1, "gone.star:9"))
	want := "namespace " + ns1.Name + " was deleted at gone.star:9"
	if err := l.NSErr(ns1); !errors.Is(err, kernel.ErrGone) || !strings.Contains(err.Error(), want) {
		t.Errorf("NSErr of a deleted namespace: %v, want ErrGone saying %q", err, want)
	}
	if err := l.MayChange(ns1, "lo"); !errors.Is(err, kernel.ErrGone) || !strings.Contains(err.Error(), want) {
		t.Errorf("MayChange(lo) in a deleted namespace: %v, want ErrGone saying %q", err, want)
	}
	if err := l.NSErr(host); err != nil {
		t.Errorf("NSErr(host): %v", err)
	}
}

// An object that another lab owns, kept or running, is a clash that names
// that lab and how to remove it: namespaces, links and files alike.
func TestClashWithOtherLab(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	before := take(t)
	owner := newLabName(t, host)
	k, err := lab.Open(owner, host, "owner.star")
	must(t, err)
	tu := buildTutorial(t, k, host)
	for _, state := range []string{"running", "kept"} {
		want := "belongs to lab " + owner + ", which is running"
		if state == "kept" {
			must(t, k.Keep())
			want = "belongs to lab " + owner + " (kept): remove that lab with `nsplay down " + owner + "`"
		}
		l := openLab(t, newLabName(t, host), host)
		_, _, nsErr := l.Netns(tu.ns1)
		_, _, _, linkErr := l.CreateLink(lab.LinkSpec{NS: host, Name: tu.bridge, Kind: "bridge"}, mustNotMake(t))
		fileErr := l.WriteFile(tu.resolv, []byte("nameserver 192.0.2.1\n"))
		in, err := l.Attach(filepath.Join(kernel.RunDir, tu.ns1))
		must(t, err)
		_, _, _, insideErr := l.CreateLink(lab.LinkSpec{NS: in, Name: "eth0", Kind: "veth", Peer: uniq("p"), PeerNS: in}, mustNotMake(t))
		for what, err := range map[string]error{"namespace": nsErr, "link": linkErr, "file": fileErr, "link in its namespace": insideErr} {
			if !errors.Is(err, lab.ErrNotOwned) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s of lab %s (%s): %v, want ErrNotOwned saying %q", what, owner, state, err, want)
			}
		}
		if len(l.Objects()) != 0 {
			t.Errorf("the clashes left objects in the second lab: %v", objects(l))
		}
		must(t, l.Teardown(func(string) {}))
	}
	must(t, lab.Down(owner, host, func(string) {}))
	assertBackTo(t, before, owner, tu)
}

// An IPv6 address added to a link without carrier has not begun duplicate
// address detection; AwaitDAD, called after the step that gives the link
// carrier (here the peer's set up), waits until it has passed, also when
// the link was renamed meanwhile.
func TestAwaitDAD(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	nsA, _, err := l.Netns(uniq("dA"))
	must(t, err)
	nsB, _, err := l.Netns(uniq("dB"))
	must(t, err)
	_, _, _, err = l.CreateLink(veth(nsA, "a", nsB, "b"))
	must(t, err)
	start := time.Now()
	_, err = l.AddAddr(nsA, "a", "fd00:9::1/64")
	must(t, err)
	if d := time.Since(start); d > time.Second {
		t.Errorf("AddAddr on a link without carrier took %s", d)
	}
	must(t, l.LinkMoved(nsA, "a", nsA, "a2"))
	must(t, nsA.Rename("a", "a2"))
	must(t, nsA.SetUp("a2"))
	must(t, nsB.SetUp("b"))
	must(t, l.AwaitDAD())
	var out []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			Tentative bool   `json:"tentative"`
		} `json:"addr_info"`
	}
	testenv.IPJSON(t, &out, "-n", nsA.Name, "addr", "show", "dev", "a2")
	found := false
	for _, link := range out {
		for _, a := range link.AddrInfo {
			if a.Local == "fd00:9::1" {
				found = true
				if a.Tentative {
					t.Errorf("ip: fd00:9::1 on a2 is tentative after AwaitDAD")
				}
			}
		}
	}
	if !found {
		t.Errorf("ip: a2 has no fd00:9::1: %+v", out)
	}
	must(t, l.Teardown(func(string) {}))
}
