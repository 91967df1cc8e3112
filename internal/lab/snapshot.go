package lab

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
)

// Snapshot is a lab's live state, normalized so that two runs of the same
// playbook give the same snapshot: no interface indexes, MAC addresses,
// netns ids or IPv6 link-local addresses (the kernel picks those), peers
// named by namespace and name, everything in a stable order.
type Snapshot struct {
	Namespaces []NSState `json:"namespaces"`
}

// NSState is what the lab has in one namespace. In namespaces the lab
// created that is everything; in the host and in attached namespaces it is
// only what the lab created there, and the routes through its links.
type NSState struct {
	Name   string       `json:"name"` // "host", the namespace's name, or its path
	Owned  bool         `json:"owned"`
	Links  []LinkState  `json:"links"`
	Routes []RouteState `json:"routes"`
	Files  []FileState  `json:"files"` // /etc/netns/<name>/*
}

// LinkState is one link.
type LinkState struct {
	Name    string      `json:"name"`
	Kind    string      `json:"kind"`
	Up      bool        `json:"up"`
	Oper    string      `json:"oper"`
	MTU     int         `json:"mtu"`
	Master  string      `json:"master,omitempty"`
	Peer    string      `json:"peer,omitempty"`    // veth: the other end's name
	PeerNS  string      `json:"peer_ns,omitempty"` // and its namespace
	STP     *bool       `json:"stp,omitempty"`     // bridge
	Ports   []string    `json:"ports,omitempty"`   // bridge
	Addrs   []AddrState `json:"addrs"`
	Carrier bool        `json:"carrier"`
}

// AddrState is one address of a link.
type AddrState = model.AddrInfo

// RouteState is one route; the local table is left out (the kernel fills
// it from the addresses).
type RouteState struct {
	Dst    string `json:"dst"`
	Via    string `json:"via,omitempty"`
	Dev    string `json:"dev,omitempty"`
	Metric int    `json:"metric"`
	Table  string `json:"table"`
	Proto  string `json:"proto"`
	Scope  string `json:"scope"`
}

// FileState is one file the namespace's commands see over /etc.
type FileState struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// Snapshot reads the lab's live state; only, when not nil, limits it to
// that namespace.
func (l *Lab) Snapshot(only *kernel.NS) (Snapshot, error) {
	var spaces []*kernel.NS
	for _, key := range l.spaceKeys() {
		ns, err := l.NS(key)
		if err != nil {
			return Snapshot{}, err
		}
		if only == nil || ns.Same(only) {
			spaces = append(spaces, ns)
		}
	}
	if only != nil && len(spaces) == 0 {
		spaces = append(spaces, only)
	}
	var snap Snapshot
	for _, ns := range spaces {
		st, err := l.nsState(ns)
		if err != nil {
			return Snapshot{}, err
		}
		snap.Namespaces = append(snap.Namespaces, st)
	}
	return snap, nil
}

