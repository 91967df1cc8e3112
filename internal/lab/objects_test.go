package lab_test

import (
	"errors"
	"os"
	"os/exec"
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

func TestCreateLink(t *testing.T) {
	testenv.RequireRoot(t)
	bk := newBackend(t)
	name := newLabName(t, bk)
	l := openLab(t, name, bk)
	br := uniq("br")
	res, err := l.Do(bridge(br))
	if err != nil || res.Adopted || res.At != model.Link(model.Host, br) {
		t.Fatalf("LinkAdd(bridge %s) = %+v, %v", br, res, err)
	}
	if !hasLink(t, "", br) {
		t.Errorf("ip does not show %s", br)
	}
	a, b := uniq("va"), uniq("vb")
	do(t, l, veth(model.Host, a, model.Host, b))
	want := []string{"link host " + br, "link host " + a, "link host " + b}
	if got := objects(t, name); !slices.Equal(got, want) {
		t.Errorf("objects = %v, want %v", got, want)
	}
	for _, link := range []string{br, a, b} {
		ref := model.Link(model.Host, link)
		if _, err := l.Do(model.LinkSetUp{Link: ref, Up: false}); !l.OwnsLink(ref) || err != nil {
			t.Errorf("the lab does not own %s, which it created: OwnsLink %v, set down: %v", link, l.OwnsLink(ref), err)
		}
	}

	// Creating it again adopts it, and nothing is made.
	links := linkNames(t, "")
	res, err = l.Do(bridge(br))
	if err != nil || !res.Adopted || res.At != model.Link(model.Host, br) {
		t.Errorf("LinkAdd(%s) again = %+v, %v; want adopted", br, res, err)
	}
	if got := linkNames(t, ""); !slices.Equal(got, links) {
		t.Errorf("adopting %s changed the links: %v, before %v", br, got, links)
	}
	if got := objects(t, name); !slices.Equal(got, want) {
		t.Errorf("objects after adoption = %v, want %v", got, want)
	}
}

// The brief's scenario: a veth is created, one end moved into a lab
// namespace and renamed; after Close and reopen (a re-run of a kept lab),
// LinkAdd with the same spec finds it where it is now.
func TestCreateLinkAdoptsAfterMoveAndRename(t *testing.T) {
	l, name, b := newLab(t)
	nsName, v, p := uniq("mv"), uniq("veth"), uniq("port")
	ns1 := model.Named(nsName)

	do(t, l, model.NetnsAdd{Name: nsName})
	res, err := l.Do(veth(model.Host, v, model.Host, p))
	if err != nil || res.Adopted {
		t.Fatalf("LinkAdd = %+v, %v", res, err)
	}
	do(t, l, model.LinkMove{Link: model.Link(model.Host, v), To: ns1})
	do(t, l, model.LinkRename{Link: model.Link(ns1, v), To: "eth0"})
	if !hasLink(t, nsName, "eth0") || hasLink(t, "", v) {
		t.Fatalf("the move and rename did not happen")
	}
	l.Close()

	l = openLab(t, name, b)
	if res, err := l.Do(model.NetnsAdd{Name: nsName}); err != nil || !res.Adopted {
		t.Fatalf("NetnsAdd after reopening: %+v, %v", res, err)
	}
	hostLinks, nsLinks := linkNames(t, ""), linkNames(t, nsName)
	res, err = l.Do(veth(model.Host, v, model.Host, p))
	if err != nil || !res.Adopted || res.At != model.Link(ns1, "eth0") {
		t.Errorf("LinkAdd(%s) after move and rename = %+v, %v; want eth0 in %s, adopted", v, res, err, nsName)
	}
	// The peer, still in the host, is adopted as itself.
	res, err = l.Do(veth(model.Host, p, model.Host, v))
	if err != nil || !res.Adopted || res.At != model.Link(model.Host, p) {
		t.Errorf("LinkAdd(%s) = %+v, %v; want %s in host, adopted", p, res, err, p)
	}
	if !slices.Equal(linkNames(t, ""), hostLinks) || !slices.Equal(linkNames(t, nsName), nsLinks) {
		t.Errorf("adopting made links: host %v (before %v), %s %v (before %v)", linkNames(t, ""), hostLinks, nsName, linkNames(t, nsName), nsLinks)
	}

	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	if hasLink(t, "", p) || kernel.NamedExists(paths.RunNetns, nsName) {
		t.Errorf("teardown left %s in the host or %s; reports: %q", p, nsName, reports)
	}
}

// A re-run that asks for a kept veth with another peer does not adopt it:
// the playbook changed, and the lab says so and makes nothing.
func TestCreateLinkRefusesAKeptVethWithAnotherPeer(t *testing.T) {
	l, name, b := newLab(t)
	v, p, q := uniq("veth"), uniq("port"), uniq("other")
	do(t, l, veth(model.Host, v, model.Host, p))
	l.Close()

	l = openLab(t, name, b)
	links := linkNames(t, "")
	_, err := l.Do(veth(model.Host, v, model.Host, q))
	if err == nil || !strings.Contains(err.Error(), "it was made with "+p+" in host for its other end, not "+q+" in host") {
		t.Errorf("LinkAdd(%s, peer %s) of a kept veth whose peer is %s = %v; want an error naming both peers", v, q, p, err)
	}
	if got := linkNames(t, ""); !slices.Equal(got, links) {
		t.Errorf("the refused LinkAdd changed the links: %v, before %v", got, links)
	}
	must(t, l.Teardown(func(string) {}))
	if hasLink(t, "", v) || hasLink(t, "", p) {
		t.Errorf("teardown left the kept veth %s/%s", v, p)
	}
}

func TestCreateLinkClash(t *testing.T) {
	l, name, _ := newLab(t)
	xa, xb := outsideVeth(t, "")
	links := linkNames(t, "")

	for _, op := range []model.LinkAdd{
		bridge(xa),
		veth(model.Host, xa, model.Host, uniq("p")),
		veth(model.Host, uniq("n"), model.Host, xb), // the peer's name is taken
	} {
		_, err := l.Do(op)
		if !errors.Is(err, lab.ErrNotOwned) {
			t.Errorf("%s over a link the lab did not create: %v, want ErrNotOwned", op.Text(), err)
			continue
		}
		if !strings.Contains(err.Error(), "already exists") {
			t.Errorf("clash error %q does not say the link exists", err)
		}
	}
	if got := linkNames(t, ""); !slices.Equal(got, links) {
		t.Errorf("the clashes changed the links: %v, before %v", got, links)
	}
	if got := objects(t, name); len(got) != 0 {
		t.Errorf("clashes left objects: %v", got)
	}
	if _, err := l.Do(up(model.Host, xa)); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("a change of a link the lab did not create: %v, want ErrNotOwned", err)
	} else if !strings.Contains(err.Error(), "--allow-host") {
		t.Errorf("the refusal %q does not mention --allow-host", err)
	}
	must(t, l.Teardown(func(string) {}))
	if !hasLink(t, "", xa) || !hasLink(t, "", xb) {
		t.Errorf("the teardown deleted a link the lab did not create")
	}
}

