package builtins

// Sysctls of the net.* tree, which each network namespace has of its own.
//
//	sysctl(ns, key, value)     sysctl -w KEY=VALUE inside ns (ip netns exec NS sysctl -w ...)
//	    key like "net.ipv4.ip_forward" (a dot inside a part, as in an
//	    interface name, is written /: "net.ipv4.conf.eth0/5.forwarding");
//	    value a string or an int. In a namespace the lab created the change
//	    goes with it; in host or an attached namespace it needs --allow-host,
//	    and teardown writes the old value back. A key the namespace does
//	    not have, or one the kernel shares among all namespaces, is an error.
//	ns.sysctl(key) -> string   its value now, as `sysctl -n` prints it

import (
	"errors"
	"fmt"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
)

func sysctlFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var nsA nsArg
	var key string
	var value starlark.Value
	if err := unpack(b.Name(), args, kwargs, 3, "ns", &nsA, "key", &key, "value", &value); err != nil {
		return nil, err
	}
	env, ns, err := nsOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	var v string
	switch value := value.(type) {
	case starlark.String:
		v = string(value)
	case starlark.Int:
		v = value.String()
	default:
		return nil, fmt.Errorf("sysctl: value wants a string or an int, got %s", value.Type())
	}
	return starlark.None, do(thread, b, env.Lab, model.SysctlSet{NS: ns.ref, Key: key, Value: v})
}

func netnsSysctl(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	if err := unpack(b.Name(), args, kwargs, 1, "key", &key); err != nil {
		return nil, err
	}
	n, ref, err := receiverNS(b)
	if err != nil {
		return nil, err
	}
	v, err := n.env.Lab.B.Sysctl(ref, key)
	if errors.Is(err, model.ErrUnknown) {
		return Unknown{what: fmt.Sprintf("%s.sysctl(%q)", n, key), thread: thread}, nil
	}
	if err != nil {
		return nil, wrap(b, err)
	}
	return starlark.String(v), nil
}
