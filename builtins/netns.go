package builtins

// A netns handle names one network namespace:
//
//	netns(name)          create a named namespace (ip netns add); a name the lab owns is returned as is
//	netns(pid=N)         attach to the namespace of process N; nsplay never deletes it
//	netns(path=P)        attach to the namespace at P (/proc/N/ns/net, /run/netns/x, a bind mount)
//
//	.name     the name ("host" for the start namespace, the name under /run/netns, or None)
//	.path     a path that opens it
//	.owned    True when this lab created it
//	.link(name)         the link of that name              -> link
//	.links()            all links, in index order          -> [link]
//	.routes()           the main table's routes            -> [route]
//	.pids()             processes in it (ip netns pids)    -> [int]
//	.exec(cmd, ...)     exec_in(this, cmd, ...)
//	.id                 its NETNSID as the host knows it (ip netns list-id), None if it has none
//	.set_id(n)          ip netns set NAME n (only a namespace the lab created, unless --allow-host)
//	.delete()           ip netns del (only a namespace the lab created, unless --allow-host)
//
//	netns_list()        the names under /run/netns, sorted (ip netns list)  -> [string]
//	netns_identify(pid) the name of the named namespace process pid is in, or None (ip netns identify)
//
// Once its namespace is gone (deleted, or its name removed from outside),
// a handle, and every link and route handle in it, is an error at each
// use that says where the playbook deleted it (lab.NSErr).

import (
	"errors"
	"fmt"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Netns is a handle on a network namespace.
type Netns struct {
	lab *lab.Lab
	ns  *kernel.NS
}

var _ starlark.HasAttrs = (*Netns)(nil)

func (n *Netns) String() string {
	switch {
	case n.ns == n.lab.Host:
		return "host"
	case n.ns.Name != "":
		return fmt.Sprintf("netns(%q)", n.ns.Name)
	}
	return fmt.Sprintf("netns(path=%q)", n.ns.Path)
}
func (n *Netns) Type() string          { return "nsplay.netns" }
func (n *Netns) Freeze()               {}
func (n *Netns) Truth() starlark.Bool  { return true }
func (n *Netns) Hash() (uint32, error) { return starlark.String(n.ns.Path).Hash() }
func (n *Netns) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	return sameCompare(op, n.ns.Same(y.(*Netns).ns), n, y)
}

func (n *Netns) Attr(name string) (starlark.Value, error) {
	if err := n.lab.NSErr(n.ns); err != nil {
		return nil, err
	}
	switch name {
	case "name":
		switch {
		case n.ns == n.lab.Host:
			return starlark.String("host"), nil
		case n.ns.Name != "":
			return starlark.String(n.ns.Name), nil
		}
		return starlark.None, nil
	case "path":
		return starlark.String(n.ns.Path), nil
	case "owned":
		return starlark.Bool(n.lab.OwnsNS(n.ns)), nil
	case "id":
		id, err := n.lab.Host.NetnsIDOf(n.ns)
		if err != nil || id < 0 {
			return starlark.None, err
		}
		return starlark.MakeInt(id), nil
	}
	if m, ok := netnsMethods[name]; ok {
		return starlark.NewBuiltin(name, m).BindReceiver(n), nil
	}
	return nil, nil
}

func (n *Netns) AttrNames() []string {
	return []string{"delete", "exec", "id", "link", "links", "name", "owned", "path", "pids", "routes", "set_id"}
}

var netnsMethods = map[string]func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error){
	"link":   netnsLink,
	"links":  netnsLinks,
	"routes": netnsRoutes,
	"pids":   netnsPIDs,
	"exec":   netnsExec,
	"delete": netnsDelete,
	"set_id": netnsSetID,
}

