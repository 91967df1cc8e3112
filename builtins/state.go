package builtins

//	state(ns=None) -> dict
//	    the lab's live state, normalized (no ifindex, MAC, netns id or IPv6
//	    link-local address; stable order): {"namespaces": [NS, ...]}, or for
//	    state(ns) that namespace's NS alone. NS is {"name", "owned", "links",
//	    "routes", "files"}, and "sysctls" ({key: value now}), "nat" (the
//	    rules of the lab's table, as text) and "neighbours" (permanent
//	    entries: [{"ip", "mac", "dev"}]) where there are any; a link is {"name", "kind", "up", "oper", "carrier",
//	    "mtu", "master", "peer", "peer_ns", "stp", "ports", "addrs": [{"cidr",
//	    "broadcast", "scope"}]}; a route {"dst", "via", "dev", "metric",
//	    "table", "proto", "scope"}; a file {"path", "content"}. Keys with no
//	    value for a link (master, peer, stp, ...) are left out. `nsplay show
//	    --json` prints the same fields.

import (
	"encoding/json"

	starjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"
)

func stateFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var nsA nsArg
	if err := unpack(b.Name(), args, kwargs, 1, "ns?", &nsA); err != nil {
		return nil, err
	}
	env, err := envOf(thread)
	if err != nil {
		return nil, err
	}
	var v any
	if nsA.set() {
		ns, err := nsA.resolve(env)
		if err != nil {
			return nil, wrap(b, err)
		}
		snap, err := env.Lab.Snapshot(&ns.ref)
		if err != nil {
			return nil, wrap(b, err)
		}
		v = snap.Namespaces[0]
	} else {
		snap, err := env.Lab.Snapshot(nil)
		if err != nil {
			return nil, wrap(b, err)
		}
		v = snap
	}
	// The JSON that `nsplay show --json` prints, decoded by Starlark's own
	// json module, so that the two cannot differ.
	data, err := json.Marshal(v)
	if err != nil {
		return nil, wrap(b, err)
	}
	return starlark.Call(thread, starjson.Module.Members["decode"], starlark.Tuple{starlark.String(data)}, nil)
}
