package kernel

import (
	"fmt"
	"net"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// What the scale settings (model/scale.go) need of the kernel: a link's
// MAC set, and permanent neighbour entries made and listed.

// SetMAC sets the link's MAC address.
func (n *NS) SetMAC(name, mac string) error {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return fmt.Errorf("set the address of %s in %s: %w", name, n, err)
	}
	return n.setAttr(name, "set address "+mac+" on", unix.IFLA_ADDRESS, hw)
}

// SetNoLinkLocal keeps the kernel from giving the link an IPv6
// link-local address when it comes up (ip link set NAME addrgenmode none).
func (n *NS) SetNoLinkLocal(name string) error {
	return n.setLink(name, "set addrgenmode none on", func(_ *nl.IfInfomsg, req *nl.NetlinkRequest) {
		spec := nl.NewRtAttr(unix.IFLA_AF_SPEC, nil)
		spec.AddRtAttr(unix.AF_INET6, nil).AddRtAttr(unix.IFLA_INET6_ADDR_GEN_MODE, nl.Uint8Attr(nl.IN6_ADDR_GEN_MODE_NONE))
		req.AddData(spec)
	})
}

// SetNeigh makes or replaces a permanent neighbour entry on the link, as
// `ip neigh replace IP lladdr MAC dev NAME nud permanent` does.
func (n *NS) SetNeigh(name, ip, mac string) error {
	addr := net.ParseIP(ip)
	hw, err := net.ParseMAC(mac)
	if addr == nil || err != nil {
		return fmt.Errorf("neighbour entry %s at %s on %s in %s: want an IP address and a MAC address", ip, mac, name, n)
	}
	family := netlink.FAMILY_V6
	if addr.To4() != nil {
		family = netlink.FAMILY_V4
	}
	return n.onLink(name, "add neighbour "+ip+" to", func(l netlink.Link) error {
		return n.nl.NeighSet(&netlink.Neigh{LinkIndex: l.Attrs().Index, Family: family, State: netlink.NUD_PERMANENT, IP: addr, HardwareAddr: hw})
	})
}

// Neighbours lists the permanent neighbour entries of the namespace's
// links.
func (n *NS) Neighbours() ([]model.NeighInfo, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	var all []netlink.Neigh
	err := retryDump(func() (err error) { all, err = n.nl.NeighList(0, netlink.FAMILY_ALL); return err })
	if err != nil {
		return nil, fmt.Errorf("list neighbour entries in %s: %w", n, err)
	}
	links, err := n.Links()
	if err != nil {
		return nil, err
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Index] = l.Name
	}
	var out []model.NeighInfo
	for _, e := range all {
		if e.State&unix.NUD_PERMANENT != 0 && e.Flags&netlink.NTF_PROXY == 0 {
			out = append(out, model.NeighInfo{IP: e.IP.String(), MAC: e.HardwareAddr.String(), Dev: names[e.LinkIndex]})
		}
	}
	return out, nil
}

func (b *Backend) Neighbours(ref model.NSRef) ([]model.NeighInfo, error) {
	ns, err := b.NS(ref)
	if err != nil {
		return nil, err
	}
	return ns.Neighbours()
}