func netnsSetID(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var id int
	if err := unpack(b.Name(), args, kwargs, 1, "id", &id); err != nil {
		return nil, err
	}
	n := receiverNS(b)
	if n.ns == n.lab.Host {
		return nil, errors.New("set_id: host is the namespace the ids are given in; give one to another namespace")
	}
	if err := n.lab.MayChangeNS(n.ns); err != nil {
		return nil, wrap(b, err)
	}
	if id < 0 {
		return nil, fmt.Errorf("set_id: %d is negative; ids are 0 or more", id)
	}
	if err := n.lab.Host.SetNetnsID(n.ns, id); err != nil {
		return nil, wrap(b, err)
	}
	step(thread, "ip netns set %s %d", n.ns, id)
	return n, nil
}

func netnsListFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	names, err := kernel.NamedList()
	if err != nil {
		return nil, wrap(b, err)
	}
	vals := make([]starlark.Value, len(names))
	for i, name := range names {
		vals[i] = starlark.String(name)
	}
	return starlark.NewList(vals), nil
}

func netnsIdentifyFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pid int
	if err := unpack(b.Name(), args, kwargs, 1, "pid", &pid); err != nil {
		return nil, err
	}
	name, err := kernel.Identify(pid)
	if err != nil {
		return nil, wrap(b, err)
	}
	return noneIfEmpty(name), nil
}

func netnsFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, path string
	pid := -1
	if err := unpack(b.Name(), args, kwargs, 1, "name?", &name, "pid?", &pid, "path?", &path); err != nil {
		return nil, err
	}
	env, err := envOf(thread)
	if err != nil {
		return nil, err
	}
	given := 0
	for _, set := range []bool{name != "", pid >= 0, path != ""} {
		if set {
			given++
		}
	}
	if given != 1 {
		return nil, errors.New("netns: give exactly one of name (create), pid= or path= (attach to an existing namespace)")
	}
	if pid >= 0 {
		path = fmt.Sprintf("/proc/%d/ns/net", pid)
	}
	if path != "" {
		ns, err := env.Lab.Attach(path)
		if err != nil {
			return nil, wrap(b, err)
		}
		step(thread, "attach to namespace %s", path)
		return &Netns{lab: env.Lab, ns: ns}, nil
	}
	if name == "host" {
		return nil, errors.New(`netns: "host" is the name of the namespace nsplay started in (the predeclared host); give the new namespace another name`)
	}
	ns, adopted, err := env.Lab.Netns(name)
	if err != nil {
		return nil, wrap(b, err)
	}
	if adopted {
		step(thread, "netns %s is the lab's already: adopted", name)
	} else {
		step(thread, "ip netns add %s", name)
	}
	return &Netns{lab: env.Lab, ns: ns}, nil
}

// nsArg is a namespace argument: a netns handle, or the name of a namespace
// (the lab's own, or one under /run/netns, attached without owning it), or
// None for the default.
type nsArg struct {
	handle *Netns
	name   string
}

func (a *nsArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case *Netns:
		a.handle = v
	case starlark.String:
		a.name = string(v)
	case starlark.NoneType:
	default:
		return fmt.Errorf("want a netns handle or a namespace name, got %s", v.Type())
	}
	return nil
}

func (a *nsArg) set() bool { return a.handle != nil || a.name != "" }

// nsOf resolves builtin b's required namespace argument a.
func nsOf(thread *starlark.Thread, b *starlark.Builtin, a *nsArg) (*Env, *Netns, error) {
	return envAndNS(thread, b, a.must)
}

// optionalNSOf resolves builtin b's optional namespace argument a: host
// when it is not given.
func optionalNSOf(thread *starlark.Thread, b *starlark.Builtin, a *nsArg) (*Env, *Netns, error) {
	return envAndNS(thread, b, a.resolve)
}

func envAndNS(thread *starlark.Thread, b *starlark.Builtin, resolve func(*Env) (*Netns, error)) (*Env, *Netns, error) {
	env, err := envOf(thread)
	if err != nil {
		return nil, nil, err
	}
	ns, err := resolve(env)
	if err != nil {
		return nil, nil, wrap(b, err)
	}
	return env, ns, nil
}

