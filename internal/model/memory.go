package model

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ErrUnknown: only the kernel knows (a command's result, a socket, a
// process); a plan reports a check on it as undecided.
var ErrUnknown = errors.New("only the kernel knows")

// ErrNexthop: a route's gateway or link cannot carry it now. The kernel
// says "Nexthop has invalid gateway" (IPv4), "No route to host" (IPv6) or
// "Device for nexthop is not up".
var ErrNexthop = errors.New("no usable next hop")

// Memory is the backend a plan runs against: a model of the kernel's
// namespaces, links, addresses and routes that behaves as the kernel does
// wherever a playbook can see it, so that a plan prints the state a run
// would. Where the kernel's behaviour is not obvious, the comments say what
// was measured (Linux 6.18). What only the kernel knows — command results,
// sockets, round-trip times — is unknown. A Memory is not safe for
// concurrent use.
type Memory struct {
	paths  Paths
	spaces []*memNS // host first, then in the order they were made
	// byRef finds a namespace without a walk over the thousands of a star.
	byRef  map[NSRef]*memNS
	lastID uint64 // the last identity given to a namespace; never reused
	macs   int    // MAC addresses given out
	files  map[string]string
	dirs   map[string]bool
	order  []*memLink // links an operation touched, in the order the kernel fires their carrier events
	// changed are the bridges whose ports or spanning tree an operation
	// changed: with order, where the link watch starts (affected).
	changed []*memLink
	procs   map[int]*memProc // a plan's background commands, by their stand-in pids
	// tunnels are the vxlans whose underlay a frame is being followed
	// over, so that one whose underlay runs through itself ends.
	tunnels map[*memLink]bool
}

var _ Backend = (*Memory)(nil)

// memNS is one network namespace.
type memNS struct {
	ref       NSRef
	id        uint64              // its identity; ids grow in the order of Memory.spaces
	links     []*memLink          // in index order
	byName    map[string]*memLink // the same links, by name: a star's host namespace has thousands
	addressed []*memLink          // the links with an address, in index order: a star's host has a handful (syncAddressed)
	routes    []*memRoute
	lastIndex int                  // the kernel's per-namespace cursor for interface indexes
	nsids     map[*memNS]int       // the ids this namespace knows others by (ip netns list-id)
	knownIn   []*memNS             // the namespaces whose nsids have this one, which forget it when it goes
	sysctls   map[string]string    // the sysctls set, by key (memory_sysctl.go)
	natTables map[string][]NATRule // the rules of the labs' nftables tables, by table (memory_nat.go)
	quietMLD  map[string][]string  // the ports in the labs' tables of family bridge, by table (memory_scale.go)
}

func (ns *memNS) String() string { return ns.ref.String() }

// memLink is one link. oper and lastCarrier are what the kernel's link
// watch saw last: the operational state is computed when the carrier
// changes, not at every read, so it depends on history (see linkwatch).
type memLink struct {
	ns     *memNS // nil once deleted
	name   string
	index  int
	kind   string
	rules  linkKind
	up     bool
	mtu    int
	mac    string
	v4, v6 []*memAddr // each in the order the kernel lists them
	master *memLink   // a bridge port's bridge
	peer   *memLink   // a veth's other end
	lower  *memLink   // a macvlan's or vlan's parent, a vxlan's dev
	// ports are a bridge's ports, in index order, and uppers the links
	// whose lower this is, in no order: kept where masters and lowers
	// change, so that a frame through a bridge of a thousand ports, and
	// each port it reaches, does not look through every link.
	ports, uppers []*memLink
	attrs         KindAttrs // what identifies a macvlan, vlan, vxlan or tun/tap
	// underlay is the namespace a vxlan sends from: the one it was made
	// in, wherever it went since.
	underlay *memNS

	stp     bool // bridge: spanning tree on
	hadPort bool // bridge: its carrier follows its ports once it had one
	mtuSet  bool // bridge: its MTU was set, so it no longer follows its ports'

	impair Impairment        // what its root qdisc does (memory_impair.go)
	neigh  map[string]string // permanent neighbour entries, MAC by IP (memory_scale.go)

	oper        string
	lastCarrier bool
	pending     bool // a carrier event is due even if the carrier did not change
}

func (l *memLink) String() string   { return l.name + " in " + l.ns.String() }
func (l *memLink) isLoopback() bool { return l.kind == "loopback" }

// memAddr is one address of a link.
type memAddr struct {
	net       *net.IPNet // the address with its prefix length
	broadcast net.IP
	scope     string
	secondary bool // IPv4: another address of the link has its prefix
	nodad     bool
}

// memRoute is one route of a namespace, the kernel's own or a user's.
type memRoute struct {
	dst    *net.IPNet // nil: default
	v6     bool
	via    net.IP
	dev    *memLink
	metric int
	table  int
	proto  string
	scope  string
}

// linkKind is how one kind of link behaves; a new kind is one entry of
// linkKinds.
type linkKind struct {
	mtu, minMTU, maxMTU int // the default MTU and what `ip link set mtu` accepts; maxMTU 0: no limit
	// fixed links stay in their namespace (the kernel: "The interface
	// netns is immutable").
	fixed bool
	// notPort says why the kernel refuses the kind as a bridge port; ""
	// when it may be one.
	notPort string
	// carrier is the link's carrier (IFF_LOWER_UP while it is up).
	carrier func(l *memLink) bool
	// make sets up the links a LinkAdd of spec makes, ends as spec.Ends
	// lists them; nil for a kind a playbook cannot make.
	make func(m *Memory, spec LinkSpec, ends []*memLink) error
	// send carries a frame sent out of the link over its wire (memory_l2.go);
	// nil for a kind whose frames go nowhere.
	send func(w *l2, l *memLink, tag int)
	// A link made over a lower one starts with the lower's MTU less
	// headroom and takes no more (nil: its lower does not limit it); one
	// that followsMTU drops to the lower's when that gets smaller.
	headroom   func(l *memLink) int
	followsMTU bool
	// rxHandler: the kind takes its lower's receive handler, as a bridge
	// takes its ports': its lower cannot be a port, nor a port its lower
	// (the kernel: Device or resource busy).
	rxHandler bool
	// lostWithLower: the link goes when its lower leaves its namespace,
	// not only when it is deleted.
	lostWithLower bool
}

var linkKinds = map[string]linkKind{
	"loopback": {mtu: 65536, fixed: true, notPort: "a loopback cannot be a bridge port (the kernel: Invalid argument)",
		carrier: func(*memLink) bool { return true }},
	"bridge": {mtu: 1500, minMTU: 68, maxMTU: 65535, fixed: true, notPort: "a bridge cannot be a port of another (the kernel: Can not enslave a bridge to a bridge)",
		carrier: bridgeCarrier, make: makeBridge, send: bridgeSend},
	"veth": {mtu: 1500, minMTU: 68, maxMTU: 65535, carrier: vethCarrier, make: makeVeth, send: vethSend},
	"macvlan": {mtu: 1500, minMTU: 68, maxMTU: 65535, carrier: stackedCarrier, make: makeMacvlan, send: macvlanSend,
		headroom: noHeadroom, followsMTU: true, rxHandler: true},
	"vlan": {mtu: 1500, maxMTU: 65535, carrier: stackedCarrier, make: makeVlan, send: vlanSend,
		headroom: noHeadroom, followsMTU: true},
	"vxlan": {mtu: 1500, minMTU: 68, maxMTU: 65535, carrier: alwaysCarrier, make: makeVxlan, send: vxlanSend,
		headroom: vxlanHeadroom, lostWithLower: true},
	"tuntap": {mtu: 1500, minMTU: 68, maxMTU: 65521, carrier: noCarrier, make: makeTuntap},
	"dummy":  {mtu: 1500, carrier: alwaysCarrier, make: makeDummy},
}

// A bridge has carrier from its creation until it gets a port; from then
// on, while one of its ports forwards (measured: a fresh bridge set up
// shows carrier and oper "unknown"; once a port was added it follows its
// ports, also after they all left).
func bridgeCarrier(br *memLink) bool {
	return !br.hadPort || br.up && slices.ContainsFunc(br.ports, forwards)
}

func makeBridge(_ *Memory, spec LinkSpec, ends []*memLink) error {
	b, ok := spec.(Bridge)
	if !ok {
		return fmt.Errorf("a bridge from %T: %w", spec, ErrUnsupported)
	}
	br := ends[0]
	br.stp, br.oper = b.STP, "unknown"
	if b.MTU > 0 {
		// Given at creation, the MTU still follows the first port's: the
		// kernel marks it as set only when it is changed later.
		if err := br.checkMTU(b.MTU); err != nil {
			return err
		}
		br.mtu = b.MTU
	}
	return nil
}

// A veth end has carrier while both ends are up.
func vethCarrier(l *memLink) bool { return l.up && l.peer != nil && l.peer.up }

func makeVeth(_ *Memory, spec LinkSpec, ends []*memLink) error {
	if _, ok := spec.(Veth); !ok {
		return fmt.Errorf("a veth from %T: %w", spec, ErrUnsupported)
	}
	ends[0].peer, ends[1].peer = ends[1], ends[0]
	return nil
}

// maxBridgePorts is the most ports a Linux bridge takes (BR_MAX_PORTS-1).
const maxBridgePorts = 1023

// NewMemory makes a model with the host namespace, its loopback up as on
// any running machine, and the folders above paths' (/etc, /run), but not
// paths' own: a caller that knows a machine has /etc/netns applies DirAdd.
func NewMemory(paths Paths) *Memory {
	m := &Memory{paths: paths, byRef: map[NSRef]*memNS{}, files: map[string]string{}, dirs: map[string]bool{}, procs: map[int]*memProc{}}
	for _, p := range []string{paths.RunNetns, paths.Labs, paths.EtcNetns} {
		for d := filepath.Dir(filepath.Clean(p)); !m.dirs[d]; d = filepath.Dir(d) {
			m.dirs[d] = true
		}
	}
	host := m.newNS(Host)
	m.setUp(host.links[0])
	return m
}

// newNS makes a namespace as the kernel makes one: only lo, down, without
// addresses.
func (m *Memory) newNS(ref NSRef) *memNS {
	m.lastID++
	ns := &memNS{ref: ref, id: m.lastID, byName: map[string]*memLink{}, nsids: map[*memNS]int{}}
	lo := m.newLink(ns, "lo", "loopback")
	lo.mac, lo.oper = "00:00:00:00:00:00", "unknown"
	ns.insert(lo)
	m.spaces = append(m.spaces, ns)
	m.byRef[ref] = ns
	return ns
}

func (m *Memory) newLink(ns *memNS, name, kind string) *memLink {
	rules := linkKinds[kind]
	m.macs++
	mac := fmt.Sprintf("02:00:00:%02x:%02x:%02x", m.macs>>16&0xff, m.macs>>8&0xff, m.macs&0xff)
	// The carrier starts on: a kind without carrier fires its first event
	// when it is made.
	return &memLink{ns: ns, name: name, index: ns.newIndex(), kind: kind, rules: rules, mtu: rules.mtu, mac: mac,
		oper: "down", lastCarrier: true}
}

// newIndex hands out interface indexes as the kernel does: from a cursor
// per namespace, skipping those in use.
func (ns *memNS) newIndex() int {
	for {
		ns.lastIndex++
		if ns.byIndex(ns.lastIndex) == nil {
			return ns.lastIndex
		}
	}
}

func (ns *memNS) insert(l *memLink) {
	at, _ := slices.BinarySearchFunc(ns.links, l.index, cmpIndex)
	ns.links = slices.Insert(ns.links, at, l)
	ns.byName[l.name] = l
	l.ns = ns
}

// remove takes l out of its namespace's lists.
func (ns *memNS) remove(l *memLink) {
	for _, list := range []*[]*memLink{&ns.links, &ns.addressed} {
		if at, ok := slices.BinarySearchFunc(*list, l.index, cmpIndex); ok {
			*list = slices.Delete(*list, at, at+1)
		}
	}
	delete(ns.byName, l.name)
}

// syncAddressed keeps l in its namespace's addressed links while it has an
// address, and out of them while it has none; called wherever its
// addresses change (a link comes into a namespace without any).
func (l *memLink) syncAddressed() {
	ns := l.ns
	at, in := slices.BinarySearchFunc(ns.addressed, l.index, cmpIndex)
	switch has := len(l.v4)+len(l.v6) > 0; {
	case has && !in:
		ns.addressed = slices.Insert(ns.addressed, at, l)
	case !has && in:
		ns.addressed = slices.Delete(ns.addressed, at, at+1)
	}
}

// cmpIndex orders links by index, for the lists kept in index order.
func cmpIndex(l *memLink, index int) int { return cmp.Compare(l.index, index) }

func (ns *memNS) byIndex(i int) *memLink {
	if at, ok := slices.BinarySearchFunc(ns.links, i, cmpIndex); ok {
		return ns.links[at]
	}
	return nil
}

func (ns *memNS) link(name string) *memLink { return ns.byName[name] }

// space finds the namespace ref names. A path the model does not know
// stands for a namespace made outside the lab (a container's, a process's):
// it is made on first use, fresh (lo down), so that a plan can attach to
// it. A path under the run directory is the named namespace or nothing.
func (m *Memory) space(ref NSRef) (*memNS, error) {
	if ns := m.byRef[ref]; ns != nil {
		return ns, nil
	}
	if p := m.procOf(ref.Path()); p != nil {
		return p.net, nil
	}
	switch path := ref.Path(); {
	case ref.Name() != "":
		return nil, fmt.Errorf("namespace %s: %w", ref.Name(), ErrNotFound)
	case m.paths.RunNetns != "" && filepath.Dir(path) == filepath.Clean(m.paths.RunNetns):
		ns, err := m.space(Named(filepath.Base(path)))
		if err != nil {
			return nil, fmt.Errorf("namespace %s: %w", path, ErrNotFound)
		}
		return ns, nil
	}
	return m.newNS(ref), nil
}

func (m *Memory) link(ref LinkRef) (*memLink, error) {
	ns, err := m.space(ref.NS)
	if err != nil {
		return nil, err
	}
	if l := ns.link(ref.Name); l != nil {
		return l, nil
	}
	return nil, fmt.Errorf("link %s in %s: %w", ref.Name, ns, ErrNotFound)
}

// Apply makes one change, then lets the link watch catch up, as the
// kernel's has by the time a playbook looks.
func (m *Memory) Apply(op Op) error {
	err := m.apply(op)
	m.linkwatch()
	return err
}

func (m *Memory) apply(op Op) error {
	switch o := op.(type) {
	case NetnsAdd:
		return m.netnsAdd(o.Name)
	case NetnsDel:
		return m.netnsDel(o.Name)
	case NetnsSetID:
		return m.setNetnsID(o.NS, o.ID)
	case LinkAdd:
		return m.linkAdd(o)
	case RouteAdd:
		return m.routeAdd(o.NS, o.Route)
	case RouteDel:
		return m.routeDel(o.NS, o.Route)
	case FileWrite:
		return m.writeFile(o.Path, o.Data)
	case FileRemove:
		return m.remove(o.Path)
	case DirAdd:
		return m.mkdir(o.Path)
	case DirRemove:
		return m.remove(o.Path)
	case ProcStart, ProcStop:
		return nil // a plan's processes are not there to stop
	case QdiscSet, QdiscClear:
		return m.applyQdisc(op)
	case SysctlSet:
		return m.setSysctl(o)
	case IPv6Quiet:
		return m.quietIPv6(o)
	case NATRule:
		return m.addNATRule(o)
	case NATTableDel:
		return m.delNATTable(o)
	case MLDQuiet:
		return m.quietMLD(o)
	case MLDQuietPort:
		return m.quietMLDPort(o)
	case MLDQuietPortDel:
		return m.quietMLDPortDel(o)
	case BridgeTableDel:
		return m.delBridgeTable(o)
	}
	on, ok := op.(OnLink)
	if !ok {
		return fmt.Errorf("the in-memory model cannot apply %T: %w", op, ErrUnsupported)
	}
	ref := on.Target()
	l, err := m.link(ref)
	if err != nil {
		return err
	}
	switch o := op.(type) {
	case LinkDel:
		if l.isLoopback() {
			return fmt.Errorf("delete %s: a loopback goes only with its namespace: %w", l, ErrUnsupported)
		}
		m.unlink(l)
	case LinkSetUp:
		m.setUpDown(l, o.Up)
	case LinkSetMTU:
		return m.setMTU(l, o.MTU)
	case LinkSetMaster:
		return m.setMaster(l, o.Master)
	case BridgeSetSTP:
		if l.kind != "bridge" {
			return fmt.Errorf("set stp on %s: it is a %s, not a bridge: %w", l, l.kind, ErrUnsupported)
		}
		l.stp = o.On
		m.changed = append(m.changed, l)
	case LinkMove:
		return m.move(l, o.To)
	case LinkRename:
		return m.rename(l, o.To)
	case AddrAdd:
		return m.addrAdd(l, o.CIDR, o.NoDAD)
	case AddrDel:
		return m.addrDel(l, o.CIDR)
	case LinkSetMAC:
		return m.setMAC(l, o.MAC)
	case NeighAdd:
		return m.neighAdd(l, o)
	case NeighDel:
		return m.neighDel(l, o)
	case LinkNoLinkLocal, LinkLinkLocal: // the model has no link-local addresses
	}
	return nil
}

func (m *Memory) netnsAdd(name string) error {
	if err := ValidNetnsName(name); err != nil {
		return err
	}
	if _, err := m.space(Named(name)); err == nil {
		return fmt.Errorf("namespace %s: %w", name, ErrExists)
	}
	m.newNS(Named(name))
	return nil
}

// netnsDel removes a namespace and its links; the other ends of its veths,
// wherever they are, go with them, as in the kernel.
func (m *Memory) netnsDel(name string) error {
	ns, err := m.space(Named(name))
	if err != nil {
		return err
	}
	for _, l := range slices.Clone(ns.links) {
		m.unlink(l)
	}
	m.spaces = slices.DeleteFunc(m.spaces, func(o *memNS) bool { return o == ns })
	delete(m.byRef, ns.ref)
	for _, o := range ns.knownIn {
		delete(o.nsids, ns)
	}
	return nil
}

// setNetnsID gives a namespace an id in the host. The kernel refuses an id
// in use ("The specified nsid is already used") and a second id ("Peer
// netns already has a nsid assigned"); a negative id asks for any.
func (m *Memory) setNetnsID(ref NSRef, id int) error {
	ns, err := m.space(ref)
	if err != nil {
		return err
	}
	host := m.spaces[0]
	if have, ok := host.nsids[ns]; ok {
		return fmt.Errorf("namespace %s has the id %d in host already: %w", ns, have, ErrExists)
	}
	if id < 0 {
		giveID(host, ns)
		return nil
	}
	for other, used := range host.nsids {
		if used == id {
			return fmt.Errorf("id %d is %s's in host already: %w", id, other, ErrExists)
		}
	}
	know(host, ns, id)
	return nil
}

// giveID makes in know of by the lowest free id, unless it knows it
// already, as the kernel does when a veth joins them.
func giveID(in, of *memNS) {
	if _, ok := in.nsids[of]; ok || in == of {
		return
	}
	used := map[int]bool{}
	for _, id := range in.nsids {
		used[id] = true
	}
	id := 0
	for used[id] {
		id++
	}
	know(in, of, id)
}

// know makes in know of by id.
func know(in, of *memNS, id int) {
	in.nsids[of] = id
	of.knownIn = append(of.knownIn, in)
}

// linkAdd makes every end of a link in one step, as one netlink request
// does: all or nothing.
func (m *Memory) linkAdd(o LinkAdd) error {
	rules, ok := linkKinds[o.Spec.Kind()]
	if !ok || rules.make == nil {
		return fmt.Errorf("the in-memory model cannot make a %q link: %w", o.Spec.Kind(), ErrUnsupported)
	}
	refs := o.Spec.Ends(o.Link)
	spaces := make([]*memNS, len(refs))
	for i, ref := range refs {
		if err := ValidLinkName(ref.Name); err != nil {
			return err
		}
		ns, err := m.space(ref.NS)
		if err != nil {
			return err
		}
		if ns.link(ref.Name) != nil || slices.Contains(refs[:i], ref) {
			return fmt.Errorf("link %s in %s: %w", ref.Name, ns, ErrExists)
		}
		spaces[i] = ns
	}
	var parent *memLink
	if p, ok := o.Spec.(OnParent); ok {
		var err error
		if parent, err = m.link(p.ParentLink()); err != nil {
			return err
		}
	}
	// The kernel registers a veth's peer before the link itself: the
	// peer gets the lower index, and fires its carrier event first.
	ends := make([]*memLink, len(refs))
	for i := len(refs) - 1; i >= 0; i-- {
		ends[i] = m.newLink(spaces[i], refs[i].Name, o.Spec.Kind())
	}
	ends[0].lower = parent
	if err := rules.make(m, o.Spec, ends); err != nil {
		return err
	}
	for i := len(ends) - 1; i >= 0; i-- {
		spaces[i].insert(ends[i])
		m.order = append(m.order, ends[i])
	}
	if parent := ends[0].lower; parent != nil {
		parent.uppers = append(parent.uppers, ends[0])
	}
	// The namespace a link is made in learns an id for its peer's.
	for _, end := range ends[1:] {
		giveID(spaces[0], end.ns)
	}
	return nil
}

// unlink deletes a link and what goes with it: a veth's other end, a
// bridge's hold on its ports, the routes through it.
func (m *Memory) unlink(l *memLink) {
	ns := l.ns
	if ns == nil {
		return // gone already, as the other end of a veth
	}
	m.release(l)
	for _, p := range slices.Clone(l.ports) {
		m.release(p)
	}
	ns.dropRoutes(l, nil)
	ns.remove(l)
	l.ns = nil
	if l.lower != nil {
		l.lower.uppers = slices.DeleteFunc(l.lower.uppers, func(u *memLink) bool { return u == l })
	}
	if l.peer != nil {
		m.unlink(l.peer)
	}
	for _, u := range m.uppers(l) {
		m.unlink(u)
	}
}

// release takes a port out of its bridge.
func (m *Memory) release(l *memLink) {
	if br := l.master; br != nil {
		l.master = nil
		br.ports = slices.DeleteFunc(br.ports, func(p *memLink) bool { return p == l })
		br.pending = true
		m.changed = append(m.changed, br)
		br.followPorts()
	}
}

func (m *Memory) setUpDown(l *memLink, up bool) {
	switch {
	case up && !l.up:
		m.setUp(l)
	case !up && l.up:
		m.setDown(l)
	}
	m.order = append(m.order, l, l.peer)
}

// setUp sets a link up. A loopback gets 127.0.0.1/8 and ::1/128 each time;
// every link gets the routes of its subnets.
func (m *Memory) setUp(l *memLink) {
	l.up = true
	if l.isLoopback() {
		for _, cidr := range []string{"127.0.0.1/8", "::1/128"} {
			ipnet, _ := ParseCIDR(cidr)
			if l.find(ipnet) == nil {
				l.insertAddr(&memAddr{net: ipnet, scope: "host"})
			}
		}
	}
	for _, a := range l.addrs() {
		l.addPrefixRoute(a)
	}
}

// setDown sets a link down: the kernel drops every route through it and
// its IPv6 addresses (keep_addr_on_down is off), and keeps its IPv4 ones.
func (m *Memory) setDown(l *memLink) {
	l.up = false
	l.ns.dropRoutes(l, nil)
	l.v6 = nil
	l.neigh = nil // the kernel drops them all, the permanent ones too
	l.syncAddressed()
}

func (l *memLink) checkMTU(mtu int) error {
	switch {
	case mtu < l.rules.minMTU:
		return fmt.Errorf("mtu %d on %s: a %s takes at least %d", mtu, l, l.kind, l.rules.minMTU)
	case l.rules.maxMTU > 0 && mtu > l.rules.maxMTU:
		return fmt.Errorf("mtu %d on %s: a %s takes at most %d", mtu, l, l.kind, l.rules.maxMTU)
	case l.rules.headroom != nil && l.lower != nil && mtu > l.lower.mtu-l.rules.headroom(l):
		return fmt.Errorf("mtu %d on %s: a %s takes at most the MTU of %s less %d, %d", mtu, l, l.kind, l.lower.name, l.rules.headroom(l), l.lower.mtu-l.rules.headroom(l))
	}
	return nil
}

// setMTU changes a link's MTU. A bridge whose MTU was never set follows the
// smallest of its ports' (the kernel's br_mtu_auto_adjust).
func (m *Memory) setMTU(l *memLink, mtu int) error {
	if err := l.checkMTU(mtu); err != nil {
		return err
	}
	l.mtu = mtu
	if l.kind == "bridge" {
		l.mtuSet = true
	}
	if l.master != nil {
		l.master.followPorts()
	}
	for _, u := range m.uppers(l) {
		if u.rules.followsMTU && u.mtu > mtu {
			u.mtu = mtu
		}
	}
	return nil
}

// followPorts gives a bridge whose MTU was not set the smallest of its
// ports' MTUs, 1500 without ports.
func (br *memLink) followPorts() {
	if br.mtuSet {
		return
	}
	br.mtu = 0
	for _, p := range br.ports {
		if br.mtu == 0 || p.mtu < br.mtu {
			br.mtu = p.mtu
		}
	}
	br.mtu = cmp.Or(br.mtu, 1500)
}

// setMaster makes l a port of the bridge master in its namespace, or, with
// master "", releases it.
func (m *Memory) setMaster(l *memLink, master string) error {
	if master == "" {
		m.release(l)
		return nil
	}
	br := l.ns.link(master)
	switch {
	case br == nil:
		return fmt.Errorf("link %s in %s: %w", master, l.ns, ErrNotFound)
	case br.kind != "bridge":
		return fmt.Errorf("%s is a %s, and only a bridge takes ports: %w", br, br.kind, ErrUnsupported)
	case l.rules.notPort != "":
		return fmt.Errorf("set master %s on %s: %s", master, l, l.rules.notPort)
	case slices.ContainsFunc(m.uppers(l), func(u *memLink) bool { return u.rules.rxHandler }):
		return fmt.Errorf("set master %s on %s: it is the parent of a %s, which takes what arrives on it (the kernel: Device or resource busy); a bridge cannot have it as a port too", master, l, m.uppers(l)[0].kind)
	case l.master == br:
		return nil
	case madeOn(l, br):
		return fmt.Errorf("set master %s on %s: it is made on %s, and a link cannot be a port of a bridge it is made on (the kernel: Device or resource busy)", master, l, master)
	case len(br.ports) >= maxBridgePorts:
		return fmt.Errorf("set master %s on %s: the bridge has %d ports, the most Linux takes", master, l, maxBridgePorts)
	}
	m.release(l)
	l.master, br.hadPort, br.pending = br, true, true
	at, _ := slices.BinarySearchFunc(br.ports, l.index, cmpIndex)
	br.ports = slices.Insert(br.ports, at, l)
	m.changed = append(m.changed, br)
	br.followPorts()
	return nil
}

// madeOn tells whether l is made on lower, directly or through others (a
// vlan on a macvlan on it).
func madeOn(l, lower *memLink) bool {
	for x := l.lower; x != nil; x = x.lower {
		if x == lower {
			return true
		}
	}
	return false
}

// move moves a link into another namespace. The kernel closes it first,
// takes it out of its bridge, drops its addresses and routes, and keeps
// its index if that is free there.
func (m *Memory) move(l *memLink, ref NSRef) error {
	to, err := m.space(ref)
	if err != nil {
		return err
	}
	switch {
	case to == l.ns:
		return nil
	case l.rules.fixed:
		return fmt.Errorf("move %s to %s: a %s stays in its namespace (the kernel: The interface netns is immutable)", l, to, l.kind)
	case to.link(l.name) != nil:
		return fmt.Errorf("move %s: link %s in %s: %w", l, l.name, to, ErrExists)
	}
	if l.up {
		m.setDown(l)
	}
	m.release(l)
	for _, u := range m.uppers(l) {
		if u.rules.lostWithLower {
			m.unlink(u)
		}
	}
	l.v4, l.v6, l.neigh = nil, nil, nil
	l.impair = Impairment{} // the kernel gives it its default qdisc there
	l.ns.dropRoutes(l, nil)
	l.ns.remove(l)
	if to.byIndex(l.index) != nil {
		l.index = to.newIndex()
	}
	to.insert(l)
	m.order = append(m.order, l, l.peer)
	if l.peer != nil {
		giveID(to, l.peer.ns)
		giveID(l.peer.ns, to)
	}
	return nil
}

// rename renames a link; this kernel renames links that are up, too.
func (m *Memory) rename(l *memLink, name string) error {
	if err := ValidLinkName(name); err != nil {
		return err
	}
	if o := l.ns.link(name); o != nil && o != l {
		return fmt.Errorf("rename %s: link %s in %s: %w", l, name, l.ns, ErrExists)
	}
	delete(l.ns.byName, l.name)
	l.name = name
	l.ns.byName[name] = l
	return nil
}

// addrAdd adds an address. IPv4 refuses only the same address with the
// same prefix length; IPv6 the same address with any.
func (m *Memory) addrAdd(l *memLink, cidr string, nodad bool) error {
	ipnet, err := ParseCIDR(cidr)
	if err != nil {
		return err
	}
	for _, a := range l.addrs() {
		if a.net.IP.Equal(ipnet.IP) && (ipnet.IP.To4() == nil || bytes.Equal(a.net.Mask, ipnet.Mask)) {
			return fmt.Errorf("address %s on %s: %w", cidr, l, ErrExists)
		}
	}
	a := &memAddr{net: ipnet, broadcast: Broadcast(ipnet), scope: addrScope(ipnet.IP), nodad: nodad}
	l.insertAddr(a)
	l.addPrefixRoute(a)
	return nil
}

// addrScope is the scope the kernel (IPv6) or ip (IPv4 loopback) gives an
// address.
func addrScope(ip net.IP) string {
	switch {
	case ip.IsLoopback():
		return "host"
	case ip.To4() != nil:
		return "global"
	case ip.IsLinkLocalUnicast():
		return "link"
	case ip[0] == 0xfe && ip[1]&0xc0 == 0xc0:
		return "site"
	}
	return "global"
}

// insertAddr puts an address where the kernel lists it. IPv4: a primary
// after the primaries of a scope as wide or narrower (host-scope ones come
// first), one whose prefix the link has already (a secondary) at the end.
// IPv6: the widest scope first, and the newest first within a scope.
func (l *memLink) insertAddr(a *memAddr) {
	defer l.syncAddressed()
	if a.net.IP.To4() == nil {
		rank := v6Rank[a.scope]
		at := slices.IndexFunc(l.v6, func(b *memAddr) bool { return rank >= v6Rank[b.scope] })
		if at < 0 {
			at = len(l.v6)
		}
		l.v6 = slices.Insert(l.v6, at, a)
		return
	}
	at := 0
	for i, b := range l.v4 {
		if !b.secondary && v4Rank[a.scope] <= v4Rank[b.scope] {
			at = i + 1
		}
		if bytes.Equal(a.net.Mask, b.net.Mask) && b.net.Contains(a.net.IP) {
			a.secondary = true
		}
	}
	if a.secondary {
		at = len(l.v4)
	}
	l.v4 = slices.Insert(l.v4, at, a)
}

// The kernel's numbers for scopes: rtnetlink's for IPv4, the address
// selection's for IPv6.
var (
	v4Rank = map[string]int{"global": 0, "site": 200, "link": 253, "host": 254}
	v6Rank = map[string]int{"global": 14, "site": 5, "link": 2, "host": 1}
)

func (l *memLink) addrs() []*memAddr { return slices.Concat(l.v4, l.v6) }

func (l *memLink) find(ipnet *net.IPNet) *memAddr {
	for _, a := range l.addrs() {
		if a.net.IP.Equal(ipnet.IP) && bytes.Equal(a.net.Mask, ipnet.Mask) {
			return a
		}
	}
	return nil
}

// addrDel removes an address. With an IPv4 primary go its secondaries
// (promote_secondaries is off) and its subnet's route; with a link's last
// IPv4 address, every IPv4 route through it. An IPv6 address takes its
// prefix's route unless another address has the prefix.
func (m *Memory) addrDel(l *memLink, cidr string) error {
	ipnet, err := ParseCIDR(cidr)
	if err != nil {
		return err
	}
	a := l.find(ipnet)
	if a == nil {
		return fmt.Errorf("address %s on %s: %w", cidr, l, ErrNotFound)
	}
	defer l.syncAddressed()
	prefix := prefixOf(a.net)
	sameRoute := func(r *memRoute) bool {
		return r.dev == l && r.proto == "kernel" && r.dst != nil && r.dst.String() == prefix.String()
	}
	if a.net.IP.To4() == nil {
		l.v6 = slices.DeleteFunc(l.v6, func(b *memAddr) bool { return b == a })
		if !slices.ContainsFunc(l.v6, func(b *memAddr) bool { return prefixOf(b.net).String() == prefix.String() }) {
			l.ns.routes = slices.DeleteFunc(l.ns.routes, sameRoute)
		}
		return nil
	}
	l.v4 = slices.DeleteFunc(l.v4, func(b *memAddr) bool {
		return b == a || !a.secondary && b.secondary && bytes.Equal(b.net.Mask, a.net.Mask) && a.net.Contains(b.net.IP)
	})
	if !a.secondary {
		l.ns.routes = slices.DeleteFunc(l.ns.routes, sameRoute)
	}
	if len(l.v4) == 0 {
		v4 := false
		l.ns.dropRoutes(l, &v4)
		// With its last IPv4 address, the kernel drops the link's ARP
		// entries, the permanent ones too.
		maps.DeleteFunc(l.neigh, func(ip, _ string) bool { return net.ParseIP(ip).To4() != nil })
	}
	return nil
}

func prefixOf(n *net.IPNet) *net.IPNet { return &net.IPNet{IP: n.IP.Mask(n.Mask), Mask: n.Mask} }

// addPrefixRoute adds the route of an address's subnet, as the kernel does
// for an up link: none for a /32 or /128, a secondary, an IPv4 subnet of
// the loopback (that goes to the local table), and the IPv6 link-local
// ones Routes leaves out anyway.
func (l *memLink) addPrefixRoute(a *memAddr) {
	ones, bits := a.net.Mask.Size()
	if !l.up || l.isLoopback() && bits == 32 || a.secondary || ones == bits || a.scope == "link" {
		return
	}
	r := &memRoute{dst: prefixOf(a.net), dev: l, table: tableIDs["main"], proto: "kernel", scope: "link"}
	if bits == 128 {
		r.v6, r.metric, r.scope = true, 256, "global"
	}
	// The kernel appends its own routes: two links may have one subnet.
	if !slices.ContainsFunc(l.ns.routes, func(o *memRoute) bool { return o.same(r) && o.dev == l }) {
		l.ns.routes = append(l.ns.routes, r)
	}
}

// dropRoutes removes the routes through l, of one IP version or (v6 nil)
// both.
func (ns *memNS) dropRoutes(l *memLink, v6 *bool) {
	ns.routes = slices.DeleteFunc(ns.routes, func(r *memRoute) bool { return r.dev == l && (v6 == nil || r.v6 == *v6) })
}

// same tells whether the kernel takes two routes for one: the same table,
// destination and metric, whatever their gateways.
func (r *memRoute) same(o *memRoute) bool {
	return r.table == o.table && r.v6 == o.v6 && r.metric == o.metric && r.dstText() == o.dstText()
}

func (r *memRoute) dstText() string {
	if r.dst == nil {
		return "default"
	}
	return r.dst.String()
}

func (r *memRoute) prefixLen() int {
	if r.dst == nil {
		return 0
	}
	ones, _ := r.dst.Mask.Size()
	return ones
}

func (r *memRoute) contains(ip net.IP) bool {
	return r.v6 == (ip.To4() == nil) && (r.dst == nil || r.dst.Contains(ip))
}

// routeAdd adds a route the way `ip route add` does: proto boot, scope
// link without a gateway; IPv6 routes get metric 1024 and scope global.
func (m *Memory) routeAdd(ref NSRef, rt Route) error {
	if err := rt.Check(); err != nil {
		return err
	}
	ns, err := m.space(ref)
	if err != nil {
		return err
	}
	r, err := ns.route(rt)
	if err != nil {
		return err
	}
	r.proto, r.scope = "boot", "link"
	if r.via != nil || r.v6 {
		r.scope = "global"
	}
	if r.v6 && r.metric == 0 {
		r.metric = IPv6DefaultMetric
	}
	if r.via != nil {
		if r.dev, err = ns.gatewayLink(r.via, r.dev, r.table); err != nil {
			return err
		}
	} else if !r.dev.up {
		return fmt.Errorf("%w: %s is down (the kernel: Device for nexthop is not up); set it up first", ErrNexthop, r.dev)
	}
	if slices.ContainsFunc(ns.routes, r.same) {
		return fmt.Errorf("route %s metric %d in table %s of %s: %w", r.dstText(), r.metric, TableName(r.table), ns, ErrExists)
	}
	ns.routes = append(ns.routes, r)
	return nil
}

// route reads a route as a user wrote it; ParseDst and Route.Check have
// said what is wrong with one.
func (ns *memNS) route(rt Route) (*memRoute, error) {
	table, err := ParseTable(rt.Table)
	if err != nil {
		return nil, err
	}
	dst, err := ParseDst(rt.Dst)
	if err != nil {
		return nil, err
	}
	r := &memRoute{dst: dst, v6: rt.IPv6(), metric: rt.Metric, table: table}
	if via := net.ParseIP(rt.Via); via != nil {
		r.via = norm(via)
	}
	if rt.Dev != "" {
		if r.dev = ns.link(rt.Dev); r.dev == nil {
			return nil, fmt.Errorf("link %s in %s: %w", rt.Dev, ns, ErrNotFound)
		}
	}
	return r, nil
}

// gatewayLink finds the link a new route's gateway is reached through, as
// the kernel checks it: the best route to it in the route's table, else in
// main and default, must have no gateway itself (an IPv4 lookup passes
// over those), and go through dev when one is given. An IPv4 gateway may
// be an address of the namespace; an IPv6 one may not, and a link-local
// one needs dev.
func (ns *memNS) gatewayLink(gw net.IP, dev *memLink, table int) (*memLink, error) {
	v6 := gw.To4() == nil
	if owner := ns.owner(gw); owner != nil {
		switch {
		case v6:
			return nil, fmt.Errorf("%w: gateway %s is an address of %s (the kernel: Gateway can not be a local address)", ErrNexthop, gw, ns)
		case !owner.up:
			return nil, fmt.Errorf("%w: gateway %s is an address of %s, which is down (the kernel: Nexthop device is not up); set it up first", ErrNexthop, gw, owner)
		case dev == nil || dev == owner:
			return owner, nil
		}
	}
	if v6 && gw.IsLinkLocalUnicast() {
		switch {
		case dev == nil:
			return nil, fmt.Errorf("%w: gateway %s is link-local, so the route needs dev= as well (the kernel: Egress device not specified)", ErrNexthop, gw)
		case !dev.up:
			return nil, fmt.Errorf("%w: %s is down (the kernel: Nexthop device is not up); set it up first", ErrNexthop, dev)
		}
		return dev, nil
	}
	for _, t := range []int{table, tableIDs["main"], tableIDs["default"]} {
		var best *memRoute
		for _, r := range ns.routes {
			if r.table != t || !r.contains(gw) || (dev != nil && r.dev != dev) || (!v6 && r.via != nil) {
				continue
			}
			if best == nil || r.prefixLen() > best.prefixLen() || r.prefixLen() == best.prefixLen() && r.metric < best.metric {
				best = r
			}
		}
		if best != nil && best.via == nil {
			return best.dev, nil
		}
	}
	through := ""
	if dev != nil {
		through = " through " + dev.name
	}
	if v6 {
		return nil, fmt.Errorf("%w: gateway %s is on no subnet of a link that is up in %s%s (the kernel: No route to host); give a link an address of its subnet and set it up first", ErrNexthop, gw, ns, through)
	}
	return nil, fmt.Errorf("%w: gateway %s is on no subnet of a link that is up in %s%s (the kernel: Nexthop has invalid gateway); give a link an address of its subnet and set it up first", ErrNexthop, gw, ns, through)
}

// routeDel deletes the first route with the destination and table, and the
// gateway, link and metric when they are given, whoever added it.
func (m *Memory) routeDel(ref NSRef, rt Route) error {
	ns, err := m.space(ref)
	if err != nil {
		return err
	}
	want, err := ns.route(rt)
	if err != nil {
		return err
	}
	at := slices.IndexFunc(ns.routes, func(r *memRoute) bool {
		return r.table == want.table && r.v6 == want.v6 && r.dstText() == want.dstText() &&
			(want.metric == 0 || r.metric == want.metric) && (want.via == nil || want.via.Equal(r.via)) &&
			(want.dev == nil || want.dev == r.dev)
	})
	if at < 0 {
		return fmt.Errorf("route %s in %s: %w", rt.Args(), ns, ErrNotFound)
	}
	ns.routes = slices.Delete(ns.routes, at, at+1)
	return nil
}

// linkwatch does what the kernel's link watch does after a change: for each
// link whose carrier changed, or that is due an event, it computes the
// operational state anew — first for the links the change touched, in the
// order the kernel fires their events, then for the rest (affected). The
// state is kept between events because the kernel's is: a veth end up without
// carrier is "lowerlayerdown" when the link with its peer's index in its
// own namespace exists and is not up at the event, else "down" (measured:
// a pair made in one namespace shows "lowerlayerdown" on either end set up
// alone, also after the end is moved elsewhere; an end whose peer went down
// in another namespace shows "down").
func (m *Memory) linkwatch() {
	for _, l := range slices.Concat(m.order, m.affected()) {
		if l == nil || l.ns == nil {
			continue
		}
		on := l.rules.carrier(l)
		if on == l.lastCarrier && !l.pending {
			continue
		}
		l.lastCarrier, l.pending = on, false
		l.oper = operstate(l, on)
	}
	m.order, m.changed = nil, nil
}

// affected lists the links whose carrier or pending event an operation may
// have changed, in the order of a walk over every namespace's links: the
// rest that linkwatch visits. A walk over all would pass the others by, as
// their carrier is what it was, and a star has thousands. They are the
// links the operation touched (order: a link set up, down or moved comes
// with its peer) or changed, and from each, what reads its state: a veth's
// peer, a port's bridge, the links made on it; and so on.
func (m *Memory) affected() []*memLink {
	seen := map[*memLink]bool{}
	var out []*memLink
	var visit func(l *memLink)
	visit = func(l *memLink) {
		if l == nil || l.ns == nil || seen[l] {
			return
		}
		seen[l] = true
		out = append(out, l)
		visit(l.peer)
		visit(l.master)
		for _, u := range l.uppers {
			visit(u)
		}
	}
	for _, l := range slices.Concat(m.order, m.changed) {
		visit(l)
	}
	slices.SortFunc(out, walkOrder)
	return out
}

// walkOrder orders links as a walk over Memory.spaces and their links
// meets them: by namespace id, then by index.
func walkOrder(a, b *memLink) int {
	return cmp.Or(cmp.Compare(a.ns.id, b.ns.id), cmp.Compare(a.index, b.index))
}

// operstate is the kernel's default_operstate.
func operstate(l *memLink, carrier bool) string {
	if carrier {
		return "up"
	}
	iflink := l.index
	switch {
	case l.peer != nil:
		iflink = l.peer.index
	case l.lower != nil:
		iflink = l.lower.index
	}
	if iflink == l.index {
		return "down"
	}
	if o := l.ns.byIndex(iflink); o == nil || o.oper == "up" || o.oper == "unknown" {
		return "down"
	}
	return "lowerlayerdown"
}

// forwards tells whether a bridge port passes frames: the bridge is up, the
// port is up with carrier, and no spanning tree holds it back (a port of an
// STP bridge listens and learns for 30 seconds first).
func forwards(port *memLink) bool {
	br := port.master
	return br.up && !br.stp && port.hasCarrier()
}

// hasCarrier is what the kernel reports as IFF_LOWER_UP.
func (l *memLink) hasCarrier() bool { return l.up && l.rules.carrier(l) }

// tentative tells whether an IPv6 address still waits for duplicate
// address detection: the kernel starts it once the link has carrier; the
// model takes it as done then.
func (l *memLink) tentative(a *memAddr) bool {
	return a.net.IP.To4() == nil && !a.nodad && !l.isLoopback() && !l.hasCarrier()
}

func (m *Memory) info(l *memLink) LinkInfo {
	info := LinkInfo{Name: l.name, Index: l.index, Kind: l.kind, Up: l.up, Oper: "down", Carrier: l.hasCarrier(), MAC: l.mac, MTU: l.mtu, KindAttrs: l.attrs}
	if l.lower != nil {
		lower := Link(l.lower.ns.ref, l.lower.name)
		info.Parent = &lower
	}
	if l.up {
		info.Oper = l.oper
	}
	if l.master != nil {
		info.Master = l.master.name
	}
	if l.peer != nil {
		peer := Link(l.peer.ns.ref, l.peer.name)
		info.Peer = &peer
	}
	if l.kind == "bridge" {
		stp := l.stp
		info.STP, info.Ports = &stp, []string{}
		for _, p := range l.ports {
			info.Ports = append(info.Ports, p.name)
		}
	}
	return info
}

func (m *Memory) Identity(ref NSRef) (uint64, error) {
	ns, err := m.space(ref)
	if err != nil {
		return 0, err
	}
	return ns.id, nil
}

func (m *Memory) NamedList() ([]string, error) {
	var names []string
	for _, ns := range m.spaces {
		if ns.ref.Name() != "" {
			names = append(names, ns.ref.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

func (m *Memory) NetnsID(in, of NSRef) (int, error) {
	a, err := m.space(in)
	if err != nil {
		return -1, err
	}
	o, err := m.space(of)
	if err != nil {
		return -1, err
	}
	if id, ok := a.nsids[o]; ok {
		return id, nil
	}
	return -1, nil
}

func (m *Memory) Link(ref LinkRef) (LinkInfo, error) {
	l, err := m.link(ref)
	if err != nil {
		return LinkInfo{}, err
	}
	return m.info(l), nil
}

func (m *Memory) LinkIndex(ref LinkRef) (int, error) {
	l, err := m.link(ref)
	if err != nil {
		return 0, err
	}
	return l.index, nil
}

func (m *Memory) Links(ref NSRef) ([]LinkInfo, error) {
	ns, err := m.space(ref)
	if err != nil {
		return nil, err
	}
	out := make([]LinkInfo, len(ns.links))
	for i, l := range ns.links {
		out[i] = m.info(l)
	}
	return out, nil
}

func (m *Memory) Addrs(ref LinkRef) ([]AddrInfo, error) {
	l, err := m.link(ref)
	if err != nil {
		return nil, err
	}
	var out []AddrInfo
	for _, a := range l.addrs() {
		if a.scope == "link" {
			continue
		}
		info := AddrInfo{CIDR: a.net.String(), Scope: a.scope, Tentative: l.tentative(a)}
		if a.broadcast != nil {
			info.Broadcast = a.broadcast.String()
		}
		out = append(out, info)
	}
	return out, nil
}

// Routes lists the routes in the kernel's dump order: IPv4 first, by table
// (the kernel walks a hash of 256 buckets of table ids), then by
// destination address, the longer prefix first, then by metric.
func (m *Memory) Routes(ref NSRef) ([]RouteInfo, error) {
	ns, err := m.space(ref)
	if err != nil {
		return nil, err
	}
	routes := slices.Clone(ns.routes)
	slices.SortStableFunc(routes, func(a, b *memRoute) int {
		return cmp.Or(compareBool(a.v6, b.v6), cmp.Compare(a.table%256, b.table%256), cmp.Compare(a.table, b.table), bytes.Compare(a.network(), b.network()),
			cmp.Compare(b.prefixLen(), a.prefixLen()), cmp.Compare(a.metric, b.metric))
	})
	out := make([]RouteInfo, len(routes))
	for i, r := range routes {
		out[i] = RouteInfo{Dst: r.dstText(), Dev: r.dev.name, Metric: r.metric, Table: TableName(r.table), Proto: r.proto, Scope: r.scope}
		if r.via != nil {
			out[i].Via = r.via.String()
		}
	}
	return out, nil
}

func (r *memRoute) network() []byte {
	if r.dst == nil {
		return nil
	}
	return r.dst.IP
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// Settle has nothing to wait for: the model's link watch is never behind.
func (m *Memory) Settle(ref NSRef, _ time.Duration) error {
	_, err := m.space(ref)
	return err
}

// The file tree: what a lab writes (a namespace's resolv.conf), with the
// semantics of os.WriteFile, os.Mkdir, os.Remove and os.ReadDir.

func (m *Memory) writeFile(path, data string) error {
	path = filepath.Clean(path)
	switch {
	case m.dirs[path]:
		return fmt.Errorf("write %s: it is a folder", path)
	case !m.dirs[filepath.Dir(path)]:
		return fmt.Errorf("write %s: folder %s: %w", path, filepath.Dir(path), ErrNotFound)
	}
	m.files[path] = data
	return nil
}

func (m *Memory) mkdir(path string) error {
	path = filepath.Clean(path)
	if _, file := m.files[path]; file || m.dirs[path] {
		return fmt.Errorf("create %s: %w", path, ErrExists)
	}
	if !m.dirs[filepath.Dir(path)] {
		return fmt.Errorf("create %s: folder %s: %w", path, filepath.Dir(path), ErrNotFound)
	}
	m.dirs[path] = true
	return nil
}

// remove removes a file or an empty folder.
func (m *Memory) remove(path string) error {
	path = filepath.Clean(path)
	if _, ok := m.files[path]; ok {
		delete(m.files, path)
		return nil
	}
	names, err := m.ReadDir(path)
	switch {
	case err != nil:
		return fmt.Errorf("remove %s: %w", path, ErrNotFound)
	case len(names) > 0:
		return fmt.Errorf("remove %s: the folder holds %s", path, strings.Join(names, ", "))
	}
	delete(m.dirs, path)
	return nil
}

func (m *Memory) ReadFile(path string) ([]byte, error) {
	path = filepath.Clean(path)
	data, ok := m.files[path]
	switch {
	case ok:
		return []byte(data), nil
	case m.dirs[path]:
		return nil, fmt.Errorf("read %s: it is a folder", path)
	}
	return nil, fmt.Errorf("read %s: %w", path, ErrNotFound)
}

func (m *Memory) ReadDir(path string) ([]string, error) {
	path = filepath.Clean(path)
	if !m.dirs[path] {
		if _, file := m.files[path]; file {
			return nil, fmt.Errorf("read folder %s: it is a file", path)
		}
		return nil, fmt.Errorf("read folder %s: %w", path, ErrNotFound)
	}
	names := []string{}
	for _, set := range []map[string]bool{m.dirs, fileSet(m.files)} {
		for p := range set {
			if p != path && filepath.Dir(p) == path {
				names = append(names, filepath.Base(p))
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

func fileSet(files map[string]string) map[string]bool {
	set := make(map[string]bool, len(files))
	for p := range files {
		set[p] = true
	}
	return set
}

// Processes, sockets and commands: only the kernel knows. A plan's
// commands do not run; their namespace must exist all the same.

func (m *Memory) Exec(_ context.Context, spec ExecSpec) (ExecResult, error) {
	if err := m.checkTarget(spec); err != nil {
		return ExecResult{}, err
	}
	return ExecResult{Unknown: true}, nil
}

func (m *Memory) StopProcessesIn([]NSRef, time.Duration) ([]Stopped, error) { return nil, nil }

func (m *Memory) PIDs(ref NSRef) ([]int, error) {
	ns, err := m.space(ref)
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("processes in %s: %w", ns, ErrUnknown)
}

func (m *Memory) Identify(int) (string, error) { return "", nil }

func (m *Memory) Listening(ref NSRef, proto string, port int) (bool, error) {
	ns, err := m.space(ref)
	if err != nil {
		return false, err
	}
	return false, fmt.Errorf("whether %s port %d is listened on in %s: %w", proto, port, ns, ErrUnknown)
}

func (m *Memory) Connect(ref NSRef, addr net.IP, port int, _ time.Duration) error {
	ns, err := m.space(ref)
	if err != nil {
		return err
	}
	return fmt.Errorf("whether %s connects to %s port %d: %w", ns, addr, port, ErrUnknown)
}

// Forget and Close: the model holds nothing open.
func (m *Memory) Forget(NSRef) {}
func (m *Memory) Close()       {}