// Everything inside a namespace the lab created counts as the lab's: a link
// of that name already there is adopted, and may be changed.
func TestCreateLinkInLabNamespace(t *testing.T) {
	l, name, _ := newLab(t)
	nsName := uniq("in")
	ns1 := model.Named(nsName)
	do(t, l, model.NetnsAdd{Name: nsName})
	res, err := l.Do(model.LinkAdd{Link: model.Link(ns1, "lo"), Spec: model.Other{Of: "loopback"}})
	if err != nil || !res.Adopted || res.At != model.Link(ns1, "lo") {
		t.Errorf("LinkAdd(lo) in a lab namespace = %+v, %v", res, err)
	}
	if got := linkNames(t, nsName); !slices.Equal(got, []string{"lo"}) {
		t.Errorf("adopting lo made links: %v", got)
	}
	if got := objects(t, name); !slices.Equal(got, []string{"netns " + nsName}) {
		t.Errorf("adopting lo journalled it: %v", got)
	}
	if _, err := l.Do(up(ns1, "lo")); err != nil || !l.OwnsLink(model.Link(ns1, "lo")) {
		t.Errorf("set lo up in a lab namespace: %v (owned %v)", err, l.OwnsLink(model.Link(ns1, "lo")))
	}
	if _, err := l.Do(model.NetnsDel{Name: nsName}); err != nil {
		t.Errorf("NetnsDel of the lab's namespace: %v", err)
	}
	if kernel.NamedExists(paths.RunNetns, nsName) || len(objects(t, name)) != 0 {
		t.Errorf("NetnsDel left %s (journal %v)", nsName, objects(t, name))
	}
}

