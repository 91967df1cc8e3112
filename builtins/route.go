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
	"strings"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Route is a handle on a route.
type Route struct {
	lab  *lab.Lab
	ns   *kernel.NS
	spec kernel.RouteSpec
}

var _ starlark.HasAttrs = (*Route)(nil)

func (r *Route) String() string {
	return fmt.Sprintf("route(%s, %q)", &Netns{lab: r.lab, ns: r.ns}, r.spec.Dst)
}
func (r *Route) Type() string         { return "nsplay.route" }
func (r *Route) Freeze()              {}
func (r *Route) Truth() starlark.Bool { return true }
func (r *Route) Hash() (uint32, error) {
	return starlark.String(r.ns.Path + " " + routeArgs(r.spec)).Hash()
}
func (r *Route) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	o := y.(*Route)
	return sameCompare(op, r.ns.Same(o.ns) && r.spec == o.spec, r, y)
}

func (r *Route) AttrNames() []string {
	return []string{"delete", "dev", "dst", "metric", "proto", "scope", "table", "via"}
}

func (r *Route) Attr(name string) (starlark.Value, error) {
	if err := r.lab.NSErr(r.ns); err != nil {
		return nil, fmt.Errorf("route %s: %w", r.spec.Dst, err)
	}
	if name == "delete" {
		return starlark.NewBuiltin("delete", routeDelete).BindReceiver(r), nil
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

// live finds the route in the kernel.
func (r *Route) live() (kernel.RouteInfo, error) {
	routes, err := r.ns.Routes(true)
	if err != nil {
		return kernel.RouteInfo{}, err
	}
	for _, info := range routes {
		s := specOf(info)
		if s.Dst == r.spec.Dst && s.Table == r.spec.Table && s.Metric == r.spec.Metric &&
			(r.spec.Via == "" || s.Via == r.spec.Via) && (r.spec.Dev == "" || s.Dev == r.spec.Dev) {
			return info, nil
		}
	}
	return kernel.RouteInfo{}, fmt.Errorf("route %s in %s is not there any more: %w", r.spec.Dst, r.ns, kernel.ErrNotFound)
}

func noneIfEmpty(s string) starlark.Value {
	if s == "" {
		return starlark.None
	}
	return starlark.String(s)
}

func specOf(info kernel.RouteInfo) kernel.RouteSpec {
	return kernel.RouteSpec{Dst: info.Dst, Via: info.Via, Dev: info.Dev, Metric: info.Metric, Table: info.Table}
}

// routeArgs writes the spec as `ip route` arguments.
func routeArgs(s kernel.RouteSpec) string {
	parts := []string{s.Dst}
	if s.Via != "" {
		parts = append(parts, "via", s.Via)
	}
	if s.Dev != "" {
		parts = append(parts, "dev", s.Dev)
	}
	if s.Metric != 0 {
		parts = append(parts, "metric", fmt.Sprint(s.Metric))
	}
	if s.Table != "main" {
		parts = append(parts, "table", s.Table)
	}
	return strings.Join(parts, " ")
}

func routeFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var nsA nsArg
	var dst string
	var via starlark.Value = starlark.None
	var dev starlark.Value = starlark.None
	spec := kernel.RouteSpec{Table: "main"}
	if err := unpack(b.Name(), args, kwargs, 2, "ns", &nsA, "dst", &dst, "via?", &via, "dev?", &dev,
		"metric?", &spec.Metric, "table?", &spec.Table); err != nil {
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
	switch v := dev.(type) {
	case starlark.String:
		spec.Dev = string(v)
	case *Link:
		if !v.ns.Same(ns.ns) {
			return nil, fmt.Errorf("route: dev=%s is in %s, not in %s", v.name, v.ns, ns.ns)
		}
		spec.Dev = v.name
	case starlark.NoneType:
	default:
		return nil, fmt.Errorf("route: dev= wants a link handle or name, got %s", dev.Type())
	}
	if spec.Metric < 0 {
		return nil, fmt.Errorf("route: metric=%d is negative", spec.Metric)
	}
	if spec.Metric == 0 && spec.IPv6() {
		spec.Metric = model.IPv6DefaultMetric // what the kernel gives it
	}
	adopted, err := env.Lab.AddRoute(ns.ns, spec)
	if err != nil {
		return nil, wrap(b, err)
	}
	if adopted {
		step(thread, "route %s in %s is there already", routeArgs(spec), ns.ns)
	} else {
		step(thread, "%s", ipCmd(ns.ns, env.Lab, "route add "+routeArgs(spec)))
	}
	return &Route{lab: env.Lab, ns: ns.ns, spec: spec}, nil
}

func routeDelete(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := unpack(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	r := b.Receiver().(*Route)
	if err := r.lab.DeleteRoute(r.ns, r.spec); err != nil {
		return nil, wrap(b, err)
	}
	step(thread, "%s", ipCmd(r.ns, r.lab, "route del "+routeArgs(r.spec)))
	return starlark.None, nil
}
