package builtins

// The scale settings: what nsplay changes in a lab so that labs of
// thousands of hosts build fast and check true (docs/scale.md). Both are
// on unless the playbook turns them off, before it makes anything:
//
//	scale(quiet_ipv6=True, static_neighbours=True)
//
// quiet_ipv6: each namespace the lab creates gets, right after it is made
// and before it has links,
//
//	ip netns exec NS sysctl -w net.ipv6.conf.default.dad_transmits=0 net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.all.force_mld_version=1
//
// so its links send no duplicate address detection probes and no router
// solicitations, and report multicast groups with MLDv1: a bridge floods
// all of those to every port, which makes a star's build grow with the
// square of its hosts. IPv6 works as before, without DAD. And a port of
// the lab's that joins a bridge of the lab's gets no link-local address if
// it is not up yet, and its hosts' MLD reports for solicited-node groups
// are dropped as they come in, in the lab's table of family bridge in the
// bridge's namespace (model.MLDQuiet):
//
//	ip link set star-h0 addrgenmode none
//	nft add rule bridge nsplay-star prerouting ip6 daddr ff02::1:ff00:0/104 icmpv6 type mld-listener-report iifname @quiet_mld drop
//	nft add element bridge nsplay-star quiet_mld { star-h0 }
//
// static_neighbours: once a bridge the lab owns and the other end of a
// veth on one of its ports (a host), both in the host or a named
// namespace, have addresses in one subnet, the
// bridge gets a permanent neighbour entry for the host's address and the
// host one for the bridge's, on MACs the lab sets to stay (both MACs are
// derived from the names: model.StableMAC):
//
//	ip link set star0 address 02:..
//	ip -n h1 link set eth0 address 02:..
//	ip neigh replace 10.77.0.2 lladdr 02:.. dev star0 nud permanent
//	ip -n h1 neigh replace 10.77.0.1 lladdr 02:.. dev eth0 nud permanent
//
// The kernel's neighbour table is shared by all namespaces and keeps only
// gc_thresh3 (1024) entries that are not permanent: past that, echoes of a
// big star fail for no fault of the lab. Entries between hosts are left to
// the kernel. What the settings made goes again as the lab changes
// (scale_withdraw.go).

import (
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
)

// scaleState is what the scale settings are, and what they made in this
// run, by the identity of the namespace and the link's name: a namespace
// deleted and made again under its name, also from outside, has another.
type scaleState struct {
	noQuietIPv6, noStaticNeighbours bool
	calledAt                        string // where scale() was called, if it was
	// pinned are the MACs set, by link. A link deleted, renamed or moved
	// (also with its namespace) may take others along, a veth's other
	// end, and a link of its name may be made again: then the MACs are
	// looked at again before they are taken as set.
	pinned map[linkID]pinnedMAC
	// ports are the lab's bridge ports that the settings changed or made
	// neighbour entries for, in the order they joined; byPort finds them
	// by the port, byHost by the other end of a veth port (a host) with
	// entries. What they changed is undone (withdraw) once a port leaves
	// its bridge or the veth goes, and an entry once its address does.
	ports          []*scalePort
	byPort, byHost map[linkID]*scalePort
	// quietMLD tells, by the identity of a namespace, whether this run
	// made (or adopted) the lab's table of family bridge there: false when
	// the kernel could not.
	quietMLD map[uint64]bool
}

// A scalePort is a port of a bridge, as it joined, and what the scale
// settings made for it.
type scalePort struct {
	port, bridge     model.LinkRef
	portID, bridgeID linkID
	peer             *model.LinkRef // the other end, for a veth port
	peerID           linkID
	host             bool // peer is a host the lab made neighbour entries for
	quietMLD         bool // the port is in the lab's set quiet_mld
	noLinkLocal      bool // the port was given addrgenmode none
	// made are the entries made for the port, one per link and address;
	// flushed tells that its host or bridge went down, and the kernel
	// dropped those on it.
	made    []model.NeighAdd
	flushed bool
}

