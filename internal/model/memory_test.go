package model_test

import (
	"cmp"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
)

// The expectations here are what Linux 6.18 showed for the same steps made
// with ip inside `unshare --net`.

var (
	host = model.Host
	ns1  = model.Named("ns1")
)

func apply(t *testing.T, m *model.Memory, ops ...model.Op) {
	t.Helper()
	for _, op := range ops {
		if err := m.Apply(op); err != nil {
			t.Fatalf("%s: %v", op.Text(), err)
		}
	}
}

func refuse(t *testing.T, m *model.Memory, op model.Op, want error, says string) {
	t.Helper()
	err := m.Apply(op)
	switch {
	case err == nil:
		t.Fatalf("%s: no error, want one", op.Text())
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: %v, want %v", op.Text(), err, want)
	case !strings.Contains(err.Error(), says):
		t.Errorf("%s: %q does not say %q", op.Text(), err, says)
	}
}

func link(t *testing.T, m *model.Memory, l model.LinkRef) model.LinkInfo {
	t.Helper()
	info, err := m.Link(l)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// state is a link's state as a golden file writes it.
func state(t *testing.T, m *model.Memory, l model.LinkRef) string {
	t.Helper()
	addrs, err := m.Addrs(l)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(model.Snapshot{Namespaces: []model.NSState{{Links: []model.LinkState{model.StateOf(link(t, m, l), addrs)}}}}.Text()[len("netns \n"):])
}

func wantState(t *testing.T, m *model.Memory, l model.LinkRef, want string) {
	t.Helper()
	if got := state(t, m, l); got != want {
		t.Errorf("%s:\n%s\nwant\n%s", l, got, want)
	}
}

func routes(t *testing.T, m *model.Memory, ns model.NSRef) []string {
	t.Helper()
	rs, err := m.Routes(ns)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Text()+" proto "+r.Proto+" scope "+r.Scope)
	}
	return out
}

func wantRoutes(t *testing.T, m *model.Memory, ns model.NSRef, want ...string) {
	t.Helper()
	if got := routes(t, m, ns); !slices.Equal(got, want) {
		t.Errorf("routes of %s:\n%s\nwant\n%s", ns, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func veth(l, peer model.LinkRef) model.LinkAdd {
	return model.LinkAdd{Link: l, Spec: model.Veth{Peer: peer}}
}

func up(l model.LinkRef) model.LinkSetUp   { return model.LinkSetUp{Link: l, Up: true} }
func down(l model.LinkRef) model.LinkSetUp { return model.LinkSetUp{Link: l} }

func addr(l model.LinkRef, cidr string) model.AddrAdd { return model.AddrAdd{Link: l, CIDR: cidr} }

func TestMemoryNamespaces(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	wantState(t, m, model.Link(host, "lo"), "link lo loopback up oper=unknown mtu=65536\n    addr 127.0.0.1/8 scope host\n    addr ::1/128 scope host")

	apply(t, m, model.NetnsAdd{Name: "ns1"})
	refuse(t, m, model.NetnsAdd{Name: "ns1"}, model.ErrExists, "ns1")
	refuse(t, m, model.NetnsAdd{Name: "a/b"}, nil, "must not contain '/'")
	lo := model.Link(ns1, "lo")
	wantState(t, m, lo, "link lo loopback down oper=down mtu=65536 no-carrier")
	apply(t, m, up(lo))
	wantState(t, m, lo, "link lo loopback up oper=unknown mtu=65536\n    addr 127.0.0.1/8 scope host\n    addr ::1/128 scope host")
	apply(t, m, down(lo))
	wantState(t, m, lo, "link lo loopback down oper=down mtu=65536 no-carrier\n    addr 127.0.0.1/8 scope host")
	wantRoutes(t, m, ns1)
	refuse(t, m, model.LinkDel{Link: lo}, model.ErrUnsupported, "lo in ns1")
	refuse(t, m, model.LinkMove{Link: lo, To: host}, nil, "immutable")

	first, err := m.Identity(ns1)
	if err != nil {
		t.Fatal(err)
	}
	hostID, _ := m.Identity(host)
	if first == hostID {
		t.Errorf("ns1 and host have one identity, %d", first)
	}
	apply(t, m, model.NetnsAdd{Name: "ns2"})
	if names, _ := m.NamedList(); !slices.Equal(names, []string{"ns1", "ns2"}) {
		t.Errorf("NamedList = %q", names)
	}
	apply(t, m, model.NetnsDel{Name: "ns1"})
	if _, err := m.Identity(ns1); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Identity of a deleted namespace: %v, want ErrNotFound", err)
	}
	refuse(t, m, model.NetnsDel{Name: "ns1"}, model.ErrNotFound, "ns1")
	apply(t, m, model.NetnsAdd{Name: "ns1"})
	if again, _ := m.Identity(ns1); again == first {
		t.Errorf("ns1 made again has its old identity %d", again)
	}
	if _, err := m.Links(model.AtPath("/run/netns/gone")); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("a path under the run folder that names no namespace: %v, want ErrNotFound", err)
	}
	byPath, err := m.Identity(model.AtPath("/run/netns/ns1"))
	if again, _ := m.Identity(ns1); err != nil || byPath != again {
		t.Errorf("/run/netns/ns1 is %d, %v; want ns1's %d", byPath, err, again)
	}
}

func TestMemoryVethCarrier(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	va, vb := model.Link(host, "va"), model.Link(host, "vb")
	apply(t, m, veth(va, vb))
	if a, b := link(t, m, va), link(t, m, vb); b.Index >= a.Index || *a.Peer != vb || *b.Peer != va {
		t.Errorf("va #%d peer %v, vb #%d peer %v: want the peer made first, each the other's peer", a.Index, a.Peer, b.Index, b.Peer)
	}
	wantState(t, m, va, "link va veth down oper=down mtu=1500 no-carrier peer=vb@host")
	apply(t, m, up(vb))
	wantState(t, m, vb, "link vb veth up oper=lowerlayerdown mtu=1500 no-carrier peer=va@host")
	apply(t, m, down(vb), up(va))
	wantState(t, m, va, "link va veth up oper=lowerlayerdown mtu=1500 no-carrier peer=vb@host")
	apply(t, m, up(vb))
	wantState(t, m, va, "link va veth up oper=up mtu=1500 peer=vb@host")
	wantState(t, m, vb, "link vb veth up oper=up mtu=1500 peer=va@host")
	apply(t, m, down(va))
	wantState(t, m, vb, "link vb veth up oper=lowerlayerdown mtu=1500 no-carrier peer=va@host")

	// Across namespaces the end that loses its carrier shows "down": no
	// link has its peer's index where it is.
	m = model.NewMemory(model.DefaultPaths)
	apply(t, m, model.NetnsAdd{Name: "ns1"}, veth(model.Link(host, "vc"), model.Link(ns1, "vd")))
	vc, vd := model.Link(host, "vc"), model.Link(ns1, "vd")
	apply(t, m, up(vd))
	wantState(t, m, vd, "link vd veth up oper=down mtu=1500 no-carrier peer=vc@host")
	apply(t, m, up(vc))
	wantState(t, m, vc, "link vc veth up oper=up mtu=1500 peer=vd@ns1")
	apply(t, m, down(vd))
	wantState(t, m, vc, "link vc veth up oper=down mtu=1500 no-carrier peer=vd@ns1")

	// A pair made in one namespace keeps "lowerlayerdown" after a move.
	apply(t, m, veth(model.Link(host, "ve"), model.Link(host, "vf")), model.LinkMove{Link: model.Link(host, "ve"), To: ns1}, up(model.Link(ns1, "ve")))
	wantState(t, m, model.Link(ns1, "ve"), "link ve veth up oper=lowerlayerdown mtu=1500 no-carrier peer=vf@host")

	refuse(t, m, veth(model.Link(host, "vg"), model.Link(host, "vg")), model.ErrExists, "vg")
	refuse(t, m, veth(model.Link(host, "vg"), model.Link(host, "vc")), model.ErrExists, "vc")
	refuse(t, m, veth(model.Link(host, "averylongname16x"), model.Link(host, "x")), nil, "at most 15")
	if _, err := m.Link(model.Link(host, "vg")); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("a refused veth left vg behind: %v", err)
	}
}