// A veth end in a lab namespace is not looked for before the veth is made:
// a name taken there is found once the kernel refuses it, with the same
// result as a look first, and nothing of it is left in the journal.
func TestVethNameTakenInLabNamespace(t *testing.T) {
	l, name, _ := newLab(t)
	nsName := uniq("vt")
	ns1 := model.Named(nsName)
	do(t, l, model.NetnsAdd{Name: nsName})
	testenv.IP(t, ipIn(nsName, "link", "add", "e0", "type", "veth", "peer", "name", "e1")...)
	before := objects(t, name)

	res, err := l.Do(veth(ns1, "e0", model.Host, uniq("vo")))
	if err != nil || !res.Adopted || res.At != model.Link(ns1, "e0") {
		t.Errorf("a veth whose end is taken in a lab namespace = %+v, %v; want it adopted", res, err)
	}
	// The first end taken decides, also when the other is taken outside.
	out, outPeer := uniq("vx"), uniq("vy")
	testenv.IP(t, "link", "add", out, "type", "veth", "peer", "name", outPeer)
	t.Cleanup(func() { testenv.IP(t, "link", "del", out) })
	res, err = l.Do(veth(ns1, "e0", model.Host, out))
	if err != nil || !res.Adopted || res.At != model.Link(ns1, "e0") {
		t.Errorf("a veth whose ends are taken in a lab namespace and outside = %+v, %v; want the first adopted", res, err)
	}
	if !hasLink(t, "", out) || !hasLink(t, "", outPeer) {
		t.Errorf("adopting e0 touched %s, which is not the lab's", out)
	}
	_, err = l.Do(veth(ns1, "e2", ns1, "e1"))
	if err == nil || !strings.Contains(err.Error(), "choose another peer name") {
		t.Errorf("a veth whose peer's name is taken in a lab namespace: %v, want the peer-name error", err)
	}
	if got := objects(t, name); !slices.Equal(got, before) {
		t.Errorf("the refused veths stayed in the journal: %v, was %v", got, before)
	}
	if got := linkNames(t, nsName); !slices.Equal(got, []string{"e0", "e1", "lo"}) {
		t.Errorf("links in %s: %v, want e0 e1 lo", nsName, got)
	}
	must(t, l.Teardown(func(string) {}))
}

// When the backend refuses to make a link, the lab journals nothing.
func TestCreateLinkMakeFails(t *testing.T) {
	l, name, b := newLab(t)
	links := linkNames(t, "")
	// The peer's namespace is not there: the backend cannot make it.
	_, err := l.Do(veth(model.Host, uniq("f"), model.Named(uniq("nons")), uniq("g")))
	if !errors.Is(err, model.ErrNotFound) {
		t.Errorf("LinkAdd the backend refuses: %v, want the backend's error (ErrNotFound)", err)
	}
	if got := objects(t, name); len(got) != 0 {
		t.Errorf("a failed LinkAdd left objects: %v", got)
	}
	if got := linkNames(t, ""); !slices.Equal(got, links) {
		t.Errorf("a failed LinkAdd made links: %v, before %v", got, links)
	}
	l.Close()
	l = openLab(t, name, b)
	if got := objects(t, name); len(got) != 0 || len(l.LinksIn(model.Host)) != 0 {
		t.Errorf("a failed LinkAdd left objects in the journal: %v, %v", got, l.LinksIn(model.Host))
	}
}

// LinkAdd forgets a journalled link that was deleted outside the lab,
// and creates it again.
func TestCreateLinkAfterOutsideDeletion(t *testing.T) {
	testenv.RequireRoot(t)
	bk := newBackend(t)
	name := newLabName(t, bk)
	l := openLab(t, name, bk)
	a, b := uniq("da"), uniq("db")
	do(t, l, veth(model.Host, a, model.Host, b))
	l.Close()
	testenv.IP(t, "link", "del", a) // the user deletes it by hand

	l = openLab(t, name, bk)
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("LinkAdd of a journalled link deleted outside panicked: %v", r)
			}
		}()
		res, err := l.Do(veth(model.Host, a, model.Host, b))
		if err != nil || res.Adopted {
			t.Errorf("LinkAdd of a link deleted outside = %+v, %v; want it created anew", res, err)
		}
		if !hasLink(t, "", a) || !hasLink(t, "", b) {
			t.Errorf("the veth was not created anew")
		}
	}()
}

