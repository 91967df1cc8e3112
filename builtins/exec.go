package builtins

//	exec_in(target, cmd, check=True, timeout="30s", env={}, stdin="", new=[], hostname=None)
//	        -> struct(rc, stdout, stderr)
//	    runs cmd like `ip netns exec`: cmd is a list (argv) or a string (run by /bin/sh -c);
//	    /etc/netns/<name>/* is seen as /etc/*; env adds to nsplay's environment; with check=True
//	    a non-zero exit stops the playbook with the command's stderr. target may also be a
//	    process handle: then cmd joins all its namespaces (nsenter -t PID -a). new and
//	    hostname give it fresh namespaces, as for spawn (process.go).
//	resolv_conf(ns, nameservers, search=[])
//	    writes /etc/netns/<name>/resolv.conf, which commands run in ns see as /etc/resolv.conf

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
)

func execInFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var target targetArg
	var cmd starlark.Value
	check := true
	timeout := "30s"
	var envDict *starlark.Dict
	var fresh *starlark.List
	var stdin, hostname string
	if err := unpack(b.Name(), args, kwargs, 2, "target", &target, "cmd", &cmd, "check?", &check, "timeout?", &timeout,
		"env?", &envDict, "stdin?", &stdin, "new?", &fresh, "hostname?", &hostname); err != nil {
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
	if spec.Timeout, err = duration(b.Name(), "timeout", timeout); err != nil {
		return nil, err
	}
	step(thread, "%s", spec.Text())
	res, err := env.Lab.B.Exec(env.Ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %w", b.Name(), spec.Shown, err)
	}
	if res.Unknown {
		return unknownResult(thread, b.Name()), nil
	}
	if res.RC != 0 {
		result(thread, "exit status %d", res.RC)
	}
	if check && res.RC != 0 {
		msg := strings.TrimSpace(res.Stderr)
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		if msg == "" {
			msg = "(nothing on stderr)"
		}
		in := fmt.Sprintf("process %d", spec.JoinPID)
		if spec.JoinPID == 0 {
			in = spec.NS.String()
		}
		return nil, fmt.Errorf("%s: %q in %s exited with status %d (pass check=False to go on): %s", b.Name(), spec.Shown, in, res.RC, msg)
	}
	return resultStruct(res), nil
}

// environment is nsplay's environment with env= added.
func environment(envDict *starlark.Dict) ([]string, error) {
	environ := os.Environ()
	if envDict == nil {
		return environ, nil
	}
	for _, kv := range envDict.Items() {
		k, ok1 := starlark.AsString(kv[0])
		v, ok2 := starlark.AsString(kv[1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("env= wants string keys and values, got %s: %s", kv[0].Type(), kv[1].Type())
		}
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("env= key %q is empty or holds '=' or a NUL byte, or its value holds a NUL byte; no environment can hold that", k)
		}
		environ = append(environ, k+"="+v)
	}
	return environ, nil
}

// commandArgv turns a command argument into argv, and says how to show it.
func commandArgv(cmd starlark.Value) ([]string, string, error) {
	switch c := cmd.(type) {
	case starlark.String:
		if strings.TrimSpace(string(c)) == "" {
			return nil, "", fmt.Errorf("cmd is an empty string")
		}
		return []string{"/bin/sh", "-c", string(c)}, string(c), nil
	case *starlark.List, starlark.Tuple:
		var argv []string
		iter := starlark.Iterate(c)
		defer iter.Done()
		var v starlark.Value
		for iter.Next(&v) {
			s, ok := starlark.AsString(v)
			if !ok {
				return nil, "", fmt.Errorf("cmd list holds a %s; every argument must be a string", v.Type())
			}
			argv = append(argv, s)
		}
		if len(argv) == 0 {
			return nil, "", fmt.Errorf("cmd is an empty list")
		}
		return argv, model.ShellJoin(argv), nil
	}
	return nil, "", fmt.Errorf("cmd wants a list of strings (argv) or a string (run by /bin/sh -c), got %s", cmd.Type())
}

func resolvConfFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var nsA nsArg
	var servers, search *starlark.List
	if err := unpack(b.Name(), args, kwargs, 2, "ns", &nsA, "nameservers", &servers, "search?", &search); err != nil {
		return nil, err
	}
	env, ns, err := nsOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	if ns.ref.Name() == "" {
		return nil, fmt.Errorf("resolv_conf: %s has no name, and only named namespaces have /etc/netns/<name>/", ns)
	}
	var text strings.Builder
	if search != nil && search.Len() > 0 {
		domains, err := stringList("search", search)
		if err != nil {
			return nil, wrap(b, err)
		}
		for _, d := range domains {
			if d == "" || strings.ContainsAny(d, " \t\r\n#;") {
				return nil, fmt.Errorf("resolv_conf: search domain %q is empty or holds white space, '#' or ';'", d)
			}
		}
		fmt.Fprintf(&text, "search %s\n", strings.Join(domains, " "))
	}
	addrs, err := stringList("nameservers", servers)
	if err != nil {
		return nil, wrap(b, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolv_conf: nameservers is empty; give at least one address")
	}
	for _, a := range addrs {
		if net.ParseIP(a) == nil {
			return nil, fmt.Errorf("resolv_conf: nameserver %q is not an IP address", a)
		}
		fmt.Fprintf(&text, "nameserver %s\n", a)
	}
	op := model.FileWrite{Path: filepath.Join(env.Lab.Paths.EtcNetns, ns.ref.Name(), "resolv.conf"), Data: text.String()}
	if err := do(thread, b, env.Lab, op); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

func stringList(name string, l *starlark.List) ([]string, error) {
	out := make([]string, l.Len())
	for i := range l.Len() {
		s, ok := starlark.AsString(l.Index(i))
		if !ok {
			return nil, fmt.Errorf("%s[%d] is a %s, want a string", name, i, l.Index(i).Type())
		}
		out[i] = s
	}
	return out, nil
}