func TestMemoryBridgeCarrier(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	br, va, vb := model.Link(host, "br"), model.Link(host, "va"), model.Link(host, "vb")
	apply(t, m, model.LinkAdd{Link: br, Spec: model.Bridge{}}, up(br))
	wantState(t, m, br, "link br bridge up oper=unknown mtu=1500 stp=off ports=")
	apply(t, m, veth(va, vb), model.LinkSetMaster{Link: vb, Master: "br"})
	wantState(t, m, br, "link br bridge up oper=down mtu=1500 no-carrier stp=off ports=vb")
	apply(t, m, up(vb))
	wantState(t, m, br, "link br bridge up oper=down mtu=1500 no-carrier stp=off ports=vb")
	apply(t, m, up(va))
	wantState(t, m, br, "link br bridge up oper=up mtu=1500 stp=off ports=vb")
	wantState(t, m, vb, "link vb veth up oper=up mtu=1500 master=br peer=va@host")
	apply(t, m, down(br))
	wantState(t, m, vb, "link vb veth up oper=up mtu=1500 master=br peer=va@host")
	apply(t, m, up(br), model.BridgeSetSTP{Link: br, On: true})
	wantState(t, m, br, "link br bridge up oper=down mtu=1500 no-carrier stp=on ports=vb")
	apply(t, m, model.BridgeSetSTP{Link: br}, model.LinkSetMaster{Link: vb})
	wantState(t, m, br, "link br bridge up oper=down mtu=1500 no-carrier stp=off ports=")

	// Once it had a port, a bridge follows its ports, also when the first
	// one comes with carrier.
	br2 := model.Link(host, "br2")
	apply(t, m, model.LinkAdd{Link: br2, Spec: model.Bridge{}}, up(br2), model.LinkSetMaster{Link: vb, Master: "br2"})
	wantState(t, m, br2, "link br2 bridge up oper=up mtu=1500 stp=off ports=vb")

	refuse(t, m, model.LinkSetMaster{Link: vb, Master: "va"}, model.ErrUnsupported, "only a bridge takes ports")
	refuse(t, m, model.LinkSetMaster{Link: vb, Master: "nosuch"}, model.ErrNotFound, "nosuch")
	refuse(t, m, model.LinkSetMaster{Link: br, Master: "br2"}, nil, "Can not enslave a bridge to a bridge")
	refuse(t, m, model.LinkSetMaster{Link: model.Link(host, "lo"), Master: "br2"}, nil, "loopback")
	refuse(t, m, model.BridgeSetSTP{Link: va, On: true}, model.ErrUnsupported, "not a bridge")
	refuse(t, m, model.LinkMove{Link: br, To: model.AtPath("/proc/1/ns/net")}, nil, "immutable")

	apply(t, m, model.LinkDel{Link: br2})
	wantState(t, m, vb, "link vb veth up oper=up mtu=1500 peer=va@host")
}

