package model_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
)

var ns2 = model.Named("ns2")

// Each kind's step line is the ip command that makes it, in the namespace
// the request goes to.
func TestKindsText(t *testing.T) {
	eth0 := model.Link(ns1, "eth0")
	for _, tc := range []struct {
		op   model.LinkAdd
		want string
	}{
		{model.LinkAdd{Link: model.Link(ns1, "mv0"), Spec: model.Macvlan{Parent: eth0, Mode: "bridge"}},
			"ip -n ns1 link add mv0 link eth0 type macvlan mode bridge"},
		{model.LinkAdd{Link: model.Link(ns2, "mv0"), Spec: model.Macvlan{Parent: eth0, Mode: "private"}},
			"ip -n ns1 link add mv0 link eth0 netns ns2 type macvlan mode private"},
		{model.LinkAdd{Link: model.Link(host, "mv0"), Spec: model.Macvlan{Parent: eth0, Mode: "vepa"}},
			"ip -n ns1 link add mv0 link eth0 netns host type macvlan mode vepa"},
		{model.LinkAdd{Link: model.Link(ns2, "eth0.10"), Spec: model.Vlan{Parent: eth0, ID: 10}},
			"ip -n ns1 link add eth0.10 link eth0 netns ns2 type vlan id 10"},
		{model.LinkAdd{Link: model.Link(ns1, "vx0"), Spec: model.Vxlan{VNI: 42, Local: "10.0.0.1", Remote: "10.0.0.2", Dev: "eth0", Port: 4789}},
			"ip -n ns1 link add vx0 type vxlan id 42 local 10.0.0.1 remote 10.0.0.2 dev eth0 dstport 4789"},
		{model.LinkAdd{Link: model.Link(host, "vx1"), Spec: model.Vxlan{VNI: 7, Group: "239.1.1.1", Dev: "br0", Port: 8472}},
			"ip link add vx1 type vxlan id 7 group 239.1.1.1 dev br0 dstport 8472"},
		{model.LinkAdd{Link: model.Link(ns1, "tap0"), Spec: model.Tuntap{Mode: "tap"}}, "ip -n ns1 tuntap add tap0 mode tap"},
		{model.LinkAdd{Link: model.Link(host, "tun0"), Spec: model.Tuntap{Mode: "tun"}}, "ip tuntap add tun0 mode tun"},
		{model.LinkAdd{Link: model.Link(ns1, "dummy0"), Spec: model.Dummy{}}, "ip -n ns1 link add dummy0 type dummy"},
		// ip takes the mtu before the kind's own arguments.
		{model.LinkAdd{Link: model.Link(ns1, "br0"), Spec: model.Bridge{STP: true, MTU: 1400}}, "ip -n ns1 link add br0 mtu 1400 type bridge stp_state 1"},
		// ip has no name for the start namespace after netns: the pair is
		// made from there.
		{model.LinkAdd{Link: model.Link(ns1, "eth0"), Spec: model.Veth{Peer: model.Link(host, "h1")}}, "ip link add h1 type veth peer name eth0 netns ns1"},
		{model.LinkAdd{Link: model.Link(ns1, "eth0"), Spec: model.Veth{Peer: model.Link(ns2, "eth1")}}, "ip -n ns1 link add eth0 type veth peer name eth1 netns ns2"},
	} {
		if got := tc.op.Text(); got != tc.want {
			t.Errorf("Text() = %q, want %q", got, tc.want)
		}
		if got := tc.op.Inverse(); got != (model.LinkDel{Link: tc.op.Link}) {
			t.Errorf("%s: Inverse() = %v, want deleting %s", tc.want, got, tc.op.Link)
		}
		// The journal holds it as JSON, and reads it back as it was.
		data, err := json.Marshal(tc.op)
		if err != nil {
			t.Fatalf("%s: %v", tc.want, err)
		}
		var back model.LinkAdd
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("%s: %s: %v", tc.want, data, err)
		}
		if back.Text() != tc.op.Text() || back.Spec.Kind() != tc.op.Spec.Kind() {
			t.Errorf("%s read back from %s as %+v", tc.want, data, back)
		}
	}
}

