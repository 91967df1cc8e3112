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
// on its link, which goes with the link and is dropped when the link moves
// to another namespace, as the kernel drops it.

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
