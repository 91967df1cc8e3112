package kernel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/nsplay/nsplay/internal/model"
	"golang.org/x/sys/unix"
)

// Backend is the kernel backend: model.Backend over netlink handles bound
// to each namespace. It opens a namespace on first use and checks on every
// use that a named one is still the one it opened, so that a handle never
// falls back to another namespace: a namespace deleted and made again under
// its name is opened anew, and one that is gone is ErrNotFound.
type Backend struct {
	paths model.Paths
	host  *NS
	open  map[model.NSRef]*NS
	// peers are the last few namespaces that held a veth peer, most
	// recent first: a peer in a namespace its veth's namespace has not
	// been asked about is looked for there first, so that finding the
	// peers of a star's hosts costs a request each, not one per namespace
	// open.
	peers []*NS
	// pending are the veth ends outside deleted namespaces that the
	// kernel removes in the background: reads wait for them first, so
	// that what is read next is the state after the deletion, while
	// deleting many namespaces costs one wait. An end the deletion named
	// (model.NetnsDel.Along) is known by its name alone.
	pending []linkRef
	// dad are the IPv6 addresses added with duplicate address detection
	// whose detection may not have begun: the kernel begins it only once
	// the link has carrier, so every change that may give a link carrier
	// (a link or its veth peer set up, a port joining a bridge) waits for
	// them, and the addresses are usable when that step returns.
	dad []dadAddr
	// neighFulls counts the overflows of the neighbour tables when the
	// backend opened or last told of them, so that a failed reachability
	// check can tell of those that happened since, and twenty failures of
	// a batch do not all repeat it.
	neighFulls int64
	// bridgeSpaces are the namespaces where links were made bridge ports;
	// portsMoved says that a port may have got carrier since traffic last
	// waited for them (ports.go).
	bridgeSpaces map[*NS]bool
	portsMoved   bool
	// steps are the playbook's steps, within which the namespaces
	// remember the indexes of the links they read (steps.go).
	steps *steps
}

// dadAddr is an IPv6 address that may still be in duplicate address
// detection.
type dadAddr struct {
	link model.LinkRef
	ip   net.IP
}

var _ model.Backend = (*Backend)(nil)

// recentPeers is how many namespaces Backend.peers holds.
const recentPeers = 4

// NewBackend opens the namespace the calling thread is in as host.
func NewBackend(paths model.Paths) (*Backend, error) {
	host, err := Current()
	if err != nil {
		return nil, err
	}
	s := &steps{}
	host.steps = s
	return &Backend{paths: paths, host: host, open: map[model.NSRef]*NS{}, neighFulls: neighbourOverflows(), steps: s}, nil
}

// Step begins one step of a playbook (one builtin call) and returns its
// end: within it, the backend asks the kernel for a link's index once
// (steps.go).
func (b *Backend) Step() (end func()) {
	b.steps.begin()
	return b.steps.end
}

// NS opens (once) the namespace ref names.
func (b *Backend) NS(ref model.NSRef) (*NS, error) {
	if ref.IsHost() {
		return b.host, nil
	}
	if ns, ok := b.open[ref]; ok {
		if ref.Name() == "" || ns.nameHolds() {
			return ns, nil
		}
		b.Forget(ref) // deleted, or replaced by another of that name
	}
	var ns *NS
	var err error
	if name := ref.Name(); name != "" {
		ns, err = OpenNamed(b.paths.RunNetns, name)
	} else {
		ns, err = Open(b.paths.RunNetns, ref.Path())
	}
	if err != nil {
		return nil, err
	}
	b.keep(ref, ns)
	return ns, nil
}

// keep holds ns open under ref, trusting a look at its name for
// nameRecheck.
func (b *Backend) keep(ref model.NSRef, ns *NS) {
	ns.recheck = nameRecheck
	ns.steps = b.steps
	b.open[ref] = ns
}

// known lists the namespaces open now, host first, to look for veth peers in.
func (b *Backend) known() []*NS {
	out := []*NS{b.host}
	for _, ns := range b.open {
		out = append(out, ns)
	}
	return out
}