// Checked refuses what the kernel or ip refuses, and writes addresses as
// the kernel prints them.
func TestKindsChecked(t *testing.T) {
	vx := func(v model.Vxlan) model.Vxlan {
		if v.Port == 0 {
			v.Port = model.VxlanPort
		}
		return v
	}
	for _, tc := range []struct {
		check func() error
		want  string // "" for none
	}{
		{func() error { _, err := (model.Macvlan{Mode: "bridge"}).Checked(); return err }, ""},
		{func() error { _, err := (model.Macvlan{Mode: "l2"}).Checked(); return err }, `mode="l2" is not one of bridge, private, vepa, passthru`},
		{func() error { _, err := (model.Tuntap{Mode: "tun"}).Checked(); return err }, ""},
		{func() error { _, err := (model.Tuntap{Mode: "tuntap"}).Checked(); return err }, `mode="tuntap" is not one of tap, tun`},
		{func() error { _, err := (model.Vlan{ID: 4094}).Checked(); return err }, ""},
		{func() error { _, err := (model.Vlan{ID: 4095}).Checked(); return err }, "802.1Q ids go from 1 to 4094"},
		{func() error { _, err := (model.Vlan{ID: 0}).Checked(); return err }, "802.1Q ids go from 1 to 4094"},
		{func() error { _, err := vx(model.Vxlan{VNI: 1 << 24}).Checked(); return err }, "give one from 1 to 16777215"},
		{func() error { _, err := vx(model.Vxlan{VNI: 1, Port: 70000}).Checked(); return err }, "not a UDP port"},
		{func() error {
			_, err := vx(model.Vxlan{VNI: 1, Remote: "10.0.0.2", Group: "239.1.1.1", Dev: "d"}).Checked()
			return err
		}, "not both"},
		{func() error { _, err := vx(model.Vxlan{VNI: 1, Group: "239.1.1.1"}).Checked(); return err }, "group= needs dev="},
		{func() error { _, err := vx(model.Vxlan{VNI: 1, Group: "10.1.1.1", Dev: "d"}).Checked(); return err }, `group="10.1.1.1" is not a multicast address`},
		{func() error { _, err := vx(model.Vxlan{VNI: 1, Remote: "239.1.1.1"}).Checked(); return err }, "use group="},
		{func() error { _, err := vx(model.Vxlan{VNI: 1, Remote: "10.0.0.300"}).Checked(); return err }, `remote="10.0.0.300" is not a unicast address`},
		{func() error {
			_, err := vx(model.Vxlan{VNI: 1, Local: "fd00::1", Remote: "10.0.0.2"}).Checked()
			return err
		}, "different IP versions"},
	} {
		err := tc.check()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v, want no error", err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v, want an error saying %q", err, tc.want)
		}
	}
	v, err := vx(model.Vxlan{VNI: 5, Local: "fd00:0::1", Remote: "FD00::2"}).Checked()
	if err != nil || v.Local != "fd00::1" || v.Remote != "fd00::2" {
		t.Errorf("Checked() = %+v, %v; want the addresses as fd00::1 and fd00::2", v, err)
	}
}

// underlay is two namespaces joined by a veth with 10.0.0.1/24 and
// 10.0.0.2/24, both ends up, with a vxlan of VNI 42 in each over it.
func underlay(t *testing.T, vniB int) *model.Memory {
	t.Helper()
	m := model.NewMemory(model.DefaultPaths)
	a, b := model.Link(ns1, "eth0"), model.Link(ns2, "eth0")
	va, vb := model.Link(ns1, "vx0"), model.Link(ns2, "vx0")
	apply(t, m, model.NetnsAdd{Name: "ns1"}, model.NetnsAdd{Name: "ns2"}, veth(a, b),
		addr(a, "10.0.0.1/24"), addr(b, "10.0.0.2/24"), up(a), up(b),
		model.LinkAdd{Link: va, Spec: model.Vxlan{VNI: 42, Local: "10.0.0.1", Remote: "10.0.0.2", Dev: "eth0", Port: 4789}},
		model.LinkAdd{Link: vb, Spec: model.Vxlan{VNI: vniB, Local: "10.0.0.2", Remote: "10.0.0.1", Dev: "eth0", Port: 4789}},
		addr(va, "192.168.100.1/24"), addr(vb, "192.168.100.2/24"), up(va), up(vb))
	return m
}

