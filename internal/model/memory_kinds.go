package model

import (
	"fmt"
	"slices"
)

// The model of macvlan, vlan, vxlan, tun/tap and dummy links: their
// entries in linkKinds. Measured with ip on Linux 6.18 where the kernel
// has them (macvlan, vxlan, tun/tap); vlan and dummy, which that kernel
// lacks, as the kernel's source has them.

// A macvlan or vlan has carrier while it is up and its parent has carrier
// (netif_stacked_transfer_operstate; measured: a macvlan set up on a
// parent without carrier shows "lowerlayerdown", and "up" once the parent
// has carrier, also when it was made after that).
func stackedCarrier(l *memLink) bool { return l.up && l.lower.rules.carrier(l.lower) }

// A vxlan and a dummy have carrier from the start: set up, they show
// "unknown", as the kernel never computes their operational state.
func alwaysCarrier(*memLink) bool { return true }

// A tun/tap has carrier only while a program has it open, which a plan
// cannot know of: none.
func noCarrier(*memLink) bool { return false }

func noHeadroom(*memLink) int { return 0 }

// vxlanHeadroom is what VXLAN adds to a frame: the outer Ethernet, IP,
// UDP and VXLAN headers (VXLAN_HEADROOM, VXLAN6_HEADROOM).
func vxlanHeadroom(l *memLink) int {
	if (Vxlan{Local: l.attrs.Local, Remote: l.attrs.Remote, Group: l.attrs.Group}).IPv6() {
		return 70
	}
	return 50
}

// uppers lists the links made on l: macvlans and vlans on it, vxlans
// with it as dev; in walkOrder, as a walk over every link finds them (a
// frame reaches them in that order, which decides who answers first).
func (m *Memory) uppers(l *memLink) []*memLink {
	if len(l.uppers) == 0 {
		return nil
	}
	return slices.SortedFunc(slices.Values(l.uppers), walkOrder)
}

// ethernet tells whether l carries Ethernet frames, which a macvlan's
// parent must (the kernel refuses a loopback and a tun: Invalid argument).
func (l *memLink) ethernet() bool {
	return !l.isLoopback() && !(l.kind == "tuntap" && l.attrs.Mode == "tun")
}

// makeMacvlan makes a macvlan on its parent (linkAdd found it, as
// ends[0].lower); one asked for on a macvlan is made on that one's parent,
// as the kernel does.
func makeMacvlan(m *Memory, spec LinkSpec, ends []*memLink) error {
	mv, ok := spec.(Macvlan)
	if !ok {
		return fmt.Errorf("a macvlan from %T: %w", spec, ErrUnsupported)
	}
	lower := ends[0].lower
	if lower.kind == "macvlan" {
		lower = lower.lower
	}
	siblings := slices.DeleteFunc(m.uppers(lower), func(u *memLink) bool { return u.kind != "macvlan" })
	switch {
	case !lower.ethernet():
		return fmt.Errorf("a macvlan on %s: a %s carries no Ethernet frames (the kernel: Invalid argument)", lower, lower.kind)
	case lower.master != nil:
		return fmt.Errorf("a macvlan on %s: it is a port of %s, which takes what arrives on it (the kernel: Device or resource busy)", lower, lower.master.name)
	case len(siblings) > 0 && (mv.Mode == "passthru" || siblings[0].attrs.Mode == "passthru"):
		return fmt.Errorf("a macvlan on %s: a passthru macvlan has its parent to itself, and %s has %s (the kernel: Invalid argument)", lower, lower.name, siblings[0].name)
	}
	l := ends[0]
	l.lower, l.attrs, l.mtu = lower, mv.Attrs(), lower.mtu
	if mv.Mode == "passthru" {
		l.mac = lower.mac
	}
	return nil
}

// makeVlan makes a vlan on its parent; one id a parent takes once.
func makeVlan(m *Memory, spec LinkSpec, ends []*memLink) error {
	v, ok := spec.(Vlan)
	if !ok {
		return fmt.Errorf("a vlan from %T: %w", spec, ErrUnsupported)
	}
	lower := ends[0].lower
	switch {
	case lower.isLoopback():
		return fmt.Errorf("a vlan on %s: a loopback takes no VLANs (the kernel: Operation not supported)", lower)
	case slices.ContainsFunc(m.uppers(lower), func(u *memLink) bool { return u.kind == "vlan" && u.attrs.VLANID == v.ID }):
		return fmt.Errorf("vlan %d on %s: %w", v.ID, lower, ErrExists)
	}
	l := ends[0]
	l.lower, l.attrs, l.mtu, l.mac = lower, v.Attrs(), lower.mtu, lower.mac
	return nil
}

// makeVxlan makes a vxlan; its dev is a link of its namespace, and a
// namespace takes one vxlan of a VNI and port for each IP version (the
// kernel: A VXLAN device with the specified VNI already exists).
func makeVxlan(_ *Memory, spec LinkSpec, ends []*memLink) error {
	v, ok := spec.(Vxlan)
	if !ok {
		return fmt.Errorf("a vxlan from %T: %w", spec, ErrUnsupported)
	}
	l := ends[0]
	l.attrs, l.underlay, l.oper = v.Attrs(), l.ns, "unknown"
	for _, o := range l.ns.links {
		if o.kind == "vxlan" && o.underlay == l.ns && o.attrs.VNI == v.VNI && o.attrs.Port == v.Port &&
			vxlanHeadroom(o) == vxlanHeadroom(l) {
			return fmt.Errorf("vxlan %s: %s has VNI %d on port %d in %s: %w", l.name, o.name, v.VNI, v.Port, l.ns, ErrExists)
		}
	}
	if v.Dev != "" {
		if l.lower = l.ns.link(v.Dev); l.lower == nil {
			return fmt.Errorf("dev %s of vxlan %s: link %s in %s: %w", v.Dev, l.name, v.Dev, l.ns, ErrNotFound)
		}
		l.mtu = l.lower.mtu - vxlanHeadroom(l)
	}
	return nil
}

// makeTuntap makes a tun/tap. A tun carries IP packets: it has no MAC
// address, and cannot be a bridge port.
func makeTuntap(_ *Memory, spec LinkSpec, ends []*memLink) error {
	t, ok := spec.(Tuntap)
	if !ok {
		return fmt.Errorf("a tun/tap from %T: %w", spec, ErrUnsupported)
	}
	l := ends[0]
	l.attrs = t.Attrs()
	if t.Mode == "tun" {
		l.mac = ""
		l.rules.maxMTU = 65535
		l.rules.notPort = "a tun carries IP packets, not Ethernet frames, so it cannot be a bridge port (the kernel: Invalid argument); use a tap"
	}
	return nil
}

func makeDummy(_ *Memory, spec LinkSpec, ends []*memLink) error {
	if _, ok := spec.(Dummy); !ok {
		return fmt.Errorf("a dummy from %T: %w", spec, ErrUnsupported)
	}
	ends[0].oper = "unknown"
	return nil
}
