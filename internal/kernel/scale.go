package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// What the scale settings (model/scale.go) need of the kernel: a link's
// MAC set, permanent neighbour entries made and listed, and the lab's
// table of family bridge that drops its hosts' MLD reports.

// SetMAC sets the link's MAC address.
func (n *NS) SetMAC(name, mac string) error {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return fmt.Errorf("set the address of %s in %s: %w", name, n, err)
	}
	return n.setAttr(name, "set address "+mac+" on", unix.IFLA_ADDRESS, hw)
}

// addrGenModes are the ways of making an IPv6 link-local address that
// SetAddrGenMode sets, by the name ip gives them.
var addrGenModes = map[string]uint8{"none": nl.IN6_ADDR_GEN_MODE_NONE, "eui64": nl.IN6_ADDR_GEN_MODE_EUI64}

// SetAddrGenMode sets how the kernel makes the link's IPv6 link-local
// address when it comes up (ip link set NAME addrgenmode MODE, "none" or
// "eui64"); none makes none.
func (n *NS) SetAddrGenMode(name, mode string) error {
	m, ok := addrGenModes[mode]
	if !ok {
		return fmt.Errorf("set addrgenmode %s on %s in %s: want none or eui64: %w", mode, name, n, model.ErrUnsupported)
	}
	return n.setLink(name, "set addrgenmode "+mode+" on", func(_ *nl.IfInfomsg, req *nl.NetlinkRequest) {
		spec := nl.NewRtAttr(unix.IFLA_AF_SPEC, nil)
		spec.AddRtAttr(unix.AF_INET6, nil).AddRtAttr(unix.IFLA_INET6_ADDR_GEN_MODE, nl.Uint8Attr(m))
		req.AddData(spec)
	})
}

// SetNeigh makes or replaces a permanent neighbour entry on the link, as
// `ip neigh replace IP lladdr MAC dev NAME nud permanent` does.
func (n *NS) SetNeigh(name, ip, mac string) error {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return fmt.Errorf("neighbour entry %s at %s on %s in %s: want a MAC address", ip, mac, name, n)
	}
	return n.onNeigh(name, ip, "add neighbour "+ip+" to", func(e *netlink.Neigh) error {
		e.State, e.HardwareAddr = netlink.NUD_PERMANENT, hw
		return n.nl.NeighSet(e)
	})
}

// DelNeigh deletes the neighbour entry for ip on the link, as `ip neigh
// del IP dev NAME` does.
func (n *NS) DelNeigh(name, ip string) error {
	return n.onNeigh(name, ip, "delete neighbour "+ip+" from", n.nl.NeighDel)
}

// onNeigh runs fn on the neighbour entry for ip on the link, which it
// fills in with the link's index and the address's family.
func (n *NS) onNeigh(name, ip, what string, fn func(*netlink.Neigh) error) error {
	addr := net.ParseIP(ip)
	if addr == nil {
		return fmt.Errorf("neighbour entry %s on %s in %s: %q is not an IP address", ip, name, n, ip)
	}
	family := netlink.FAMILY_V6
	if addr.To4() != nil {
		family = netlink.FAMILY_V4
	}
	return n.onLink(name, what, func(l netlink.Link) error {
		return fn(&netlink.Neigh{LinkIndex: l.Attrs().Index, Family: family, IP: addr})
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

// QuietMLD makes the lab's table of family bridge (model.MLDQuiet): its
// chain prerouting, its set of ports and the rule, in one batch. A table
// of that name already there is ErrExists: the rule would be there twice.
func (n *NS) QuietMLD(table string) error {
	return n.nft(func(c *nftables.Conn) error {
		t := bridgeTable(table)
		if err := AddMLDQuiet(c, t); err != nil {
			return err
		}
		err := c.Flush()
		switch {
		case errors.Is(err, unix.EEXIST):
			return fmt.Errorf("table bridge %s is in %s already: %w", table, n, model.ErrExists)
		case errors.Is(err, unix.ENOENT):
			// Not the table, which the batch makes: the kernel has no
			// chain type filter for family bridge.
			err = unix.EOPNOTSUPP
		}
		return nftError(err, t, n)
	})
}

// AddMLDQuiet puts the making of table t into c's batch: t, which must
// not be there yet, its chain prerouting, its set model.MLDQuietSet and
// the rule model.MLDQuietRule. (bench/floor makes its table with it.)
func AddMLDQuiet(c *nftables.Conn, t *nftables.Table) error {
	c.CreateTable(t)
	ch := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityFilter})
	set := mldQuietSet(t)
	if err := c.AddSet(set, nil); err != nil {
		return err
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: mldQuietExprs(set)})
	return nil
}