func TestMemoryVxlan(t *testing.T) {
	m := underlay(t, 42)
	wantState(t, m, model.Link(ns1, "vx0"), "link vx0 vxlan up oper=unknown mtu=1450 vni=42 port=4789 local=10.0.0.1 remote=10.0.0.2 parent=eth0@ns1\n    addr 192.168.100.1/24 brd 192.168.100.255 scope global")
	if why := reachable(t, m, ns1, "192.168.100.2"); why != "" {
		t.Errorf("over the overlay: %s", why)
	}
	// Without the underlay, the overlay carries nothing.
	apply(t, m, down(model.Link(ns2, "eth0")))
	if why := reachable(t, m, ns1, "192.168.100.2"); why == "" {
		t.Errorf("the overlay carries with its underlay down")
	}
	// Another VNI is another segment.
	if why := reachable(t, underlay(t, 43), ns1, "192.168.100.2"); why == "" {
		t.Errorf("vxlans of VNI 42 and 43 reach each other")
	}
	// The dev goes, the vxlan with it; so when the dev leaves.
	m = underlay(t, 42)
	apply(t, m, model.LinkMove{Link: model.Link(ns1, "eth0"), To: host})
	if _, err := m.Link(model.Link(ns1, "vx0")); err == nil {
		t.Errorf("vx0 is there after its dev left ns1")
	}
}

func TestMemoryVxlanGroup(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	br := model.Link(host, "br0")
	apply(t, m, model.LinkAdd{Link: br, Spec: model.Bridge{}}, up(br))
	for i, ns := range []model.NSRef{ns1, ns2} {
		eth0, port, vx := model.Link(ns, "eth0"), model.Link(host, ns.Name()), model.Link(ns, "vx0")
		apply(t, m, model.NetnsAdd{Name: ns.Name()}, veth(eth0, port), model.LinkSetMaster{Link: port, Master: "br0"},
			up(port), up(eth0), addr(eth0, []string{"10.0.0.1/24", "10.0.0.2/24"}[i]),
			model.LinkAdd{Link: vx, Spec: model.Vxlan{VNI: 9, Group: "239.1.1.1", Dev: "eth0", Port: 4789}},
			addr(vx, []string{"192.168.9.1/24", "192.168.9.2/24"}[i]), up(vx))
	}
	if why := reachable(t, m, ns1, "192.168.9.2"); why != "" {
		t.Errorf("over the multicast overlay: %s", why)
	}
}

// macvlans is a bridge br0 in host with a macvlan of mode on it in ns1 and
// ns2, and an address on br0.
func macvlans(t *testing.T, mode string) *model.Memory {
	t.Helper()
	m := model.NewMemory(model.DefaultPaths)
	br := model.Link(host, "br0")
	apply(t, m, model.LinkAdd{Link: br, Spec: model.Bridge{}}, addr(br, "10.1.0.1/24"), up(br))
	for i, ns := range []model.NSRef{ns1, ns2} {
		mv := model.Link(ns, "mv0")
		apply(t, m, model.NetnsAdd{Name: ns.Name()}, model.LinkAdd{Link: mv, Spec: model.Macvlan{Parent: br, Mode: mode}},
			addr(mv, []string{"10.1.0.11/24", "10.1.0.12/24"}[i]), up(mv))
	}
	return m
}