// A peer name that is taken is an error, never taken for the link asked for.
func TestCreateLinkPeerNameTakenInLabNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	l := openLab(t, newLabName(t, b), b)
	nsName := uniq("pn")
	ns1 := model.Named(nsName)
	do(t, l, model.NetnsAdd{Name: nsName})
	do(t, l, veth(ns1, "a", ns1, "b"))

	res, err := l.Do(veth(ns1, "c", ns1, "b")) // "b" is taken
	if err == nil && (res.At != model.Link(ns1, "c") || !hasLink(t, nsName, "c")) {
		t.Errorf("LinkAdd(c, peer b) with b taken = %+v, nil: it returned another link than c and created nothing", res)
	}
}

func TestMayChange(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	l := openLab(t, newLabName(t, b), b)
	xa, _ := outsideVeth(t, "")
	out := outsideNS(t)

	if _, err := l.Do(up(model.Host, xa)); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("set host %s up: %v, want ErrNotOwned", xa, err)
	}
	if _, err := l.Do(up(model.Named(out), "lo")); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("set lo up in a namespace made outside: %v, want ErrNotOwned", err)
	}
	if _, err := l.Do(model.NetnsSetID{NS: model.Named(out), ID: 77}); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("NetnsSetID of a namespace made outside: %v, want ErrNotOwned", err)
	}
	if _, err := l.Do(model.NetnsDel{Name: out}); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("NetnsDel(outside): %v, want ErrNotOwned", err)
	}
	if _, err := l.Do(model.NetnsDel{Name: "host"}); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("NetnsDel(host): %v, want ErrNotOwned", err)
	}
	if slices.Contains(testenv.Links(t, "")[xa].Flags, "UP") {
		t.Errorf("a refused change set %s up", xa)
	}

	l.AllowHost = true
	if _, err := l.Do(up(model.Host, xa)); err != nil {
		t.Errorf("set host %s up with AllowHost: %v", xa, err)
	}
	if !slices.Contains(testenv.Links(t, "")[xa].Flags, "UP") {
		t.Errorf("set %s up with AllowHost did not", xa)
	}
	if _, err := l.Do(model.NetnsSetID{NS: model.Named(out), ID: 77}); err != nil {
		t.Errorf("NetnsSetID with AllowHost: %v", err)
	}
	if _, err := l.Do(model.NetnsDel{Name: out}); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("NetnsDel with AllowHost: %v; a namespace the lab attached to is never deleted", err)
	}
	// AllowHost does not make the link the lab's: teardown leaves it.
	if l.OwnsLink(model.Link(model.Host, xa)) {
		t.Errorf("OwnsLink(%s) with AllowHost", xa)
	}
	must(t, l.Teardown(func(string) {}))
	if !hasLink(t, "", xa) || !kernel.NamedExists(paths.RunNetns, out) {
		t.Errorf("the teardown removed %s or %s, which the lab did not create", xa, out)
	}
}

// Addresses on links the lab does not own (--allow-host) are journalled and
// removed by teardown, which leaves the link; on its own links they go
// with the link.
func TestAddAddr(t *testing.T) {
	l, name, _ := newLab(t)
	xa, _ := outsideVeth(t, "")
	onXA := model.AddrAdd{Link: model.Link(model.Host, xa), CIDR: "192.168.77.1/24"}

	_, err := l.Do(onXA)
	if !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("AddrAdd on a host link without AllowHost: %v, want ErrNotOwned", err)
	}
	if ipHasAddr(t, "", xa, "192.168.77.1/24") {
		t.Errorf("a refused AddrAdd added the address")
	}

	l.AllowHost = true
	res, err := l.Do(onXA)
	if err != nil || res.Adopted {
		t.Fatalf("AddrAdd with AllowHost = %+v, %v", res, err)
	}
	if !ipHasAddr(t, "", xa, "192.168.77.1/24") {
		t.Errorf("ip does not show the address")
	}
	if got := objects(t, name); len(got) != 1 || got[0] != "addr host "+xa+" 192.168.77.1/24" {
		t.Errorf("objects = %v, want the journalled address", got)
	}
	if _, err := l.Do(model.AddrAdd{Link: model.Link(model.Host, xa), CIDR: "192.168.77.1"}); err == nil {
		t.Errorf("AddrAdd without a prefix length succeeded")
	}

	// On the lab's own link the address is not journalled, and adding it
	// again adopts it.
	br := uniq("br")
	do(t, l, bridge(br))
	onBR := model.AddrAdd{Link: model.Link(model.Host, br), CIDR: "192.168.78.1/24"}
	res, err = l.Do(onBR)
	if err != nil || res.Adopted {
		t.Errorf("AddrAdd on the lab's bridge = %+v, %v", res, err)
	}
	res, err = l.Do(onBR)
	if err != nil || !res.Adopted {
		t.Errorf("AddrAdd twice on the lab's bridge = %+v, %v; want adopted", res, err)
	}
	if got := countKind(t, name, "addr"); got != 1 {
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
	l, name, b := newLab(t)
	l.AllowHost = true
	xa, _ := outsideVeth(t, "")
	add := model.AddrAdd{Link: model.Link(model.Host, xa), CIDR: "192.168.79.1/24"}
	do(t, l, add)
	l.Close()

	l = openLab(t, name, b)
	l.AllowHost = true
	res, err := l.Do(add)
	if err != nil || !res.Adopted {
		t.Errorf("AddrAdd of the address the lab added itself, on a re-run = %+v, %v; want adopted", res, err)
	}
	if got := countKind(t, name, "addr"); got != 1 {
		t.Errorf("%d addr objects after the re-run, want 1", got)
	}
}

