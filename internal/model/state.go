package model

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// LinkInfo is a link's live state, as a backend reads it at one moment.
type LinkInfo struct {
	Name    string
	Index   int
	Kind    string // "bridge", "veth", "loopback", ...
	Up      bool   // administratively up (IFF_UP)
	Oper    string // operational state as ip prints it: "up", "down", "lowerlayerdown", "unknown"
	Carrier bool   // IFF_LOWER_UP
	MAC     string
	MTU     int
	Master  string   // the master's name, "" for none
	Peer    *LinkRef // veth: the other end, nil when it is in a namespace nobody opened
	STP     *bool    // bridge: spanning tree on
	Ports   []string // bridge: its ports, by name
	// Parent is the link a macvlan or vlan was made on, or a vxlan's
	// dev; nil for none, or when it is in a namespace nobody opened.
	Parent *LinkRef
	KindAttrs
}

// AddrInfo is one address of a link.
type AddrInfo struct {
	CIDR      string `json:"cidr"`                // "192.168.10.11/24"
	Broadcast string `json:"broadcast,omitempty"` // "" when there is none (IPv6, /31, /32)
	Scope     string `json:"scope"`               // "global", "link", "host"
	Tentative bool   `json:"-"`                   // IPv6 duplicate address detection not finished
	DADFailed bool   `json:"-"`                   // another host has it
}

// RouteInfo is one route as a backend reports it.
type RouteInfo struct {
	Dst    string `json:"dst"` // "default" or a prefix
	Via    string `json:"via,omitempty"`
	Dev    string `json:"dev,omitempty"`
	Metric int    `json:"metric"`
	Table  string `json:"table"`
	Proto  string `json:"proto"` // "boot" (added by a user), "kernel", "static", ...
	Scope  string `json:"scope"`
}

// Route is the route as a user would write it.
func (r RouteInfo) Route() Route {
	return Route{Dst: r.Dst, Via: r.Via, Dev: r.Dev, Metric: r.Metric, Table: r.Table}
}

// Text writes the route as `ip route show table all` prints it: with its
// table, always.
func (r RouteInfo) Text() string {
	rt := r.Route()
	rt.Table = ""
	return rt.Args() + " table " + r.Table
}

// Snapshot is a lab's live state, normalized so that two runs of the same
// playbook give the same snapshot: no interface indexes, MAC addresses,
// netns ids or IPv6 link-local addresses (the kernel picks those), peers
// named by namespace and name, everything in a stable order. state(),
// `nsplay show`, golden files and graphs are made from it.
type Snapshot struct {
	Namespaces []NSState `json:"namespaces"`
}

// NSState is what the lab has in one namespace. In namespaces the lab
// created that is everything; in the host and in attached namespaces it is
// only what the lab created there, and the routes through its links.
type NSState struct {
	Name   string      `json:"name"` // "host", the namespace's name, or its path
	Owned  bool        `json:"owned"`
	Links  []LinkState `json:"links"`
	Routes []RouteInfo `json:"routes"`
	Files  []FileState `json:"files"` // /etc/netns/<name>/*
	// Sysctls are the sysctls the lab set, by key, with their values now.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// NAT are the rules of the lab's nftables table, as NATRules lists them.
	NAT []string `json:"nat,omitempty"`
	// QuietMLD are the ports whose MLD reports for solicited-node groups
	// the lab's table of family bridge drops (MLDQuiet), sorted.
	QuietMLD []string `json:"quiet_mld,omitempty"`
	// Neighbours are the permanent neighbour entries (those of the
	// lab's links), by link and address.
	Neighbours []NeighInfo `json:"neighbours,omitempty"`
}

// LinkState is one link in a snapshot.
type LinkState struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Up     bool     `json:"up"`
	Oper   string   `json:"oper"`
	MTU    int      `json:"mtu"`
	Master string   `json:"master,omitempty"`
	Peer   string   `json:"peer,omitempty"`    // veth: the other end's name
	PeerNS string   `json:"peer_ns,omitempty"` // and its namespace
	STP    *bool    `json:"stp,omitempty"`     // bridge
	Ports  []string `json:"ports,omitempty"`   // bridge
	// Parent is a macvlan's or vlan's parent link, or a vxlan's dev.
	Parent   string `json:"parent,omitempty"`
	ParentNS string `json:"parent_ns,omitempty"`
	KindAttrs
	Addrs   []AddrInfo `json:"addrs"`
	Carrier bool       `json:"carrier"`
	// Impairments is what its root qdisc (tbf, netem) does, nil for none.
	Impairments *Impairment `json:"impairments,omitempty"`
}

