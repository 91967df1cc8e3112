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
//	.delete()           ip netns del (only a namespace the lab created)
//	.sysctl(key)        a sysctl of its net.* tree, now (sysctl.go)
//
//	netns_list()        the names under /run/netns, sorted (ip netns list)  -> [string]
//	netns_identify(pid) the name of the named namespace process pid is in, or None (ip netns identify)
//
// A handle names the namespace it was made for, not a name: once that
// namespace is gone, every use of the handle, and of the link and route
// handles in it, is an error that says so, and where the playbook deleted
// it; it never falls back to another namespace.

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Netns is a handle on a network namespace.
type Netns struct {
	env *Env
	ref model.NSRef
	ino uint64 // the namespace's identity when the handle was made
}

var _ starlark.HasAttrs = (*Netns)(nil)

// nsHandle is the playbook's handle on a namespace that is there: one
// handle per namespace, whatever ref names it (a name, /proc/PID/ns/net of
// a process in it), so that handles compare equal and print alike.
func (env *Env) nsHandle(ref model.NSRef) (*Netns, error) {
	ino, err := env.Lab.B.Identity(ref)
	if err != nil {
		return nil, err
	}
	if n, ok := env.byIno[ino]; ok {
		return n, nil
	}
	n := &Netns{env: env, ref: ref, ino: ino}
	env.spaces = append(env.spaces, n)
	if env.byIno == nil {
		env.byIno = map[uint64]*Netns{}
	}
	env.byIno[ino] = n
	return n, nil
}

// ErrGone reports a handle whose namespace no longer exists.
var ErrGone = errors.New("the namespace is gone")

// goneError says in full why a handle may not be used, and matches ErrGone.
type goneError string

func (e goneError) Error() string { return string(e) }
func (e goneError) Unwrap() error { return ErrGone }

func gone(format string, args ...any) error { return goneError(fmt.Sprintf(format, args...)) }

// live checks that the handle's namespace is still the one it was made
// for, and returns its ref.
func (n *Netns) live() (model.NSRef, error) {
	ino, err := n.env.Lab.B.Identity(n.ref)
	if err == nil && ino == n.ino {
		return n.ref, nil
	}
	if at := n.env.Lab.DeletedIDAt(n.ino); at != "" {
		if err == nil {
			return n.ref, gone("namespace %s was deleted at %s; the one made under its name since is another (use the handle netns() gave for it)", n.ref, at)
		}
		return n.ref, gone("namespace %s was deleted at %s", n.ref, at)
	}
	if err == nil {
		return n.ref, gone("namespace %s was deleted and made again by someone else since this handle was made", n.ref)
	}
	if n.ref.Name() != "" {
		return n.ref, gone("namespace %s is gone: %s no longer names it (deleted with ip netns del?)", n.ref, n.path())
	}
	return n.ref, gone("namespace %s is gone", n.ref)
}

func (n *Netns) String() string {
	switch {
	case n.ref.IsHost():
		return "host"
	case n.ref.Name() != "":
		return fmt.Sprintf("netns(%q)", n.ref.Name())
	}
	return fmt.Sprintf("netns(path=%q)", n.ref.Path())
}
func (n *Netns) Type() string          { return "nsplay.netns" }
func (n *Netns) Freeze()               {}
func (n *Netns) Truth() starlark.Bool  { return true }
func (n *Netns) Hash() (uint32, error) { return starlark.String(n.ref.Key()).Hash() }
func (n *Netns) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	o := y.(*Netns)
	return sameCompare(op, n.ino == o.ino, n, y)
}

func (n *Netns) Attr(name string) (starlark.Value, error) {
	return n.env.guard(func() (starlark.Value, error) { return n.attr(name) })
}

func (n *Netns) attr(name string) (starlark.Value, error) {
	ref, err := n.live()
	if err != nil {
		return nil, err
	}
	if m, ok := netnsMethods[name]; ok {
		return n.env.method(name, m, n), nil
	}
	switch name {
	case "name":
		switch {
		case n.ref.IsHost():
			return starlark.String("host"), nil
		case n.ref.Name() != "":
			return starlark.String(n.ref.Name()), nil
		}
		return starlark.None, nil
	case "path":
		return starlark.String(n.path()), nil
	}
	switch name {
	case "owned":
		return starlark.Bool(n.env.Lab.OwnsNS(ref)), nil
	case "id":
		id, err := n.env.Lab.B.NetnsID(model.Host, ref)
		if err != nil || id < 0 {
			return starlark.None, err
		}
		return starlark.MakeInt(id), nil
	}
	return nil, nil
}

// path is a path that opens the namespace.
func (n *Netns) path() string {
	switch {
	case n.ref.Name() != "":
		return filepath.Join(n.env.Lab.Paths.RunNetns, n.ref.Name())
	case n.ref.Path() != "":
		return n.ref.Path()
	}
	return "/proc/self/ns/net"
}

func (n *Netns) AttrNames() []string {
	return []string{"delete", "exec", "id", "link", "links", "name", "owned", "path", "pids", "routes", "set_id", "sysctl"}
}

var netnsMethods = map[string]builtinFn{
	"link":   netnsLink,
	"links":  netnsLinks,
	"routes": netnsRoutes,
	"pids":   netnsPIDs,
	"exec":   netnsExec,
	"delete": netnsDelete,
	"set_id": netnsSetID,
	"sysctl": netnsSysctl,
}

// receiverNS is the live namespace of a netns method's receiver.
func receiverNS(b *starlark.Builtin) (*Netns, model.NSRef, error) {
	n := b.Receiver().(*Netns)
	ref, err := n.live()
	return n, ref, wrap(b, err)
}

