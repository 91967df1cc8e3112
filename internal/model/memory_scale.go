package model

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
)

// The scale settings in the model (scale.go): IPv6Quiet sets its sysctls,
// LinkSetMAC a link's MAC, and NeighAdd keeps a permanent neighbour entry
// on its link (until NeighDel), which goes with the link and is dropped
// when the link goes down, changes its MAC or moves to another namespace,
// as the kernel drops it. MLDQuiet's table keeps
// the names of its ports, whether those links are there or not, as the
// kernel's set does; the model has no MLD reports for it to drop.

func (m *Memory) quietIPv6(o IPv6Quiet) error {
	for _, s := range QuietIPv6Settings {
		if err := m.setSysctl(SysctlSet{NS: o.NS, Key: s.Key, Value: s.Value}); err != nil {
			return err
		}
	}
	return nil
}

func (m *Memory) setMAC(l *memLink, mac string) error {
	if _, err := net.ParseMAC(mac); err != nil {
		return fmt.Errorf("set the address of %s: %q is not a MAC address", l, mac)
	}
	if l.mac != mac {
		l.neigh = nil // as the kernel drops the entries of a link whose MAC changes
	}
	l.mac = mac
	return nil
}

func (m *Memory) neighAdd(l *memLink, o NeighAdd) error {
	if net.ParseIP(o.IP) == nil {
		return fmt.Errorf("neighbour entry on %s: %q is not an IP address", l, o.IP)
	}
	if l.neigh == nil {
		l.neigh = map[string]string{}
	}
	l.neigh[o.IP] = o.MAC
	return nil
}

func (m *Memory) neighDel(l *memLink, o NeighDel) error {
	if _, ok := l.neigh[o.IP]; !ok {
		return fmt.Errorf("%s has no neighbour entry for %s: %w", l, o.IP, ErrNotFound)
	}
	delete(l.neigh, o.IP)
	return nil
}

// Neighbours lists the permanent neighbour entries of the namespace's
// links, by link and address.
func (m *Memory) Neighbours(ref NSRef) ([]NeighInfo, error) {
	ns, err := m.space(ref)
	if err != nil {
		return nil, err
	}
	var out []NeighInfo
	for _, l := range ns.links {
		for _, ip := range slices.Sorted(maps.Keys(l.neigh)) {
			out = append(out, NeighInfo{IP: ip, MAC: l.neigh[ip], Dev: l.name})
		}
	}
	slices.SortStableFunc(out, func(a, b NeighInfo) int { return cmp.Compare(a.Dev, b.Dev) })
	return out, nil
}

func (m *Memory) quietMLD(o MLDQuiet) error {
	ns, err := m.space(o.NS)
	if err != nil {
		return err
	}
	if _, ok := ns.quietMLD[o.Table]; ok {
		return fmt.Errorf("table bridge %s is in %s already: %w", o.Table, ns, ErrExists)
	}
	if ns.quietMLD == nil {
		ns.quietMLD = map[string][]string{}
	}
	ns.quietMLD[o.Table] = []string{}
	return nil
}

func (m *Memory) quietMLDPort(o MLDQuietPort) error {
	ns, ports, err := m.quietPorts(o.Port.NS, o.Table)
	if err != nil {
		return err
	}
	if i, found := slices.BinarySearch(ports, o.Port.Name); !found {
		ns.quietMLD[o.Table] = slices.Insert(ports, i, o.Port.Name)
	}
	return nil
}

func (m *Memory) quietMLDPortDel(o MLDQuietPortDel) error {
	ns, ports, err := m.quietPorts(o.Port.NS, o.Table)
	if err != nil {
		return err
	}
	i, found := slices.BinarySearch(ports, o.Port.Name)
	if !found {
		return fmt.Errorf("%s is not in the set %s of table bridge %s in %s: %w", o.Port.Name, MLDQuietSet, o.Table, ns, ErrNotFound)
	}
	ns.quietMLD[o.Table] = slices.Delete(ports, i, i+1)
	return nil
}

// quietPorts is the namespace of ref and the ports in the set of its
// table of family bridge.
func (m *Memory) quietPorts(ref NSRef, table string) (*memNS, []string, error) {
	ns, err := m.space(ref)
	if err != nil {
		return nil, nil, err
	}
	ports, ok := ns.quietMLD[table]
	if !ok {
		return nil, nil, fmt.Errorf("there is no table bridge %s in %s: %w", table, ns, ErrNotFound)
	}
	return ns, ports, nil
}

func (m *Memory) delBridgeTable(o BridgeTableDel) error {
	ns, err := m.space(o.NS)
	if err != nil {
		return err
	}
	if _, ok := ns.quietMLD[o.Table]; !ok {
		return fmt.Errorf("there is no table bridge %s in %s: %w", o.Table, ns, ErrNotFound)
	}
	delete(ns.quietMLD, o.Table)
	return nil
}

// QuietMLDPorts lists the ports in a table's set, sorted.
func (m *Memory) QuietMLDPorts(ref NSRef, table string) ([]string, error) {
	_, ports, err := m.quietPorts(ref, table)
	return slices.Clone(ports), err
}