// peer finds the other end of a veth: in its own namespace, or in the open
// namespace that the veth's namespace knows under the peer's netns id.
func (b *Backend) peer(ns *NS, l LinkInfo) (*NS, LinkInfo, error) {
	if l.Kind != "veth" || l.PeerIndex == 0 {
		return nil, LinkInfo{}, fmt.Errorf("%s in %s is not a veth: %w", l.Name, ns, ErrNotFound)
	}
	return b.linkAt(ns, l.PeerIndex, l.PeerNetnsID, "the peer of "+l.Name)
}

// linkAt finds the link with index in ns, or, when netnsID is not -1, in
// the open namespace that ns knows under that id. what names the link in
// the error.
func (b *Backend) linkAt(ns *NS, index, netnsID int, what string) (*NS, LinkInfo, error) {
	if netnsID < 0 {
		p, err := ns.LinkByIndex(index)
		return ns, p, err
	}
	// The host is where most labs' veths have their other ends; the
	// namespaces peers were found in last come next (a star's previous
	// hosts, for its host namespace).
	likely := b.peers
	if !ns.Same(b.host) {
		likely = append([]*NS{b.host}, b.peers...)
	}
	if k, ok := ns.withID(netnsID, likely, b.known); ok {
		if len(b.peers) == 0 || b.peers[0] != k {
			b.peers = append([]*NS{k}, slices.DeleteFunc(b.peers, func(p *NS) bool { return p == k })...)
			b.peers = b.peers[:min(len(b.peers), recentPeers)]
		}
		p, err := k.LinkByIndex(index)
		return k, p, err
	}
	return nil, LinkInfo{}, fmt.Errorf("%s in %s is in a namespace nsplay has not opened: %w", what, ns, ErrNotFound)
}

// refOf is the ref under which a namespace is open.
func (b *Backend) refOf(ns *NS) model.NSRef {
	if ns.Same(b.host) {
		return model.Host
	}
	for ref, open := range b.open {
		if open == ns {
			return ref
		}
	}
	if ns.Name != "" {
		return model.Named(ns.Name)
	}
	return model.AtPath(ns.Path)
}

func (b *Backend) Identity(ref model.NSRef) (uint64, error) {
	ns, err := b.NS(ref)
	if err != nil {
		return 0, err
	}
	return ns.Cookie(), nil
}

func (b *Backend) NamedList() ([]string, error) { return NamedList(b.paths.RunNetns) }

func (b *Backend) NetnsID(in, of model.NSRef) (int, error) {
	a, err := b.NS(in)
	if err != nil {
		return -1, err
	}
	o, err := b.NS(of)
	if err != nil {
		return -1, err
	}
	return a.NetnsIDOf(o)
}

// Apply makes one change through netlink, or in the file system for files.
func (b *Backend) Apply(op model.Op) error {
	switch op.(type) {
	case model.NetnsDel, model.LinkDel:
		// Deleting many namespaces, and what was made before them, waits
		// once, after the last: a link deleted meanwhile does not need the
		// ends they take along gone.
	default:
		b.settlePending()
	}
	err := b.apply(op)
	switch op.(type) {
	case model.NetnsDel, model.LinkDel, model.LinkMove, model.LinkRename, model.ProcStop:
		b.steps.forget() // names and indexes changed, or may have (a process may own a tap)
	default:
		if err != nil {
			b.steps.forget() // a change that failed removed what it had made (a bridge without STP)
		}
	}
	if err != nil {
		return err
	}
	b.notePorts(op)
	return b.followDAD(op)
}

// followDAD keeps the list of addresses in DAD true after op, and waits
// for them when op may have given their links carrier.
func (b *Backend) followDAD(op model.Op) error {
	switch o := op.(type) {
	case model.AddrAdd:
		if ipnet, err := model.ParseCIDR(o.CIDR); err == nil && !o.NoDAD && ipnet.IP.To4() == nil {
			b.dad = append(b.dad, dadAddr{o.Link, ipnet.IP})
		}
	case model.NetnsDel:
		b.dad = slices.DeleteFunc(b.dad, func(a dadAddr) bool { return a.link.NS == model.Named(o.Name) })
	case model.LinkMove, model.LinkRename:
		for i := range b.dad {
			b.dad[i].link, _ = model.Moved(op, b.dad[i].link)
		}
	case model.LinkSetUp:
		if o.Up {
			return b.awaitDAD()
		}
	case model.LinkSetMaster:
		if o.Master != "" {
			return b.awaitDAD()
		}
	}
	return nil
}

