package model

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// The link kinds made on other links or over an underlay (macvlan, vlan,
// vxlan) and the stand-alone ones (tun/tap, dummy). Each is a LinkSpec;
// Checked validates a spec and writes it the way the kernel reports it,
// so that step lines, attributes and snapshots agree.

// KindAttrs are what identifies a link of these kinds, as the kernel
// reports it; zero for other kinds.
type KindAttrs struct {
	Mode   string `json:"mode,omitempty"`    // macvlan: bridge, private, vepa, passthru; tuntap: tap, tun
	VLANID int    `json:"vlan_id,omitempty"` // vlan: the 802.1Q id
	VNI    int    `json:"vni,omitempty"`     // vxlan: the VXLAN network identifier
	Port   int    `json:"port,omitempty"`    // vxlan: the UDP destination port
	Local  string `json:"local,omitempty"`   // vxlan: the underlay source address
	Remote string `json:"remote,omitempty"`  // vxlan: the unicast far end
	Group  string `json:"group,omitempty"`   // vxlan: the multicast group
}

// OnParent is a spec whose link is made on a parent link (macvlan, vlan):
// the request goes to the parent's namespace and places the new link in
// its own namespace at once (IFLA_NET_NS_FD), like a veth's peer.
type OnParent interface {
	LinkSpec
	ParentLink() LinkRef
}

// AttrsOf is what identifies the link spec makes.
func AttrsOf(spec LinkSpec) KindAttrs {
	if a, ok := spec.(interface{ Attrs() KindAttrs }); ok {
		return a.Attrs()
	}
	return KindAttrs{}
}

// ownCommand is a spec that `ip link add` does not make: it writes its
// own step line (a tun/tap: `ip tuntap add`).
type ownCommand interface {
	addText(l LinkRef) string
}

// MacvlanModes are the modes a macvlan takes, as ip names them.
var MacvlanModes = []string{"bridge", "private", "vepa", "passthru"}

// Macvlan is a link with a MAC address of its own on a parent link.
type Macvlan struct {
	Parent LinkRef `json:"parent"`
	Mode   string  `json:"mode"`
}

func (Macvlan) Kind() string                { return "macvlan" }
func (m Macvlan) TypeArgs() string          { return "mode " + m.Mode }
func (Macvlan) Ends(l LinkRef) []LinkRef    { return []LinkRef{l} }
func (m Macvlan) ParentLink() LinkRef       { return m.Parent }
func (m Macvlan) Attrs() KindAttrs          { return KindAttrs{Mode: m.Mode} }
func (m Macvlan) Checked() (Macvlan, error) { return m, oneOf("mode", m.Mode, MacvlanModes) }

// Vlan is an 802.1Q VLAN on a parent link: what it sends leaves the
// parent tagged with ID, and it takes what arrives there with that tag.
type Vlan struct {
	Parent LinkRef `json:"parent"`
	ID     int     `json:"id"`
}

func (Vlan) Kind() string             { return "vlan" }
func (v Vlan) TypeArgs() string       { return "id " + strconv.Itoa(v.ID) }
func (Vlan) Ends(l LinkRef) []LinkRef { return []LinkRef{l} }
func (v Vlan) ParentLink() LinkRef    { return v.Parent }
func (v Vlan) Attrs() KindAttrs       { return KindAttrs{VLANID: v.ID} }
func (v Vlan) Checked() (Vlan, error) {
	if v.ID < 1 || v.ID > 4094 {
		return v, fmt.Errorf("id=%d is not a VLAN id: 802.1Q ids go from 1 to 4094 (0 and 4095 are reserved)", v.ID)
	}
	return v, nil
}

// VxlanPort is the IANA port of VXLAN, the default of vxlan(); the
// kernel's own default (8472) is Linux's older choice.
const VxlanPort = 4789

// Vxlan is a VXLAN tunnel endpoint: an Ethernet segment carried in UDP
// over the namespace's underlay, to Remote (unicast) or Group (multicast,
// joined on Dev), from Local.
type Vxlan struct {
	VNI    int    `json:"vni"`
	Local  string `json:"local,omitempty"`
	Remote string `json:"remote,omitempty"`
	Group  string `json:"group,omitempty"`
	Dev    string `json:"dev,omitempty"` // the underlay link, in the vxlan's namespace
	Port   int    `json:"port"`
}

func (Vxlan) Kind() string             { return "vxlan" }
func (Vxlan) Ends(l LinkRef) []LinkRef { return []LinkRef{l} }
func (v Vxlan) Attrs() KindAttrs {
	return KindAttrs{VNI: v.VNI, Port: v.Port, Local: v.Local, Remote: v.Remote, Group: v.Group}
}
func (v Vxlan) TypeArgs() string {
	args := []string{"id", strconv.Itoa(v.VNI)}
	for _, kv := range [][2]string{{"local", v.Local}, {"remote", v.Remote}, {"group", v.Group}, {"dev", v.Dev}} {
		if kv[1] != "" {
			args = append(args, kv[0], kv[1])
		}
	}
	return strings.Join(append(args, "dstport", strconv.Itoa(v.Port)), " ")
}

