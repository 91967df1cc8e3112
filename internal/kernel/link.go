package kernel

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// LinkInfo is what the kernel reports of one link at the moment it was read.
type LinkInfo struct {
	Name        string
	Index       int
	Kind        string // "bridge", "veth", "loopback", ...
	Up          bool   // administratively up (IFF_UP)
	Oper        string // operational state: "up", "down", "lowerlayerdown", "unknown", ...
	Carrier     bool   // IFF_LOWER_UP
	MAC         string
	MTU         int
	MasterIndex int // 0 when the link has no master
	PeerIndex   int // veth: the peer's index, in the namespace PeerNetnsID names
	PeerNetnsID int // veth: -1 when the peer is in the same namespace
	// LowerIndex is the index of a macvlan's or vlan's parent or a
	// vxlan's dev (0: none), in the namespace LowerNetnsID names (-1: the
	// link's own).
	LowerIndex, LowerNetnsID int
	model.KindAttrs
}

func linkInfo(l netlink.Link) LinkInfo {
	a := l.Attrs()
	kind := l.Type()
	if a.EncapType == "loopback" {
		kind = "loopback"
	}
	info := LinkInfo{
		Name:         a.Name,
		Index:        a.Index,
		Kind:         kind,
		Up:           a.RawFlags&unix.IFF_UP != 0,
		Oper:         strings.ReplaceAll(a.OperState.String(), "-", ""), // as ip prints it: LOWERLAYERDOWN
		Carrier:      a.RawFlags&unix.IFF_LOWER_UP != 0,
		MAC:          a.HardwareAddr.String(),
		MTU:          a.MTU,
		MasterIndex:  a.MasterIndex,
		PeerNetnsID:  -1,
		LowerNetnsID: -1,
	}
	if kind == "loopback" && info.MAC == "" {
		// The netlink package drops an all-zero address; ip shows lo's.
		info.MAC = "00:00:00:00:00:00"
	}
	if kind == "veth" {
		info.PeerIndex = a.ParentIndex
		info.PeerNetnsID = a.NetNsID
	}
	kindInfo(l, &info)
	return info
}

// Link reads the link called name.
func (n *NS) Link(name string) (LinkInfo, error) {
	l, err := n.link(name)
	if err != nil {
		return LinkInfo{}, err
	}
	return linkInfo(l), nil
}

// LinkByIndex reads the link with that index.
func (n *NS) LinkByIndex(index int) (LinkInfo, error) {
	if err := n.Err(); err != nil {
		return LinkInfo{}, err
	}
	l, err := n.nl.LinkByIndex(index)
	if err != nil {
		return LinkInfo{}, fmt.Errorf("link #%d in %s: %w", index, n, classify(err))
	}
	n.noteLink(l.Attrs().Name, l.Attrs().Index)
	return linkInfo(l), nil
}

// Links lists the links in the namespace, in index order.
func (n *NS) Links() ([]LinkInfo, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	var ls []netlink.Link
	err := retryDump(func() (err error) { ls, err = n.nl.LinkList(); return err })
	if err != nil {
		return nil, fmt.Errorf("list links in %s: %w", n, err)
	}
	infos := make([]LinkInfo, len(ls))
	for i, l := range ls {
		infos[i] = linkInfo(l)
		n.noteLink(l.Attrs().Name, l.Attrs().Index)
	}
	return infos, nil
}

// link looks the link up; every method that acts on a link by name starts
// here, so this is where they refuse a namespace that is gone.
func (n *NS) link(name string) (netlink.Link, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	l, err := n.nl.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("link %s in %s: %w", name, n, classify(err))
	}
	n.noteLink(l.Attrs().Name, l.Attrs().Index)
	return l, nil
}

// createAttrs are the attributes of a link to create: the name, and the
// kernel's defaults for the rest. Bare LinkAttrs would ask for a transmit
// queue length of 0 where `ip link add` leaves the kernel's 1000, and a
// qdisc that sizes its queue by it (pfifo, the default leaf of htb) would
// then hold a single packet.
func createAttrs(name string) netlink.LinkAttrs {
	a := netlink.NewLinkAttrs()
	a.Name = name
	return a
}

// AddBridge creates a bridge; mtu 0 leaves the kernel's default.
func (n *NS) AddBridge(name string, mtu int) error {
	if err := ValidLinkName(name); err != nil {
		return err
	}
	if err := n.Err(); err != nil {
		return err
	}
	br := &netlink.Bridge{LinkAttrs: createAttrs(name)}
	br.MTU = mtu
	if err := n.nl.LinkAdd(br); err != nil {
		return fmt.Errorf("create bridge %s in %s: %w", name, n, classify(err))
	}
	return nil
}

// AddVeth creates a veth pair with name in n and peer in peerNS, in one
// request, so neither end has to be moved afterwards.
func (n *NS) AddVeth(name, peer string, peerNS *NS) error {
	if err := ValidLinkName(name); err != nil {
		return err
	}
	if err := ValidLinkName(peer); err != nil {
		return err
	}
	if err := n.Err(); err != nil {
		return err
	}
	v := netlink.NewVeth(createAttrs(name))
	v.PeerName = peer
	if peerNS != nil && !peerNS.Same(n) {
		if err := peerNS.Err(); err != nil {
			return err
		}
		v.PeerNamespace = netlink.NsFd(peerNS.Fd())
	}
	if err := n.nl.LinkAdd(v); err != nil {
		return fmt.Errorf("create veth %s (peer %s) in %s: %w", name, peer, n, classify(err))
	}
	return nil
}