// linkID is a link by the identity of its namespace and its name.
type linkID struct {
	ns   uint64
	name string
}

func scaleFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	quiet, static := true, true
	if err := unpack(b.Name(), args, kwargs, 0, "quiet_ipv6?", &quiet, "static_neighbours?", &static); err != nil {
		return nil, err
	}
	env, err := envOf(thread)
	if err != nil {
		return nil, err
	}
	if env.scale.calledAt != "" {
		// A second call would set what it does not name back to its
		// default, undoing the first without a word.
		return nil, fmt.Errorf("scale: called already, at %s; give both settings in one call: scale(quiet_ipv6 = ..., static_neighbours = ...)", env.scale.calledAt)
	}
	if env.Lab.MadeAnything() {
		return nil, fmt.Errorf("scale: the lab has made things already, with the settings as they were; call scale() before the first netns(), bridge() or veth()")
	}
	env.scale.noQuietIPv6, env.scale.noStaticNeighbours = !quiet, !static
	env.scale.calledAt = caller(thread).String()
	return starlark.None, nil
}

// quietIPv6 applies quiet_ipv6 to a namespace the lab has just created.
func (env *Env) quietIPv6(thread *starlark.Thread, b *starlark.Builtin, ns model.NSRef) error {
	if env.scale.noQuietIPv6 {
		return nil
	}
	return do(thread, b, env.Lab, model.IPv6Quiet{NS: ns})
}

// addrAdded applies static_neighbours after an address was added to link:
// on the host's end of a port that joined a bridge in this run, for that
// port; on a bridge the lab made, for each of its ports.
func (env *Env) addrAdded(thread *starlark.Thread, b *starlark.Builtin, link model.LinkRef) error {
	if env.scale.noStaticNeighbours {
		return nil
	}
	id, err := env.linkID(link)
	if err != nil {
		return wrap(b, err)
	}
	if sp, ok := env.scale.byHost[id]; ok {
		return env.joined(thread, b, sp.port, sp.bridge)
	}
	if !env.Lab.MadeBridge(link) {
		return nil
	}
	info, err := env.Lab.B.Link(link)
	if err != nil {
		return wrap(b, err)
	}
	for _, port := range info.Ports {
		if err := env.joined(thread, b, model.Link(link.NS, port), link); err != nil {
			return err
		}
	}
	return nil
}

// setMaster applies the scale settings to port, which has just joined
// bridge: quiet_ipv6 gives a port of the lab's that is not up yet no IPv6
// link-local address, and drops the MLD reports that come in on a port of
// the lab's bridge; static_neighbours follows (joined).
func (env *Env) setMaster(thread *starlark.Thread, b *starlark.Builtin, port, bridge model.LinkRef) error {
	if env.scale.noQuietIPv6 && env.scale.noStaticNeighbours {
		return nil
	}
	info, err := env.Lab.B.Link(port)
	if err != nil {
		return wrap(b, err)
	}
	sp, err := env.tracked(port, bridge, info)
	if err != nil {
		return wrap(b, err)
	}
	if !env.scale.noQuietIPv6 && env.Lab.OwnsLink(port) {
		if !info.Up {
			if err := do(thread, b, env.Lab, model.LinkNoLinkLocal{Link: port}); err != nil {
				return err
			}
			sp.noLinkLocal = true
		}
		if env.Lab.OwnsLink(bridge) {
			if sp.quietMLD, err = env.quietMLD(thread, b, port); err != nil {
				return err
			}
		}
	}
	return env.joinedAs(thread, b, sp, info)
}