// awaitDAD waits for the detection of the addresses that have carrier now.
func (b *Backend) awaitDAD() error {
	waiting := b.dad[:0]
	for i, a := range b.dad {
		ns, err := b.NS(a.link.NS)
		pending := false
		if err == nil {
			pending, err = ns.AwaitDAD(a.link.Name, a.ip)
		}
		switch {
		case errors.Is(err, ErrNotFound): // the link is gone, and the address with it
		case err != nil:
			b.dad = append(waiting, b.dad[i+1:]...)
			return err
		case pending:
			waiting = append(waiting, a)
		}
	}
	b.dad = waiting
	return nil
}

func (b *Backend) apply(op model.Op) error {
	switch o := op.(type) {
	case model.NetnsAdd:
		ns, err := CreateNamed(b.paths.RunNetns, o.Name)
		if err == nil {
			b.keep(model.Named(o.Name), ns)
		}
		return err
	case model.NetnsDel:
		ref := model.Named(o.Name)
		ns, err := b.NS(ref)
		if err != nil && placeholder(b.paths.RunNetns, o.Name) {
			return DeleteNamed(b.paths.RunNetns, o.Name)
		}
		if err != nil {
			return err
		}
		if o.Along != nil {
			b.pending = append(b.pending, b.byName(o.Along)...)
		} else {
			b.pending = append(b.pending, ns.outsidePeers(b.peer)...)
		}
		b.Forget(ref)
		return DeleteNamed(b.paths.RunNetns, o.Name)
	case model.NetnsSetID:
		ns, err := b.NS(o.NS)
		if err != nil {
			return err
		}
		return b.host.SetNetnsID(ns, o.ID)
	case model.LinkAdd:
		err := b.addLink(o)
		if lacksDriver(err) {
			return driverMissing(o.Spec.Kind(), err)
		}
		return err
	case model.FileWrite:
		return writeFile(o.Path, o.Data)
	case model.FileRemove:
		return classify(os.Remove(o.Path))
	case model.DirAdd:
		if err := os.Mkdir(o.Path, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", o.Path, classify(err))
		}
		return nil
	case model.DirRemove:
		return classify(os.Remove(o.Path))
	case model.ProcStop:
		_, err := StopPID(o.PID, o.Start, 2*time.Second)
		return err
	case model.RouteAdd:
		ns, err := b.NS(o.NS)
		if err != nil {
			return err
		}
		return ns.AddRoute(o.Route)
	case model.RouteDel:
		ns, err := b.NS(o.NS)
		if err != nil {
			return err
		}
		return ns.DelRoute(o.Route)
	case model.QdiscSet, model.QdiscClear:
		return b.applyQdisc(op)
	case model.SysctlSet:
		ns, err := b.NS(o.NS)
		if err != nil {
			return err
		}
		return ns.SetSysctl(o.Key, o.Value)
	case model.IPv6Quiet:
		ns, err := b.NS(o.NS)
		if err != nil {
			return err
		}
		return ns.SetSysctlsOfEach(model.QuietIPv6Settings)
	case model.NATRule:
		ns, err := b.NS(o.Namespace())
		if err != nil {
			return err
		}
		return ns.AddNATRule(o)
	case model.NATTableDel:
		ns, err := b.NS(o.NS)
		if err != nil {
			return err
		}
		return ns.DeleteNATTable(o.Table)
	case model.MLDQuiet:
		ns, err := b.NS(o.NS)
		if err != nil {
			return err
		}
		return ns.QuietMLD(o.Table)
	case model.MLDQuietPort:
		ns, err := b.NS(o.Port.NS)
		if err != nil {
			return err
		}
		return ns.QuietMLDPort(o.Table, o.Port.Name)
	case model.MLDQuietPortDel:
		ns, err := b.NS(o.Port.NS)
		if err != nil {
			return err
		}
		return ns.QuietMLDPortDel(o.Table, o.Port.Name)
	case model.BridgeTableDel:
		ns, err := b.NS(o.NS)
		if err != nil {
			return err
		}
		return ns.DeleteBridgeTable(o.Table)
	}
	return b.applyToLink(op)
}

