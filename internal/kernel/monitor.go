package kernel

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Change is one change the kernel reported in a namespace.
type Change struct {
	Kind   string // "link", "addr", "route"; "changes" when some were lost
	Action string // "add", "change", "del"; "lost"
	Text   string // what it is: "eth0 (veth) up, carrier, mtu 1500", "10.0.0.1/24 dev eth0"
}

// Monitor reports the link, address and route changes of one namespace.
// One netlink socket subscribed to all three carries them, so they come in
// the order the kernel made them. IPv6 link-local addresses and routes, and
// the local routing table, which the kernel fills on its own, are left out.
type Monitor struct {
	sock  *nl.NetlinkSocket
	links map[int32]string // last reported state of each link, by index
	names map[int32]string // link names, by index
}

// Monitor starts reporting n's changes to report, from a goroutine of its
// own, until Close. report must be safe to call from that goroutine. With
// existing, what the namespace already has is reported first, as added:
// for a namespace that was just made, that is what happened in it before
// the monitor could subscribe.
func (n *NS) Monitor(report func(Change), existing bool) (*Monitor, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	var sock *nl.NetlinkSocket
	err := n.In(func() (err error) {
		sock, err = nl.Subscribe(unix.NETLINK_ROUTE,
			unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR, unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE)
		return err
	})
	if err != nil {
		if sock != nil {
			sock.Close()
		}
		return nil, fmt.Errorf("subscribe to changes in %s: %w", n, err)
	}
	m := &Monitor{sock: sock, links: map[int32]string{}, names: map[int32]string{}}
	links, err := n.Links()
	if err != nil {
		sock.Close()
		return nil, err
	}
	var first []Change // what the namespace has, when existing
	for _, l := range links {
		m.names[int32(l.Index)] = l.Name
		m.links[int32(l.Index)] = linkText(l)
		if existing {
			first = append(first, Change{"link", "add", linkText(l)})
		}
	}
	if existing {
		for _, l := range links {
			addrs, _ := n.Addrs(l.Name, false)
			for _, a := range addrs {
				first = append(first, Change{"addr", "add", a.CIDR + " dev " + l.Name})
			}
		}
		routes, _ := n.Routes(true)
		for _, r := range routes {
			if r.Table != "local" {
				first = append(first, Change{"route", "add", r.Text()})
			}
		}
	}
	go func() {
		for _, c := range first {
			report(c)
		}
		m.read(report)
	}()
	return m, nil
}

// Close stops the monitor.
func (m *Monitor) Close() { m.sock.Close() }

func (m *Monitor) read(report func(Change)) {
	for {
		msgs, _, err := m.sock.Receive()
		if errors.Is(err, unix.ENOBUFS) {
			// More changes came at once than the socket holds: say so,
			// and go on with what comes next.
			report(Change{"changes", "lost", "the kernel dropped changes that came too fast"})
			continue
		}
		if err != nil {
			return // closed
		}
		for _, msg := range msgs {
			if c, ok := m.change(msg.Header.Type, msg.Data); ok {
				report(c)
			}
		}
	}
}

// change turns one netlink message into a change, if it is one to report.
func (m *Monitor) change(typ uint16, data []byte) (Change, bool) {
	switch typ {
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		if len(data) > 0 && data[0] == unix.AF_BRIDGE {
			return Change{}, false // a bridge's view of its port, not the link itself
		}
		l, err := netlink.LinkDeserialize(nil, data)
		if err != nil {
			return Change{}, false
		}
		info := linkInfo(l)
		idx := int32(info.Index)
		text := linkText(info)
		if typ == unix.RTM_DELLINK {
			delete(m.links, idx)
			delete(m.names, idx)
			return Change{"link", "del", info.Name}, true
		}
		old, known := m.links[idx]
		m.links[idx], m.names[idx] = text, info.Name
		switch {
		case !known:
			return Change{"link", "add", text}, true
		case old != text:
			return Change{"link", "change", text}, true
		}
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		return m.addrChange(typ, data)
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		return m.routeChange(typ, data)
	}
	return Change{}, false
}

func linkText(l LinkInfo) string {
	state := "down"
	if l.Up {
		state = "up"
	}
	carrier := "no carrier"
	if l.Carrier {
		carrier = "carrier"
	}
	return fmt.Sprintf("%s (%s) %s, %s, mtu %d", l.Name, l.Kind, state, carrier, l.MTU)
}

func action(typ uint16, add uint16) string {
	if typ == add {
		return "add"
	}
	return "del"
}

func (m *Monitor) addrChange(typ uint16, data []byte) (Change, bool) {
	msg := nl.DeserializeIfAddrmsg(data)
	attrs, err := nl.ParseRouteAttr(data[unix.SizeofIfAddrmsg:])
	if err != nil {
		return Change{}, false
	}
	var ip net.IP
	for _, a := range attrs {
		if a.Attr.Type == unix.IFA_LOCAL || (a.Attr.Type == unix.IFA_ADDRESS && ip == nil) {
			ip = net.IP(a.Value)
		}
	}
	if ip == nil || (ip.To4() == nil && ip.IsLinkLocalUnicast()) {
		return Change{}, false
	}
	text := fmt.Sprintf("%s/%d dev %s", ip, msg.Prefixlen, m.name(int32(msg.Index)))
	return Change{"addr", action(typ, unix.RTM_NEWADDR), text}, true
}

func (m *Monitor) routeChange(typ uint16, data []byte) (Change, bool) {
	msg := nl.DeserializeRtMsg(data)
	attrs, err := nl.ParseRouteAttr(data[unix.SizeofRtMsg:])
	if err != nil {
		return Change{}, false
	}
	table := int(msg.Table)
	dst, via, dev, metric := "default", "", "", 0
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.RTA_DST:
			dst = fmt.Sprintf("%s/%d", net.IP(a.Value), msg.Dst_len)
		case unix.RTA_GATEWAY:
			via = net.IP(a.Value).String()
		case unix.RTA_OIF:
			dev = m.name(int32(native.Uint32(a.Value)))
		case unix.RTA_PRIORITY:
			metric = int(native.Uint32(a.Value))
		case unix.RTA_TABLE:
			table = int(native.Uint32(a.Value))
		}
	}
	if table == unix.RT_TABLE_LOCAL || (msg.Family == unix.AF_INET6 && msg.Protocol == unix.RTPROT_KERNEL &&
		(strings.HasPrefix(dst, "fe80:") || strings.HasPrefix(dst, "ff00:"))) {
		return Change{}, false
	}
	text := RouteInfo{Dst: dst, Via: via, Dev: dev, Metric: metric, Table: model.TableName(table)}.Text()
	return Change{"route", action(typ, unix.RTM_NEWROUTE), text}, true
}

// name is a link's name, or "if<index>" for one that is gone.
func (m *Monitor) name(index int32) string {
	if name, ok := m.names[index]; ok {
		return name
	}
	return fmt.Sprintf("if%d", index)
}