// tracked is the scalePort of port on bridge, read as info, made now if
// this run has none.
func (env *Env) tracked(port, bridge model.LinkRef, info model.LinkInfo) (*scalePort, error) {
	portID, err := env.linkID(port)
	if err != nil {
		return nil, err
	}
	if sp, ok := env.scale.byPort[portID]; ok && sp.bridge == bridge {
		return sp, nil
	}
	bridgeID, err := env.linkID(bridge)
	if err != nil {
		return nil, err
	}
	sp := &scalePort{port: port, bridge: bridge, portID: portID, bridgeID: bridgeID}
	if info.Kind == "veth" && info.Peer != nil {
		peer := *info.Peer
		if sp.peerID, err = env.linkID(peer); err != nil {
			return nil, err
		}
		sp.peer = &peer
	}
	if env.scale.byPort == nil {
		env.scale.byPort, env.scale.byHost = map[linkID]*scalePort{}, map[linkID]*scalePort{}
	}
	env.scale.byPort[portID] = sp
	env.scale.ports = append(env.scale.ports, sp)
	return sp, nil
}

// quietMLD adds port to the lab's table of family bridge in its
// namespace, making the table first if this run has not, and tells
// whether it did (a kernel may have no nftables for bridges).
func (env *Env) quietMLD(thread *starlark.Thread, b *starlark.Builtin, port model.LinkRef) (bool, error) {
	table := model.LabTable(env.Lab.Name)
	ino, err := env.Lab.B.Identity(port.NS)
	if err != nil {
		return false, wrap(b, err)
	}
	if _, tried := env.scale.quietMLD[ino]; !tried {
		err := do(thread, b, env.Lab, model.MLDQuiet{NS: port.NS, Table: table})
		switch {
		case errors.Is(err, model.ErrUnsupported):
			// A kernel without nftables for bridges still builds the
			// lab, as it would be without quiet_ipv6, only slower.
			result(thread, "%v; the lab goes on without it, and its bridges in %s flood their hosts' MLD reports to every port", err, port.NS)
		case err != nil:
			return false, err
		}
		if env.scale.quietMLD == nil {
			env.scale.quietMLD = map[uint64]bool{}
		}
		env.scale.quietMLD[ino] = err == nil
	}
	if !env.scale.quietMLD[ino] {
		return false, nil
	}
	return true, do(thread, b, env.Lab, model.MLDQuietPort{Port: port, Table: table})
}

// joined applies static_neighbours to port, a port of bridge: when port
// is a veth whose other end (the host's) is in another namespace, and the
// lab owns both the bridge and the host's end, each gets a permanent entry
// for the other's addresses in a subnet they share.
func (env *Env) joined(thread *starlark.Thread, b *starlark.Builtin, port, bridge model.LinkRef) error {
	if env.scale.noStaticNeighbours {
		return nil
	}
	info, err := env.Lab.B.Link(port)
	if err != nil {
		return wrap(b, err)
	}
	sp, err := env.tracked(port, bridge, info)
	if err != nil {
		return wrap(b, err)
	}
	return env.joinedAs(thread, b, sp, info)
}

// joinedAs is joined for a port read as info.
func (env *Env) joinedAs(thread *starlark.Thread, b *starlark.Builtin, sp *scalePort, info model.LinkInfo) error {
	lab, port, bridge := env.Lab, sp.port, sp.bridge
	if env.scale.noStaticNeighbours || !lab.OwnsLink(bridge) {
		return nil
	}
	if info.Master != bridge.Name || sp.peer == nil || sp.peer.NS == port.NS || !lab.OwnsLink(*sp.peer) ||
		!named(bridge.NS) || !named(sp.peer.NS) {
		return nil
	}
	host := *sp.peer
	sp.host = true
	env.scale.byHost[sp.peerID] = sp
	pairs, err := env.sharedSubnets(bridge, host)
	if err != nil || len(pairs) == 0 {
		return wrap(b, err)
	}
	bridgeMAC, err := env.pin(thread, b, bridge)
	if err != nil {
		return err
	}
	hostMAC, err := env.pin(thread, b, host)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if err := env.neigh(thread, b, sp, model.NeighAdd{Link: bridge, IP: p[1], MAC: hostMAC}); err != nil {
			return err
		}
		if err := env.neigh(thread, b, sp, model.NeighAdd{Link: host, IP: p[0], MAC: bridgeMAC}); err != nil {
			return err
		}
	}
	return nil
}

