package kernel

import (
	"errors"
	"fmt"
	"net"

	"github.com/nsplay/nsplay/internal/model"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteSpec is a route as a user writes it; RouteInfo one as the kernel
// reports it.
type (
	RouteSpec = model.Route
	RouteInfo = model.RouteInfo
)

// route translates a spec into the netlink route the kernel would get from
// `ip route add`: proto boot, scope link for routes without a gateway.
func (n *NS) route(s RouteSpec) (*netlink.Route, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	table, err := model.ParseTable(s.Table)
	if err != nil {
		return nil, err
	}
	r := &netlink.Route{Table: table, Priority: s.Metric, Protocol: unix.RTPROT_BOOT, Family: netlink.FAMILY_V4}
	if s.Via != "" {
		gw := net.ParseIP(s.Via)
		if gw == nil {
			return nil, fmt.Errorf("gateway %q is not an IP address", s.Via)
		}
		r.Gw = gw
		if gw.To4() == nil {
			r.Family = netlink.FAMILY_V6
		}
	} else {
		r.Scope = netlink.SCOPE_LINK
	}
	dst, err := model.ParseDst(s.Dst)
	if err != nil {
		return nil, err
	}
	if dst != nil {
		r.Dst = dst
		if dst.IP.To4() == nil {
			r.Family = netlink.FAMILY_V6
		}
	}
	if r.Gw != nil && r.Dst != nil && (r.Gw.To4() == nil) != (r.Dst.IP.To4() == nil) {
		return nil, fmt.Errorf("gateway %s and destination %s are of different IP versions", s.Via, s.Dst)
	}
	if s.Dev != "" {
		l, err := n.indexed(s.Dev)
		if err != nil {
			return nil, err
		}
		r.LinkIndex = l.Attrs().Index
	}
	if s.Dev == "" && s.Via == "" {
		return nil, errors.New("a route needs via= (a gateway), dev= (an output link) or both")
	}
	return r, nil
}

// AddRoute adds the route; an identical one is ErrExists.
func (n *NS) AddRoute(s RouteSpec) error {
	r, err := n.route(s)
	if err == nil {
		err = classify(n.nl.RouteAdd(r))
	}
	if err != nil {
		return fmt.Errorf("add route %s in %s: %w", s.Dst, n, err)
	}
	return nil
}

// DelRoute deletes the route, whoever added it; one that is not there is
// ErrNotFound.
func (n *NS) DelRoute(s RouteSpec) error {
	r, err := n.route(s)
	if err == nil {
		r.Protocol = 0 // any: the kernel's own routes are proto kernel
		err = classify(n.nl.RouteDel(r))
	}
	if err != nil {
		return fmt.Errorf("delete route %s in %s: %w", s.Dst, n, err)
	}
	return nil
}

// Routes lists the IPv4 and IPv6 routes of the main table, or of every
// table when all is set. The IPv6 link-local and multicast routes the kernel
// adds to every link are left out.
func (n *NS) Routes(all bool) ([]RouteInfo, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	filter := &netlink.Route{Table: unix.RT_TABLE_MAIN}
	mask := netlink.RT_FILTER_TABLE
	if all {
		filter, mask = &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE
	}
	var rs []netlink.Route
	err := retryDump(func() (err error) {
		rs, err = n.nl.RouteListFiltered(netlink.FAMILY_ALL, filter, mask)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list routes in %s: %w", n, err)
	}
	names := map[int]string{}
	var infos []RouteInfo
	for _, r := range rs {
		if r.Dst != nil && r.Dst.IP.To4() == nil && (r.Dst.IP.IsLinkLocalUnicast() || r.Dst.IP.IsMulticast()) && r.Protocol == unix.RTPROT_KERNEL {
			continue
		}
		info := RouteInfo{Dst: "default", Metric: r.Priority, Table: model.TableName(r.Table), Proto: r.Protocol.String(), Scope: scopeName(int(r.Scope))}
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones > 0 || !r.Dst.IP.IsUnspecified() {
				info.Dst = r.Dst.String()
			}
		}
		if r.Gw != nil {
			info.Via = r.Gw.String()
		}
		if r.LinkIndex > 0 {
			if _, ok := names[r.LinkIndex]; !ok {
				if l, err := n.nl.LinkByIndex(r.LinkIndex); err == nil {
					names[r.LinkIndex] = l.Attrs().Name
				}
			}
			info.Dev = names[r.LinkIndex]
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// RouteTo tells which link and gateway the namespace would use to reach dst.
func (n *NS) RouteTo(dst net.IP) (dev string, via net.IP, err error) {
	if err := n.Err(); err != nil {
		return "", nil, err
	}
	rs, err := n.nl.RouteGet(dst)
	if err != nil {
		return "", nil, fmt.Errorf("no route to %s in %s: %w", dst, n, classify(err))
	}
	if len(rs) == 0 || rs[0].LinkIndex == 0 {
		return "", nil, fmt.Errorf("no route to %s in %s", dst, n)
	}
	l, err := n.LinkByIndex(rs[0].LinkIndex)
	if err != nil {
		return "", nil, err
	}
	return l.Name, rs[0].Gw, nil
}