// applyToLink applies the ops that change one existing link.
func (b *Backend) applyToLink(op model.Op) error {
	on, ok := op.(model.OnLink)
	if !ok {
		return fmt.Errorf("the kernel backend cannot apply %T: %w", op, model.ErrUnsupported)
	}
	ref := on.Target()
	ns, err := b.NS(ref.NS)
	if err != nil {
		return err
	}
	name := ref.Name
	switch o := op.(type) {
	case model.LinkDel:
		return ns.DeleteLink(name)
	case model.LinkSetUp:
		if o.Up {
			return ns.SetUp(name)
		}
		return ns.SetDown(name)
	case model.LinkSetMTU:
		return ns.SetMTU(name, o.MTU)
	case model.LinkSetMaster:
		if o.Master == "" {
			return ns.SetNoMaster(name)
		}
		return ns.SetMaster(name, o.Master)
	case model.BridgeSetSTP:
		return ns.SetSTP(name, o.On)
	case model.LinkMove:
		to, err := b.NS(o.To)
		if err != nil {
			return err
		}
		return ns.MoveTo(name, to)
	case model.LinkRename:
		err := ns.Rename(name, o.To)
		if errors.Is(err, unix.EBUSY) {
			err = fmt.Errorf("%w: the kernel renames only links that are down; call set_down() first", err)
		}
		return err
	case model.AddrAdd:
		ipnet, err := model.ParseCIDR(o.CIDR)
		if err != nil {
			return err
		}
		if o.NoDAD {
			return ns.AddAddrNoDAD(name, ipnet)
		}
		return ns.AddAddr(name, ipnet)
	case model.AddrDel:
		ipnet, err := model.ParseCIDR(o.CIDR)
		if err != nil {
			return err
		}
		return ns.DelAddr(name, ipnet)
	case model.LinkSetMAC:
		return ns.SetMAC(name, o.MAC)
	case model.NeighAdd:
		return ns.SetNeigh(name, o.IP, o.MAC)
	case model.NeighDel:
		return ns.DelNeigh(name, o.IP)
	case model.LinkNoLinkLocal:
		return ns.SetAddrGenMode(name, "none")
	case model.LinkLinkLocal:
		return ns.SetAddrGenMode(name, "eui64")
	}
	return nil
}

// addLink creates a link of any kind the model knows, in one request.
func (b *Backend) addLink(o model.LinkAdd) error {
	ns, err := b.NS(o.Link.NS)
	if err != nil {
		return err
	}
	switch spec := o.Spec.(type) {
	case model.Bridge:
		if err := ns.AddBridge(o.Link.Name, spec.MTU); err != nil {
			return err
		}
		if !spec.STP {
			return nil
		}
		if err := ns.SetSTP(o.Link.Name, true); err != nil {
			return errors.Join(err, ns.DeleteLink(o.Link.Name)) // leave nothing
		}
		return nil
	case model.Veth:
		peerNS, err := b.NS(spec.Peer.NS)
		if err != nil {
			return err
		}
		return ns.AddVeth(o.Link.Name, spec.Peer.Name, peerNS)
	case model.Macvlan:
		parentNS, err := b.NS(spec.Parent.NS)
		if err != nil {
			return err
		}
		return parentNS.AddMacvlan(o.Link.Name, spec.Parent.Name, spec.Mode, ns)
	case model.Vlan:
		parentNS, err := b.NS(spec.Parent.NS)
		if err != nil {
			return err
		}
		return parentNS.AddVlan(o.Link.Name, spec.Parent.Name, spec.ID, ns)
	case model.Vxlan:
		return ns.AddVxlan(o.Link.Name, spec)
	case model.Tuntap:
		return ns.AddTuntap(o.Link.Name, spec.Mode)
	case model.Dummy:
		return ns.AddDummy(o.Link.Name)
	}
	return fmt.Errorf("the kernel backend cannot make a %s link: %w", o.Spec.Kind(), model.ErrUnsupported)
}

