package model

import (
	"errors"
	"fmt"
	"strings"
)

// ErrGlobal: a sysctl under net.* that the kernel does not keep per
// network namespace (the neighbour tables' limits, keys that only the
// machine's first namespace has or may change). Setting it in one
// namespace would change the machine.
var ErrGlobal = errors.New("not per network namespace")

// NotPerNamespace says why a key is not per network namespace; it matches
// ErrGlobal.
type NotPerNamespace string

func (e NotPerNamespace) Error() string { return string(e) }
func (e NotPerNamespace) Unwrap() error { return ErrGlobal }

// SysctlSet writes a sysctl of the net.* tree, as a namespace sees it
// under /proc/sys. Old is the value before, which the lab reads and
// journals: in a namespace the lab created the change goes with the
// namespace; elsewhere (host, an attached namespace) the inverse writes
// Old back at teardown, also in `nsplay down` after a crash.
type SysctlSet struct {
	NS    NSRef  `json:"ns"`
	Key   string `json:"key"` // "net.ipv4.ip_forward"
	Value string `json:"value"`
	Old   string `json:"old,omitempty"`
}

func (o SysctlSet) Text() string {
	return inNS(o.NS, "sysctl -w "+ShellJoin([]string{o.Key + "=" + o.Value}))
}
func (o SysctlSet) Inverse() Op {
	return SysctlSet{NS: o.NS, Key: o.Key, Value: o.Old, Old: o.Value}
}
func (o SysctlSet) Namespace() NSRef { return o.NS }

var _ = register("sysctl.set", SysctlSet{})

// Setting is one sysctl key and its value.
type Setting struct{ Key, Value string }

// SysctlPath is the file under /proc/sys of a key, as sysctl(8) reads
// keys: dots separate the parts, and a slash in a part stands for a dot
// (net.ipv4.conf.eth0/5.forwarding is net/ipv4/conf/eth0.5/forwarding).
// Only keys under net.* are per network namespace: the rest (kernel.*,
// vm.*, ...) belong to the machine, and nsplay does not set them.
func SysctlPath(key string) (string, error) {
	parts := strings.Split(key, ".")
	if parts[0] != "net" {
		return "", NotPerNamespace(fmt.Sprintf("%q is not per network namespace: nsplay sets only keys under net.* (like net.ipv4.ip_forward), which each network namespace has of its own; the others belong to the whole machine", key))
	}
	if len(parts) < 2 {
		return "", fmt.Errorf("%q names no key: write one like net.ipv4.ip_forward", key)
	}
	for i, p := range parts {
		p = strings.ReplaceAll(p, "/", ".")
		if p == "" || p == "." || p == ".." {
			return "", fmt.Errorf("%q has an empty or dotted part: write a key like net.ipv4.ip_forward (a dot inside a part, as in an interface name, is written /)", key)
		}
		parts[i] = p
	}
	return "/proc/sys/" + strings.Join(parts, "/"), nil
}

// ForwardingKey is the sysctl that turns forwarding on in a namespace for
// an IP version.
func ForwardingKey(v6 bool) string {
	if v6 {
		return "net.ipv6.conf.all.forwarding"
	}
	return "net.ipv4.ip_forward"
}

// SysctlCall is the playbook call that sets key to value in ns, for
// messages that say what to do.
func SysctlCall(ns NSRef, key, value string) string {
	where := "host"
	switch {
	case ns.Name() != "":
		where = fmt.Sprintf("%q", ns.Name())
	case ns.Path() != "":
		where = fmt.Sprintf("netns(path = %q)", ns.Path())
	}
	return fmt.Sprintf("sysctl(%s, %q, %q)", where, key, value)
}

// inNS writes a command as a user types it to run in the namespace.
func inNS(ns NSRef, cmd string) string {
	switch {
	case ns.Name() != "":
		return "ip netns exec " + ns.Name() + " " + cmd
	case ns.Path() != "":
		return "nsenter --net=" + ns.Path() + " " + cmd
	}
	return cmd
}
