package kernel

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// WhyUnreachable explains, in the terms a user of `ip` looks for, why dst
// may not answer from n: no route, the output link down or without carrier
// (and then why: the veth peer or its bridge down), no address, an IPv6
// address that duplicate address detection keeps from use, a gateway that
// does not forward or has no route on, no route back. known are the
// namespaces in which to look for veth peers and for dst.
func (n *NS) WhyUnreachable(dst net.IP, known []*NS) string {
	dev, via, err := n.RouteTo(dst)
	if err != nil {
		if down := n.downLinkFor(dst); down != "" {
			return fmt.Sprintf("%s in %s is down", down, n)
		}
		return fmt.Sprintf("%s has no route to %s", n, dst)
	}
	l, err := n.Link(dev)
	if err != nil {
		return err.Error()
	}
	switch {
	case !l.Up:
		return fmt.Sprintf("%s in %s is down", dev, n)
	case !l.Carrier:
		return fmt.Sprintf("%s in %s has no carrier%s", dev, n, n.peerCause(l, known))
	}
	if cause := n.peerCause(l, known); cause != "" {
		return fmt.Sprintf("%s in %s is up with carrier%s", dev, n, cause)
	}
	if addrs, err := n.Addrs(dev, false); err == nil && len(addrs) == 0 {
		return fmt.Sprintf("%s in %s has no address", dev, n)
	}
	if dst.To4() == nil {
		if cause := n.dadCause(dev, dst, known); cause != "" {
			return cause
		}
	}
	if cause := n.pathCause(dst, dev, via, known); cause != "" {
		return cause
	}
	hop := "it"
	if via != nil {
		hop = "the gateway " + via.String()
	}
	return fmt.Sprintf("%s in %s is up with carrier, but no reply came from %s: check that %s is up, has the address and answers ICMP", dev, n, dst, hop)
}

// downLinkFor finds a link that is down and has an address whose prefix
// holds dst: the kernel drops the routes of a link that goes down, but keeps
// its IPv4 addresses, so this is the link a route would have used.
func (n *NS) downLinkFor(dst net.IP) string {
	links, err := n.Links()
	if err != nil {
		return ""
	}
	for _, l := range links {
		if l.Up {
			continue
		}
		addrs, err := n.Addrs(l.Name, false)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if _, prefix, err := net.ParseCIDR(a.CIDR); err == nil && prefix.Contains(dst) {
				return l.Name
			}
		}
	}
	return ""
}

// peerCause names what keeps a veth without carrier: its peer down, or the
// peer's bridge down.
func (n *NS) peerCause(l LinkInfo, known []*NS) string {
	pns, p, err := n.Peer(l, known)
	if err != nil {
		return ""
	}
	if !p.Up {
		return fmt.Sprintf(": its peer %s in %s is down", p.Name, pns)
	}
	if p.MasterIndex != 0 {
		if m, err := pns.LinkByIndex(p.MasterIndex); err == nil && !m.Up {
			return fmt.Sprintf(": its peer %s in %s is a port of %s, which is down", p.Name, pns, m.Name)
		}
	}
	return ""
}

// dadCause names an IPv6 address that duplicate address detection keeps
// from use, if that is why dst does not answer: the output link's global
// addresses, when none is usable (the kernel sends from none of them), or
// dst itself in a namespace of known (the kernel answers to it only once
// it has passed).
func (n *NS) dadCause(dev string, dst net.IP, known []*NS) string {
	if l, err := n.link(dev); err == nil {
		as, err := n.addrList(l.Attrs().Index, netlink.FAMILY_V6)
		var stuck *rawAddr
		usable := false
		for i, a := range as {
			switch {
			case a.IPNet.IP.IsLinkLocalUnicast():
			case !inDAD(a.Flags):
				usable = true
			case stuck == nil:
				stuck = &as[i]
			}
		}
		if err == nil && !usable && stuck != nil {
			return dadProblem(stuck, dev, n)
		}
	}
	for _, k := range known {
		as, _ := k.addrList(0, netlink.FAMILY_V6)
		for i, a := range as {
			if a.IPNet.IP.Equal(dst) && inDAD(a.Flags) {
				if l, err := k.LinkByIndex(a.LinkIndex); err == nil {
					return dadProblem(&as[i], l.Name, k)
				}
			}
		}
	}
	return ""
}
