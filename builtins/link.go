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
//	.mode .vlan_id .vni .port .local .remote .group .parent   of the kinds in kinds.go
//
//	.set_up() .set_down() .add_addr(cidr, nodad=False) .del_addr(cidr) .set_master(bridge)
//	.set_nomaster() .move(ns) .rename(name) .set_mtu(n) .delete()
//	.impair(...) .impairments .clear_impairments()   (impair.go)
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
	"slices"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Link is a handle on a network interface: a name in a namespace.
type Link struct {
	ns   *Netns
	name string
}

var _ starlark.HasAttrs = (*Link)(nil)

func (l *Link) String() string       { return fmt.Sprintf("link(%q, ns=%s)", l.name, l.ns) }
func (l *Link) Type() string         { return "nsplay.link" }
func (l *Link) Freeze()              {}
func (l *Link) Truth() starlark.Bool { return true }
func (l *Link) Hash() (uint32, error) {
	return 0, errors.New("unhashable: nsplay.link (its name can change)")
}
func (l *Link) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	o := y.(*Link)
	return sameCompare(op, l.ns.ino == o.ns.ino && l.name == o.name, l, y)
}

// ref is the link's live reference: an error once its namespace is gone.
func (l *Link) ref() (model.LinkRef, error) {
	ns, err := l.ns.live()
	return model.Link(ns, l.name), err
}

func (l *Link) AttrNames() []string {
	return slices.Sorted(slices.Values(append([]string{"add_addr", "addrs", "carrier", "clear_impairments", "del_addr",
		"delete", "impair", "impairments", "index", "kind", "mac", "master", "move", "mtu", "name", "ns", "oper", "peer",
		"ports", "rename", "set_down", "set_master", "set_mtu", "set_nomaster", "set_up", "stp", "up"}, kindAttrNames...)))
}

func (l *Link) Attr(name string) (starlark.Value, error) {
	return l.ns.env.guard(func() (starlark.Value, error) { return l.attr(name) })
}

func (l *Link) attr(name string) (starlark.Value, error) {
	ref, err := l.ref()
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", l.name, err)
	}
	switch name {
	case "name":
		return starlark.String(l.name), nil
	case "ns":
		return l.ns, nil
	}
	if m, ok := linkMethods[name]; ok {
		return l.ns.env.method(name, m, l), nil
	}
	info, err := l.ns.env.Lab.B.Link(ref)
	if errors.Is(err, model.ErrNotFound) {
		if at := l.ns.env.Lab.LinkDeletedAt(ref); at != "" {
			return nil, fmt.Errorf("link %s in %s was deleted at %s", ref.Name, ref.NS, at)
		}
	}
	if err != nil {
		return nil, err
	}
	if name == "addrs" {
		addrs, err := l.ns.env.Lab.B.Addrs(ref)
		if err != nil {
			return nil, err
		}
		vals := make([]starlark.Value, len(addrs))
		for i, a := range addrs {
			vals[i] = starlark.String(a.CIDR)
		}
		return starlark.NewList(vals), nil
	}
	if name == "impairments" {
		return l.impairments(ref)
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
		return noneIfEmpty(info.Master), nil
	case "peer":
		if info.Kind != "veth" {
			return starlark.None, nil
		}
		if info.Peer == nil {
			return nil, fmt.Errorf("the peer of %s is in a namespace the playbook has no handle on", ref)
		}
		pns, err := l.ns.env.nsHandle(info.Peer.NS)
		if err != nil {
			return nil, err
		}
		return &Link{ns: pns, name: info.Peer.Name}, nil
	case "stp":
		if info.STP == nil {
			return starlark.None, nil
		}
		return starlark.Bool(*info.STP), nil
	case "ports":
		ports := make([]starlark.Value, len(info.Ports))
		for i, p := range info.Ports {
			ports[i] = &Link{ns: l.ns, name: p}
		}
		return starlark.NewList(ports), nil
	}
	return l.kindAttr(name, info)
}