func TestMemoryBridgeMTU(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	br, va, vb := model.Link(host, "br"), model.Link(host, "va"), model.Link(host, "vb")
	mtu := func(want int) {
		t.Helper()
		if got := link(t, m, br).MTU; got != want {
			t.Errorf("br has mtu %d, want %d", got, want)
		}
	}
	apply(t, m, model.LinkAdd{Link: br, Spec: model.Bridge{MTU: 9000}})
	mtu(9000)
	apply(t, m, veth(va, vb), model.LinkSetMaster{Link: vb, Master: "br"})
	mtu(1500)
	apply(t, m, model.LinkSetMTU{Link: vb, MTU: 1400})
	mtu(1400)
	apply(t, m, model.LinkSetMaster{Link: vb})
	mtu(1500)
	apply(t, m, model.LinkSetMTU{Link: br, MTU: 1300}, model.LinkSetMaster{Link: vb, Master: "br"})
	mtu(1300)
	refuse(t, m, model.LinkSetMTU{Link: va, MTU: 65536}, nil, "at most 65535")
	refuse(t, m, model.LinkSetMTU{Link: va, MTU: 67}, nil, "at least 68")
	apply(t, m, model.LinkSetMTU{Link: model.Link(host, "lo"), MTU: 70000})
}

func TestMemoryMoveAndRename(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	br, va, vb := model.Link(host, "br"), model.Link(host, "va"), model.Link(host, "vb")
	apply(t, m, model.NetnsAdd{Name: "ns1"}, model.LinkAdd{Link: br, Spec: model.Bridge{}}, veth(va, vb),
		model.LinkSetMaster{Link: vb, Master: "br"}, addr(vb, "10.0.0.1/24"), up(vb), up(va), up(br))
	index := link(t, m, vb).Index
	apply(t, m, model.LinkMove{Link: vb, To: ns1})
	moved := model.Link(ns1, "vb")
	wantState(t, m, moved, "link vb veth down oper=down mtu=1500 no-carrier peer=va@host")
	if got := link(t, m, moved).Index; got != index {
		t.Errorf("vb has index %d in ns1, want its old %d, which is free there", got, index)
	}
	wantState(t, m, br, "link br bridge up oper=down mtu=1500 no-carrier stp=off ports=")
	wantState(t, m, va, "link va veth up oper=down mtu=1500 no-carrier peer=vb@ns1")
	wantRoutes(t, m, host)
	if id, _ := m.NetnsID(host, ns1); id != 0 {
		t.Errorf("host knows ns1 by id %d, want 0, which the kernel gives when a veth joins them", id)
	}

	apply(t, m, veth(model.Link(ns1, "va"), model.Link(ns1, "x")))
	refuse(t, m, model.LinkMove{Link: va, To: ns1}, model.ErrExists, "va in ns1")
	refuse(t, m, model.LinkRename{Link: va, To: "br"}, model.ErrExists, "br")
	refuse(t, m, model.LinkRename{Link: va, To: "a:b"}, nil, "':'")
	refuse(t, m, model.LinkRename{Link: model.Link(host, "nosuch"), To: "x"}, model.ErrNotFound, "nosuch in host")
	apply(t, m, model.LinkRename{Link: va, To: "eth9"}) // this kernel renames links that are up
	if got := link(t, m, moved).Peer; *got != model.Link(host, "eth9") {
		t.Errorf("vb's peer is %v after the rename, want eth9 in host", got)
	}
}