// spaceKeys lists the namespaces the lab has objects in: host first, then
// its own by name, then attached ones by path.
func (l *Lab) spaceKeys() []string {
	keys := []string{HostKey}
	for _, o := range l.objs {
		key := o.NS
		if o.Kind == "netns" {
			key = "netns:" + o.Name
		}
		if key != "" && !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	attached := func(key string) int {
		if strings.HasPrefix(key, "netns:") {
			return 0
		}
		return 1
	}
	slices.SortFunc(keys[1:], func(a, b string) int {
		return cmp.Or(cmp.Compare(attached(a), attached(b)), cmp.Compare(a, b))
	})
	return keys
}

func (l *Lab) nsState(ns *kernel.NS) (NSState, error) {
	owned := l.OwnsNS(ns)
	st := NSState{Name: ns.String(), Owned: owned, Links: []LinkState{}, Routes: []RouteState{}, Files: []FileState{}}
	if err := ns.Settle(2 * time.Second); err != nil {
		return st, err
	}
	links, err := ns.Links()
	if err != nil {
		return st, err
	}
	slices.SortFunc(links, func(a, b kernel.LinkInfo) int { return cmp.Compare(a.Name, b.Name) })
	mine := map[string]bool{}
	names := map[int]string{}
	for _, li := range links {
		names[li.Index] = li.Name
	}
	for _, li := range links {
		if !owned && !l.OwnsLink(ns, li.Name) {
			continue
		}
		mine[li.Name] = true
		ls, err := l.linkState(ns, li, links, names)
		if err != nil {
			return st, err
		}
		st.Links = append(st.Links, ls)
	}
	routes, err := ns.Routes(true)
	if err != nil {
		return st, err
	}
	key := l.Key(ns)
	for _, r := range routes {
		spec := kernel.RouteSpec{Dst: r.Dst, Via: r.Via, Dev: r.Dev, Metric: r.Metric, Table: r.Table}
		journalled := slices.ContainsFunc(l.objs, func(o *Object) bool {
			return o.Kind == "route" && o.NS == key && o.Route.Dst == spec.Dst && o.Route.Table == spec.Table && o.Route.Metric == spec.Metric
		})
		if r.Table == "local" || !(owned || mine[r.Dev] || journalled) {
			continue
		}
		st.Routes = append(st.Routes, RouteState(r))
	}
	slices.SortStableFunc(st.Routes, func(a, b RouteState) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Dst, b.Dst), cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Dev, b.Dev))
	})
	if ns.Name != "" {
		files, err := l.files(ns.Name, owned)
		if err != nil {
			return st, err
		}
		st.Files = files
	}
	return st, nil
}

func (l *Lab) linkState(ns *kernel.NS, li kernel.LinkInfo, links []kernel.LinkInfo, names map[int]string) (LinkState, error) {
	ls := LinkState{Name: li.Name, Kind: li.Kind, Up: li.Up, Oper: li.Oper, MTU: li.MTU, Carrier: li.Carrier,
		Master: names[li.MasterIndex], Addrs: []AddrState{}}
	addrs, err := ns.Addrs(li.Name, false)
	if err != nil {
		return ls, err
	}
	for _, a := range addrs {
		ls.Addrs = append(ls.Addrs, AddrState{CIDR: a.CIDR, Broadcast: a.Broadcast, Scope: a.Scope})
	}
	switch li.Kind {
	case "veth":
		if pns, p, err := ns.Peer(li, l.Namespaces()); err == nil {
			ls.Peer, ls.PeerNS = p.Name, pns.String()
		} else {
			ls.Peer, ls.PeerNS = "?", "a namespace the lab does not know"
		}
	case "bridge":
		stp, err := ns.STP(li.Name)
		if err != nil {
			return ls, err
		}
		ls.STP = &stp
		ls.Ports = []string{}
		for _, p := range links {
			if p.MasterIndex == li.Index {
				ls.Ports = append(ls.Ports, p.Name)
			}
		}
	}
	return ls, nil
}

// files reads /etc/netns/<name>/*: all of it for the lab's own namespaces,
// only what the lab wrote for others.
func (l *Lab) files(name string, owned bool) ([]FileState, error) {
	dir := filepath.Join(kernel.EtcNetnsDir, name)
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	files := []FileState{}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if !owned && l.find("file", "", path) == nil {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		files = append(files, FileState{Path: path, Content: string(data)})
	}
	return files, nil
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
			fmt.Fprintf(&b, "  route %s\n", routeText(r))
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
	if l.STP != nil {
		parts = append(parts, "stp="+map[bool]string{false: "off", true: "on"}[*l.STP])
		parts = append(parts, "ports="+strings.Join(l.Ports, ","))
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " ")
}

func routeText(r RouteState) string {
	return kernel.RouteInfo(r).Text() + " proto " + r.Proto + " scope " + r.Scope
}
