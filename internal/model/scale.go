package model

import (
	"crypto/sha256"
	"fmt"
	"net"
	"strings"
)

// What nsplay changes in a lab so that labs of thousands of hosts build
// fast and check true (docs/scale.md), each an op of its own so that it is
// a step line, in plans and runs alike, and a playbook can turn it off
// (the builtin scale()):
//
//   - IPv6Quiet in each namespace the lab creates, before its links exist:
//     no duplicate address detection and no router solicitations on the
//     links made in it, and MLDv1 reports. Every new host's DAD probes, RS
//     and MLD reports are flooded to all ports of a bridge, so a star's
//     build grows with the square of its hosts; any one setting alone does
//     not stop it. With it, LinkNoLinkLocal on the bridge ports, and
//     MLDQuiet and MLDQuietPort: a host still reports its solicited-node
//     groups, and a bridge without a multicast querier floods each report
//     to every port.
//   - NeighAdd, a permanent neighbour entry for an address the lab
//     assigned on the same segment (a bridge's address and those of the
//     hosts on its ports, both ways). The kernel's neighbour table is
//     shared by all namespaces and holds gc_thresh3 (1024) entries that
//     are not permanent: past that, echoes fail for no fault of the lab.
//   - LinkSetMAC, so that those entries name a MAC that stays: a bridge
//     takes the lowest MAC of its ports unless one is set, and the entry's
//     step line can only say a MAC the lab chose (StableMAC).

// QuietIPv6Settings are what IPv6Quiet writes, in order.
var QuietIPv6Settings = []Setting{
	{"net.ipv6.conf.default.dad_transmits", "0"},
	{"net.ipv6.conf.default.router_solicitations", "0"},
	{"net.ipv6.conf.all.force_mld_version", "1"},
}

// IPv6Quiet writes QuietIPv6Settings in a namespace the lab created: the
// links made in it afterwards send no DAD probes and no router
// solicitations, and all report multicast groups with MLDv1. It goes with
// the namespace.
type IPv6Quiet struct {
	NS NSRef `json:"ns"`
}

func (o IPv6Quiet) Text() string {
	args := make([]string, len(QuietIPv6Settings))
	for i, s := range QuietIPv6Settings {
		args[i] = s.Key + "=" + s.Value
	}
	return inNS(o.NS, "sysctl -w "+strings.Join(args, " "))
}
func (o IPv6Quiet) Inverse() Op      { return nil }
func (o IPv6Quiet) Namespace() NSRef { return o.NS }

// NeighAdd makes (or replaces) a permanent neighbour entry on a link the
// lab owns: IP is at MAC on it. It goes with the link.
type NeighAdd struct {
	Link LinkRef `json:"link"`
	IP   string  `json:"ip"`
	MAC  string  `json:"mac"`
}

func (o NeighAdd) Text() string {
	return o.Link.NS.IP("neigh replace " + o.IP + " lladdr " + o.MAC + " dev " + o.Link.Name + " nud permanent")
}
func (o NeighAdd) Inverse() Op     { return nil }
func (o NeighAdd) Target() LinkRef { return o.Link }

// NeighDel deletes a permanent neighbour entry NeighAdd made, once the
// address it is for is gone from the segment (deleted, or its host left
// the bridge), so that it cannot send frames for an address that moved to
// another host to a MAC that no longer has it.
type NeighDel struct {
	Link LinkRef `json:"link"`
	IP   string  `json:"ip"`
}

func (o NeighDel) Text() string    { return o.Link.NS.IP("neigh del " + o.IP + " dev " + o.Link.Name) }
func (o NeighDel) Inverse() Op     { return nil }
func (o NeighDel) Target() LinkRef { return o.Link }

// LinkSetMAC sets a link's MAC address, which then stays: a bridge no
// longer takes one of its ports'.
type LinkSetMAC struct {
	Link LinkRef `json:"link"`
	MAC  string  `json:"mac"`
}

func (o LinkSetMAC) Text() string {
	return o.Link.NS.IP("link set " + o.Link.Name + " address " + o.MAC)
}
func (o LinkSetMAC) Inverse() Op     { return nil }
func (o LinkSetMAC) Target() LinkRef { return o.Link }

// LinkNoLinkLocal keeps the kernel from giving a link an IPv6 link-local
// address (addrgenmode none), for a bridge port that is not up yet: a port
// switches the hosts' frames and sends none of its own, but with an
// address it sends DAD probes, router solicitations and MLD reports, and
// in a namespace of a thousand ports each of those looks through a
// thousand link-local routes.
type LinkNoLinkLocal struct {
	Link LinkRef `json:"link"`
}

func (o LinkNoLinkLocal) Text() string {
	return o.Link.NS.IP("link set " + o.Link.Name + " addrgenmode none")
}
func (o LinkNoLinkLocal) Inverse() Op     { return nil }
func (o LinkNoLinkLocal) Target() LinkRef { return o.Link }

// LinkLinkLocal gives a link that LinkNoLinkLocal kept from an IPv6
// link-local address the kernel's default way of making one back
// (addrgenmode eui64), once it has left its bridge: the kernel makes the
// address when the link next comes up.
type LinkLinkLocal struct {
	Link LinkRef `json:"link"`
}