// must resolves a required argument, which may not be None.
func (a *nsArg) must(env *Env) (*Netns, error) {
	if !a.set() {
		return nil, fmt.Errorf("want a netns handle or a namespace name, got None")
	}
	return a.resolve(env)
}

// resolve turns the argument into a handle; an unset argument is host. A
// handle of a namespace that is gone is an error, never another namespace.
func (a *nsArg) resolve(env *Env) (*Netns, error) {
	switch {
	case a.handle != nil:
		if err := env.Lab.NSErr(a.handle.ns); err != nil {
			return nil, err
		}
		return a.handle, nil
	case a.name == "" || a.name == "host":
		return &Netns{lab: env.Lab, ns: env.Lab.Host}, nil
	}
	for _, o := range env.Lab.Objects() {
		if o.Kind == "netns" && o.Name == a.name {
			ns, _, err := env.Lab.Netns(a.name)
			return &Netns{lab: env.Lab, ns: ns}, err
		}
	}
	if !kernel.NamedExists(a.name) {
		return nil, fmt.Errorf("there is no namespace %q: create it with netns(%q) first", a.name, a.name)
	}
	ns, err := env.Lab.Attach(kernel.RunDir + "/" + a.name)
	if err != nil {
		return nil, err
	}
	return &Netns{lab: env.Lab, ns: ns}, nil
}

func receiverNS(b *starlark.Builtin) *Netns { return b.Receiver().(*Netns) }

func netnsLink(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := unpack(b.Name(), args, kwargs, 1, "name", &name); err != nil {
		return nil, err
	}
	n := receiverNS(b)
	if _, err := n.ns.Link(name); err != nil {
		return nil, wrap(b, err)
	}
	return &Link{lab: n.lab, ns: n.ns, name: name}, nil
}

func netnsLinks(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	n := receiverNS(b)
	infos, err := n.ns.Links()
	if err != nil {
		return nil, wrap(b, err)
	}
	links := make([]starlark.Value, len(infos))
	for i, info := range infos {
		links[i] = &Link{lab: n.lab, ns: n.ns, name: info.Name}
	}
	return starlark.NewList(links), nil
}

func netnsRoutes(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	n := receiverNS(b)
	infos, err := n.ns.Routes(false)
	if err != nil {
		return nil, wrap(b, err)
	}
	routes := make([]starlark.Value, len(infos))
	for i, info := range infos {
		routes[i] = &Route{lab: n.lab, ns: n.ns, spec: specOf(info)}
	}
	return starlark.NewList(routes), nil
}

func netnsPIDs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	pids, err := receiverNS(b).ns.PIDs()
	if err != nil {
		return nil, wrap(b, err)
	}
	vals := make([]starlark.Value, len(pids))
	for i, p := range pids {
		vals[i] = starlark.MakeInt(p)
	}
	return starlark.NewList(vals), nil
}

func netnsExec(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return execInFn(thread, b, append(starlark.Tuple{receiverNS(b)}, args...), kwargs)
}

func netnsDelete(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	n := receiverNS(b)
	if n.ns.Name == "" || n.ns == n.lab.Host {
		return nil, fmt.Errorf("delete: %s has no name under %s; nsplay deletes only named namespaces", n, kernel.RunDir)
	}
	if err := n.lab.MayDeleteNS(n.ns); err != nil {
		return nil, wrap(b, err)
	}
	err := n.ns.Delete(n.lab.Namespaces())
	if err := errors.Join(err, n.lab.NetnsDeleted(n.ns, callerLine(thread))); err != nil {
		return nil, wrap(b, err)
	}
	step(thread, "ip netns del %s", n.ns.Name)
	return starlark.None, nil
}

// sameCompare answers == and != for handles that name the same object.
func sameCompare(op syntax.Token, same bool, x, y starlark.Value) (bool, error) {
	switch op {
	case syntax.EQL:
		return same, nil
	case syntax.NEQ:
		return !same, nil
	}
	return false, fmt.Errorf("%s %s %s not supported", x.Type(), op, y.Type())
}
