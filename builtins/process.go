package builtins

// A process handle names a background process a playbook started.
//
//	spawn(target, cmd, new=[], hostname=None, env={}, stdin="") -> process
//	    starts cmd (a list, or a string run by /bin/sh -c) in the background,
//	    like exec_in: target is a netns (or its name) or a process handle
//	    (then it joins all that process's namespaces, like nsenter -t PID -a);
//	    new lists fresh namespaces, like unshare(1): "mnt", "uts", "ipc",
//	    "pid" (the command is PID 1 and gets its own /proc), "net" (a fresh,
//	    empty network namespace), "user" (root inside is nobody outside);
//	    hostname sets the hostname in a fresh UTS namespace ("uts" implied).
//	    The lab stops it at teardown: SIGTERM to its process group, SIGKILL
//	    after 2 seconds. In a run with --keep it outlives nsplay (a session
//	    of its own, no parent-death signal, its output in files in memory)
//	    until `nsplay down` stops it.
//
//	.pid           its process id
//	.alive         True while it runs
//	.ns(kind)      the path of its namespace of that kind: "/proc/PID/ns/KIND"
//	               (kind: net, mnt, uts, ipc, pid, user, cgroup)
//	.wait(timeout="30s") -> struct(rc, stdout, stderr); still running then is an error
//	.kill(signal="TERM") signals its process group ("TERM", "KILL", "INT", "HUP", ...)

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
	"golang.org/x/sys/unix"
)

// Process is a handle on a process the playbook spawned.
type Process struct {
	proc   model.Proc
	shown  string           // the command, for messages
	thread *starlark.Thread // the run's, for unknowns in a plan
}

var _ starlark.HasAttrs = (*Process)(nil)

func (p *Process) String() string        { return fmt.Sprintf("process(%d, %q)", p.proc.PID(), p.shown) }
func (p *Process) Type() string          { return "nsplay.process" }
func (p *Process) Freeze()               {}
func (p *Process) Truth() starlark.Bool  { return true }
func (p *Process) Hash() (uint32, error) { return starlark.MakeInt(p.proc.PID()).Hash() }
func (p *Process) AttrNames() []string   { return []string{"alive", "kill", "ns", "pid", "wait"} }
func (p *Process) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	return sameCompare(op, p.proc == y.(*Process).proc, p, y)
}

func (p *Process) Attr(name string) (starlark.Value, error) {
	env, err := envOf(p.thread)
	if err != nil {
		return nil, err
	}
	switch name {
	case "pid":
		return starlark.MakeInt(p.proc.PID()), nil
	case "alive":
		if !p.proc.Known() {
			return Unknown{what: "spawn(...).alive", thread: p.thread}, nil
		}
		return starlark.Bool(p.proc.Alive()), nil
	case "ns":
		return env.method("ns", processNS, p), nil
	case "wait":
		return env.method("wait", processWait, p), nil
	case "kill":
		return env.method("kill", processKill, p), nil
	}
	return nil, nil
}

// processNS names the file of one of the process's namespaces: any kind the
// model knows, fresh or not.
func processNS(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var kind string
	if err := unpack(b.Name(), args, kwargs, 1, "kind", &kind); err != nil {
		return nil, err
	}
	if _, ok := model.NamespaceKindOf(kind); !ok {
		var names []string
		for _, k := range model.NamespaceKinds() {
			names = append(names, k.Name)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("ns: unknown namespace kind %q: use one of %s", kind, strings.Join(names, ", "))
	}
	return starlark.String(fmt.Sprintf("/proc/%d/ns/%s", b.Receiver().(*Process).proc.PID(), kind)), nil
}

func processWait(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	timeout := "30s"
	if err := unpack(b.Name(), args, kwargs, 1, "timeout?", &timeout); err != nil {
		return nil, err
	}
	limit, err := duration(b.Name(), "timeout", timeout)
	if err != nil {
		return nil, err
	}
	p := b.Receiver().(*Process)
	env, err := envOf(thread)
	if err != nil {
		return nil, err
	}
	res, err := p.proc.Wait(env.Ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("wait: %s: %w", p, err)
	}
	if res.Unknown {
		return unknownResult(thread, "wait"), nil
	}
	return resultStruct(res), nil
}

func processKill(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	name := "TERM"
	if err := unpack(b.Name(), args, kwargs, 1, "signal?", &name); err != nil {
		return nil, err
	}
	sig := unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(name), "SIG"))
	if sig == 0 {
		return nil, fmt.Errorf("kill: unknown signal %q: use a name like \"TERM\", \"KILL\", \"INT\" or \"HUP\"", name)
	}
	p := b.Receiver().(*Process)
	if !p.proc.Alive() {
		return starlark.None, nil
	}
	if err := p.proc.Signal(sig); err != nil {
		return nil, fmt.Errorf("kill: %s: %w", p, err)
	}
	step(thread, "kill -%s -%d (%s)", unix.SignalName(sig)[3:], p.proc.PID(), p.shown)
	return starlark.None, nil
}

