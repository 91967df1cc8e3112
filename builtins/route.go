package builtins

// A route handle names one route of a namespace.
//
//	route(ns, dst, via=None, dev=None, metric=0, table="main")   ip route add
//	    dst is "default" or a prefix ("10.0.0.0/8"); dev is a link handle or name
//
//	.dst .via .dev .metric .table .proto .scope
//	          read from the kernel on every access (via and dev None when the
//	          route has none; an error once the route is gone)
//	.delete()                       ip route del

import (
	"fmt"
	"slices"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Route is a handle on a route.
type Route struct {
	ns   *Netns
	spec model.Route
}

var _ starlark.HasAttrs = (*Route)(nil)

func (r *Route) String() string       { return fmt.Sprintf("route(%s, %q)", r.ns, r.spec.Dst) }
func (r *Route) Type() string         { return "nsplay.route" }
func (r *Route) Freeze()              {}
func (r *Route) Truth() starlark.Bool { return true }
func (r *Route) Hash() (uint32, error) {
	return starlark.String(r.ns.ref.Key() + " " + r.spec.Args()).Hash()
}
func (r *Route) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	o := y.(*Route)
	return sameCompare(op, r.ns.ino == o.ns.ino && r.spec == o.spec, r, y)
}

func (r *Route) AttrNames() []string {
	return []string{"delete", "dev", "dst", "metric", "proto", "scope", "table", "via"}
}

func (r *Route) Attr(name string) (starlark.Value, error) {
	return r.ns.env.guard(func() (starlark.Value, error) { return r.attr(name) })
}

func (r *Route) attr(name string) (starlark.Value, error) {
	if _, err := r.ns.live(); err != nil {
		return nil, fmt.Errorf("route %s: %w", r.spec.Dst, err)
	}
	if name == "delete" {
		return r.ns.env.method("delete", routeDelete, r), nil
	}
	if !slices.Contains(r.AttrNames(), name) {
		return nil, nil
	}
	info, err := r.live()
	if err != nil {
		return nil, err
	}
	switch name {
	case "dst":
		return starlark.String(info.Dst), nil
	case "via":
		return noneIfEmpty(info.Via), nil
	case "dev":
		return noneIfEmpty(info.Dev), nil
	case "metric":
		return starlark.MakeInt(info.Metric), nil
	case "table":
		return starlark.String(info.Table), nil
	case "proto":
		return starlark.String(info.Proto), nil
	}
	return starlark.String(info.Scope), nil
}

// live finds the route in its namespace now.
func (r *Route) live() (model.RouteInfo, error) {
	ns, err := r.ns.live()
	if err != nil {
		return model.RouteInfo{}, err
	}
	routes, err := r.ns.env.Lab.B.Routes(ns)
	if err != nil {
		return model.RouteInfo{}, err
	}
	for _, info := range routes {
		s := info.Route()
		if s.Dst == r.spec.Dst && s.Table == r.spec.Table && s.Metric == r.spec.Metric &&
			(r.spec.Via == "" || s.Via == r.spec.Via) && (r.spec.Dev == "" || s.Dev == r.spec.Dev) {
			return info, nil
		}
	}
	return model.RouteInfo{}, fmt.Errorf("route %s in %s is not there any more: %w", r.spec.Dst, ns, model.ErrNotFound)
}

func noneIfEmpty(s string) starlark.Value {
	if s == "" {
		return starlark.None
	}
	return starlark.String(s)
}

func routeFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var nsA nsArg
	var dst string
	var via starlark.Value = starlark.None
	var dev starlark.Value = starlark.None
	spec := model.Route{Table: "main"}
	if err := unpack(b.Name(), args, kwargs, 2, "ns", &nsA, "dst", &dst, "via?", &via, "dev?", &dev,
		"metric?", metricRange.of(&spec.Metric), "table?", &spec.Table); err != nil {
		return nil, err
	}
	env, ns, err := nsOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	if spec.Dst, err = model.CanonicalDst(dst); err != nil {
		return nil, wrap(b, err)
	}
	if spec.Table, err = model.CanonicalTable(spec.Table); err != nil {
		return nil, wrap(b, err)
	}
	switch v := via.(type) {
	case starlark.String:
		spec.Via = string(v)
	case starlark.NoneType:
	default:
		return nil, fmt.Errorf("route: via= wants a gateway address string, got %s", via.Type())
	}
	if spec.Dev, err = linkNameIn(b, "dev", dev, ns); err != nil {
		return nil, err
	}
	if spec.Metric == 0 && spec.IPv6() {
		spec.Metric = model.IPv6DefaultMetric // what the kernel gives it
	}
	if err := spec.Check(); err != nil {
		return nil, wrap(b, err)
	}
	op := model.RouteAdd{NS: ns.ref, Route: spec}
	res, err := env.Lab.Do(op)
	if err != nil {
		return nil, wrap(b, err)
	}
	if res.Adopted {
		step(thread, "route %s in %s is there already", spec.Args(), ns.ref)
	} else {
		step(thread, "%s", op.Text())
	}
	return &Route{ns: ns, spec: spec}, nil
}

func routeDelete(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	r := b.Receiver().(*Route)
	ns, err := r.ns.live()
	if err != nil {
		return nil, wrap(b, err)
	}
	if err := do(thread, b, r.ns.env.Lab, model.RouteDel{NS: ns, Route: r.spec}); err != nil {
		return nil, err
	}
	return starlark.None, nil
}
