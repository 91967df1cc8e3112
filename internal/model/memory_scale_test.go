package model_test

import (
	"net"
	"slices"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
)

// TestMemoryScaleSettings applies the ops of the scale settings to the
// model: the IPv6 sysctls read back, a MAC set is the link's, and the
// permanent neighbour entries are listed by link, and go when their link
// moves to another namespace, as the kernel drops them.
func TestMemoryScaleSettings(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	h, br := model.Named("h1"), model.Link(model.Host, "br0")
	eth0, port := model.Link(h, "eth0"), model.Link(model.Host, "h1-eth0")
	mac := model.StableMAC("lab", eth0)
	apply(t, m, model.NetnsAdd{Name: "h1"}, model.IPv6Quiet{NS: h}, model.LinkAdd{Link: br, Spec: model.Bridge{}},
		veth(eth0, port), model.LinkNoLinkLocal{Link: port}, model.LinkSetMAC{Link: eth0, MAC: mac},
		model.NeighAdd{Link: eth0, IP: "10.0.0.1", MAC: model.StableMAC("lab", br)})
	for _, s := range model.QuietIPv6Settings {
		if v, err := m.Sysctl(h, s.Key); err != nil || v != s.Value {
			t.Errorf("%s = %q, %v; want %q", s.Key, v, err, s.Value)
		}
	}
	if l, err := m.Link(eth0); err != nil || l.MAC != mac {
		t.Errorf("eth0's MAC = %q, %v; want %s", l.MAC, err, mac)
	}
	want := []model.NeighInfo{{IP: "10.0.0.1", MAC: model.StableMAC("lab", br), Dev: "eth0"}}
	if got, err := m.Neighbours(h); err != nil || !slices.Equal(got, want) {
		t.Errorf("Neighbours(h1) = %v, %v; want %v", got, err, want)
	}
	apply(t, m, model.NetnsAdd{Name: "h2"}, model.LinkMove{Link: eth0, To: model.Named("h2")})
	if got, _ := m.Neighbours(model.Named("h2")); len(got) != 0 {
		t.Errorf("after the move, Neighbours(h2) = %v; want none", got)
	}
}

// TestStableMAC checks that the MACs the lab sets are the same for the
// same lab and link, differ between links, and are unicast and locally
// administered.
func TestStableMAC(t *testing.T) {
	a := model.StableMAC("star", model.Link(model.Named("h1"), "eth0"))
	if a != model.StableMAC("star", model.Link(model.Named("h1"), "eth0")) {
		t.Errorf("StableMAC is not the same twice")
	}
	for _, other := range []string{
		model.StableMAC("star", model.Link(model.Named("h2"), "eth0")),
		model.StableMAC("star", model.Link(model.Named("h1"), "eth1")),
		model.StableMAC("other", model.Link(model.Named("h1"), "eth0")),
	} {
		if other == a {
			t.Errorf("two links share the MAC %s", a)
		}
	}
	hw, err := net.ParseMAC(a)
	if err != nil || hw[0]&1 != 0 || hw[0]&2 == 0 {
		t.Errorf("StableMAC = %s (%v): want a unicast, locally administered MAC", a, err)
	}
}

// TestMemoryQuietMLD keeps the lab's table of family bridge as the kernel
// does: made once, its ports listed sorted and once each, named whether
// the link is there or not, and gone with its deletion.
func TestMemoryQuietMLD(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	table := model.LabTable("lab")
	refuse(t, m, model.MLDQuietPort{Port: model.Link(model.Host, "p1"), Table: table}, model.ErrNotFound, "no table bridge nsplay-lab")
	apply(t, m, model.MLDQuiet{NS: model.Host, Table: table})
	refuse(t, m, model.MLDQuiet{NS: model.Host, Table: table}, model.ErrExists, "table bridge nsplay-lab is in host already")
	apply(t, m, model.MLDQuietPort{Port: model.Link(model.Host, "p2"), Table: table}, model.MLDQuietPort{Port: model.Link(model.Host, "p1"), Table: table},
		model.MLDQuietPort{Port: model.Link(model.Host, "p2"), Table: table})
	if got, err := m.QuietMLDPorts(model.Host, table); err != nil || !slices.Equal(got, []string{"p1", "p2"}) {
		t.Errorf("QuietMLDPorts = %v, %v; want [p1 p2]", got, err)
	}
	apply(t, m, model.BridgeTableDel{NS: model.Host, Table: table})
	refuse(t, m, model.BridgeTableDel{NS: model.Host, Table: table}, model.ErrNotFound, "no table bridge nsplay-lab")
	if _, err := m.QuietMLDPorts(model.Host, table); err == nil {
		t.Errorf("QuietMLDPorts after the deletion: no error")
	}
}