// Teardown skips a journalled address that is already gone.
func TestTeardownSkipsAnAddressAlreadyGone(t *testing.T) {
	l, name, _ := newLab(t)
	l.AllowHost = true
	xa, _ := outsideVeth(t, "")
	do(t, l, model.AddrAdd{Link: model.Link(model.Host, xa), CIDR: "192.168.80.1/24"})
	testenv.IP(t, "addr", "del", "192.168.80.1/24", "dev", xa) // someone removed it meanwhile

	if err := l.Teardown(func(string) {}); err != nil {
		t.Errorf("Teardown with an address already gone: %v", err)
		l.Close()
		// Leave nothing behind: drop the journal by hand.
		os.RemoveAll(filepath.Join(paths.Labs, name))
	}
}

// Routes outside the lab's namespaces are journalled and removed by
// teardown; in its namespaces they go with the namespace.
func TestAddRoute(t *testing.T) {
	l, name, _ := newLab(t)
	xa, _ := outsideVeth(t, "")
	testenv.IP(t, "link", "set", xa, "up")

	route := model.RouteAdd{NS: model.Host, Route: model.Route{Dst: "10.88.0.0/16", Dev: xa, Table: "main"}}
	res, err := l.Do(route)
	if err != nil || res.Adopted {
		t.Fatalf("RouteAdd in the host = %+v, %v", res, err)
	}
	if !strings.Contains(ipRoutes(t, ""), "10.88.0.0/16 dev "+xa) {
		t.Errorf("ip route does not show the route:\n%s", ipRoutes(t, ""))
	}
	if got := objects(t, name); len(got) != 1 || got[0] != "route host 10.88.0.0/16" {
		t.Errorf("objects = %v, want the journalled route", got)
	}
	res, err = l.Do(route)
	if err != nil || !res.Adopted {
		t.Errorf("RouteAdd of the lab's own route again = %+v, %v; want adopted", res, err)
	}

	// A route that is there but not the lab's is a clash.
	other := model.Route{Dst: "10.89.0.0/16", Dev: xa, Table: "main"}
	testenv.IP(t, "route", "add", "10.89.0.0/16", "dev", xa)
	if _, err := l.Do(model.RouteAdd{NS: model.Host, Route: other}); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("RouteAdd over a route the lab did not add: %v, want ErrNotOwned", err)
	}
	if _, err := l.Do(model.RouteDel{NS: model.Host, Route: other}); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("RouteDel of a route the lab did not add: %v, want ErrNotOwned", err)
	}
	if got := countKind(t, name, "route"); got != 1 {
		t.Errorf("%d route objects, want 1", got)
	}

	// In the lab's namespace: not journalled, adopted when there.
	nsName := uniq("rt")
	ns1 := model.Named(nsName)
	do(t, l, model.NetnsAdd{Name: nsName})
	do(t, l, up(ns1, "lo"))
	inside := model.Route{Dst: "10.90.0.0/16", Dev: "lo", Table: "main"}
	res, err = l.Do(model.RouteAdd{NS: ns1, Route: inside})
	if err != nil || res.Adopted {
		t.Errorf("RouteAdd in the lab's namespace = %+v, %v", res, err)
	}
	res, err = l.Do(model.RouteAdd{NS: ns1, Route: inside})
	if err != nil || !res.Adopted {
		t.Errorf("RouteAdd in the lab's namespace again = %+v, %v; want adopted", res, err)
	}
	if got := countKind(t, name, "route"); got != 1 {
		t.Errorf("%d route objects, want 1 (the lab namespace's route is not journalled)", got)
	}
	do(t, l, model.RouteDel{NS: ns1, Route: inside})
	if strings.Contains(ipRoutes(t, nsName), "10.90.0.0/16") {
		t.Errorf("RouteDel in the lab's namespace left the route")
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
	testenv.IP(t, "route", "del", "10.89.0.0/16", "dev", xa)
}

