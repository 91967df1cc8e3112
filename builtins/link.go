package builtins

// A link handle names one network interface by namespace and name. Its
// attributes read the kernel on every access; its methods change the link
// and return the handle, so calls chain.
//
//	bridge(name, ns=host, stp=False, mtu=0)      ip link add NAME type bridge
//	veth(name, peer, ns=host, peer_ns=None)      ip link add NAME type veth peer name PEER [netns PEER_NS]
//
//	.name .ns .index .kind ("bridge", "veth", "loopback", ...)
//	.up       administratively up (True/False)
//	.oper     operational state: "up", "down", "lowerlayerdown", "unknown", ...
//	.carrier  the link has carrier (IFF_LOWER_UP)
//	.mac .mtu
//	.master   the name of its bridge, or None
//	.addrs    ["192.168.10.11/24", ...] (IPv6 link-local addresses left out)
//	.peer     the other end of a veth (None for other kinds)
//	.stp      a bridge's STP state (None for other kinds)
//	.ports    a bridge's ports ([link])
//
//	.set_up() .set_down() .add_addr(cidr, nodad=False) .del_addr(cidr) .set_master(bridge)
//	.set_nomaster() .move(ns) .rename(name) .set_mtu(n) .delete()
//
// A new IPv6 address is tentative until duplicate address detection (DAD)
// has passed, ~1-2 s after its link has carrier: add_addr, and set_up and
// set_master when they give a link carrier, return once the lab's
// addresses have passed it, so they are usable; one another host has is an
// error. add_addr(cidr, nodad=True) skips DAD (ip addr add ... nodad).
//
// Methods change only links the lab created (or any link inside a namespace
// the lab created) unless nsplay runs with --allow-host.

import (
	"errors"
	"fmt"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
	"golang.org/x/sys/unix"
)

// Link is a handle on a network interface.
type Link struct {
	lab  *lab.Lab
	ns   *kernel.NS
	name string
}

var _ starlark.HasAttrs = (*Link)(nil)

func (l *Link) String() string {
	return fmt.Sprintf("link(%q, ns=%s)", l.name, &Netns{lab: l.lab, ns: l.ns})
}
func (l *Link) Type() string         { return "nsplay.link" }
func (l *Link) Freeze()              {}
func (l *Link) Truth() starlark.Bool { return true }
func (l *Link) Hash() (uint32, error) {
	return 0, errors.New("unhashable: nsplay.link (its name can change)")
}
func (l *Link) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	o := y.(*Link)
	return sameCompare(op, l.ns.Same(o.ns) && l.name == o.name, l, y)
}

func (l *Link) AttrNames() []string {
	return []string{"add_addr", "addrs", "carrier", "del_addr", "delete", "index", "kind", "mac", "master", "move",
		"mtu", "name", "ns", "oper", "peer", "ports", "rename", "set_down", "set_master", "set_mtu", "set_nomaster",
		"set_up", "stp"}
}

func (l *Link) Attr(name string) (starlark.Value, error) {
	if err := l.lab.NSErr(l.ns); err != nil {
		return nil, fmt.Errorf("link %s: %w", l.name, err)
	}
	switch name {
	case "name":
		return starlark.String(l.name), nil
	case "ns":
		return &Netns{lab: l.lab, ns: l.ns}, nil
	}
	if m, ok := linkMethods[name]; ok {
		return starlark.NewBuiltin(name, m).BindReceiver(l), nil
	}
	info, err := l.ns.Link(l.name)
	if err != nil {
		return nil, err
	}
	switch name {
	case "index":
		return starlark.MakeInt(info.Index), nil
	case "kind":
		return starlark.String(info.Kind), nil
	case "up":
		return starlark.Bool(info.Up), nil
	case "oper":
		return starlark.String(info.Oper), nil
	case "carrier":
		return starlark.Bool(info.Carrier), nil
	case "mac":
		return starlark.String(info.MAC), nil
	case "mtu":
		return starlark.MakeInt(info.MTU), nil
	case "master":
		if info.MasterIndex == 0 {
			return starlark.None, nil
		}
		m, err := l.ns.LinkByIndex(info.MasterIndex)
		if err != nil {
			return nil, err
		}
		return starlark.String(m.Name), nil
	case "addrs":
		addrs, err := l.ns.Addrs(l.name, false)
		if err != nil {
			return nil, err
		}
		vals := make([]starlark.Value, len(addrs))
		for i, a := range addrs {
			vals[i] = starlark.String(a.CIDR)
		}
		return starlark.NewList(vals), nil
	case "peer":
		if info.Kind != "veth" {
			return starlark.None, nil
		}
		pns, p, err := l.ns.Peer(info, l.lab.Namespaces())
		if err != nil {
			return nil, err
		}
		return &Link{lab: l.lab, ns: pns, name: p.Name}, nil
	case "stp":
		if info.Kind != "bridge" {
			return starlark.None, nil
		}
		on, err := l.ns.STP(l.name)
		return starlark.Bool(on), err
	case "ports":
		links, err := l.ns.Links()
		if err != nil {
			return nil, err
		}
		var ports []starlark.Value
		for _, p := range links {
			if p.MasterIndex == info.Index {
				ports = append(ports, &Link{lab: l.lab, ns: l.ns, name: p.Name})
			}
		}
		return starlark.NewList(ports), nil
	}
	return nil, nil
}