func TestMemoryAddrs(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	va, vb := model.Link(host, "va"), model.Link(host, "vb")
	apply(t, m, veth(va, vb))
	for _, cidr := range []string{"10.0.0.1/24", "127.0.0.5/8", "10.1.0.1/24", "10.0.0.2/24", "10.0.0.1/16", "10.2.0.2/31", "10.3.0.1/32", "fd00::1/64", "fd00::2/64", "fe80::9/64"} {
		apply(t, m, addr(va, cidr))
	}
	apply(t, m, model.AddrAdd{Link: va, CIDR: "fd01::3/64", NoDAD: true})
	wantState(t, m, va, `link va veth down oper=down mtu=1500 no-carrier peer=vb@host
    addr 127.0.0.5/8 brd 127.255.255.255 scope host
    addr 10.0.0.1/24 brd 10.0.0.255 scope global
    addr 10.1.0.1/24 brd 10.1.0.255 scope global
    addr 10.0.0.1/16 brd 10.0.255.255 scope global
    addr 10.2.0.2/31 scope global
    addr 10.3.0.1/32 scope global
    addr 10.0.0.2/24 brd 10.0.0.255 scope global
    addr fd01::3/64 scope global
    addr fd00::2/64 scope global
    addr fd00::1/64 scope global`)
	as, _ := m.Addrs(va)
	if as[len(as)-1].Tentative != true || as[len(as)-3].Tentative != false {
		t.Errorf("without carrier fd00::1 should wait for DAD and fd01::3 (nodad) not: %+v", as)
	}
	refuse(t, m, addr(va, "10.0.0.1/24"), model.ErrExists, "10.0.0.1/24 on va in host")
	refuse(t, m, addr(va, "fd00::1/96"), model.ErrExists, "fd00::1/96")
	refuse(t, m, model.AddrDel{Link: va, CIDR: "10.0.0.1/8"}, model.ErrNotFound, "10.0.0.1/8")
	refuse(t, m, addr(va, "10.0.0.300/24"), nil, "does not parse")
	apply(t, m, addr(vb, "10.0.0.1/24")) // another link may have it

	apply(t, m, up(va), up(vb))
	wantRoutes(t, m, host,
		"10.0.0.0/24 dev va table main proto kernel scope link",
		"10.0.0.0/24 dev vb table main proto kernel scope link",
		"10.0.0.0/16 dev va table main proto kernel scope link",
		"10.1.0.0/24 dev va table main proto kernel scope link",
		"10.2.0.2/31 dev va table main proto kernel scope link",
		"127.0.0.0/8 dev va table main proto kernel scope link",
		"fd00::/64 dev va metric 256 table main proto kernel scope global",
		"fd01::/64 dev va metric 256 table main proto kernel scope global")
	if as, _ := m.Addrs(va); as[len(as)-1].Tentative {
		t.Errorf("with carrier fd00::1 is still tentative")
	}
	// Without its primary goes the secondary, and the subnet's route.
	apply(t, m, model.AddrDel{Link: va, CIDR: "10.0.0.1/24"}, model.AddrDel{Link: va, CIDR: "fd00::1/64"})
	if as, _ := m.Addrs(va); slices.ContainsFunc(as, func(a model.AddrInfo) bool { return a.CIDR == "10.0.0.2/24" }) {
		t.Errorf("10.0.0.2/24 outlived its primary 10.0.0.1/24: %v", as)
	}
	got := routes(t, m, host)
	if slices.Contains(got, "10.0.0.0/24 dev va table main proto kernel scope link") || !slices.Contains(got, "fd00::/64 dev va metric 256 table main proto kernel scope global") {
		t.Errorf("after deleting 10.0.0.1/24 and fd00::1/64 (fd00::2/64 stays):\n%s", strings.Join(got, "\n"))
	}
	// Down, a link keeps its IPv4 addresses only, and no routes.
	apply(t, m, down(va))
	if as, _ := m.Addrs(va); len(as) != 5 || strings.Contains(as[len(as)-1].CIDR, ":") {
		t.Errorf("down, va has %v, want its 5 IPv4 addresses", as)
	}
	wantRoutes(t, m, host, "10.0.0.0/24 dev vb table main proto kernel scope link")
}