func TestMemoryMacvlan(t *testing.T) {
	m := macvlans(t, "bridge")
	wantState(t, m, model.Link(ns1, "mv0"), "link mv0 macvlan up oper=up mtu=1500 mode=bridge parent=br0@host\n    addr 10.1.0.11/24 brd 10.1.0.255 scope global")
	if why := reachable(t, m, ns1, "10.1.0.12"); why != "" {
		t.Errorf("between bridge-mode macvlans: %s", why)
	}
	// The parent's own namespace does not reach its macvlans.
	if why := reachable(t, m, host, "10.1.0.11"); why == "" {
		t.Errorf("host reaches a macvlan through its parent")
	}
	if why := reachable(t, macvlans(t, "private"), ns1, "10.1.0.12"); why == "" {
		t.Errorf("private macvlans reach each other")
	}
	// Deleting the parent deletes its macvlans, in any namespace.
	apply(t, m, model.LinkDel{Link: model.Link(host, "br0")})
	for _, ns := range []model.NSRef{ns1, ns2} {
		if _, err := m.Link(model.Link(ns, "mv0")); err == nil {
			t.Errorf("the macvlan in %s is there after its parent was deleted", ns)
		}
	}
}

// A link made on a bridge, directly or through another, cannot be a port
// of that bridge: the kernel refuses the loop (Device or resource busy),
// and the model says so rather than follow it for ever.
func TestMemoryPortOfItsOwnLower(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	br, mv, vl := model.Link(host, "br0"), model.Link(host, "mv0"), model.Link(host, "mv0.5")
	apply(t, m, model.LinkAdd{Link: br, Spec: model.Bridge{}}, up(br),
		model.LinkAdd{Link: mv, Spec: model.Macvlan{Parent: br, Mode: "bridge"}},
		model.LinkAdd{Link: vl, Spec: model.Vlan{Parent: mv, ID: 5}})
	for _, l := range []model.LinkRef{mv, vl} {
		refuse(t, m, model.LinkSetMaster{Link: l, Master: "br0"}, nil, "a link cannot be a port of a bridge it is made on")
	}
}

// A vlan (which Linux 6.18 here lacks; as the kernel's source has it)
// follows its parent's carrier and MTU, and reaches the vlan of its id at
// the far end of its parent's wire.
func TestMemoryVlan(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	a, b := model.Link(ns1, "eth0"), model.Link(ns2, "eth0")
	apply(t, m, model.NetnsAdd{Name: "ns1"}, model.NetnsAdd{Name: "ns2"}, veth(a, b))
	for i, tc := range []struct {
		parent model.LinkRef
		id     int
	}{{a, 10}, {b, 10}, {a, 20}, {b, 30}} {
		v := model.Link(tc.parent.NS, "eth0."+[]string{"10", "10", "20", "30"}[i])
		apply(t, m, model.LinkAdd{Link: v, Spec: model.Vlan{Parent: tc.parent, ID: tc.id}},
			addr(v, []string{"10.10.0.1/24", "10.10.0.2/24", "10.20.0.1/24", "10.20.0.2/24"}[i]), up(v))
	}
	refuse(t, m, model.LinkAdd{Link: model.Link(ns1, "again"), Spec: model.Vlan{Parent: a, ID: 10}}, model.ErrExists, "vlan 10")
	wantState(t, m, model.Link(ns1, "eth0.10"), "link eth0.10 vlan up oper=lowerlayerdown mtu=1500 no-carrier vlan_id=10 parent=eth0@ns1\n    addr 10.10.0.1/24 brd 10.10.0.255 scope global")
	apply(t, m, up(a), up(b), model.LinkSetMTU{Link: a, MTU: 1400})
	wantState(t, m, model.Link(ns1, "eth0.10"), "link eth0.10 vlan up oper=up mtu=1400 vlan_id=10 parent=eth0@ns1\n    addr 10.10.0.1/24 brd 10.10.0.255 scope global")
	if why := reachable(t, m, ns1, "10.10.0.2"); why != "" {
		t.Errorf("between the vlans 10: %s", why)
	}
	if why := reachable(t, m, ns1, "10.20.0.2"); why == "" {
		t.Errorf("vlan 20 reaches vlan 30")
	}
}

// A dummy (which Linux 6.18 here lacks) has carrier, "unknown" when up.
func TestMemoryDummy(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	d := model.Link(host, "dummy0")
	apply(t, m, model.LinkAdd{Link: d, Spec: model.Dummy{}}, up(d))
	wantState(t, m, d, "link dummy0 dummy up oper=unknown mtu=1500")
}