// bridgeTable is the lab's table of family bridge.
func bridgeTable(name string) *nftables.Table {
	return &nftables.Table{Name: name, Family: nftables.TableFamilyBridge}
}

// mldQuietSet is the set of ports of table t. Its keys are in host byte
// order, as nft keeps interface names: else nft shows them reversed.
func mldQuietSet(t *nftables.Table) *nftables.Set {
	return &nftables.Set{Table: t, Name: model.MLDQuietSet, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
}

// mldQuietExprs is model.MLDQuietRule as nft makes it, in its order: the
// cheap tests first, since most frames a bridge sees are not IPv6 and most
// IPv6 ones are not to a solicited-node group.
func mldQuietExprs(ports *nftables.Set) []expr.Any {
	group := net.ParseIP("ff02::1:ff00:0")
	mask := net.CIDRMask(104, 128)
	return []expr.Any{
		// ether type ip6
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 12, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, unix.ETH_P_IPV6)},
		// ip6 daddr ff02::1:ff00:0/104
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 16},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 16, Mask: mask, Xor: make([]byte, 16)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: group.Mask(mask)},
		// icmpv6 type mld-listener-report, after any extension header
		// (an MLD report has its router alert in one)
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{mldListenerReport}},
		// iifname @quiet_mld: last, as nft lists it
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: ports.Name, SetID: ports.ID},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// mldListenerReport is the ICMPv6 type of an MLDv1 report (RFC 2710).
const mldListenerReport = 131

// QuietMLDPort adds a port to the set of the lab's table of family
// bridge; one that is in it already stays.
func (n *NS) QuietMLDPort(table, port string) error {
	return n.nft(func(c *nftables.Conn) error {
		t := bridgeTable(table)
		if err := AddMLDQuietPort(c, t, port); err != nil {
			return err
		}
		return nftError(c.Flush(), t, n)
	})
}

// AddMLDQuietPort puts the adding of port to the set of table t into c's
// batch. (bench/floor adds its ports with it.)
func AddMLDQuietPort(c *nftables.Conn, t *nftables.Table, port string) error {
	return c.SetAddElements(mldQuietSet(t), []nftables.SetElement{{Key: ifname(port)}})
}

// QuietMLDPortDel takes a port out of the set of the lab's table of
// family bridge.
func (n *NS) QuietMLDPortDel(table, port string) error {
	return n.nft(func(c *nftables.Conn) error {
		t := bridgeTable(table)
		if err := c.SetDeleteElements(mldQuietSet(t), []nftables.SetElement{{Key: ifname(port)}}); err != nil {
			return err
		}
		return nftError(c.Flush(), t, n)
	})
}

// QuietMLDPorts lists the ports in the set of the lab's table of family
// bridge, sorted; no such table is ErrNotFound.
func (n *NS) QuietMLDPorts(table string) ([]string, error) {
	var ports []string
	t := bridgeTable(table)
	err := n.nft(func(c *nftables.Conn) error {
		set, err := c.GetSetByName(t, model.MLDQuietSet)
		if err != nil {
			return nftError(err, t, n)
		}
		elems, err := c.GetSetElements(set)
		if err != nil {
			return nftError(err, t, n)
		}
		for _, e := range elems {
			ports = append(ports, string(bytes.TrimRight(e.Key, "\x00")))
		}
		return nil
	})
	slices.Sort(ports)
	return ports, err
}

// DeleteBridgeTable deletes the lab's table of family bridge and what is
// in it; one that is not there is ErrNotFound.
func (n *NS) DeleteBridgeTable(table string) error { return n.deleteTable(bridgeTable(table)) }

// ifname is an interface name as nftables keeps it: padded with NULs to
// IFNAMSIZ.
func ifname(name string) []byte {
	data := make([]byte, unix.IFNAMSIZ)
	copy(data, name)
	return data
}
