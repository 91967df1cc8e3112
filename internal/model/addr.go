package model

import (
	"fmt"
	"net"
)

// AddrAdd adds an address to a link. NoDAD skips IPv6 duplicate address
// detection, so the address is usable at once.
type AddrAdd struct {
	Link  LinkRef `json:"link"`
	CIDR  string  `json:"cidr"`
	NoDAD bool    `json:"nodad,omitempty"`
}

func (o AddrAdd) Text() string {
	s := "addr add " + o.CIDR
	if ipnet, err := ParseCIDR(o.CIDR); err == nil {
		if b := Broadcast(ipnet); b != nil {
			s += " brd " + b.String()
		}
	}
	s += " dev " + o.Link.Name
	if o.NoDAD {
		s += " nodad"
	}
	return o.Link.NS.IP(s)
}
func (o AddrAdd) Inverse() Op { return AddrDel{Link: o.Link, CIDR: o.CIDR} }

// AddrDel removes an address from a link.
type AddrDel struct {
	Link LinkRef `json:"link"`
	CIDR string  `json:"cidr"`
}

func (o AddrDel) Text() string { return o.Link.NS.IP("addr del " + o.CIDR + " dev " + o.Link.Name) }
func (o AddrDel) Inverse() Op  { return nil }

var _ = register("addr.add", AddrAdd{}) && register("addr.del", AddrDel{})

// ParseCIDR parses an interface address with its prefix length and keeps
// the host part ("192.168.10.11/24"), unlike net.ParseCIDR's network.
func ParseCIDR(cidr string) (*net.IPNet, error) {
	ip, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, fmt.Errorf("address %q does not parse: want an address with a prefix length, like 192.168.10.11/24 or fd00::1/64", cidr)
	}
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	}
	return &net.IPNet{IP: ip, Mask: ipnet.Mask}, nil
}

// Broadcast is what `ip addr add ... brd +` sets: the prefix's last
// address, for IPv4 prefixes that have one; nil otherwise.
func Broadcast(n *net.IPNet) net.IP {
	ones, bits := n.Mask.Size()
	if bits != 32 || ones >= 31 {
		return nil
	}
	b := make(net.IP, 4)
	for i := range b {
		b[i] = n.IP[i] | ^n.Mask[i]
	}
	return b
}