func TestDeleteRouteOfTheLab(t *testing.T) {
	l, name, b := newLab(t)
	xa, _ := outsideVeth(t, "")
	testenv.IP(t, "link", "set", xa, "up")
	route := model.Route{Dst: "10.91.0.0/16", Dev: xa, Table: "main"}
	do(t, l, model.RouteAdd{NS: model.Host, Route: route})
	do(t, l, model.RouteDel{NS: model.Host, Route: route})
	if strings.Contains(ipRoutes(t, ""), "10.91.0.0/16") || countKind(t, name, "route") != 0 {
		t.Errorf("RouteDel left the route (objects %v)", objects(t, name))
	}
	l.Close()
	openLab(t, name, b)
	if countKind(t, name, "route") != 0 {
		t.Errorf("the journal still holds the deleted route: %v", objects(t, name))
	}
}

func TestWriteFile(t *testing.T) {
	l, name, _ := newLab(t)
	base := filepath.Join("/run", uniq("wf"))
	t.Cleanup(func() { os.RemoveAll(base) })
	path := filepath.Join(base, "a", "b", "resolv.conf")

	do(t, l, model.FileWrite{Path: path, Data: "nameserver 8.8.8.8\n"})
	if b, err := os.ReadFile(path); err != nil || string(b) != "nameserver 8.8.8.8\n" {
		t.Errorf("the file holds %q, %v", b, err)
	}
	want := []string{
		"dir " + base,
		"dir " + filepath.Join(base, "a"),
		"dir " + filepath.Join(base, "a", "b"),
		"file " + path,
	}
	if got := objects(t, name); !slices.Equal(got, want) {
		t.Errorf("objects = %v, want the folders, outermost first, and the file", got)
	}
	// The lab's own file is overwritten, nothing new is journalled.
	do(t, l, model.FileWrite{Path: path, Data: "nameserver 1.1.1.1\n"})
	if b, _ := os.ReadFile(path); string(b) != "nameserver 1.1.1.1\n" {
		t.Errorf("the file holds %q after a rewrite", b)
	}
	if got := objects(t, name); !slices.Equal(got, want) {
		t.Errorf("a rewrite journalled more objects: %v", got)
	}
	// A file the lab did not write is not replaced.
	foreign := filepath.Join(base, "a", "foreign")
	must(t, os.WriteFile(foreign, []byte("mine"), 0o644))
	if _, err := l.Do(model.FileWrite{Path: foreign, Data: "lab's"}); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("FileWrite over a file the lab did not write: %v, want ErrNotOwned", err)
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
	if !slices.Equal(reports, wantReports) {
		t.Errorf("reports = %q, want %q", reports, wantReports)
	}
}

// A folder the lab made that now holds someone else's file (another lab's,
// a user's) is left in place, said so, and the lab goes down all the same.
func TestTeardownLeavesForeignFiles(t *testing.T) {
	l, name, _ := newLab(t)
	base := filepath.Join("/run", uniq("ff"))
	t.Cleanup(func() { os.RemoveAll(base) })
	do(t, l, model.FileWrite{Path: filepath.Join(base, "lab.conf"), Data: "x"})
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
	l, name, b := newLab(t)
	base := filepath.Join("/run", uniq("dd"))
	t.Cleanup(func() { os.RemoveAll(base) })
	conf := filepath.Join(base, "lab.conf")
	do(t, l, model.FileWrite{Path: conf, Data: "x"})
	l.Close()
	// Someone replaces the lab's file with a folder of theirs: the lab
	// cannot remove it.
	must(t, os.Remove(conf))
	must(t, os.MkdirAll(filepath.Join(conf, "user"), 0o755))

	if err := lab.Down(name, b, paths, func(string) {}); err == nil {
		t.Fatalf("Down with the lab's file replaced by a folder succeeded")
	}
	must(t, os.RemoveAll(conf))
	if err := lab.Down(name, b, paths, func(string) {}); err != nil {
		t.Errorf("Down again after fixing the cause: %v", err)
		if errors.Is(err, lab.ErrBusy) {
			// The leaked lock cannot be released from here; remove the
			// lab's traces by hand so the test leaves nothing.
			os.RemoveAll(base)
			os.RemoveAll(filepath.Join(paths.Labs, name))
		}
	}
}