// resultStruct is what exec_in and wait return. .truncated counts, by
// stream name, the bytes left out after the first model.OutputLimit: {}
// (false) when nothing was.
func resultStruct(res model.ExecResult) starlark.Value {
	truncated := starlark.NewDict(2)
	for _, s := range []struct {
		name string
		cut  int64
	}{{"stdout", res.StdoutCut}, {"stderr", res.StderrCut}} {
		if s.cut > 0 {
			truncated.SetKey(starlark.String(s.name), starlark.MakeInt64(s.cut))
		}
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"rc":        starlark.MakeInt(res.RC),
		"stdout":    starlark.String(res.Stdout),
		"stderr":    starlark.String(res.Stderr),
		"truncated": truncated,
	})
}

func spawnFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var target targetArg
	var cmd starlark.Value
	var fresh *starlark.List
	var hostname, stdin string
	var envDict *starlark.Dict
	if err := unpack(b.Name(), args, kwargs, 2, "target", &target, "cmd", &cmd, "new?", &fresh,
		"hostname?", &hostname, "env?", &envDict, "stdin?", &stdin); err != nil {
		return nil, err
	}
	env, err := envOf(thread)
	if err != nil {
		return nil, err
	}
	spec, err := commandSpec(env, target, cmd, fresh, hostname, envDict, stdin)
	if err != nil {
		return nil, wrap(b, err)
	}
	step(thread, "%s &", spec.Text())
	spec.Detach = env.Lab.Keeping
	proc, err := env.Lab.B.Start(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %w", b.Name(), spec.Shown, err)
	}
	if err := env.Lab.Spawned(proc, spec.Argv[0]); err != nil {
		proc.Stop(0)
		return nil, wrap(b, err)
	}
	result(thread, "pid %d", proc.PID())
	return &Process{proc: proc, shown: spec.Shown, thread: thread}, nil
}

// targetArg is where a command runs: a namespace, or a process whose
// namespaces it joins.
type targetArg struct {
	nsArg
	proc *Process
}

func (a *targetArg) Unpack(v starlark.Value) error {
	if p, ok := v.(*Process); ok {
		a.proc = p
		return nil
	}
	if err := a.nsArg.Unpack(v); err != nil {
		return fmt.Errorf("want a netns handle, a namespace name or a process handle, got %s", v.Type())
	}
	return nil
}

// commandSpec turns the arguments exec_in and spawn share into a spec.
func commandSpec(env *Env, target targetArg, cmd starlark.Value, fresh *starlark.List, hostname string,
	envDict *starlark.Dict, stdin string) (model.ExecSpec, error) {
	var spec model.ExecSpec
	argv, shown, err := commandArgv(cmd)
	if err != nil {
		return spec, err
	}
	environ, err := environment(envDict)
	if err != nil {
		return spec, err
	}
	spec = model.ExecSpec{Argv: argv, Shown: shown, Env: environ, Stdin: stdin, Hostname: hostname}
	if fresh != nil {
		if spec.New, err = stringList("new", fresh); err != nil {
			return spec, err
		}
	}
	switch {
	case target.proc != nil:
		if !target.proc.proc.Alive() {
			// Its pid may be someone else's by now.
			return spec, fmt.Errorf("%s has ended; there are no namespaces of it to join", target.proc)
		}
		spec.JoinPID = target.proc.proc.PID()
	default:
		if !target.set() {
			return spec, errors.New("want a netns handle, a namespace name or a process handle as target, got None")
		}
		ns, err := target.must(env)
		if err != nil {
			return spec, err
		}
		spec.NS = ns.ref
	}
	return spec, spec.Check()
}