func netnsSetID(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var id int
	if err := unpack(b.Name(), args, kwargs, 1, "id", netnsIDs.of(&id)); err != nil {
		return nil, err
	}
	n, ref, err := receiverNS(b)
	if err != nil {
		return nil, err
	}
	if err := do(thread, b, n.env.Lab, model.NetnsSetID{NS: ref, ID: id}); err != nil {
		return nil, err
	}
	return n, nil
}

func netnsListFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	env, err := envOf(thread)
	if err != nil {
		return nil, err
	}
	names, err := env.Lab.B.NamedList()
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
	if err := unpack(b.Name(), args, kwargs, 1, "pid", pidRange.of(&pid)); err != nil {
		return nil, err
	}
	env, err := envOf(thread)
	if err != nil {
		return nil, err
	}
	name, err := env.Lab.B.Identify(pid)
	if err != nil {
		return nil, wrap(b, err)
	}
	return noneIfEmpty(name), nil
}

func netnsFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, path string
	pid := -1
	if err := unpack(b.Name(), args, kwargs, 1, "name?", &name, "pid?", pidRange.of(&pid), "path?", &path); err != nil {
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
		n, err := env.attach(path)
		if err != nil {
			return nil, wrap(b, err)
		}
		step(thread, "attach to namespace %s", path)
		return n, nil
	}
	if name == "host" {
		return nil, errors.New(`netns: "host" is the name of the namespace nsplay started in (the predeclared host); give the new namespace another name`)
	}
	res, err := env.Lab.Do(model.NetnsAdd{Name: name})
	if err != nil {
		return nil, wrap(b, err)
	}
	if res.Adopted {
		step(thread, "netns %s is the lab's already: adopted", name)
	} else {
		step(thread, "%s", model.NetnsAdd{Name: name}.Text())
		if err := env.quietIPv6(thread, b, model.Named(name)); err != nil {
			return nil, err
		}
	}
	n, err := env.nsHandle(model.Named(name))
	return n, wrap(b, err)
}

// attach opens a namespace the lab does not own by path.
func (env *Env) attach(path string) (*Netns, error) {
	if strings.ContainsRune(path, 0) {
		return nil, fmt.Errorf("path %q holds a NUL byte, which no path can", path)
	}
	ref := model.AtPath(path)
	if dir, name := filepath.Split(filepath.Clean(path)); filepath.Clean(dir) == env.Lab.Paths.RunNetns {
		ref = model.Named(name)
	}
	return env.nsHandle(ref)
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

// resolve turns the argument into a live handle; an unset argument is host.
func (a *nsArg) resolve(env *Env) (*Netns, error) {
	switch {
	case a.handle != nil:
		_, err := a.handle.live()
		return a.handle, err
	case a.name == "" || a.name == "host":
		return env.spaces[0], nil
	}
	ref := model.Named(a.name)
	if _, err := env.Lab.B.Identity(ref); err != nil {
		if at := env.Lab.DeletedAt(a.name); at != "" {
			return nil, gone("namespace %s was deleted at %s", a.name, at)
		}
		return nil, fmt.Errorf("there is no namespace %q: create it with netns(%q) first", a.name, a.name)
	}
	return env.nsHandle(ref)
}

func netnsLink(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := unpack(b.Name(), args, kwargs, 1, "name", &name); err != nil {
		return nil, err
	}
	n, ref, err := receiverNS(b)
	if err != nil {
		return nil, err
	}
	if _, err := n.env.Lab.B.Link(model.Link(ref, name)); err != nil {
		return nil, wrap(b, err)
	}
	return &Link{ns: n, name: name}, nil
}

func netnsLinks(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	n, ref, err := receiverNS(b)
	if err != nil {
		return nil, err
	}
	infos, err := n.env.Lab.B.Links(ref)
	if err != nil {
		return nil, wrap(b, err)
	}
	links := make([]starlark.Value, len(infos))
	for i, info := range infos {
		links[i] = &Link{ns: n, name: info.Name}
	}
	return starlark.NewList(links), nil
}

func netnsRoutes(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	n, ref, err := receiverNS(b)
	if err != nil {
		return nil, err
	}
	infos, err := n.env.Lab.B.Routes(ref)
	if err != nil {
		return nil, wrap(b, err)
	}
	var routes []starlark.Value
	for _, info := range infos {
		if info.Table == "main" {
			routes = append(routes, &Route{ns: n, spec: info.Route()})
		}
	}
	return starlark.NewList(routes), nil
}

func netnsPIDs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	n, ref, err := receiverNS(b)
	if err != nil {
		return nil, err
	}
	pids, err := n.env.Lab.B.PIDs(ref)
	if errors.Is(err, model.ErrUnknown) {
		return Unknown{what: n.String() + ".pids()", thread: thread}, nil
	}
	if err != nil {
		return nil, wrap(b, err)
	}
	vals := make([]starlark.Value, len(pids))
	for i, pid := range pids {
		vals[i] = starlark.MakeInt(pid)
	}
	return starlark.NewList(vals), nil
}

func netnsExec(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return execInFn(thread, b, append(starlark.Tuple{b.Receiver()}, args...), kwargs)
}

func netnsDelete(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	n, ref, err := receiverNS(b)
	if err != nil {
		return nil, err
	}
	if ref.Name() == "" {
		return nil, fmt.Errorf("delete: %s has no name under %s; nsplay deletes only named namespaces", n, n.env.Lab.Paths.RunNetns)
	}
	if err := do(thread, b, n.env.Lab, model.NetnsDel{Name: ref.Name()}); err != nil {
		return nil, err
	}
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