// SetUp sets the link administratively up.
func (n *NS) SetUp(name string) error {
	return n.setFlags(name, "set up", unix.IFF_UP, unix.IFF_UP)
}

// SetDown sets the link administratively down.
func (n *NS) SetDown(name string) error {
	return n.setFlags(name, "set down", 0, unix.IFF_UP)
}

// SetMTU changes the link's MTU.
func (n *NS) SetMTU(name string, mtu int) error {
	return n.setAttr(name, fmt.Sprintf("set mtu %d on", mtu), unix.IFLA_MTU, nl.Uint32Attr(uint32(mtu)))
}

// Rename renames a link; kernels before 6.x refuse while it is up.
func (n *NS) Rename(name, newName string) error {
	if err := ValidLinkName(newName); err != nil {
		return err
	}
	return n.onLink(name, "rename to "+newName+":", func(l netlink.Link) error { return n.nl.LinkSetName(l, newName) })
}

// SetMaster enslaves the link to master (a bridge) in the same namespace.
func (n *NS) SetMaster(name, master string) error {
	m, err := n.indexed(master)
	if err != nil {
		return err
	}
	return n.setAttr(name, "set master "+master+" on", unix.IFLA_MASTER, nl.Uint32Attr(uint32(m.Attrs().Index)))
}

// SetNoMaster releases the link from its master.
func (n *NS) SetNoMaster(name string) error {
	return n.setAttr(name, "set nomaster on", unix.IFLA_MASTER, nl.Uint32Attr(0))
}

// MoveTo moves the link into namespace to; it keeps its name there.
func (n *NS) MoveTo(name string, to *NS) error {
	if err := to.Err(); err != nil {
		return err
	}
	return n.onLink(name, "move to "+to.String()+":", func(l netlink.Link) error { return n.nl.LinkSetNsFd(l, to.Fd()) })
}

// DeleteLink deletes the link (for a veth, both ends).
func (n *NS) DeleteLink(name string) error {
	return n.onLink(name, "delete", n.nl.LinkDel)
}

func (n *NS) onLink(name, what string, op func(netlink.Link) error) error {
	l, err := n.indexed(name)
	if err != nil {
		return err
	}
	if err := op(l); err != nil {
		return fmt.Errorf("%s %s in %s: %w", what, name, n, classify(err))
	}
	return nil
}

// NetnsIDOf returns the id under which n knows namespace o (as in
// `ip netns list-id`), or -1 when n has assigned it none.
func (n *NS) NetnsIDOf(o *NS) (int, error) {
	if err := usable(n, o); err != nil {
		return -1, err
	}
	id, err := n.nl.GetNetNsIdByFd(o.Fd())
	if err != nil {
		return -1, fmt.Errorf("netns id of %s in %s: %w", o, n, err)
	}
	return id, nil
}

// String names the namespace as a user would: its name, or its path.
func (n *NS) String() string {
	switch {
	case n.Name != "":
		return n.Name
	case n.Label != "":
		return n.Label
	}
	return n.Path
}

// retryDump repeats a netlink dump the kernel interrupted because the table
// changed under it, so callers never see a partial list.
func retryDump(dump func() error) error {
	var err error
	for range 10 {
		if err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}

// Peer finds the other end of a veth. It looks in n and in the namespaces
// the caller knows of, matching the peer's netns id as n sees it.
func (n *NS) Peer(l LinkInfo, known []*NS) (*NS, LinkInfo, error) {
	if l.Kind != "veth" || l.PeerIndex == 0 {
		return nil, LinkInfo{}, fmt.Errorf("%s in %s is not a veth: %w", l.Name, n, ErrNotFound)
	}
	if l.PeerNetnsID < 0 {
		p, err := n.LinkByIndex(l.PeerIndex)
		return n, p, err
	}
	if k, ok := n.withID(l.PeerNetnsID, nil, func() []*NS { return known }); ok && slices.Contains(known, k) {
		p, err := k.LinkByIndex(l.PeerIndex)
		return k, p, err
	}
	return nil, LinkInfo{}, fmt.Errorf("the peer of %s in %s is in a namespace nsplay has not opened: %w", l.Name, n, ErrNotFound)
}

// Settle waits (up to limit) until the operational state of every link
// agrees with its carrier. The kernel updates operational states in the
// background, and for a bridge up to a second late, so a snapshot taken
// right after a change could otherwise differ from run to run.
func (n *NS) Settle(limit time.Duration) error {
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		links, err := n.Links()
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(links, inTransition) || time.Since(start) > limit {
			return nil
		}
	}
}

// inTransition tells whether the kernel has yet to update a link's
// operational state after its carrier changed. (A vxlan's or dummy's is
// "unknown" with carrier, a tun/tap's "down" without: never late.)
func inTransition(l LinkInfo) bool {
	if !l.Up || !slices.Contains([]string{"bridge", "veth", "macvlan", "vlan"}, l.Kind) {
		return false
	}
	return l.Carrier != (l.Oper == "up")
}
