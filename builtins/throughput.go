package builtins

//	throughput(src, dst, to=None, duration="1s", port=5201) -> struct(mbps, bytes, seconds)
//	    measures TCP from src to dst, as iperf does (no iperf binary): a
//	    receiver listens on port in dst, a sender in src connects to to
//	    (default: dst's first global address) and sends for duration; the
//	    result is what the receiver counted in that time. In a plan the
//	    fields are unknown.

import (
	"errors"
	"fmt"
	"math"
	"net"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

func throughputFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var srcA, dstA nsArg
	var to optText
	dur, port := "1s", 5201
	if err := unpack(b.Name(), args, kwargs, 2, "src", &srcA, "dst", &dstA, "to?", &to, "duration?", &dur, "port?", &port); err != nil {
		return nil, err
	}
	env, src, err := nsOf(thread, b, &srcA)
	if err != nil {
		return nil, err
	}
	_, dst, err := nsOf(thread, b, &dstA)
	if err != nil {
		return nil, err
	}
	d, err := duration(b.Name(), "duration", dur)
	if err != nil {
		return nil, err
	}
	if d == 0 {
		return nil, fmt.Errorf("%s: duration=%q sends nothing; give it like \"1s\"", b.Name(), dur)
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("%s: port=%d is not a TCP port (1 to 65535)", b.Name(), port)
	}
	var ip net.IP
	if to.s != "" {
		ip, err = parseIP(to.s)
	} else {
		ip, err = firstGlobal(env.Lab.B, dst.ref)
	}
	if err != nil {
		return nil, wrap(b, err)
	}
	step(thread, "throughput from %s to %s port %d for %s (receiver in %s)", src.ref, ip, port, model.FormatDuration(d), dst.ref)
	res, err := env.Lab.B.Throughput(env.Ctx, src.ref, dst.ref, ip, port, d)
	if err != nil {
		return nil, wrap(b, err)
	}
	fields := starlark.StringDict{}
	if res.Known {
		fields["mbps"] = starlark.Float(round3(res.Mbps()))
		fields["bytes"] = starlark.MakeInt64(res.Bytes)
		fields["seconds"] = starlark.Float(round3(res.Elapsed.Seconds()))
	} else {
		for _, name := range []string{"mbps", "bytes", "seconds"} {
			fields[name] = Unknown{what: "throughput(...)." + name, thread: thread}
		}
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, fields), nil
}

// firstGlobal is the first global address of ns, in the order of its
// links and of their addresses.
func firstGlobal(b model.Backend, ns model.NSRef) (net.IP, error) {
	links, err := b.Links(ns)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		addrs, err := b.Addrs(model.Link(ns, l.Name))
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return nil, err
		}
		for _, a := range addrs {
			if a.Scope == "global" {
				ipnet, err := model.ParseCIDR(a.CIDR)
				if err != nil {
					return nil, err
				}
				return ipnet.IP, nil
			}
		}
	}
	return nil, fmt.Errorf("%s has no global address to send to: give one with to=", ns)
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