func TestMemoryRoutes(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	va, vb := model.Link(host, "va"), model.Link(host, "vb")
	add := func(r model.Route) model.RouteAdd { return model.RouteAdd{NS: host, Route: r} }
	apply(t, m, veth(va, vb), addr(va, "10.0.0.1/24"), model.AddrAdd{Link: va, CIDR: "fd00::1/64", NoDAD: true}, up(va), up(vb),
		add(model.Route{Dst: "10.9.0.0/16", Via: "10.0.0.7"}),
		add(model.Route{Dst: "10.9.0.0/16", Via: "10.0.0.8", Metric: 5}),
		add(model.Route{Dst: "10.8.0.0/16", Via: "10.0.0.1"}), // an address of its own
		add(model.Route{Dst: "10.7.0.0/16", Dev: "va"}),
		add(model.Route{Dst: "10.6.0.0/16", Via: "10.7.0.9"}), // through a dev route
		add(model.Route{Dst: "10.5.0.0/16", Via: "10.0.0.7", Table: "100"}),
		add(model.Route{Dst: "fd09::/64", Via: "fd00::7"}),
		add(model.Route{Dst: "fd06::/64", Via: "fe80::1", Dev: "va"}),
		add(model.Route{Dst: "default", Via: "10.0.0.254"}))
	refuse(t, m, add(model.Route{Dst: "10.9.0.0/16", Via: "10.0.0.8"}), model.ErrExists, "10.9.0.0/16")
	refuse(t, m, add(model.Route{Dst: "10.0.0.0/24", Dev: "va"}), model.ErrExists, "10.0.0.0/24")
	refuse(t, m, add(model.Route{Dst: "10.8.0.0/16", Via: "10.5.0.1"}), model.ErrNexthop, "Nexthop has invalid gateway")
	refuse(t, m, add(model.Route{Dst: "10.6.0.0/16", Via: "10.9.0.9"}), model.ErrNexthop, "Nexthop has invalid gateway")
	refuse(t, m, add(model.Route{Dst: "10.3.0.0/16", Via: "10.0.0.9", Dev: "vb"}), model.ErrNexthop, "through vb")
	refuse(t, m, add(model.Route{Dst: "fd08::/64", Via: "fd07::8"}), model.ErrNexthop, "No route to host")
	refuse(t, m, add(model.Route{Dst: "fd06::/64", Via: "fe80::1"}), model.ErrNexthop, "Egress device not specified")
	refuse(t, m, add(model.Route{Dst: "10.4.0.0/16", Dev: "nosuch"}), model.ErrNotFound, "nosuch")
	wantRoutes(t, m, host,
		"10.5.0.0/16 via 10.0.0.7 dev va table 100 proto boot scope global",
		"default via 10.0.0.254 dev va table main proto boot scope global",
		"10.0.0.0/24 dev va table main proto kernel scope link",
		"10.6.0.0/16 via 10.7.0.9 dev va table main proto boot scope global",
		"10.7.0.0/16 dev va table main proto boot scope link",
		"10.8.0.0/16 via 10.0.0.1 dev va table main proto boot scope global",
		"10.9.0.0/16 via 10.0.0.7 dev va table main proto boot scope global",
		"10.9.0.0/16 via 10.0.0.8 dev va metric 5 table main proto boot scope global",
		"fd00::/64 dev va metric 256 table main proto kernel scope global",
		"fd06::/64 via fe80::1 dev va metric 1024 table main proto boot scope global",
		"fd09::/64 via fd00::7 dev va metric 1024 table main proto boot scope global")

	apply(t, m, model.RouteDel{NS: host, Route: model.Route{Dst: "10.9.0.0/16", Metric: 5}},
		model.RouteDel{NS: host, Route: model.Route{Dst: "10.0.0.0/24", Dev: "va"}}) // the kernel's own, too
	refuse(t, m, model.RouteDel{NS: host, Route: model.Route{Dst: "10.9.0.0/16", Via: "10.0.0.8"}}, model.ErrNotFound, "10.9.0.0/16")
	// The last IPv4 address takes the IPv4 routes through the link along.
	apply(t, m, model.AddrDel{Link: va, CIDR: "10.0.0.1/24"})
	wantRoutes(t, m, host,
		"fd00::/64 dev va metric 256 table main proto kernel scope global",
		"fd06::/64 via fe80::1 dev va metric 1024 table main proto boot scope global",
		"fd09::/64 via fd00::7 dev va metric 1024 table main proto boot scope global")
	apply(t, m, down(va))
	wantRoutes(t, m, host)
	refuse(t, m, add(model.Route{Dst: "10.2.0.0/16", Dev: "va"}), model.ErrNexthop, "Device for nexthop is not up")
	refuse(t, m, add(model.Route{Dst: "10.2.0.0/16"}), nil, "needs via=")
}

// tutorial builds the namespace tutorial's lab, as playbooks/lxcbr0.star
// does, with lxcbr0.1 up or not.
func tutorial(t *testing.T, portUp bool) *model.Memory {
	m := model.NewMemory(model.DefaultPaths)
	br, v, peer := model.Link(host, "lxcbr0"), model.Link(host, "veth-ns1"), model.Link(host, "lxcbr0.1")
	eth0 := model.Link(ns1, "eth0")
	apply(t, m, model.LinkAdd{Link: br, Spec: model.Bridge{}}, addr(br, "192.168.10.1/24"), up(br),
		model.NetnsAdd{Name: "ns1"}, up(model.Link(ns1, "lo")),
		veth(v, peer), model.LinkMove{Link: v, To: ns1}, model.LinkRename{Link: model.Link(ns1, "veth-ns1"), To: "eth0"},
		addr(eth0, "192.168.10.11/24"), up(eth0),
		model.LinkSetMaster{Link: peer, Master: "lxcbr0"})
	if portUp {
		apply(t, m, up(peer))
	}
	apply(t, m, model.RouteAdd{NS: ns1, Route: model.Route{Dst: "default", Via: "192.168.10.1"}})
	return m
}