type builtinFn = func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)

var linkMethods = map[string]builtinFn{
	"set_up":       linkChange(linkSetUp, "link set %s up"),
	"set_down":     linkChange(func(l *Link) error { return l.ns.SetDown(l.name) }, "link set %s down"),
	"set_nomaster": linkChange(func(l *Link) error { return l.ns.SetNoMaster(l.name) }, "link set %s nomaster"),
	"add_addr":     linkAddAddr,
	"del_addr":     linkDelAddr,
	"set_master":   linkSetMaster,
	"set_mtu":      linkSetMTU,
	"move":         linkMove,
	"rename":       linkRename,
	"delete":       linkDelete,
}

// linkSetUp sets the link up and waits until the IPv6 addresses that the
// carrier it gives (to the link, its veth peer, their bridges) lets begin
// duplicate address detection have passed it.
func linkSetUp(l *Link) error {
	if err := l.ns.SetUp(l.name); err != nil {
		return err
	}
	return l.lab.AwaitDAD()
}

// linkChange makes a method without arguments that changes the link.
func linkChange(change func(*Link) error, ipArgs string) builtinFn {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := unpack(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		l := b.Receiver().(*Link)
		if err := l.lab.MayChange(l.ns, l.name); err != nil {
			return nil, wrap(b, err)
		}
		if err := change(l); err != nil {
			return nil, wrap(b, err)
		}
		step(thread, "%s", ipCmd(l.ns, l.lab, fmt.Sprintf(ipArgs, l.name)))
		return l, nil
	}
}

func bridgeFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var nsA nsArg
	var stp bool
	var mtu int
	if err := unpack(b.Name(), args, kwargs, 1, "name", &name, "ns?", &nsA, "stp?", &stp, "mtu?", &mtu); err != nil {
		return nil, err
	}
	env, ns, err := optionalNSOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	if mtu < 0 {
		return nil, fmt.Errorf("bridge: mtu=%d is negative; leave it out (0) for the kernel's default", mtu)
	}
	spec := lab.LinkSpec{NS: ns.ns, Name: name, Kind: "bridge"}
	at, now, adopted, err := env.Lab.CreateLink(spec, func() error {
		if err := ns.ns.AddBridge(name, mtu); err != nil {
			return err
		}
		if !stp {
			return nil
		}
		if err := ns.ns.SetSTP(name, true); err != nil {
			return errors.Join(err, ns.ns.DeleteLink(name)) // forgotten by the lab: leave nothing
		}
		return nil
	})
	if err != nil {
		return nil, wrap(b, err)
	}
	l := &Link{lab: env.Lab, ns: at, name: now}
	if adopted {
		if err := adoptKind(env.Lab, at, now, "bridge"); err != nil {
			return nil, wrap(b, err)
		}
		step(thread, "bridge %s is the lab's already: adopted", now)
		// A re-run converges: what the playbook asks for now is set.
		if on, err := at.STP(now); err == nil && on != stp {
			if err := at.SetSTP(now, stp); err != nil {
				return nil, wrap(b, err)
			}
			step(thread, "%s", ipCmd(at, env.Lab, fmt.Sprintf("link set %s type bridge stp_state %d", now, map[bool]int{false: 0, true: 1}[stp])))
		}
		if info, err := at.Link(now); err == nil && mtu > 0 && info.MTU != mtu {
			if err := at.SetMTU(now, mtu); err != nil {
				return nil, wrap(b, err)
			}
			step(thread, "%s", ipCmd(at, env.Lab, fmt.Sprintf("link set %s mtu %d", now, mtu)))
		}
		return l, nil
	}
	cmd := fmt.Sprintf("link add %s type bridge stp_state %d", name, map[bool]int{false: 0, true: 1}[stp])
	if mtu > 0 {
		cmd += fmt.Sprintf(" mtu %d", mtu)
	}
	step(thread, "%s", ipCmd(ns.ns, env.Lab, cmd))
	return l, nil
}

func vethFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, peer string
	var nsA, peerA nsArg
	if err := unpack(b.Name(), args, kwargs, 2, "name", &name, "peer", &peer, "ns?", &nsA, "peer_ns?", &peerA); err != nil {
		return nil, err
	}
	env, ns, err := optionalNSOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	peerNS := ns
	if peerA.set() {
		if peerNS, err = peerA.resolve(env); err != nil {
			return nil, wrap(b, err)
		}
	}
	if name == peer && ns.ns.Same(peerNS.ns) {
		return nil, fmt.Errorf("veth: both ends are called %q in the same namespace; give the peer another name", name)
	}
	spec := lab.LinkSpec{NS: ns.ns, Name: name, Kind: "veth", Peer: peer, PeerNS: peerNS.ns}
	at, now, adopted, err := env.Lab.CreateLink(spec, func() error { return ns.ns.AddVeth(name, peer, peerNS.ns) })
	if err != nil {
		return nil, wrap(b, err)
	}
	if adopted {
		if err := adoptKind(env.Lab, at, now, "veth"); err != nil {
			return nil, wrap(b, err)
		}
		step(thread, "veth %s is the lab's already (now %s in %s): adopted", name, now, at)
	} else {
		cmd := fmt.Sprintf("link add %s type veth peer name %s", name, peer)
		if !peerNS.ns.Same(ns.ns) {
			cmd += " netns " + peerNS.ns.String()
		}
		step(thread, "%s", ipCmd(ns.ns, env.Lab, cmd))
	}
	return &Link{lab: env.Lab, ns: at, name: now}, nil
}

// adoptKind checks that a link the lab adopts is of the kind asked for. One
// that is not was put there from outside in place of the lab's: the lab
// forgets it, so that teardown leaves it alone.
func adoptKind(l *lab.Lab, ns *kernel.NS, name, kind string) error {
	info, err := ns.Link(name)
	if err != nil {
		return err
	}
	if info.Kind == kind {
		return nil
	}
	return errors.Join(fmt.Errorf("%s in %s is a %s, not a %s, and the lab did not make it so; delete it or choose another name", name, ns, info.Kind, kind),
		l.LinkDeleted(ns, name, nil, "", ""))
}

func linkAddAddr(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cidr string
	var nodad bool
	if err := unpack(b.Name(), args, kwargs, 1, "cidr", &cidr, "nodad?", &nodad); err != nil {
		return nil, err
	}
	l := b.Receiver().(*Link)
	add := l.lab.AddAddr
	if nodad {
		add = l.lab.AddAddrNoDAD
	}
	adopted, err := add(l.ns, l.name, cidr)
	if err != nil {
		return nil, wrap(b, err)
	}
	if adopted {
		step(thread, "%s has %s already", l.name, cidr)
		return l, nil
	}
	ipnet, _ := kernel.ParseCIDR(cidr)
	brd := ""
	if addrs, err := l.ns.Addrs(l.name, false); err == nil {
		for _, a := range addrs {
			if a.CIDR == ipnet.String() && a.Broadcast != "" {
				brd = " brd " + a.Broadcast
			}
		}
	}
	cmd := fmt.Sprintf("addr add %s%s dev %s", ipnet, brd, l.name)
	if nodad {
		cmd += " nodad"
	}
	step(thread, "%s", ipCmd(l.ns, l.lab, cmd))
	return l, nil
}

func linkDelAddr(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cidr string
	if err := unpack(b.Name(), args, kwargs, 1, "cidr", &cidr); err != nil {
		return nil, err
	}
	l := b.Receiver().(*Link)
	if err := l.lab.MayChange(l.ns, l.name); err != nil {
		return nil, wrap(b, err)
	}
	ipnet, err := kernel.ParseCIDR(cidr)
	if err == nil {
		err = l.ns.DelAddr(l.name, ipnet)
	}
	if err == nil {
		err = l.lab.AddrDeleted(l.ns, l.name, ipnet.String())
	}
	if err != nil {
		return nil, wrap(b, err)
	}
	step(thread, "%s", ipCmd(l.ns, l.lab, fmt.Sprintf("addr del %s dev %s", ipnet, l.name)))
	return l, nil
}

// linkArg is a link argument: a handle, or the name of a link in the
// namespace of the link the method is called on.
type linkArg struct {
	handle *Link
	name   string
}

func (a *linkArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case *Link:
		a.handle = v
	case starlark.String:
		a.name = string(v)
	default:
		return fmt.Errorf("want a link handle or a link name, got %s", v.Type())
	}
	return nil
}

