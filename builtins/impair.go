package builtins

// Impairments shape what leaves a link, through its root qdisc:
//
//	.impair(rate=None, delay=None, jitter=None, loss=0.0, duplicate=0.0,
//	        corrupt=0.0, reorder=0.0, limit=0)
//	    a rate alone:  tc qdisc replace dev L root tbf rate R burst B latency 50ms
//	    anything else: tc qdisc replace dev L root netem delay D J loss P% ... rate R limit N
//	    rate in tc's units ("8mbit", "500kbit", "1gbit"; "1mbps" is a megabyte
//	    per second), delay and jitter as durations ("100ms"), loss, duplicate,
//	    corrupt and reorder in percent (0 to 100), limit in packets (netem's
//	    queue; 0: 1000). Each call sets all of them: what it leaves out is off.
//	.impairments          the live impairments: {"rate": "8mbit", "loss": 1.5, ...}, {} for none
//	.clear_impairments()  tc qdisc del dev L root: the kernel's default qdisc again
//
// On a link the lab owns the impairments go with the link; on another
// (--allow-host) teardown removes them.

import (
	"encoding/json"
	"fmt"

	"github.com/nsplay/nsplay/internal/model"
	starjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"
)

// optText is an argument that is a string or None.
type optText struct{ s string }

func (a *optText) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		a.s = string(v)
	case starlark.NoneType:
	default:
		return fmt.Errorf("want a string or None, got %s", v.Type())
	}
	return nil
}

// percentArg is a percentage, written as an int or a float.
type percentArg struct{ v float64 }

func (a *percentArg) Unpack(v starlark.Value) error {
	f, ok := starlark.AsFloat(v)
	if !ok {
		return fmt.Errorf("want a percentage (an int or float, like 1.5), got %s", v.Type())
	}
	a.v = f
	return nil
}

func linkImpair(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var rate, delay, jitter optText
	var loss, duplicate, corrupt, reorder percentArg
	var imp model.Impairment
	if err := unpack(b.Name(), args, kwargs, 0, "rate?", &rate, "delay?", &delay, "jitter?", &jitter, "loss?", &loss,
		"duplicate?", &duplicate, "corrupt?", &corrupt, "reorder?", &reorder, "limit?", &imp.Limit); err != nil {
		return nil, err
	}
	var err error
	if rate.s != "" {
		if imp.Rate, err = model.ParseRate(rate.s); err != nil {
			return nil, wrap(b, err)
		}
	}
	if delay.s != "" {
		if imp.Delay, err = duration(b.Name(), "delay", delay.s); err != nil {
			return nil, err
		}
	}
	if jitter.s != "" {
		if imp.Jitter, err = duration(b.Name(), "jitter", jitter.s); err != nil {
			return nil, err
		}
	}
	imp.Loss, imp.Duplicate, imp.Corrupt, imp.Reorder = loss.v, duplicate.v, corrupt.v, reorder.v
	if err := imp.Check(); err != nil {
		return nil, wrap(b, err)
	}
	l, ref, err := receiverLink(b)
	if err != nil {
		return nil, err
	}
	info, err := l.ns.env.Lab.B.Link(ref)
	if err != nil {
		return nil, wrap(b, err)
	}
	if err := do(thread, b, l.ns.env.Lab, model.ImpairLink(ref, imp, info.MTU)); err != nil {
		return nil, err
	}
	return l, nil
}

// impairments is the link's live impairments as a dict, in the form
// state() gives them, decoded by Starlark's json module so that the two
// cannot differ.
func (l *Link) impairments(ref model.LinkRef) (starlark.Value, error) {
	if _, err := l.ns.env.Lab.B.Link(ref); err != nil {
		return nil, err
	}
	imps, err := l.ns.env.Lab.B.Impairments(ref.NS)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(imps[ref.Name])
	if err != nil {
		return nil, err
	}
	return starlark.Call(&starlark.Thread{Name: "impairments"}, starjson.Module.Members["decode"], starlark.Tuple{starlark.String(data)}, nil)
}