func (o LinkLinkLocal) Text() string {
	return o.Link.NS.IP("link set " + o.Link.Name + " addrgenmode eui64")
}
func (o LinkLinkLocal) Inverse() Op     { return nil }
func (o LinkLinkLocal) Target() LinkRef { return o.Link }

// MLDQuietSet is the set of the ports whose MLD reports for
// solicited-node groups MLDQuietRule drops, in the lab's table of family
// bridge (LabTable).
const MLDQuietSet = "quiet_mld"

// MLDQuietRule is the rule of MLDQuiet, as `nft add rule bridge TABLE`
// takes it and `nft list table bridge TABLE` shows it.
const MLDQuietRule = "prerouting ip6 daddr ff02::1:ff00:0/104 icmpv6 type mld-listener-report iifname @" + MLDQuietSet + " drop"

// MLDQuiet makes the lab's table of family bridge in a namespace, with a
// chain prerouting that drops the MLDv1 reports for solicited-node groups
// (ff02::1:ffXX:XXXX, one for each address a link has) that come in on
// the ports in its set MLDQuietSet, before the bridge floods them. A
// bridge without a multicast querier sends every report to every port,
// where no one listens for them: a thousand hosts, half a million frames.
// What the hosts need still works: a report is what a multicast querier
// or router asks for, and a solicited-node group is link-local, never
// routed; a bridge that has not seen a report for a group floods the
// group's frames (neighbour solicitations) to all its ports, as it does
// without a querier. Deleting the table removes the rule and the set.
type MLDQuiet struct {
	NS    NSRef  `json:"ns"`
	Table string `json:"table"`
}

func (o MLDQuiet) Text() string     { return inNS(o.NS, "nft add rule bridge "+o.Table+" "+MLDQuietRule) }
func (o MLDQuiet) Inverse() Op      { return BridgeTableDel(o) }
func (o MLDQuiet) Namespace() NSRef { return o.NS }

// MLDQuietPort adds a bridge port of the lab's to MLDQuietSet, in the
// table MLDQuiet made in the port's namespace. It goes with the table.
type MLDQuietPort struct {
	Port  LinkRef `json:"port"`
	Table string  `json:"table"`
}

func (o MLDQuietPort) Text() string {
	return inNS(o.Port.NS, "nft add element bridge "+o.Table+" "+MLDQuietSet+" { "+o.Port.Name+" }")
}
func (o MLDQuietPort) Inverse() Op     { return nil }
func (o MLDQuietPort) Target() LinkRef { return o.Port }

// MLDQuietPortDel takes a port out of MLDQuietSet once it has left its
// bridge, or is gone: a link of that name made later is not the lab's port.
type MLDQuietPortDel struct {
	Port  LinkRef `json:"port"`
	Table string  `json:"table"`
}

func (o MLDQuietPortDel) Text() string {
	return inNS(o.Port.NS, "nft delete element bridge "+o.Table+" "+MLDQuietSet+" { "+o.Port.Name+" }")
}
func (o MLDQuietPortDel) Inverse() Op     { return nil }
func (o MLDQuietPortDel) Target() LinkRef { return o.Port }

// BridgeTableDel deletes a lab's table of family bridge in a namespace,
// and what is in it.
type BridgeTableDel struct {
	NS    NSRef  `json:"ns"`
	Table string `json:"table"`
}

func (o BridgeTableDel) Text() string     { return inNS(o.NS, "nft delete table bridge "+o.Table) }
func (o BridgeTableDel) Inverse() Op      { return nil }
func (o BridgeTableDel) Namespace() NSRef { return o.NS }

var _ = register("sysctl.ipv6_quiet", IPv6Quiet{}) && register("neigh.add", NeighAdd{}) && register("link.mac", LinkSetMAC{}) &&
	register("link.no_link_local", LinkNoLinkLocal{}) && register("mld.quiet", MLDQuiet{}) && register("mld.quiet_port", MLDQuietPort{}) &&
	register("bridge_table.del", BridgeTableDel{}) && register("neigh.del", NeighDel{}) && register("link.link_local", LinkLinkLocal{}) &&
	register("mld.quiet_port_del", MLDQuietPortDel{})

// StableMAC is the MAC the lab gives a link it makes neighbour entries
// for: derived from the lab's and the link's names, so that a plan and a
// run, and every run of a playbook, give the same; unicast and locally
// administered, as the kernel's random ones are.
func StableMAC(lab string, l LinkRef) string {
	sum := sha256.Sum256([]byte(lab + "\x00" + l.NS.Key() + "\x00" + l.Name))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^1 | 2
	return mac.String()
}

// NeighInfo is a permanent neighbour entry, as `ip neigh show nud
// permanent` shows it.
type NeighInfo struct {
	IP  string `json:"ip"`
	MAC string `json:"mac"`
	Dev string `json:"dev"`
}

// Text writes the entry as ip shows it.
func (n NeighInfo) Text() string {
	return fmt.Sprintf("%s dev %s lladdr %s PERMANENT", n.IP, n.Dev, n.MAC)
}