type builtinFn = func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)

var linkMethods = map[string]builtinFn{
	"set_up":       linkChange(func(l model.LinkRef) model.Op { return model.LinkSetUp{Link: l, Up: true} }),
	"set_down":     linkChange(func(l model.LinkRef) model.Op { return model.LinkSetUp{Link: l} }),
	"set_nomaster": linkChange(func(l model.LinkRef) model.Op { return model.LinkSetMaster{Link: l} }),
	"add_addr":     linkAddAddr,
	"del_addr":     linkDelAddr,
	"set_master":   linkSetMaster,
	"set_mtu":      linkSetMTU,
	"move":         linkMove,
	"rename":       linkRename,
	"delete":       linkDelete,

	// impair.go
	"impair":            linkImpair,
	"clear_impairments": linkChange(func(l model.LinkRef) model.Op { return model.QdiscClear{Link: l} }),
}

// receiverLink is a link method's receiver and its live reference.
func receiverLink(b *starlark.Builtin) (*Link, model.LinkRef, error) {
	l := b.Receiver().(*Link)
	ref, err := l.ref()
	return l, ref, wrap(b, err)
}

// linkChange makes a method without arguments that changes the link.
func linkChange(op func(model.LinkRef) model.Op) builtinFn {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := unpack(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		l, ref, err := receiverLink(b)
		if err != nil {
			return nil, err
		}
		if err := do(thread, b, l.ns.env.Lab, op(ref)); err != nil {
			return nil, err
		}
		return l, nil
	}
}

func bridgeFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var nsA nsArg
	var spec model.Bridge
	if err := unpack(b.Name(), args, kwargs, 1, "name", &name, "ns?", &nsA, "stp?", &spec.STP, "mtu?", bridgeMTU.of(&spec.MTU)); err != nil {
		return nil, err
	}
	env, ns, err := optionalNSOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	l, adopted, err := createLink(thread, b, env, model.LinkAdd{Link: model.Link(ns.ref, name), Spec: spec})
	if err != nil || !adopted {
		return l, err
	}
	// A re-run converges: what the playbook asks for now is set.
	ref, _ := l.ref()
	info, err := env.Lab.B.Link(ref)
	if err != nil {
		return nil, wrap(b, err)
	}
	if info.STP != nil && *info.STP != spec.STP {
		if err := do(thread, b, env.Lab, model.BridgeSetSTP{Link: ref, On: spec.STP}); err != nil {
			return nil, err
		}
	}
	if spec.MTU > 0 && info.MTU != spec.MTU {
		if err := do(thread, b, env.Lab, model.LinkSetMTU{Link: ref, MTU: spec.MTU}); err != nil {
			return nil, err
		}
	}
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
	if name == peer && ns.ino == peerNS.ino {
		return nil, fmt.Errorf("veth: both ends are called %q in the same namespace; give the peer another name", name)
	}
	l, _, err := createLink(thread, b, env, model.LinkAdd{Link: model.Link(ns.ref, name), Spec: model.Veth{Peer: model.Link(peerNS.ref, peer)}})
	return l, err
}

// createLink makes a link of any kind, or adopts the one the lab made
// before (a kept lab's, which may have been moved and renamed since).
func createLink(thread *starlark.Thread, b *starlark.Builtin, env *Env, op model.LinkAdd) (*Link, bool, error) {
	res, err := env.Lab.Do(op)
	if err != nil {
		return nil, false, wrap(b, err)
	}
	if !res.Adopted {
		step(thread, "%s", op.Text())
	} else if res.At == op.Link {
		step(thread, "%s %s is the lab's already: adopted", op.Spec.Kind(), op.Link.Name)
	} else {
		step(thread, "%s %s is the lab's already (now %s): adopted", op.Spec.Kind(), op.Link.Name, res.At)
	}
	ns, err := env.nsHandle(res.At.NS)
	if err != nil {
		return nil, false, wrap(b, err)
	}
	return &Link{ns: ns, name: res.At.Name}, res.Adopted, nil
}

