package kernel

import (
	"fmt"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The netlink package does not model a bridge's STP state, so these two
// calls speak RTM_NEWLINK / RTM_GETLINK with IFLA_BR_STP_STATE themselves,
// on the namespace's second route socket (rtnl.go).

// SetSTP turns the bridge's spanning tree protocol on or off.
func (n *NS) SetSTP(bridge string, on bool) error {
	l, err := n.link(bridge)
	if err != nil {
		return err
	}
	state := uint32(0)
	if on {
		state = 1
	}
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(l.Attrs().Index)
	req.AddData(msg)
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("bridge"))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	data.AddRtAttr(nl.IFLA_BR_STP_STATE, nl.Uint32Attr(state))
	req.AddData(info)
	if _, err := n.execRaw(req); err != nil {
		return fmt.Errorf("set stp on bridge %s in %s: %w", bridge, n, classify(err))
	}
	return nil
}

// STP reports whether the bridge runs the spanning tree protocol.
func (n *NS) STP(bridge string) (bool, error) {
	l, err := n.link(bridge)
	if err != nil {
		return false, err
	}
	req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(l.Attrs().Index)
	req.AddData(msg)
	msgs, err := n.execRaw(req)
	if err != nil || len(msgs) == 0 {
		return false, fmt.Errorf("read bridge %s in %s: %w", bridge, n, classify(err))
	}
	attrs, err := nl.ParseRouteAttr(msgs[0][unix.SizeofIfInfomsg:])
	if err != nil {
		return false, fmt.Errorf("parse bridge %s: %w", bridge, err)
	}
	for _, a := range attrs {
		if a.Attr.Type != unix.IFLA_LINKINFO {
			continue
		}
		infos, err := nl.ParseRouteAttr(a.Value)
		if err != nil {
			return false, fmt.Errorf("parse bridge %s: %w", bridge, err)
		}
		for _, i := range infos {
			if i.Attr.Type != nl.IFLA_INFO_DATA {
				continue
			}
			data, err := nl.ParseRouteAttr(i.Value)
			if err != nil {
				return false, fmt.Errorf("parse bridge %s: %w", bridge, err)
			}
			for _, d := range data {
				if d.Attr.Type == nl.IFLA_BR_STP_STATE {
					return native.Uint32(d.Value) != 0, nil
				}
			}
		}
	}
	return false, fmt.Errorf("%s in %s reports no STP state: is it a bridge?", bridge, n)
}

var native = nl.NativeEndian()

func (n *NS) execRaw(req *nl.NetlinkRequest) ([][]byte, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: n.raw}
	return req.Execute(unix.NETLINK_ROUTE, 0)
}
