package kernel

import (
	"errors"
	"fmt"
	"net"

	"github.com/nsplay/nsplay/internal/model"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AddrInfo is one address of a link.
type AddrInfo = model.AddrInfo

// ParseCIDR parses an interface address; see model.ParseCIDR.
var ParseCIDR = model.ParseCIDR

// Addrs lists the link's addresses. IPv6 link-local addresses, which the
// kernel adds on its own to every link that goes up, are left out unless all
// is set.
func (n *NS) Addrs(name string, all bool) ([]AddrInfo, error) {
	l, err := n.indexed(name)
	if err != nil {
		return nil, err
	}
	as, err := n.addrList(l.Attrs().Index, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s in %s: %w", name, n, err)
	}
	var infos []AddrInfo
	for _, a := range as {
		if ip := a.IPNet.IP; !all && ip.To4() == nil && ip.IsLinkLocalUnicast() {
			continue
		}
		info := AddrInfo{CIDR: a.IPNet.String(), Scope: scopeName(a.Scope)}
		if a.Broadcast != nil {
			info.Broadcast = a.Broadcast.String()
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// AddAddr adds an address to the link; IPv4 gets the broadcast address of
// its prefix, as `ip addr add ... brd +` and ifconfig give it, and 127/8
// addresses get host scope, as ip gives them (the kernel refuses them with
// global scope). An IPv6 address is usable when AddAddr returns if the link
// is up with carrier (see AwaitDAD); one that duplicate address detection
// finds on another host is taken off again and reported as ErrDuplicateAddr.
func (n *NS) AddAddr(name string, ipnet *net.IPNet) error {
	return n.addAddr(name, ipnet, 0)
}

// AddAddrNoDAD adds an address that skips duplicate address detection
// (IFA_F_NODAD, `ip addr add ... nodad`): an IPv6 address is usable at once.
func (n *NS) AddAddrNoDAD(name string, ipnet *net.IPNet) error {
	return n.addAddr(name, ipnet, unix.IFA_F_NODAD)
}

func (n *NS) addAddr(name string, ipnet *net.IPNet, flags int) error {
	a := &netlink.Addr{IPNet: ipnet, Broadcast: model.Broadcast(ipnet), Flags: flags}
	if ipnet.IP.To4() != nil && ipnet.IP.IsLoopback() {
		a.Scope = unix.RT_SCOPE_HOST
	}
	err := n.onLink(name, "add address "+ipnet.String()+" to", func(l netlink.Link) error { return n.nl.AddrAdd(l, a) })
	if err != nil || ipnet.IP.To4() != nil || flags&unix.IFA_F_NODAD != 0 {
		return err
	}
	if _, err := n.AwaitDAD(name, ipnet.IP); err != nil {
		// The step failed: leave nothing, as the caller forgets the address.
		return errors.Join(err, n.DelAddr(name, ipnet))
	}
	return nil
}

// DelAddr removes an address from the link.
func (n *NS) DelAddr(name string, ipnet *net.IPNet) error {
	a := &netlink.Addr{IPNet: ipnet}
	return n.onLink(name, "delete address "+ipnet.String()+" from", func(l netlink.Link) error { return n.nl.AddrDel(l, a) })
}

func scopeName(s int) string {
	switch s {
	case unix.RT_SCOPE_UNIVERSE:
		return "global"
	case unix.RT_SCOPE_SITE:
		return "site"
	case unix.RT_SCOPE_LINK:
		return "link"
	case unix.RT_SCOPE_HOST:
		return "host"
	case unix.RT_SCOPE_NOWHERE:
		return "nowhere"
	}
	return fmt.Sprint(s)
}