func linkAddAddr(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cidr string
	var nodad bool
	if err := unpack(b.Name(), args, kwargs, 1, "cidr", &cidr, "nodad?", &nodad); err != nil {
		return nil, err
	}
	l, ref, err := receiverLink(b)
	if err != nil {
		return nil, err
	}
	ipnet, err := model.ParseCIDR(cidr)
	if err != nil {
		return nil, wrap(b, err)
	}
	op := model.AddrAdd{Link: ref, CIDR: ipnet.String(), NoDAD: nodad}
	res, err := l.ns.env.Lab.DoAt(op, callerLine(thread))
	if err != nil {
		return nil, wrap(b, err)
	}
	if res.Adopted {
		step(thread, "%s has %s already", l.name, cidr)
		return l, nil
	}
	step(thread, "%s", op.Text())
	return l, l.ns.env.addrAdded(thread, b, ref)
}

func linkDelAddr(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cidr string
	if err := unpack(b.Name(), args, kwargs, 1, "cidr", &cidr); err != nil {
		return nil, err
	}
	l, ref, err := receiverLink(b)
	if err != nil {
		return nil, err
	}
	ipnet, err := model.ParseCIDR(cidr)
	if err != nil {
		return nil, wrap(b, err)
	}
	if err := do(thread, b, l.ns.env.Lab, model.AddrDel{Link: ref, CIDR: ipnet.String()}); err != nil {
		return nil, err
	}
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
	l, ref, err := receiverLink(b)
	if err != nil {
		return nil, err
	}
	br := master.name
	if master.handle != nil {
		if master.handle.ns.ino != l.ns.ino {
			return nil, fmt.Errorf("set_master: %s is in %s but %s is in %s; a link's master must be in its namespace (move it first)",
				master.handle.name, master.handle.ns.ref, l.name, l.ns.ref)
		}
		br = master.handle.name
	}
	if err := do(thread, b, l.ns.env.Lab, model.LinkSetMaster{Link: ref, Master: br}); err != nil {
		return nil, err
	}
	return l, l.ns.env.setMaster(thread, b, ref, model.Link(ref.NS, br))
}

func linkSetMTU(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var mtu int
	if err := unpack(b.Name(), args, kwargs, 1, "mtu", mtuRange.of(&mtu)); err != nil {
		return nil, err
	}
	l, ref, err := receiverLink(b)
	if err != nil {
		return nil, err
	}
	if err := do(thread, b, l.ns.env.Lab, model.LinkSetMTU{Link: ref, MTU: mtu}); err != nil {
		return nil, err
	}
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
	l, ref, err := receiverLink(b)
	if err != nil {
		return nil, err
	}
	if l.ns.ino == target.ino {
		step(thread, "%s is in %s already", l.name, target.ref)
		return l, nil
	}
	if err := do(thread, b, l.ns.env.Lab, model.LinkMove{Link: ref, To: target.ref}); err != nil {
		return nil, err
	}
	l.ns = target
	return l, nil
}

func linkRename(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := unpack(b.Name(), args, kwargs, 1, "name", &name); err != nil {
		return nil, err
	}
	l, ref, err := receiverLink(b)
	if err != nil {
		return nil, err
	}
	if name == l.name {
		return l, nil
	}
	if err := do(thread, b, l.ns.env.Lab, model.LinkRename{Link: ref, To: name}); err != nil {
		return nil, err
	}
	l.name = name
	return l, nil
}

func linkDelete(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	l, ref, err := receiverLink(b)
	if err != nil {
		return nil, err
	}
	if err := do(thread, b, l.ns.env.Lab, model.LinkDel{Link: ref}); err != nil {
		return nil, err
	}
	return starlark.None, nil
}
