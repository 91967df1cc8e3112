package kernel

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The link kinds made on other links or over an underlay (macvlan, vlan,
// vxlan) and the stand-alone ones (tun/tap, dummy): each made in one
// request, where it belongs.

// AddMacvlan creates a macvlan on parent, a link of n. When into is
// another namespace the request places it there at once (IFLA_NET_NS_FD),
// so it is never seen in n.
func (n *NS) AddMacvlan(name, parent, mode string, into *NS) error {
	mv := &netlink.Macvlan{Mode: macvlanModes[mode]}
	return n.addOnParent(mv, name, parent, into, "macvlan "+name+" (mode "+mode+") on "+parent)
}

// AddVlan creates an 802.1Q vlan with id on parent, a link of n, placed
// in into as AddMacvlan places a macvlan.
func (n *NS) AddVlan(name, parent string, id int, into *NS) error {
	return n.addOnParent(&netlink.Vlan{VlanId: id}, name, parent, into, fmt.Sprintf("vlan %s (id %d) on %s", name, id, parent))
}

func (n *NS) addOnParent(l netlink.Link, name, parent string, into *NS, what string) error {
	if err := ValidLinkName(name); err != nil {
		return err
	}
	p, err := n.link(parent)
	if err != nil {
		return err
	}
	a := l.Attrs()
	*a = createAttrs(name)
	a.ParentIndex = p.Attrs().Index
	where := n.String()
	if into != nil && !into.Same(n) {
		if err := into.Err(); err != nil {
			return err
		}
		a.Namespace = netlink.NsFd(into.Fd())
		where += " into " + into.String()
	}
	if err := n.nl.LinkAdd(l); err != nil {
		return fmt.Errorf("create %s in %s: %w", what, where, classify(err))
	}
	return nil
}

// AddVxlan creates a vxlan in n: its dev, if any, is a link of n, and n
// is the namespace its UDP packets leave from.
func (n *NS) AddVxlan(name string, v model.Vxlan) error {
	if err := ValidLinkName(name); err != nil {
		return err
	}
	if err := n.Err(); err != nil {
		return err
	}
	// Learning as `ip link add type vxlan` has it by default.
	vx := &netlink.Vxlan{LinkAttrs: createAttrs(name), VxlanId: v.VNI, Port: v.Port, Learning: true,
		SrcAddr: net.ParseIP(v.Local)}
	// The kernel keeps the remote, or the group, in one attribute.
	if far := cmp.Or(v.Remote, v.Group); far != "" {
		vx.Group = net.ParseIP(far)
	}
	if v.Dev != "" {
		dev, err := n.link(v.Dev)
		if err != nil {
			return fmt.Errorf("dev of vxlan %s: %w", name, err)
		}
		vx.VtepDevIndex = dev.Attrs().Index
	}
	if err := n.nl.LinkAdd(vx); err != nil {
		return fmt.Errorf("create vxlan %s (vni %d) in %s: %w", name, v.VNI, n, classify(err))
	}
	return nil
}

// AddTuntap creates a persistent tun or tap in n, as `ip tuntap add`
// does: it opens /dev/net/tun on a thread inside n (the device is made in
// the namespace of whoever opens it), names it (TUNSETIFF, refusing a name
// in use), makes it persistent (TUNSETPERSIST) and closes it. Without a
// program that opens it, it has no carrier.
func (n *NS) AddTuntap(name, mode string) error {
	if err := ValidLinkName(name); err != nil {
		return err
	}
	flags := uint16(unix.IFF_NO_PI | unix.IFF_TUN_EXCL | unix.IFF_TAP)
	if mode == "tun" {
		flags = unix.IFF_NO_PI | unix.IFF_TUN_EXCL | unix.IFF_TUN
	}
	err := n.In(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
			return driverMissing("tuntap", fmt.Errorf("open /dev/net/tun: %w", err))
		}
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		defer unix.Close(fd)
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		ifr.SetUint16(flags)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			if errors.Is(err, unix.EBUSY) {
				err = fmt.Errorf("%w: %w", err, ErrExists)
			}
			return err
		}
		return unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1)
	})
	if err != nil {
		return fmt.Errorf("create %s %s in %s: %w", mode, name, n, err)
	}
	return nil
}