func TestDownUnknownLab(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	err := lab.Down(uniq("nolab"), b, paths, func(string) {})
	if !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Down of a lab that is not up: %v, want ErrNotFound", err)
	}
}

// A change of a link the lab deleted, and of a link that is not there, is
// told from one the lab may not make: each says what is the matter, and
// matches model.ErrNotFound.
func TestMayChangeGoneLinks(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	l := openLab(t, newLabName(t, b), b)
	nsName := uniq("mg")
	do(t, l, model.NetnsAdd{Name: nsName})
	for _, ns := range []model.NSRef{model.Host, model.Named(nsName)} {
		a, p := uniq("ma"), uniq("mb")
		do(t, l, veth(ns, a, ns, p))
		if _, err := l.DoAt(model.LinkDel{Link: model.Link(ns, a)}, "gone.star:7"); err != nil {
			t.Fatal(err)
		}
		if hasLink(t, ipName(ns), a) || hasLink(t, ipName(ns), p) {
			t.Errorf("LinkDel left %s or %s in %s", a, p, ns)
		}
		for _, name := range []string{a, p} {
			want := "link " + name + " in " + ns.String() + " was deleted at gone.star:7"
			if _, err := l.Do(up(ns, name)); !errors.Is(err, model.ErrNotFound) || !strings.Contains(err.Error(), want) {
				t.Errorf("a change of a deleted link: %v, want ErrNotFound saying %q", err, want)
			}
		}
	}
	nobr := uniq("nobr")
	if _, err := l.Do(up(model.Host, nobr)); !errors.Is(err, model.ErrNotFound) || !strings.Contains(err.Error(), "there is no link "+nobr+" in host") {
		t.Errorf("a change of a link that is not there: %v, want ErrNotFound saying there is no such link", err)
	}
}

// The lab remembers where it deleted a namespace (builtins name it when a
// handle on it is used), and refuses a change of the links that were in
// it: they are not there.
func TestNSErrSaysWhereDeleted(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	l := openLab(t, newLabName(t, b), b)
	nsName := uniq("nd")
	do(t, l, model.NetnsAdd{Name: nsName})
	if _, err := l.DoAt(model.NetnsDel{Name: nsName}, "gone.star:9"); err != nil {
		t.Fatal(err)
	}
	if at := l.DeletedAt(nsName); at != "gone.star:9" {
		t.Errorf("DeletedAt(%s) = %q, want gone.star:9", nsName, at)
	}
	if _, err := b.Identity(model.Named(nsName)); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("the identity of the deleted namespace: %v, want ErrNotFound", err)
	}
	want := "namespace " + nsName + " was deleted at gone.star:9"
	if _, err := l.Do(up(model.Named(nsName), "lo")); !errors.Is(err, model.ErrNotFound) || !strings.Contains(err.Error(), want) {
		t.Errorf("set lo up in a deleted namespace: %v, want ErrNotFound saying %q", err, want)
	}
	if at := l.DeletedAt(""); at != "" {
		t.Errorf("DeletedAt of the host = %q", at)
	}
	// Made again, it is not deleted any more.
	do(t, l, model.NetnsAdd{Name: nsName})
	if at := l.DeletedAt(nsName); at != "" {
		t.Errorf("DeletedAt(%s) after it was made again = %q", nsName, at)
	}
	must(t, l.Teardown(func(string) {}))
}

