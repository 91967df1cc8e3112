package model

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Route is a route as a user writes it.
type Route struct {
	Dst    string `json:"dst"`           // "default" or a prefix like "10.0.0.0/8"
	Via    string `json:"via,omitempty"` // gateway address, or ""
	Dev    string `json:"dev,omitempty"` // output link, or ""
	Metric int    `json:"metric"`
	Table  string `json:"table"` // "main", "local", "default" or a number
}

// Args writes the route as `ip route` arguments; table main is left out.
func (r Route) Args() string {
	parts := []string{r.Dst}
	if r.Via != "" {
		parts = append(parts, "via", r.Via)
	}
	if r.Dev != "" {
		parts = append(parts, "dev", r.Dev)
	}
	if r.Metric != 0 {
		parts = append(parts, "metric", strconv.Itoa(r.Metric))
	}
	if r.Table != "" && r.Table != "main" {
		parts = append(parts, "table", r.Table)
	}
	return strings.Join(parts, " ")
}

// IPv6 tells whether the route is an IPv6 one, by its gateway or
// destination.
func (r Route) IPv6() bool {
	if ip := net.ParseIP(r.Via); ip != nil {
		return ip.To4() == nil
	}
	dst, err := ParseDst(r.Dst)
	return err == nil && dst != nil && dst.IP.To4() == nil
}

// Check tells what is wrong with a route before a backend sees it.
func (r Route) Check() error {
	if r.Dev == "" && r.Via == "" {
		return errors.New("a route needs via= (a gateway), dev= (an output link) or both")
	}
	dst, err := ParseDst(r.Dst)
	if err != nil {
		return err
	}
	if r.Via == "" {
		return nil
	}
	gw := net.ParseIP(r.Via)
	if gw == nil {
		return fmt.Errorf("gateway %q is not an IP address", r.Via)
	}
	if dst != nil && (gw.To4() == nil) != (dst.IP.To4() == nil) {
		return fmt.Errorf("gateway %s and destination %s are of different IP versions", r.Via, r.Dst)
	}
	return nil
}

// IPv6DefaultMetric is the metric the kernel gives an IPv6 route added
// with none (IP6_RT_PRIO_USER).
const IPv6DefaultMetric = 1024

// Table ids the kernel names.
var tableIDs = map[string]int{"main": 254, "local": 255, "default": 253}

// ParseTable turns a table name or number into the kernel's table id.
func ParseTable(name string) (int, error) {
	if name == "" {
		return tableIDs["main"], nil
	}
	if id, ok := tableIDs[name]; ok {
		return id, nil
	}
	id, err := strconv.ParseUint(name, 10, 32)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("route table %q is neither main, local, default nor a positive number up to 4294967295 (Linux keeps table ids in 32 bits)", name)
	}
	return int(id), nil
}

// TableName writes a table id as the kernel's routes report it.
func TableName(id int) string {
	for name, t := range tableIDs {
		if t == id {
			return name
		}
	}
	return strconv.Itoa(id)
}

// CanonicalTable writes a table the way routes report it: "254" is "main".
func CanonicalTable(name string) (string, error) {
	id, err := ParseTable(name)
	return TableName(id), err
}

// ParseDst parses a route destination: nil for "default", a prefix, or a
// bare address as a host route.
func ParseDst(s string) (*net.IPNet, error) {
	if s == "default" {
		return nil, nil
	}
	if _, dst, err := net.ParseCIDR(s); err == nil {
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
// "10.1.2.3/8" is "10.0.0.0/8", "10.0.0.1" is "10.0.0.1/32".
func CanonicalDst(s string) (string, error) {
	dst, err := ParseDst(s)
	if err != nil || dst == nil {
		return s, err
	}
	return dst.String(), nil
}

// RouteAdd adds a route to a namespace.
type RouteAdd struct {
	NS    NSRef `json:"ns"`
	Route Route `json:"route"`
}

func (o RouteAdd) Text() string { return o.NS.IP("route add " + o.Route.Args()) }
func (o RouteAdd) Inverse() Op  { return RouteDel(o) }

// RouteDel deletes a route, whoever added it.
type RouteDel struct {
	NS    NSRef `json:"ns"`
	Route Route `json:"route"`
}

func (o RouteDel) Text() string { return o.NS.IP("route del " + o.Route.Args()) }
func (o RouteDel) Inverse() Op  { return nil }

var _ = register("route.add", RouteAdd{}) && register("route.del", RouteDel{})