// StateOf is the snapshot form of a link and its addresses.
func StateOf(l LinkInfo, addrs []AddrInfo) LinkState {
	ls := LinkState{Name: l.Name, Kind: l.Kind, Up: l.Up, Oper: l.Oper, MTU: l.MTU, Carrier: l.Carrier,
		Master: l.Master, STP: l.STP, Addrs: []AddrInfo{}, KindAttrs: l.KindAttrs}
	if l.Parent != nil {
		ls.Parent, ls.ParentNS = l.Parent.Name, l.Parent.NS.String()
	}
	for _, a := range addrs {
		ls.Addrs = append(ls.Addrs, AddrInfo{CIDR: a.CIDR, Broadcast: a.Broadcast, Scope: a.Scope})
	}
	switch {
	case l.Peer != nil:
		ls.Peer, ls.PeerNS = l.Peer.Name, l.Peer.NS.String()
	case l.Kind == "veth":
		ls.Peer, ls.PeerNS = "?", "a namespace the lab does not know"
	}
	if l.STP != nil {
		ls.Ports = append([]string{}, l.Ports...)
	}
	return ls
}

// FileState is one file the namespace's commands see over /etc.
type FileState struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// Text writes the snapshot as golden-file text: one fact a line, in the
// snapshot's order, indented under its namespace and link, for a person to
// review in a diff.
func (s Snapshot) Text() string {
	var b strings.Builder
	for _, ns := range s.Namespaces {
		owned := ""
		if ns.Owned {
			owned = " (created by the lab)"
		}
		fmt.Fprintf(&b, "netns %s%s\n", ns.Name, owned)
		for _, l := range ns.Links {
			fmt.Fprintf(&b, "  link %s %s %s oper=%s mtu=%d%s\n", l.Name, l.Kind, upDown(l.Up), l.Oper, l.MTU, linkExtras(l))
			for _, a := range l.Addrs {
				brd := ""
				if a.Broadcast != "" {
					brd = " brd " + a.Broadcast
				}
				fmt.Fprintf(&b, "    addr %s%s scope %s\n", a.CIDR, brd, a.Scope)
			}
		}
		for _, r := range ns.Routes {
			fmt.Fprintf(&b, "  route %s proto %s scope %s\n", r.Text(), r.Proto, r.Scope)
		}
		for _, key := range slices.Sorted(maps.Keys(ns.Sysctls)) {
			fmt.Fprintf(&b, "  sysctl %s = %s\n", key, ns.Sysctls[key])
		}
		for _, r := range ns.NAT {
			fmt.Fprintf(&b, "  nat %s\n", r)
		}
		for _, p := range ns.QuietMLD {
			fmt.Fprintf(&b, "  quiet_mld %s\n", p)
		}
		for _, n := range ns.Neighbours {
			fmt.Fprintf(&b, "  neigh %s\n", n.Text())
		}
		for _, f := range ns.Files {
			fmt.Fprintf(&b, "  file %s\n", f.Path)
			for _, line := range strings.Split(strings.TrimSuffix(f.Content, "\n"), "\n") {
				fmt.Fprintf(&b, "    | %s\n", line)
			}
		}
	}
	return b.String()
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func linkExtras(l LinkState) string {
	var parts []string
	if !l.Carrier {
		parts = append(parts, "no-carrier")
	}
	if l.Master != "" {
		parts = append(parts, "master="+l.Master)
	}
	if l.Peer != "" {
		parts = append(parts, "peer="+l.Peer+"@"+l.PeerNS)
	}
	parts = append(parts, l.kindParts()...)
	if l.STP != nil {
		parts = append(parts, "stp="+map[bool]string{false: "off", true: "on"}[*l.STP])
		parts = append(parts, "ports="+strings.Join(l.Ports, ","))
	}
	if l.Impairments != nil {
		parts = append(parts, "impairments="+l.Impairments.String())
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " ")
}
