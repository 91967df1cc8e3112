package kernel

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Requests the netlink package makes in two (a link looked up by name,
// then changed by index) or makes the kernel answer for every link (an
// address dump it filters itself) go here as one request each, on n's
// second route socket: one with strict checking on, so that the kernel
// filters dumps by link. In a namespace of a thousand links, a dump of all
// addresses per address read made a star's build grow with the square of
// its hosts.

// rawSocket makes the second route socket, from a thread inside n.
func rawSocket() (*nl.SocketHandle, error) {
	// Inside n already: with no namespace to go to, the netlink package
	// does not switch the thread.
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	if err := unix.SetsockoptInt(s.GetFd(), unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1); err != nil {
		s.Close()
		return nil, fmt.Errorf("turn on strict checking of netlink requests: %w", err)
	}
	return &nl.SocketHandle{Socket: s}, nil
}

// setLink changes the link called name in one RTM_SETLINK request, which
// names it: set fills in what changes. what says what it does, for errors.
func (n *NS) setLink(name, what string, set func(*nl.IfInfomsg, *nl.NetlinkRequest)) error {
	if err := n.Err(); err != nil {
		return err
	}
	req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	req.AddData(msg) // serialized when sent: set may still change it
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	set(msg, req)
	if _, err := n.execRaw(req); err != nil {
		if err = classify(err); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("link %s in %s: %w", name, n, err)
		}
		return fmt.Errorf("%s %s in %s: %w", what, name, n, err)
	}
	return nil
}

// setFlags sets the link's flags in mask to those of flags.
func (n *NS) setFlags(name, what string, flags, mask uint32) error {
	return n.setLink(name, what, func(msg *nl.IfInfomsg, _ *nl.NetlinkRequest) {
		msg.Flags, msg.Change = flags, mask
	})
}

// setAttr sets one attribute of the link.
func (n *NS) setAttr(name, what string, attr int, value []byte) error {
	return n.setLink(name, what, func(_ *nl.IfInfomsg, req *nl.NetlinkRequest) {
		req.AddData(nl.NewRtAttr(attr, value))
	})
}

// rawAddr is an address as an RTM_NEWADDR message tells it.
type rawAddr struct {
	LinkIndex int
	IPNet     *net.IPNet
	Broadcast net.IP
	Scope     int
	Flags     int // IFA_F_*
}

// addrList lists the addresses of the link with that index (0: of every
// link), of family (netlink.FAMILY_ALL for both), in one dump the kernel
// filters.
func (n *NS) addrList(index, family int) ([]rawAddr, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	var out []rawAddr
	err := retryDump(func() error {
		req := nl.NewNetlinkRequest(unix.RTM_GETADDR, unix.NLM_F_DUMP)
		msg := nl.NewIfAddrmsg(family)
		msg.Index = uint32(index)
		req.AddData(msg)
		msgs, err := n.execDump(req, unix.RTM_NEWADDR)
		if err != nil {
			return err
		}
		out = out[:0]
		for _, m := range msgs {
			a, ok, err := parseAddr(m)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, a)
			}
		}
		return nil
	})
	return out, err
}

// parseAddr reads one RTM_NEWADDR message; ok is false for one that holds
// no address.
func parseAddr(m []byte) (a rawAddr, ok bool, err error) {
	msg := nl.DeserializeIfAddrmsg(m)
	attrs, err := nl.ParseRouteAttr(m[msg.Len():])
	if err != nil {
		return a, false, fmt.Errorf("parse an address: %w", err)
	}
	bits := 128
	if msg.Family == unix.AF_INET {
		bits = 32
	}
	var local, address net.IP
	a.LinkIndex, a.Scope, a.Flags = int(msg.Index), int(msg.Scope), int(msg.Flags)
	for _, attr := range attrs {
		switch attr.Attr.Type {
		case unix.IFA_LOCAL:
			local = net.IP(attr.Value)
		case unix.IFA_ADDRESS:
			address = net.IP(attr.Value)
		case unix.IFA_BROADCAST:
			a.Broadcast = net.IP(attr.Value)
		case unix.IFA_FLAGS:
			a.Flags = int(native.Uint32(attr.Value[0:4]))
		}
	}
	ip := local // IPv4: the address; IFA_ADDRESS is a peer's, if any
	if ip == nil {
		ip = address
	}
	if ip == nil {
		return a, false, nil
	}
	a.IPNet = &net.IPNet{IP: ip, Mask: net.CIDRMask(int(msg.Prefixlen), bits)}
	return a, true, nil
}

// execDump runs a dump on the raw socket and returns the messages of type
// resType.
func (n *NS) execDump(req *nl.NetlinkRequest, resType uint16) ([][]byte, error) {
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: n.raw}
	return req.Execute(unix.NETLINK_ROUTE, resType)
}