// An object that another lab owns, kept or running, is a clash that names
// that lab and how to remove it: namespaces, links and files alike.
func TestClashWithOtherLab(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	owner := newLabName(t, b)
	k, err := lab.Open(owner, b, paths, "owner.star")
	must(t, err)
	tu := buildTutorial(t, k)
	in := model.Named(tu.ns1) // attached: netns(path="/run/netns/NS1")
	for _, state := range []string{"running", "kept"} {
		want := "belongs to lab " + owner + ", which is running"
		if state == "kept" {
			must(t, k.Keep())
			want = "belongs to lab " + owner + " (kept): remove that lab with `nsplay down " + owner + "`"
		}
		name := newLabName(t, b)
		l := openLab(t, name, b)
		_, nsErr := l.Do(model.NetnsAdd{Name: tu.ns1})
		_, linkErr := l.Do(bridge(tu.bridge))
		_, fileErr := l.Do(model.FileWrite{Path: tu.resolv, Data: "nameserver 192.0.2.1\n"})
		_, insideErr := l.Do(veth(in, "eth0", in, uniq("p")))
		for what, err := range map[string]error{"namespace": nsErr, "link": linkErr, "file": fileErr, "link in its namespace": insideErr} {
			if !errors.Is(err, lab.ErrNotOwned) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s of lab %s (%s): %v, want ErrNotOwned saying %q", what, owner, state, err, want)
			}
		}
		if got := objects(t, name); len(got) != 0 {
			t.Errorf("the clashes left objects in the second lab: %v", got)
		}
		must(t, l.Teardown(func(string) {}))
	}
	must(t, lab.Down(owner, b, paths, func(string) {}))
	assertBackTo(t, before, owner, tu)
}

// An IPv6 address added to a link without carrier has not begun duplicate
// address detection; the step that gives the link carrier (here the
// peer's set up) returns once it has passed, also when the link was
// renamed meanwhile.
func TestAwaitDAD(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	l := openLab(t, newLabName(t, b), b)
	a, bb := uniq("dA"), uniq("dB")
	nsA, nsB := model.Named(a), model.Named(bb)
	do(t, l, model.NetnsAdd{Name: a})
	do(t, l, model.NetnsAdd{Name: bb})
	do(t, l, veth(nsA, "a", nsB, "b"))
	start := time.Now()
	do(t, l, model.AddrAdd{Link: model.Link(nsA, "a"), CIDR: "fd00:9::1/64"})
	if d := time.Since(start); d > time.Second {
		t.Errorf("AddrAdd on a link without carrier took %s", d)
	}
	do(t, l, model.LinkRename{Link: model.Link(nsA, "a"), To: "a2"})
	do(t, l, up(nsA, "a2"))
	do(t, l, up(nsB, "b"))
	var out []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			Tentative bool   `json:"tentative"`
		} `json:"addr_info"`
	}
	testenv.IPJSON(t, &out, "-n", a, "addr", "show", "dev", "a2")
	found := false
	for _, link := range out {
		for _, addr := range link.AddrInfo {
			if addr.Local == "fd00:9::1" {
				found = true
				if addr.Tentative {
					t.Errorf("ip: fd00:9::1 on a2 is tentative after the step that gave it carrier")
				}
			}
		}
	}
	if !found {
		t.Errorf("ip: a2 has no fd00:9::1: %+v", out)
	}
	must(t, l.Teardown(func(string) {}))
}

// TestLinkReplacedFromOutside: a link the lab made outside its namespaces,
// deleted and made again under its name by someone else while the lab was
// down (kept, or its nsplay killed), is not the lab's: `down` leaves it and
// says so, and a run of the lab that makes the link again refuses it as it
// refuses any link it did not make. The lab knows its links by their index
// as well as their name.
func TestLinkReplacedFromOutside(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	for _, rerun := range []bool{false, true} {
		name := newLabName(t, b)
		l := openLab(t, name, b)
		br := uniq("rb")
		do(t, l, bridge(br))
		l.Close() // killed, or kept
		testenv.IP(t, "link", "del", br)
		testenv.IP(t, "link", "add", br, "type", "bridge") // someone else's
		t.Cleanup(func() { exec.Command("ip", "link", "del", br).Run() })

		if rerun {
			l = openLab(t, name, b)
			_, err := l.Do(bridge(br))
			if !errors.Is(err, lab.ErrNotOwned) || !strings.Contains(err.Error(), "link "+br+" already exists in host and lab "+name+" did not create it") {
				t.Errorf("a run of the lab that makes %s again: %v, want the clash with the link it did not make", br, err)
			}
			must(t, l.Teardown(func(string) {}))
		} else {
			var reports []string
			must(t, lab.Down(name, b, paths, func(s string) { reports = append(reports, s) }))
			if want := "leave link " + br + " in host alone: it is not the one the lab made"; !slices.ContainsFunc(reports, func(s string) bool { return strings.HasPrefix(s, want) }) {
				t.Errorf("down reported %q, want a line that starts %q", reports, want)
			}
		}
		if !hasLink(t, "", br) {
			t.Fatalf("the bridge %s that someone else made in place of the lab's is gone (rerun: %v)", br, rerun)
		}
		testenv.IP(t, "link", "del", br)
	}
	before.machine.AssertUnchanged(t)
}