func reachable(t *testing.T, m *model.Memory, from model.NSRef, dst string) string {
	t.Helper()
	res, err := m.Ping(context.Background(), from, net.ParseIP(dst), 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	why := m.WhyUnreachable(from, net.ParseIP(dst))
	if res.Sent != 3 || res.Known || res.RTTs != nil || (res.Received == 3) != (why == "") || res.Received%3 != 0 {
		t.Errorf("ping %s from %s: %+v, why %q", dst, from, res, why)
	}
	return why
}

func TestMemoryTutorial(t *testing.T) {
	m := tutorial(t, true)
	for _, dst := range []string{"192.168.10.1", "192.168.10.11", "127.0.0.1"} {
		if why := reachable(t, m, ns1, dst); why != "" {
			t.Errorf("%s from ns1: %s", dst, why)
		}
	}
	if why := reachable(t, m, host, "192.168.10.11"); why != "" {
		t.Errorf("192.168.10.11 from host: %s", why)
	}
	if why := reachable(t, m, ns1, "8.8.8.8"); why != "eth0 in ns1 reaches the gateway 192.168.10.1 in host, which does not have 8.8.8.8 and does not forward (forwarding is off): sysctl(host, \"net.ipv4.ip_forward\", \"1\") turns it on" {
		t.Errorf("8.8.8.8 from ns1: %q", why)
	}
	if why := reachable(t, m, ns1, "192.168.10.99"); why != "eth0 in ns1 is up with carrier, but nothing reached through it has 192.168.10.99" {
		t.Errorf("192.168.10.99 from ns1: %q", why)
	}
	if why := reachable(t, m, host, "10.1.1.1"); why != "host has no route to 10.1.1.1" {
		t.Errorf("10.1.1.1 from host: %q", why)
	}
}

// The tutorial as written, without lxcbr0.1 up: what interp/testdata/
// nocarrier.star checks against the kernel.
func TestMemoryTutorialNoCarrier(t *testing.T) {
	m := tutorial(t, false)
	eth0, peer := model.Link(ns1, "eth0"), model.Link(host, "lxcbr0.1")
	wantState(t, m, eth0, "link eth0 veth up oper=lowerlayerdown mtu=1500 no-carrier peer=lxcbr0.1@host\n    addr 192.168.10.11/24 brd 192.168.10.255 scope global")
	if why := reachable(t, m, ns1, "192.168.10.1"); why != "eth0 in ns1 has no carrier: its peer lxcbr0.1 in host is down" {
		t.Errorf("192.168.10.1 from ns1: %q", why)
	}
	apply(t, m, up(peer))
	if why := reachable(t, m, ns1, "192.168.10.1"); why != "" {
		t.Errorf("with lxcbr0.1 up: %s", why)
	}
	apply(t, m, down(model.Link(host, "lxcbr0")))
	if why := reachable(t, m, ns1, "192.168.10.1"); why != "eth0 in ns1 is up with carrier: its peer lxcbr0.1 in host is a port of lxcbr0, which is down" {
		t.Errorf("with lxcbr0 down: %q", why)
	}
	apply(t, m, up(model.Link(host, "lxcbr0")), down(model.Link(ns1, "lo")))
	if why := reachable(t, m, ns1, "192.168.10.11"); why != "lo in ns1 is down" {
		t.Errorf("its own address with lo down: %q", why)
	}
	apply(t, m, down(eth0))
	if why := reachable(t, m, ns1, "192.168.10.1"); why != "eth0 in ns1 is down" {
		t.Errorf("with eth0 down: %q", why)
	}
}

// golden reads the lab state of namespaces from a golden file of the
// repository's playbooks: what the kernel showed.
func golden(t *testing.T, playbook string, spaces ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", playbook+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	keep := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "check ") {
			break
		}
		if name, ok := strings.CutPrefix(line, "netns "); ok {
			name, _, _ = strings.Cut(name, " ")
			keep = slices.Contains(spaces, name)
		}
		switch {
		case strings.HasPrefix(line, "  sysctl ") || strings.HasPrefix(line, "  neigh ") || strings.HasPrefix(line, "  quiet_mld "):
			// What the scale settings add (docs/scale.md): the tests here
			// build the lab's links, addresses and routes without them.
		case keep && strings.HasPrefix(line, " "):
			out = append(out, line)
		case keep:
			out = append(out, strings.Split(line, " (")[0])
		}
	}
	return strings.Join(out, "\n")
}

// snapshot writes the model's state of namespaces the way the lab does for
// the golden files: every link of an owned namespace, only the named ones
// (and the routes through them) of another.
func snapshot(t *testing.T, m *model.Memory, spaces map[model.NSRef][]string, order ...model.NSRef) string {
	t.Helper()
	var lines []string
	for _, ns := range order {
		st := model.NSState{Name: ns.String()}
		links, _ := m.Links(ns)
		slices.SortFunc(links, func(a, b model.LinkInfo) int { return cmp.Compare(a.Name, b.Name) })
		for _, l := range links {
			if only := spaces[ns]; only != nil && !slices.Contains(only, l.Name) {
				continue
			}
			addrs, _ := m.Addrs(model.Link(ns, l.Name))
			st.Links = append(st.Links, model.StateOf(l, addrs))
		}
		rs, _ := m.Routes(ns)
		for _, r := range rs {
			if only := spaces[ns]; only == nil || slices.Contains(only, r.Dev) {
				st.Routes = append(st.Routes, r)
			}
		}
		slices.SortStableFunc(st.Routes, func(a, b model.RouteInfo) int {
			return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Dst, b.Dst), cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Dev, b.Dev))
		})
		lines = append(lines, strings.TrimSuffix(model.Snapshot{Namespaces: []model.NSState{st}}.Text(), "\n"))
	}
	return strings.Join(lines, "\n")
}

