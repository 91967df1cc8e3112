// Package builtins defines the names a playbook uses:
//
//	host                                   the namespace nsplay started in (a netns handle)
//	netns(name) / netns(pid=N) / netns(path=P)           -> netns       (netns.go)
//	bridge(name, ns=host, stp=False, mtu=0)              -> link        (link.go)
//	veth(name, peer, ns=host, peer_ns=None)              -> link        (link.go)
//	macvlan(name, link, ns=None, mode="bridge")          -> link        (kinds.go)
//	vlan(name, link, id, ns=None)                        -> link        (kinds.go)
//	vxlan(name, vni, ns=host, local=None, remote=None, group=None, dev=None, port=4789) -> link (kinds.go)
//	tuntap(name, ns=host, mode="tap")                    -> link        (kinds.go)
//	dummy(name, ns=host)                                 -> link        (kinds.go)
//	route(ns, dst, via=None, dev=None, metric=0, table="main") -> route (route.go)
//	resolv_conf(ns, nameservers, search=[])                             (exec.go)
//	exec_in(target, cmd, check=True, timeout="30s", env={}, stdin="") -> struct(rc, stdout, stderr) (exec.go)
//	ping(ns, dst, count=1, timeout="1s")        -> struct(sent, received, rtt_ms) (ping.go)
//	throughput(src, dst, to=None, duration="1s", port=5201) -> struct(mbps, bytes, seconds) (throughput.go)
//	expect.eq/.ne/.true/.false/.contains/.reachable/.unreachable      (expect.go)
//	spawn(target, cmd, new=[], hostname=None, env={}, stdin="") -> process (process.go)
//	netns_list() / netns_identify(pid)                                  (netns.go)
//	var(name, default)                                                  (var.go)
//	state(ns=None)                              -> dict, the normalized snapshot (state.go)
//	sysctl(ns, key, value) / ns.sysctl(key)                             (sysctl.go)
//	nat(ns, out, src=None) / port_forward(ns, port, to, proto="tcp", dev=None) (nat.go)
//	scale(quiet_ipv6=True, static_neighbours=True)                      (scale.go)
//
// Every builtin starts with one unpack call; arguments after the ones shown
// positional are keyword-only. Handles read the live kernel on every
// attribute access. Builtins reach the run's lab, context and reporter
// through the thread (SetEnv), never through globals.
package builtins

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Reporter receives what a playbook does, as it happens.
type Reporter interface {
	// Step tells of one change made to the lab, or one command run.
	Step(pos syntax.Position, msg string)
	// Check tells of one expect.* result.
	Check(pos syntax.Position, c Check)
	// Undecided tells of a check, or a branch, that depends on what only
	// the kernel knows, in a plan; c.OK is false and c.Got, c.Want empty.
	Undecided(pos syntax.Position, c Check)
	// Result tells what a step found that its step line, made before it
	// ran, could not say: a command's exit status, a process's pid.
	Result(pos syntax.Position, msg string)
}

// Check is one expect.* result, as reports show it.
type Check struct {
	OK bool
	// Name is what the check is called, the same from run to run whatever
	// it finds: the msg the playbook gave it, or its function's name
	// (expect.eq). Reports that track checks over runs (JUnit) use it.
	Name string
	// Msg says what was compared and, on failure, what was found instead.
	Msg string
	// Got and Want are the actual and the expected value of a comparison,
	// as Msg writes them; "" for a check that compares no values.
	Got, Want string
}

// Env is what builtins need from a run.
type Env struct {
	Lab    *lab.Lab
	Ctx    context.Context // cancelled on SIGINT/SIGTERM: long builtins stop
	Report Reporter
	Vars   map[string]string // -D name=value
	// UsedVars collects the names var() asked for, so the caller can point
	// out a -D the playbook never reads.
	UsedVars map[string]bool

	gate   gate              // closed to the playbook's thread once the run gave up on it (gate.go)
	scale  scaleState        // the scale settings, and what they made (scale.go)
	spaces []*Netns          // the handles of namespaces, one per namespace, host first
	byIno  map[uint64]*Netns // the same, by identity
	// unknownAt holds the playbook lines (file:line) that used a value
	// only the kernel knows (a plan): checks there are undecided.
	unknownAt map[string]bool
}

const envKey = "nsplay.env"

// SetEnv attaches env to the thread before the playbook runs.
func SetEnv(thread *starlark.Thread, env *Env) { thread.SetLocal(envKey, env) }

func envOf(thread *starlark.Thread) (*Env, error) {
	env, ok := thread.Local(envKey).(*Env)
	if !ok {
		return nil, errors.New("nsplay builtins used outside a playbook run (no Env on the thread)")
	}
	return env, nil
}