// settlePending waits until the kernel has removed the veth ends that
// deleted namespaces take along. The kernel frees namespaces in the
// background, in batches, at ~0.2-1 ms each: so the wait allows two
// seconds plus two milliseconds an end, and looks at the ends with one
// dump per namespace and round rather than a request each; and while the
// end of the namespace deleted last is there, it asks for that one alone
// (a dump of a thousand ends costs more than the wait). What is still
// there after that is for the caller to find.
func (b *Backend) settlePending() {
	if len(b.pending) == 0 {
		return
	}
	deadline := time.Now().Add(2*time.Second + time.Duration(len(b.pending))*2*time.Millisecond)
	for ; len(b.pending) > 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b.pending[len(b.pending)-1].there() {
			continue
		}
		b.pending = stillThere(b.pending)
	}
	b.pending = nil
	// The looks above remembered the ends as they were going: a link
	// made next under such a name has another index.
	b.steps.forget()
}

// byName are the links of refs as pending ends known by name alone.
func (b *Backend) byName(refs []model.LinkRef) []linkRef {
	var ends []linkRef
	for _, ref := range refs {
		if ns, err := b.NS(ref.NS); err == nil {
			ends = append(ends, linkRef{ns, LinkInfo{Name: ref.Name}})
		}
	}
	return ends
}

// there tells whether the link is still in its namespace (is).
func (r linkRef) there() bool {
	var now LinkInfo
	var err error
	if r.link.Index == 0 {
		now, err = r.ns.Link(r.link.Name)
	} else {
		now, err = r.ns.LinkByIndex(r.link.Index)
	}
	return err == nil && r.is(now)
}

// is tells whether l, read now, is the link r names: the same name and,
// unless r knows the end by name alone (index 0), the same index.
func (r linkRef) is(l LinkInfo) bool {
	return l.Name == r.link.Name && (r.link.Index == 0 || l.Index == r.link.Index)
}

// stillThere keeps the links that are still in their namespaces.
func stillThere(links []linkRef) []linkRef {
	byNS := map[*NS][]linkRef{}
	for _, l := range links {
		byNS[l.ns] = append(byNS[l.ns], l)
	}
	var there []linkRef
	for ns, want := range byNS {
		now, err := ns.Links()
		if err != nil {
			continue // the namespace is gone, and its links with it
		}
		byName := make(map[string]LinkInfo, len(now)) // names are unique in a namespace
		for _, l := range now {
			byName[l.Name] = l
		}
		for _, r := range want {
			if l, ok := byName[r.link.Name]; ok && r.is(l) {
				there = append(there, r)
			}
		}
	}
	return there
}

func (b *Backend) Link(ref model.LinkRef) (model.LinkInfo, error) {
	b.settlePending()
	ns, err := b.NS(ref.NS)
	if err != nil {
		return model.LinkInfo{}, err
	}
	l, err := ns.Link(ref.Name)
	if err != nil {
		return model.LinkInfo{}, err
	}
	var all []LinkInfo
	if l.Kind == "bridge" {
		if all, err = ns.Links(); err != nil {
			return model.LinkInfo{}, err
		}
	}
	return b.info(ns, l, all)
}

func (b *Backend) LinkIndex(ref model.LinkRef) (int, error) {
	ns, err := b.NS(ref.NS)
	if err != nil {
		return 0, err
	}
	l, err := ns.Link(ref.Name)
	return l.Index, err
}