// IPv6 tells whether the vxlan's underlay is IPv6.
func (v Vxlan) IPv6() bool {
	return slices.ContainsFunc([]string{v.Local, v.Remote, v.Group}, func(s string) bool { return strings.Contains(s, ":") })
}

// Checked refuses what the kernel or ip refuses of a vxlan, and writes
// its addresses as the kernel prints them.
func (v Vxlan) Checked() (Vxlan, error) {
	if v.VNI < 1 || v.VNI >= 1<<24 {
		return v, fmt.Errorf("vni=%d is not a VXLAN network identifier: give one from 1 to %d", v.VNI, 1<<24-1)
	}
	if v.Port < 1 || v.Port > 65535 {
		return v, fmt.Errorf("port=%d is not a UDP port: give one from 1 to 65535 (%d is VXLAN's)", v.Port, VxlanPort)
	}
	if v.Remote != "" && v.Group != "" {
		return v, errors.New("give remote= (one far end) or group= (a multicast group), not both")
	}
	if v.Group != "" && v.Dev == "" {
		return v, errors.New("group= needs dev=, the link to join the multicast group on")
	}
	var family []net.IP
	for _, a := range []struct {
		name string
		addr *string
		ok   func(net.IP) bool
		want string
	}{
		{"local", &v.Local, func(ip net.IP) bool { return !ip.IsMulticast() && !ip.IsUnspecified() }, "a unicast address of this namespace"},
		{"remote", &v.Remote, func(ip net.IP) bool { return !ip.IsMulticast() && !ip.IsUnspecified() }, "a unicast address (for a multicast one, use group=)"},
		{"group", &v.Group, net.IP.IsMulticast, "a multicast address, like 239.1.1.1 (for a unicast one, use remote=)"},
	} {
		if *a.addr == "" {
			continue
		}
		ip := net.ParseIP(*a.addr)
		if ip == nil || !a.ok(ip) {
			return v, fmt.Errorf("%s=%q is not %s", a.name, *a.addr, a.want)
		}
		*a.addr = norm(ip).String()
		family = append(family, ip)
	}
	if len(family) == 2 && (family[0].To4() == nil) != (family[1].To4() == nil) {
		return v, fmt.Errorf("the vxlan's addresses are of different IP versions (%s, %s): the underlay is IPv4 or IPv6", family[0], family[1])
	}
	return v, nil
}

// TuntapModes are the modes of a tun/tap: a tap carries Ethernet frames,
// a tun IP packets.
var TuntapModes = []string{"tap", "tun"}

// Tuntap is a persistent tun or tap device: it has carrier while a
// program has it open (a VPN, an emulator), and none without one.
type Tuntap struct {
	Mode string `json:"mode"`
}

// Kind is netlink's name for it; the kernel's is "tun" for both modes.
func (Tuntap) Kind() string               { return "tuntap" }
func (t Tuntap) TypeArgs() string         { return "mode " + t.Mode }
func (Tuntap) Ends(l LinkRef) []LinkRef   { return []LinkRef{l} }
func (t Tuntap) Attrs() KindAttrs         { return KindAttrs{Mode: t.Mode} }
func (t Tuntap) Checked() (Tuntap, error) { return t, oneOf("mode", t.Mode, TuntapModes) }
func (t Tuntap) addText(l LinkRef) string {
	return l.NS.IP("tuntap add " + l.Name + " " + t.TypeArgs())
}

// Dummy is a link that drops what it sends: a place for addresses.
type Dummy struct{}

func (Dummy) Kind() string             { return "dummy" }
func (Dummy) TypeArgs() string         { return "" }
func (Dummy) Ends(l LinkRef) []LinkRef { return []LinkRef{l} }

var _ = registerKind("macvlan", Macvlan{}) && registerKind("vlan", Vlan{}) && registerKind("vxlan", Vxlan{}) &&
	registerKind("tuntap", Tuntap{}) && registerKind("dummy", Dummy{})

func oneOf(arg, v string, allowed []string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("%s=%q is not one of %s", arg, v, strings.Join(allowed, ", "))
}

// kindParts writes what identifies a link of the kinds, and its parent,
// as a snapshot line shows them.
func (l LinkState) kindParts() []string {
	var parts []string
	a := l.KindAttrs
	for _, kv := range []struct {
		key string
		val any
		set bool
	}{
		{"mode", a.Mode, a.Mode != ""}, {"vlan_id", a.VLANID, a.VLANID != 0}, {"vni", a.VNI, a.VNI != 0},
		{"port", a.Port, a.Port != 0}, {"local", a.Local, a.Local != ""}, {"remote", a.Remote, a.Remote != ""},
		{"group", a.Group, a.Group != ""}, {"parent", l.Parent + "@" + l.ParentNS, l.Parent != ""},
	} {
		if kv.set {
			parts = append(parts, fmt.Sprintf("%s=%v", kv.key, kv.val))
		}
	}
	return parts
}

// KindDetails is kindParts in one string: "vni=42 port=4789 ... parent=eth0@ns1",
// "" for a link of another kind.
func (l LinkState) KindDetails() string { return strings.Join(l.kindParts(), " ") }

// String writes the attributes that are set, as a snapshot line does.
func (a KindAttrs) String() string { return LinkState{KindAttrs: a}.KindDetails() }