func linkSetMaster(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var master linkArg
	if err := unpack(b.Name(), args, kwargs, 1, "bridge", &master); err != nil {
		return nil, err
	}
	l := b.Receiver().(*Link)
	br := master.name
	if master.handle != nil {
		if !master.handle.ns.Same(l.ns) {
			return nil, fmt.Errorf("set_master: %s is in %s but %s is in %s; a link's master must be in its namespace (move it first)",
				master.handle.name, master.handle.ns, l.name, l.ns)
		}
		br = master.handle.name
	}
	for _, name := range []string{l.name, br} {
		if err := l.lab.MayChange(l.ns, name); err != nil {
			return nil, wrap(b, err)
		}
	}
	if err := l.ns.SetMaster(l.name, br); err != nil {
		return nil, wrap(b, err)
	}
	// A port with carrier gives the bridge carrier.
	if err := l.lab.AwaitDAD(); err != nil {
		return nil, wrap(b, err)
	}
	step(thread, "%s", ipCmd(l.ns, l.lab, fmt.Sprintf("link set %s master %s", l.name, br)))
	return l, nil
}

func linkSetMTU(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var mtu int
	if err := unpack(b.Name(), args, kwargs, 1, "mtu", &mtu); err != nil {
		return nil, err
	}
	l := b.Receiver().(*Link)
	if err := l.lab.MayChange(l.ns, l.name); err != nil {
		return nil, wrap(b, err)
	}
	if err := l.ns.SetMTU(l.name, mtu); err != nil {
		return nil, wrap(b, err)
	}
	step(thread, "%s", ipCmd(l.ns, l.lab, fmt.Sprintf("link set %s mtu %d", l.name, mtu)))
	return l, nil
}

func linkMove(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var to nsArg
	if err := unpack(b.Name(), args, kwargs, 1, "ns", &to); err != nil {
		return nil, err
	}
	_, target, err := nsOf(thread, b, &to)
	if err != nil {
		return nil, err
	}
	l := b.Receiver().(*Link)
	if l.ns.Same(target.ns) {
		step(thread, "%s is in %s already", l.name, target.ns)
		return l, nil
	}
	if err := l.lab.MayChange(l.ns, l.name); err != nil {
		return nil, wrap(b, err)
	}
	// Journalled first, like every change of where a link is, and undone
	// if the kernel refuses.
	from := l.ns
	if err := l.lab.LinkMoved(from, l.name, target.ns, l.name); err != nil {
		return nil, wrap(b, err)
	}
	if err := l.ns.MoveTo(l.name, target.ns); err != nil {
		return nil, wrap(b, errors.Join(err, l.lab.LinkMoved(target.ns, l.name, from, l.name)))
	}
	l.ns = target.ns
	step(thread, "%s", ipCmd(from, l.lab, fmt.Sprintf("link set %s netns %s", l.name, target.ns)))
	return l, nil
}

func linkRename(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := unpack(b.Name(), args, kwargs, 1, "name", &name); err != nil {
		return nil, err
	}
	l := b.Receiver().(*Link)
	if name == l.name {
		return l, nil
	}
	if err := l.lab.MayChange(l.ns, l.name); err != nil {
		return nil, wrap(b, err)
	}
	old := l.name
	if err := l.lab.LinkMoved(l.ns, old, l.ns, name); err != nil {
		return nil, wrap(b, err)
	}
	if err := l.ns.Rename(old, name); err != nil {
		if errors.Is(err, unix.EBUSY) {
			err = fmt.Errorf("%w: the kernel renames only links that are down; call set_down() first", err)
		}
		return nil, wrap(b, errors.Join(err, l.lab.LinkMoved(l.ns, name, l.ns, old)))
	}
	l.name = name
	step(thread, "%s", ipCmd(l.ns, l.lab, fmt.Sprintf("link set %s name %s", old, name)))
	return l, nil
}

func linkDelete(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	l := b.Receiver().(*Link)
	if err := l.lab.MayChange(l.ns, l.name); err != nil {
		return nil, wrap(b, err)
	}
	info, err := l.ns.Link(l.name)
	if err != nil {
		return nil, wrap(b, err)
	}
	var peerNS *kernel.NS
	var peer kernel.LinkInfo
	if info.Kind == "veth" {
		peerNS, peer, _ = l.ns.Peer(info, l.lab.Namespaces())
	}
	if err := l.ns.DeleteLink(l.name); err != nil {
		return nil, wrap(b, err)
	}
	if err := l.lab.LinkDeleted(l.ns, l.name, peerNS, peer.Name, callerLine(thread)); err != nil {
		return nil, wrap(b, err)
	}
	step(thread, "%s", ipCmd(l.ns, l.lab, "link del "+l.name))
	return starlark.None, nil
}