// AddDummy creates a dummy link in n.
func (n *NS) AddDummy(name string) error {
	if err := ValidLinkName(name); err != nil {
		return err
	}
	if err := n.Err(); err != nil {
		return err
	}
	d := &netlink.Dummy{LinkAttrs: createAttrs(name)}
	if err := n.nl.LinkAdd(d); err != nil {
		return fmt.Errorf("create dummy %s in %s: %w", name, n, classify(err))
	}
	return nil
}

var macvlanModes = map[string]netlink.MacvlanMode{
	"private": netlink.MACVLAN_MODE_PRIVATE, "vepa": netlink.MACVLAN_MODE_VEPA,
	"bridge": netlink.MACVLAN_MODE_BRIDGE, "passthru": netlink.MACVLAN_MODE_PASSTHRU,
	"source": netlink.MACVLAN_MODE_SOURCE,
}

// kindInfo reads what identifies a link of these kinds, and the index of
// the link it was made on (a macvlan's or vlan's parent, a vxlan's dev).
func kindInfo(l netlink.Link, info *LinkInfo) {
	switch l := l.(type) {
	case *netlink.Macvlan:
		for name, mode := range macvlanModes {
			if mode == l.Mode {
				info.Mode = name
			}
		}
	case *netlink.Vlan:
		info.VLANID = l.VlanId
	case *netlink.Vxlan:
		// The kernel reports a vxlan's dev as IFLA_VXLAN_LINK, not IFLA_LINK.
		info.VNI, info.Port, info.LowerIndex = l.VxlanId, l.Port, l.VtepDevIndex
		if l.SrcAddr != nil {
			info.Local = l.SrcAddr.String()
		}
		switch {
		case l.Group == nil:
		case l.Group.IsMulticast():
			info.Group = l.Group.String()
		default:
			info.Remote = l.Group.String()
		}
	case *netlink.Tuntap:
		info.Mode = l.Mode.String()
	default:
		return
	}
	info.LowerIndex, info.LowerNetnsID = cmp.Or(info.LowerIndex, l.Attrs().ParentIndex), l.Attrs().NetNsID
}

// The drivers of the link kinds, for the error a kernel without one gives.
var drivers = map[string]struct{ module, config string }{
	"bridge": {"bridge", "CONFIG_BRIDGE"}, "veth": {"veth", "CONFIG_VETH"},
	"macvlan": {"macvlan", "CONFIG_MACVLAN"}, "vlan": {"8021q", "CONFIG_VLAN_8021Q"},
	"vxlan": {"vxlan", "CONFIG_VXLAN"}, "tuntap": {"tun", "CONFIG_TUN"}, "dummy": {"dummy", "CONFIG_DUMMY"},
}

// lacksDriver tells whether a link creation failed because the kernel has
// no driver for the kind: it answers EOPNOTSUPP, "Unknown device type",
// when it has none built in and cannot load one. (EOPNOTSUPP with another
// message is the driver refusing, like a vlan on lo.)
func lacksDriver(err error) bool {
	if !errors.Is(err, unix.EOPNOTSUPP) {
		return false
	}
	_, msg, extack := strings.Cut(err.Error(), unix.EOPNOTSUPP.Error()+": ")
	return !extack || strings.Contains(msg, "Unknown device type")
}

// driverMissing says what a kernel without the kind's driver lacks; it
// matches err and model.ErrUnsupported.
func driverMissing(kind string, err error) error { return missingDriverError{kind, err} }

type missingDriverError struct {
	kind string
	err  error
}

func (e missingDriverError) Error() string {
	d, ok := drivers[e.kind]
	if !ok {
		return fmt.Sprintf("%v: this kernel has no %s driver", e.err, e.kind)
	}
	return fmt.Sprintf("%v: this kernel has no %s driver: load module %s (modprobe %s), or use a kernel built with %s",
		e.err, e.kind, d.module, d.module, d.config)
}

func (e missingDriverError) Unwrap() []error { return []error{e.err, model.ErrUnsupported} }