func (b *Backend) Links(ref model.NSRef) ([]model.LinkInfo, error) {
	b.settlePending()
	ns, err := b.NS(ref)
	if err != nil {
		return nil, err
	}
	links, err := ns.Links()
	if err != nil {
		return nil, err
	}
	out := make([]model.LinkInfo, len(links))
	for i, l := range links {
		if out[i], err = b.info(ns, l, links); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// info completes what the kernel reports of a link with what a user asks
// of it: its master's name, a veth's peer, a bridge's STP state and ports.
// all are the namespace's links, for bridges; nil to look the master up.
func (b *Backend) info(ns *NS, l LinkInfo, all []LinkInfo) (model.LinkInfo, error) {
	info := model.LinkInfo{Name: l.Name, Index: l.Index, Kind: l.Kind, Up: l.Up, Oper: l.Oper, Carrier: l.Carrier, MAC: l.MAC, MTU: l.MTU, KindAttrs: l.KindAttrs}
	if l.LowerIndex != 0 {
		if lns, lower, err := b.linkAt(ns, l.LowerIndex, l.LowerNetnsID, "the parent of "+l.Name); err == nil {
			parent := model.Link(b.refOf(lns), lower.Name)
			info.Parent = &parent
		}
	}
	if l.MasterIndex != 0 {
		if i := slices.IndexFunc(all, func(m LinkInfo) bool { return m.Index == l.MasterIndex }); i >= 0 {
			info.Master = all[i].Name
		} else if name, ok := ns.rememberedName(l.MasterIndex); ok {
			info.Master = name
		} else if m, err := ns.LinkByIndex(l.MasterIndex); err == nil {
			info.Master = m.Name
		}
	}
	switch l.Kind {
	case "veth":
		if pns, p, err := b.peer(ns, l); err == nil {
			peer := model.Link(b.refOf(pns), p.Name)
			info.Peer = &peer
		}
	case "bridge":
		stp, err := ns.STP(l.Name)
		if err != nil {
			return info, err
		}
		info.STP = &stp
		info.Ports = []string{}
		for _, p := range all {
			if p.MasterIndex == l.Index {
				info.Ports = append(info.Ports, p.Name)
			}
		}
	}
	return info, nil
}

func (b *Backend) Addrs(ref model.LinkRef) ([]model.AddrInfo, error) {
	ns, err := b.NS(ref.NS)
	if err != nil {
		return nil, err
	}
	return ns.Addrs(ref.Name, false)
}

func (b *Backend) Routes(ref model.NSRef) ([]model.RouteInfo, error) {
	b.settlePending()
	ns, err := b.NS(ref)
	if err != nil {
		return nil, err
	}
	routes, err := ns.Routes(true)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(routes, func(r model.RouteInfo) bool { return r.Table == "local" }), nil
}

func (b *Backend) Settle(ref model.NSRef, limit time.Duration) error {
	ns, err := b.NS(ref)
	if err != nil {
		return err
	}
	return ns.Settle(limit)
}

func (b *Backend) Sysctl(ref model.NSRef, key string) (string, error) {
	ns, err := b.NS(ref)
	if err != nil {
		return "", err
	}
	return ns.Sysctl(key)
}

func (b *Backend) NATRules(ref model.NSRef, table string) ([]string, error) {
	ns, err := b.NS(ref)
	if err != nil {
		return nil, err
	}
	return ns.NATRules(table)
}

func (b *Backend) QuietMLDPorts(ref model.NSRef, table string) ([]string, error) {
	ns, err := b.NS(ref)
	if err != nil {
		return nil, err
	}
	return ns.QuietMLDPorts(table)
}

// writeFile writes data to the file at path, which is new or the lab's,
// never through a symbolic link: one left at path by someone else (also
// one that points nowhere) could send the lab's file anywhere on the
// machine. A new file is made only where nothing is (ErrExists else), and
// one written in part is removed.
func writeFile(path, data string) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC | unix.O_NOFOLLOW
	_, statErr := os.Lstat(path)
	isNew := errors.Is(statErr, os.ErrNotExist)
	if isNew {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err == nil {
		_, err = f.WriteString(data)
		err = errors.Join(err, f.Close())
		if err != nil && isNew {
			err = errors.Join(err, os.Remove(path))
		}
	}
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("write %s: it is a symbolic link, which the lab did not make: %w", path, model.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, classify(err))
	}
	return nil
}

// ReadFile reads a file. A symbolic link to nothing is not "no file": it
// is there, and writing the path would follow it.
func (b *Backend) ReadFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symbolic link to a file that is not there: %w", path, ErrExists)
		}
	}
	return data, classify(err)
}