func TestMemoryTutorialGolden(t *testing.T) {
	m := tutorial(t, true)
	apply(t, m, model.DirAdd{Path: "/etc/netns"}, model.DirAdd{Path: "/etc/netns/ns1"},
		model.FileWrite{Path: "/etc/netns/ns1/resolv.conf", Data: "nameserver 8.8.8.8\n"})
	got := snapshot(t, m, map[model.NSRef][]string{host: {"lxcbr0", "lxcbr0.1"}}, host, ns1)
	got += "\n  file /etc/netns/ns1/resolv.conf\n    | nameserver 8.8.8.8" // the lab reads the files itself
	if want := golden(t, "lxcbr0", "host", "ns1"); got != want {
		t.Errorf("the model's lab:\n%s\nthe kernel's:\n%s", got, want)
	}
}

// The star playbook's lab with three hosts: every host reaches the next.
// The switch has the hosts' gateway address on its bridge and forwards
// (between its bridges, when there are more).
func TestMemoryStar(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	sw := model.Named("star-sw")
	apply(t, m, model.NetnsAdd{Name: "star-sw"}, up(model.Link(sw, "lo")),
		model.LinkAdd{Link: model.Link(sw, "br0"), Spec: model.Bridge{}}, up(model.Link(sw, "br0")),
		addr(model.Link(sw, "br0"), "10.0.0.1/16"), model.SysctlSet{NS: sw, Key: "net.ipv4.ip_forward", Value: "1"})
	hosts := []model.NSRef{model.Named("h1"), model.Named("h2"), model.Named("h3")}
	for i, h := range hosts {
		eth0, port := model.Link(h, "eth0"), model.Link(sw, h.Name()+"-eth0")
		apply(t, m, model.NetnsAdd{Name: h.Name()}, up(model.Link(h, "lo")), veth(eth0, port),
			addr(eth0, "10.0.0."+string(rune('2'+i))+"/16"), up(eth0), model.LinkSetMaster{Link: port, Master: "br0"}, up(port),
			model.RouteAdd{NS: h, Route: model.Route{Dst: "default", Via: "10.0.0.1"}})
	}
	got := snapshot(t, m, nil, append(hosts, sw)...)
	if want := golden(t, "star", "h1", "h2", "h3", "star-sw"); got != want {
		t.Errorf("the model's lab:\n%s\nthe kernel's:\n%s", got, want)
	}
	for i, h := range hosts {
		dst := "10.0.0." + string(rune('2'+(i+1)%3))
		if why := reachable(t, m, h, dst); why != "" {
			t.Errorf("%s from %s: %s", dst, h, why)
		}
	}
	if why := reachable(t, m, hosts[0], "10.255.0.2"); why != "star-sw has no route to 10.255.0.2" {
		t.Errorf("10.255.0.2 from h1: %q", why)
	}
	if why := reachable(t, m, sw, "10.0.0.2"); why != "" {
		t.Errorf("the switch has the hosts' gateway address: %q", why)
	}

	// Deleting a host takes its eth0's peer out of the switch.
	apply(t, m, model.NetnsDel{Name: "h2"})
	if ports := link(t, m, model.Link(sw, "br0")).Ports; !slices.Equal(ports, []string{"h1-eth0", "h3-eth0"}) {
		t.Errorf("after deleting h2, br0 has ports %q", ports)
	}
	if why := reachable(t, m, hosts[0], "10.0.0.3"); why != "eth0 in h1 is up with carrier, but nothing reached through it has 10.0.0.3" {
		t.Errorf("10.0.0.3 from h1 with h2 gone: %q", why)
	}
	if _, err := m.Ping(context.Background(), hosts[1], net.ParseIP("10.0.0.2"), 1, 0); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("ping from a deleted namespace: %v, want ErrNotFound", err)
	}
}

// The attach playbook: a namespace known only by a path stands for a
// container's, made fresh on first use.
func TestMemoryAttach(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	sw, c := model.Named("att-sw"), model.AtPath("/proc/0/ns/net")
	eth0, port := model.Link(c, "eth0"), model.Link(sw, "c-eth0")
	apply(t, m, model.NetnsAdd{Name: "att-sw"}, model.LinkAdd{Link: model.Link(sw, "br0"), Spec: model.Bridge{}},
		addr(model.Link(sw, "br0"), "10.50.0.1/24"), up(model.Link(sw, "br0")))
	if _, err := m.Identity(c); err != nil {
		t.Fatal(err)
	}
	apply(t, m, veth(eth0, port), addr(eth0, "10.50.0.2/24"), up(eth0), model.LinkSetMaster{Link: port, Master: "br0"}, up(port),
		model.RouteAdd{NS: c, Route: model.Route{Dst: "default", Via: "10.50.0.1"}})
	links, _ := m.Links(c)
	if len(links) != 2 || links[0].Name != "lo" || links[1].Name != "eth0" {
		t.Errorf("the container has %v, want lo and eth0", links)
	}
	got := snapshot(t, m, map[model.NSRef][]string{c: {"eth0"}}, sw, c)
	want := strings.ReplaceAll(golden(t, "attach", "att-sw", "/proc/PID/ns/net"), "/proc/PID/", "/proc/0/")
	if got != want {
		t.Errorf("the model's lab:\n%s\nthe kernel's:\n%s", got, want)
	}
	for _, tc := range []struct {
		from model.NSRef
		dst  string
	}{{c, "10.50.0.1"}, {sw, "10.50.0.2"}} {
		if why := reachable(t, m, tc.from, tc.dst); why != "" {
			t.Errorf("%s from %s: %s", tc.dst, tc.from, why)
		}
	}
	if id, _ := m.NetnsID(c, sw); id != 0 {
		t.Errorf("the container knows att-sw by %d, want 0: the kernel gives the veth's namespace an id for its peer's", id)
	}
	if id, _ := m.NetnsID(sw, c); id != -1 {
		t.Errorf("att-sw knows the container by %d, want -1", id)
	}
}

