package builtins

// Links made on a parent link or over an underlay, and stand-alone ones:
//
//	macvlan(name, link, ns=None, mode="bridge")  ip [-n P] link add NAME link PARENT [netns NS] type macvlan mode MODE
//	vlan(name, link, id, ns=None)                ip [-n P] link add NAME link PARENT [netns NS] type vlan id ID
//	vxlan(name, vni, ns=host, local=None, remote=None, group=None, dev=None, port=4789)
//	                                             ip link add NAME type vxlan id VNI [local A] [remote B|group G] [dev D] dstport PORT
//	tuntap(name, ns=host, mode="tap")            ip tuntap add NAME mode MODE
//	dummy(name, ns=host)                         ip link add NAME type dummy
//
// link is a link handle, or the name of a link in ns (host when ns is
// None). A macvlan or vlan is made in its parent's namespace, or, with ns=,
// made on the parent and placed in ns in the same request. Their handles
// read, besides the attributes of every link:
//
//	.mode     a macvlan's ("bridge", "private", "vepa", "passthru") or a tun/tap's ("tap", "tun")
//	.vlan_id  a vlan's 802.1Q id
//	.vni .port .local .remote .group   a vxlan's
//	.parent   the link a macvlan or vlan was made on, or a vxlan's dev (a handle)
//
// each None for a link of another kind.

import (
	"fmt"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
)

func macvlanFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var parent linkArg
	var nsA nsArg
	spec := model.Macvlan{Mode: "bridge"}
	if err := unpack(b.Name(), args, kwargs, 2, "name", &name, "link", &parent, "ns?", &nsA, "mode?", &spec.Mode); err != nil {
		return nil, err
	}
	env, ns, err := onParent(thread, b, parent, &nsA, &spec.Parent)
	if err != nil {
		return nil, err
	}
	return makeChecked(thread, b, env, model.Link(ns.ref, name), spec)
}

func vlanFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var parent linkArg
	var nsA nsArg
	var spec model.Vlan
	if err := unpack(b.Name(), args, kwargs, 3, "name", &name, "link", &parent, "id", &spec.ID, "ns?", &nsA); err != nil {
		return nil, err
	}
	env, ns, err := onParent(thread, b, parent, &nsA, &spec.Parent)
	if err != nil {
		return nil, err
	}
	return makeChecked(thread, b, env, model.Link(ns.ref, name), spec)
}

// onParent resolves the parent of a link made on one, and the namespace
// the link goes in: ns=, else the parent's.
func onParent(thread *starlark.Thread, b *starlark.Builtin, parent linkArg, nsA *nsArg, ref *model.LinkRef) (*Env, *Netns, error) {
	env, ns, err := optionalNSOf(thread, b, nsA)
	if err != nil {
		return nil, nil, err
	}
	if parent.handle == nil {
		*ref = model.Link(ns.ref, parent.name)
		return env, ns, nil
	}
	if *ref, err = parent.handle.ref(); err != nil {
		return nil, nil, wrap(b, err)
	}
	if !nsA.set() {
		ns = parent.handle.ns
	}
	return env, ns, nil
}

func vxlanFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var nsA nsArg
	var local, remote, group optString
	var dev starlark.Value = starlark.None
	spec := model.Vxlan{Port: model.VxlanPort}
	if err := unpack(b.Name(), args, kwargs, 2, "name", &name, "vni", &spec.VNI, "ns?", &nsA, "local?", &local,
		"remote?", &remote, "group?", &group, "dev?", &dev, "port?", &spec.Port); err != nil {
		return nil, err
	}
	env, ns, err := optionalNSOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	if spec.Dev, err = linkNameIn(b, "dev", dev, ns); err != nil {
		return nil, err
	}
	spec.Local, spec.Remote, spec.Group = string(local), string(remote), string(group)
	return makeChecked(thread, b, env, model.Link(ns.ref, name), spec)
}

func tuntapFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var nsA nsArg
	spec := model.Tuntap{Mode: "tap"}
	if err := unpack(b.Name(), args, kwargs, 1, "name", &name, "ns?", &nsA, "mode?", &spec.Mode); err != nil {
		return nil, err
	}
	env, ns, err := optionalNSOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	return makeChecked(thread, b, env, model.Link(ns.ref, name), spec)
}

func dummyFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var nsA nsArg
	if err := unpack(b.Name(), args, kwargs, 1, "name", &name, "ns?", &nsA); err != nil {
		return nil, err
	}
	env, ns, err := optionalNSOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	l, _, err := createLink(thread, b, env, model.LinkAdd{Link: model.Link(ns.ref, name), Spec: model.Dummy{}})
	return l, err
}

// optString is a string argument that may be None ("").
type optString string

func (s *optString) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		*s = optString(v)
	case starlark.NoneType:
	default:
		return fmt.Errorf("want a string or None, got %s", v.Type())
	}
	return nil
}

// linkNameIn reads argument arg of builtin b, a link of ns given as a
// handle or by name, or None (""), as its name.
func linkNameIn(b *starlark.Builtin, arg string, v starlark.Value, ns *Netns) (string, error) {
	switch v := v.(type) {
	case starlark.String:
		return string(v), nil
	case *Link:
		if v.ns.ino != ns.ino {
			return "", fmt.Errorf("%s: %s=%s is in %s, not in %s", b.Name(), arg, v.name, v.ns.ref, ns.ref)
		}
		return v.name, nil
	case starlark.NoneType:
		return "", nil
	}
	return "", fmt.Errorf("%s: %s= wants a link handle or name, got %s", b.Name(), arg, v.Type())
}

// kindAttrNames are the attributes of kinds, which every link handle has.
var kindAttrNames = []string{"group", "local", "mode", "parent", "port", "remote", "vlan_id", "vni"}

// kindAttr reads one of kindAttrNames from the link's live state; nil for
// another name.
func (l *Link) kindAttr(name string, info model.LinkInfo) (starlark.Value, error) {
	num := func(n int) starlark.Value {
		if n == 0 {
			return starlark.None
		}
		return starlark.MakeInt(n)
	}
	switch a := info.KindAttrs; name {
	case "mode":
		return noneIfEmpty(a.Mode), nil
	case "vlan_id":
		return num(a.VLANID), nil
	case "vni":
		return num(a.VNI), nil
	case "port":
		return num(a.Port), nil
	case "local":
		return noneIfEmpty(a.Local), nil
	case "remote":
		return noneIfEmpty(a.Remote), nil
	case "group":
		return noneIfEmpty(a.Group), nil
	case "parent":
		if info.Parent == nil {
			return starlark.None, nil
		}
		pns, err := l.ns.env.nsHandle(info.Parent.NS)
		if err != nil {
			return nil, err
		}
		return &Link{ns: pns, name: info.Parent.Name}, nil
	}
	return nil, nil
}

// checkedSpec is a link spec that checks its own arguments.
type checkedSpec[S model.LinkSpec] interface {
	model.LinkSpec
	Checked() (S, error)
}

// makeChecked checks a spec's arguments and makes (or adopts) the link.
func makeChecked[S checkedSpec[S]](thread *starlark.Thread, b *starlark.Builtin, env *Env, link model.LinkRef, spec S) (starlark.Value, error) {
	spec, err := spec.Checked()
	if err != nil {
		return nil, wrap(b, err)
	}
	l, _, err := createLink(thread, b, env, model.LinkAdd{Link: link, Spec: spec})
	return l, err
}