// Predeclared returns the names every playbook and loaded file sees.
func Predeclared(env *Env) (starlark.StringDict, error) {
	env.unknownAt = map[string]bool{}
	host, err := env.nsHandle(model.Host)
	if err != nil {
		return nil, err
	}
	names := starlark.StringDict{
		"host":           host,
		"netns":          starlark.NewBuiltin("netns", netnsFn),
		"bridge":         starlark.NewBuiltin("bridge", bridgeFn),
		"veth":           starlark.NewBuiltin("veth", vethFn),
		"macvlan":        starlark.NewBuiltin("macvlan", macvlanFn),
		"vlan":           starlark.NewBuiltin("vlan", vlanFn),
		"vxlan":          starlark.NewBuiltin("vxlan", vxlanFn),
		"tuntap":         starlark.NewBuiltin("tuntap", tuntapFn),
		"dummy":          starlark.NewBuiltin("dummy", dummyFn),
		"route":          starlark.NewBuiltin("route", routeFn),
		"resolv_conf":    starlark.NewBuiltin("resolv_conf", resolvConfFn),
		"exec_in":        starlark.NewBuiltin("exec_in", execInFn),
		"ping":           starlark.NewBuiltin("ping", pingFn),
		"throughput":     starlark.NewBuiltin("throughput", throughputFn),
		"expect":         expectModule,
		"var":            starlark.NewBuiltin("var", varFn),
		"state":          starlark.NewBuiltin("state", stateFn),
		"spawn":          starlark.NewBuiltin("spawn", spawnFn),
		"netns_list":     starlark.NewBuiltin("netns_list", netnsListFn),
		"netns_identify": starlark.NewBuiltin("netns_identify", netnsIdentifyFn),
		"sysctl":         starlark.NewBuiltin("sysctl", sysctlFn),
		"nat":            starlark.NewBuiltin("nat", natFn),
		"port_forward":   starlark.NewBuiltin("port_forward", portForwardFn),
		"scale":          starlark.NewBuiltin("scale", scaleFn),
		"str":            depthChecked("str"),
		"repr":           depthChecked("repr"),
		"print":          depthChecked("print"),
		"fail":           depthChecked("fail"),
		"len":            unknownAware("len"),
		"int":            unknownAware("int"),
		"float":          unknownAware("float"),
		CompareName:      starlark.NewBuiltin("compare", compareFn),
	}
	env.guardAll(names)
	return names, nil
}

// unpack is starlark.UnpackArgs that also refuses more than npos positional
// arguments, which keeps the arguments after them keyword-only.
func unpack(fn string, args starlark.Tuple, kwargs []starlark.Tuple, npos int, pairs ...any) error {
	if len(args) > npos && len(pairs) == 0 {
		return fmt.Errorf("%s takes no arguments", fn)
	}
	if len(args) > npos && npos == 0 {
		return fmt.Errorf("%s: takes no positional arguments; pass them by keyword, like name=value", fn)
	}
	if len(args) > npos {
		var names []string
		for i := 0; i < len(pairs) && len(names) < npos; i += 2 {
			names = append(names, strings.TrimSuffix(pairs[i].(string), "?"))
		}
		return fmt.Errorf("%s: got %d positional arguments, want at most %d (%s); pass the others by keyword, like name=value",
			fn, len(args), npos, strings.Join(names, ", "))
	}
	return starlark.UnpackArgs(fn, args, kwargs, pairs...)
}

// caller is the playbook position of the call being made.
func caller(thread *starlark.Thread) syntax.Position {
	return thread.CallFrame(1).Pos
}

// result reports what a step found, at the caller's position.
func result(thread *starlark.Thread, format string, args ...any) {
	if env, err := envOf(thread); err == nil {
		env.Report.Result(caller(thread), fmt.Sprintf(format, args...))
	}
}

// callerLine is the caller's position as file:line, for messages that
// point back to a statement.
func callerLine(thread *starlark.Thread) string {
	pos := caller(thread)
	return fmt.Sprintf("%s:%d", pos.Filename(), pos.Line)
}

// step reports a change at the caller's position.
func step(thread *starlark.Thread, format string, args ...any) {
	if env, err := envOf(thread); err == nil {
		env.Report.Step(caller(thread), fmt.Sprintf(format, args...))
	}
}

// do makes one change through the lab and reports it as its step line,
// with what the scale settings undo for it first and after it
// (scale_withdraw.go).
func do(thread *starlark.Thread, b *starlark.Builtin, l *lab.Lab, op model.Op) error {
	env, err := envOf(thread)
	if err != nil {
		return err
	}
	if err := env.scaleBefore(thread, b, op); err != nil {
		return err
	}
	if _, err := l.DoAt(op, callerLine(thread)); err != nil {
		return wrap(b, err)
	}
	step(thread, "%s", op.Text())
	return env.scaleAfter(thread, b, op)
}

// duration parses a Starlark duration argument like "1s" or "500ms".
func duration(fn, arg, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %s=%q is not a duration; write it like \"500ms\", \"2s\" or \"1m\"", fn, arg, s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s: %s=%q is negative; give a duration of 0 or more, like \"500ms\" or \"2s\"", fn, arg, s)
	}
	return d, nil
}

// answerWait parses the time an echo waits for its answer: a duration
// above 0, since in none no answer can come.
func answerWait(fn, s string) (time.Duration, error) {
	d, err := duration(fn, "timeout", s)
	if err == nil && d == 0 {
		err = fmt.Errorf("%s: timeout=%q leaves no time for an answer; give the time to wait for one, like \"200ms\" or \"2s\"", fn, s)
	}
	return d, err
}

// wrap prefixes a builtin's error with its name, keeping the chain.
func wrap(b *starlark.Builtin, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", b.Name(), err)
}