// named tells whether a namespace is known by a name (the host's, or one
// under /run/netns), from which StableMAC derives the same MAC in every
// run; one attached by /proc/PID/ns/net is not.
func named(ns model.NSRef) bool { return ns.IsHost() || ns.Name() != "" }

// sharedSubnets pairs the addresses of a and b that are each in the
// other's subnet (IPv6 link-local ones are not listed): [a's, b's].
func (env *Env) sharedSubnets(a, b model.LinkRef) ([][2]string, error) {
	as, err := env.Lab.B.Addrs(a)
	if err != nil {
		return nil, err
	}
	bs, err := env.Lab.B.Addrs(b)
	if err != nil {
		return nil, err
	}
	var pairs [][2]string
	for _, x := range as {
		xn, err := model.ParseCIDR(x.CIDR)
		if err != nil {
			continue
		}
		for _, y := range bs {
			yn, err := model.ParseCIDR(y.CIDR)
			if err == nil && !xn.IP.Equal(yn.IP) && inSubnet(xn, yn.IP) && inSubnet(yn, xn.IP) {
				pairs = append(pairs, [2]string{xn.IP.String(), yn.IP.String()})
			}
		}
	}
	return pairs, nil
}

// inSubnet tells whether ip is in n's subnet (and of n's family).
func inSubnet(n *net.IPNet, ip net.IP) bool {
	return (n.IP.To4() == nil) == (ip.To4() == nil) && n.Contains(ip)
}

// pinnedMAC is a MAC pin set, and whether it is known to be the link's
// still.
type pinnedMAC struct {
	mac   string
	known bool
}

// pin sets the link's MAC to its StableMAC, once a run, and returns it. A
// MAC set before a link went is read again: setting it when it is there
// already would make the kernel drop the link's neighbour entries.
func (env *Env) pin(thread *starlark.Thread, b *starlark.Builtin, link model.LinkRef) (string, error) {
	id, err := env.linkID(link)
	if err != nil {
		return "", wrap(b, err)
	}
	mac := model.StableMAC(env.Lab.Name, link)
	switch p, ok := env.scale.pinned[id]; {
	case ok && p.known:
		return p.mac, nil
	case ok:
		info, err := env.Lab.B.Link(link)
		if err != nil {
			return "", wrap(b, err)
		}
		if info.MAC == mac {
			env.scale.pinned[id] = pinnedMAC{mac, true}
			return mac, nil
		}
	}
	if err := do(thread, b, env.Lab, model.LinkSetMAC{Link: link, MAC: mac}); err != nil {
		return "", err
	}
	if env.scale.pinned == nil {
		env.scale.pinned = map[linkID]pinnedMAC{}
	}
	env.scale.pinned[id] = pinnedMAC{mac, true}
	return mac, nil
}

// neigh makes a permanent neighbour entry for sp, unless it made it as it
// is already; one it made for the link and address with another MAC is
// replaced.
func (env *Env) neigh(thread *starlark.Thread, b *starlark.Builtin, sp *scalePort, op model.NeighAdd) error {
	i := slices.IndexFunc(sp.made, func(n model.NeighAdd) bool { return n.Link == op.Link && n.IP == op.IP })
	if i >= 0 && sp.made[i] == op {
		return nil
	}
	if err := do(thread, b, env.Lab, op); err != nil {
		return err
	}
	if i >= 0 {
		sp.made[i] = op
	} else {
		sp.made = append(sp.made, op)
	}
	return nil
}

func (env *Env) linkID(l model.LinkRef) (linkID, error) {
	ino, err := env.Lab.B.Identity(l.NS)
	return linkID{ino, l.Name}, err
}
