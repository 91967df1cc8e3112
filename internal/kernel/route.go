package kernel

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteSpec describes a route as a user writes it.
type RouteSpec struct {
	Dst    string // "default" or a prefix like "10.0.0.0/8"
	Via    string // gateway address, or ""
	Dev    string // output link, or ""
	Metric int
	Table  string // "main", "local", "default" or a number; "" is "main"
}

// RouteInfo is one route as the kernel reports it.
type RouteInfo struct {
	Dst    string // "default" or a prefix
	Via    string
	Dev    string
	Metric int
	Table  string
	Proto  string // "boot" (added by a user), "kernel", "static", ...
	Scope  string
}

var tableNames = map[string]int{"main": unix.RT_TABLE_MAIN, "local": unix.RT_TABLE_LOCAL, "default": unix.RT_TABLE_DEFAULT}

// ParseTable turns a table name or number into the kernel's table id.
func ParseTable(name string) (int, error) {
	if name == "" {
		return unix.RT_TABLE_MAIN, nil
	}
	if id, ok := tableNames[name]; ok {
		return id, nil
	}
	id, err := strconv.Atoi(name)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("route table %q is neither main, local, default nor a positive number", name)
	}
	return id, nil
}

// IPv6DefaultMetric is the metric the kernel gives an IPv6 route added
// with none (IP6_RT_PRIO_USER).
const IPv6DefaultMetric = 1024

// IPv6 tells whether the route is an IPv6 one, by its destination or
// gateway.
func (s RouteSpec) IPv6() bool {
	if ip := net.ParseIP(s.Via); ip != nil {
		return ip.To4() == nil
	}
	dst, err := parseDst(s.Dst)
	return err == nil && dst != nil && dst.IP.To4() == nil
}

// CanonicalTable writes a table the way the kernel's routes report it:
// "254" becomes "main".
func CanonicalTable(name string) (string, error) {
	id, err := ParseTable(name)
	return tableName(id), err
}

func tableName(id int) string {
	for name, t := range tableNames {
		if t == id {
			return name
		}
	}
	return strconv.Itoa(id)
}

// route translates a spec into the netlink route the kernel would get from
// `ip route add`: proto boot, scope link for routes without a gateway.
func (n *NS) route(s RouteSpec) (*netlink.Route, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	table, err := ParseTable(s.Table)
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
	dst, err := parseDst(s.Dst)
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
		l, err := n.link(s.Dev)
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

// parseDst parses a route destination: nil for "default", a prefix, or a
// bare address as a host route.
func parseDst(s string) (*net.IPNet, error) {
	if s == "default" {
		return nil, nil
	}
	_, dst, err := net.ParseCIDR(s)
	if err == nil {
		return dst, nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("route destination %q is neither \"default\" nor a prefix like 10.0.0.0/8", s)
	}
	if ip4 := ip.To4(); ip4 != nil {
		return &net.IPNet{IP: ip4, Mask: net.CIDRMask(32, 32)}, nil
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(128, 128)}, nil
}

// CanonicalDst writes a destination the way the kernel reports it:
// "10.1.2.3/8" becomes "10.0.0.0/8", "10.0.0.1" becomes "10.0.0.1/32".
func CanonicalDst(s string) (string, error) {
	dst, err := parseDst(s)
	if err != nil || dst == nil {
		return s, err
	}
	return dst.String(), nil
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
		info := RouteInfo{Dst: "default", Metric: r.Priority, Table: tableName(r.Table), Proto: r.Protocol.String(), Scope: scopeName(int(r.Scope))}
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