func (b *Backend) ReadDir(path string) ([]string, error) {
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, classify(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

func (b *Backend) Ping(ctx context.Context, ref model.NSRef, dst net.IP, count int, timeout time.Duration) (model.PingResult, error) {
	b.settlePorts()
	ns, err := b.NS(ref)
	if err != nil {
		return model.PingResult{}, err
	}
	res, err := ns.Ping(ctx, dst, count, timeout)
	return model.PingResult{Sent: res.Sent, Received: res.Received, RTTs: res.RTTs, Known: true}, err
}

func (b *Backend) WhyUnreachable(ref model.NSRef, dst net.IP) string {
	ns, err := b.NS(ref)
	if err != nil {
		return err.Error()
	}
	hint, now := neighbourHint(b.neighFulls)
	b.neighFulls = now // told once: the next diagnosis tells of later overflows only
	return ns.WhyUnreachable(dst, b.known()) + hint
}

func (b *Backend) Listening(ref model.NSRef, proto string, port int) (bool, error) {
	ns, err := b.NS(ref)
	if err != nil {
		return false, err
	}
	return ns.Listening(proto, port)
}

func (b *Backend) Connect(ref model.NSRef, addr net.IP, port int, timeout time.Duration) error {
	b.settlePorts()
	ns, err := b.NS(ref)
	if err != nil {
		return err
	}
	return ns.Connect(addr, port, timeout)
}

// execSpec resolves where a model command runs.
func (b *Backend) execSpec(s model.ExecSpec) (ExecSpec, error) {
	spec := ExecSpec{JoinPID: s.JoinPID, New: s.New, Hostname: s.Hostname, Argv: s.Argv, Env: s.Env, Stdin: s.Stdin, Timeout: s.Timeout, Detach: s.Detach}
	if s.JoinPID != 0 {
		return spec, nil
	}
	ns, err := b.NS(s.NS)
	if err != nil {
		return spec, err
	}
	spec.NS = ns
	if name := s.NS.Name(); name != "" {
		spec.Etc = filepath.Join(b.paths.EtcNetns, name)
	}
	return spec, nil
}

func (b *Backend) Exec(ctx context.Context, s model.ExecSpec) (model.ExecResult, error) {
	spec, err := b.execSpec(s)
	if err != nil {
		return model.ExecResult{}, err
	}
	defer b.steps.forget() // the command may have changed any link
	return Exec(ctx, spec)
}

func (b *Backend) Start(s model.ExecSpec) (model.Proc, error) {
	spec, err := b.execSpec(s)
	if err != nil {
		return nil, err
	}
	b.steps.forget() // the process may change any link
	p, err := Start(spec)
	if err != nil {
		return nil, err
	}
	return endingForgets{p, b.steps}, nil
}

// endingForgets is a process whose end makes the step forget what it
// read: the process may have owned a link (a tap), which goes with it.
type endingForgets struct {
	model.Proc
	steps *steps
}

func (p endingForgets) Signal(sig syscall.Signal) error {
	defer p.steps.forget()
	return p.Proc.Signal(sig)
}

func (p endingForgets) Wait(ctx context.Context, timeout time.Duration) (model.ExecResult, error) {
	defer p.steps.forget()
	return p.Proc.Wait(ctx, timeout)
}

func (p endingForgets) Stop(grace time.Duration) bool {
	defer p.steps.forget()
	return p.Proc.Stop(grace)
}

func (b *Backend) StartTime(pid int) (uint64, error) { return StartTime(pid) }

func (b *Backend) StopProcessesIn(refs []model.NSRef, grace time.Duration) ([]model.Stopped, error) {
	var spaces []*NS
	for _, ref := range refs {
		if ns, err := b.NS(ref); err == nil {
			spaces = append(spaces, ns)
		}
	}
	return StopProcessesIn(spaces, grace)
}

func (b *Backend) PIDs(ref model.NSRef) ([]int, error) {
	ns, err := b.NS(ref)
	if err != nil {
		return nil, err
	}
	return ns.PIDs()
}

func (b *Backend) Identify(pid int) (string, error) { return Identify(b.paths.RunNetns, pid) }

func (b *Backend) Forget(ref model.NSRef) {
	if ns, ok := b.open[ref]; ok {
		b.peers = slices.DeleteFunc(b.peers, func(p *NS) bool { return p == ns })
		ns.Close()
		delete(b.open, ref)
	}
}

func (b *Backend) Close() {
	b.settlePending() // what deleted namespaces take along (that the deletion knew of) is gone when nsplay ends
	for ref := range b.open {
		b.Forget(ref)
	}
	b.host.Close()
}
