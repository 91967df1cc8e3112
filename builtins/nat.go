package builtins

// NAT with nftables, in one table of the lab's per namespace (table inet
// nsplay-LAB), which teardown deletes.
//
//	nat(ns, out, src=None)       masquerade what leaves link out (a handle or a name)
//	    nft add rule inet nsplay-LAB postrouting oifname OUT [ip saddr SRC] masquerade;
//	    src: only packets from this prefix ("10.0.0.0/24")
//	port_forward(ns, port, to, proto="tcp", dev=None)
//	    connections to port on ns's own addresses (arriving on link dev, when
//	    given) go on to to, "addr:port" (destination NAT)
//
// In a namespace the lab created, the table goes with it; elsewhere (host,
// an attached namespace) these need --allow-host.

import (
	"fmt"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
)

func natFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var nsA nsArg
	var out, src starlark.Value = starlark.None, starlark.None
	if err := unpack(b.Name(), args, kwargs, 2, "ns", &nsA, "out", &out, "src?", &src); err != nil {
		return nil, err
	}
	env, ns, err := nsOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	op := model.Masquerade{NS: ns.ref, Table: model.LabTable(env.Lab.Name)}
	if op.Out, err = linkNameIn(b, "out", out, ns); err != nil {
		return nil, err
	}
	switch s := src.(type) {
	case starlark.String:
		if op.Src, err = model.SrcPrefix(string(s)); err != nil {
			return nil, wrap(b, err)
		}
	case starlark.NoneType:
	default:
		return nil, fmt.Errorf("nat: src wants a prefix string like \"10.0.0.0/24\", got %s", src.Type())
	}
	return starlark.None, addRule(thread, b, env, op)
}

func portForwardFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var nsA nsArg
	var dev starlark.Value = starlark.None
	op := model.PortForward{Proto: "tcp"}
	if err := unpack(b.Name(), args, kwargs, 3, "ns", &nsA, "port", &op.Port, "to", &op.To, "proto?", &op.Proto, "dev?", &dev); err != nil {
		return nil, err
	}
	env, ns, err := nsOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	op.NS, op.Table = ns.ref, model.LabTable(env.Lab.Name)
	if dev != starlark.None {
		if op.Dev, err = linkNameIn(b, "dev", dev, ns); err != nil {
			return nil, err
		}
	}
	return starlark.None, addRule(thread, b, env, op)
}

// addRule adds a rule through the lab and reports it.
func addRule(thread *starlark.Thread, b *starlark.Builtin, env *Env, r model.NATRule) error {
	res, err := env.Lab.Do(r)
	if err != nil {
		return wrap(b, err)
	}
	if res.Adopted {
		step(thread, "rule %s of table inet %s in %s is there already", r.Rule(), r.TableName(), r.Namespace())
	} else {
		step(thread, "%s", r.Text())
	}
	return nil
}