func TestMemoryNetnsIDs(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	a, b := model.Named("a"), model.Named("b")
	apply(t, m, model.NetnsAdd{Name: "a"}, model.NetnsAdd{Name: "b"})
	if id, _ := m.NetnsID(host, a); id != -1 {
		t.Errorf("a has id %d before one is given, want -1", id)
	}
	apply(t, m, model.NetnsSetID{NS: a, ID: 7})
	if id, _ := m.NetnsID(host, a); id != 7 {
		t.Errorf("a has id %d, want 7", id)
	}
	refuse(t, m, model.NetnsSetID{NS: b, ID: 7}, model.ErrExists, "id 7")
	refuse(t, m, model.NetnsSetID{NS: a, ID: 8}, model.ErrExists, "has the id 7")
}

func TestMemoryFiles(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	if _, err := m.ReadDir("/etc/netns"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("a fresh model has /etc/netns: %v", err)
	}
	refuse(t, m, model.FileWrite{Path: "/etc/netns/ns1/resolv.conf", Data: "x"}, model.ErrNotFound, "/etc/netns/ns1")
	refuse(t, m, model.DirAdd{Path: "/etc/netns/ns1"}, model.ErrNotFound, "/etc/netns")
	apply(t, m, model.DirAdd{Path: "/etc/netns"}, model.DirAdd{Path: "/etc/netns/ns1"},
		model.FileWrite{Path: "/etc/netns/ns1/resolv.conf", Data: "nameserver 8.8.8.8\n"})
	refuse(t, m, model.DirAdd{Path: "/etc/netns"}, model.ErrExists, "/etc/netns")
	if names, err := m.ReadDir("/etc/netns/ns1"); err != nil || !slices.Equal(names, []string{"resolv.conf"}) {
		t.Errorf("ReadDir = %q, %v", names, err)
	}
	if data, err := m.ReadFile("/etc/netns/ns1/resolv.conf"); err != nil || string(data) != "nameserver 8.8.8.8\n" {
		t.Errorf("ReadFile = %q, %v", data, err)
	}
	refuse(t, m, model.DirRemove{Path: "/etc/netns/ns1"}, nil, "holds resolv.conf")
	apply(t, m, model.FileRemove{Path: "/etc/netns/ns1/resolv.conf"}, model.DirRemove{Path: "/etc/netns/ns1"})
	refuse(t, m, model.FileRemove{Path: "/etc/netns/ns1/resolv.conf"}, model.ErrNotFound, "resolv.conf")
	if _, err := m.ReadFile("/etc/netns/ns1/resolv.conf"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("a removed file reads: %v", err)
	}
}

// What only the kernel knows is unknown; the namespace must exist still.
func TestMemoryUnknown(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	ctx := context.Background()
	if res, err := m.Exec(ctx, model.ExecSpec{NS: host, Argv: []string{"true"}}); err != nil || !res.Unknown {
		t.Errorf("Exec = %+v, %v; want an unknown result", res, err)
	}
	if _, err := m.Exec(ctx, model.ExecSpec{NS: ns1, Argv: []string{"true"}}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Exec in a namespace that is not there: %v, want ErrNotFound", err)
	}
	p, err := m.Start(model.ExecSpec{NS: host, Argv: []string{"sleep", "600"}})
	if err != nil || p.PID() < 100000 || !p.Alive() {
		t.Fatalf("Start = %v, %v; want a live process with a stand-in pid", p, err)
	}
	if res, err := p.Wait(ctx, 0); err != nil || !res.Unknown || !p.Alive() {
		t.Errorf("Wait = %+v, %v, alive %v", res, err, p.Alive())
	}
	if !p.Stop(0) || p.Alive() || p.Stop(0) {
		t.Errorf("Stop does not end the process once")
	}
	if _, err := m.Listening(host, "tcp", 80); !errors.Is(err, model.ErrUnknown) {
		t.Errorf("Listening: %v, want ErrUnknown", err)
	}
	if err := m.Connect(host, net.ParseIP("127.0.0.1"), 80, 0); !errors.Is(err, model.ErrUnknown) {
		t.Errorf("Connect: %v, want ErrUnknown", err)
	}
	if name, err := m.Identify(1); name != "" || err != nil {
		t.Errorf("Identify = %q, %v", name, err)
	}
	refuse(t, m, model.LinkAdd{Link: model.Link(host, "x"), Spec: model.Other{Of: "dummy"}}, model.ErrUnsupported, "dummy")
}
