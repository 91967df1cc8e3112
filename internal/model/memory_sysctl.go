package model

import (
	"fmt"
	"strconv"
	"strings"
)

// Sysctls in the model: each namespace has the kernel's defaults of the
// keys the model knows (those its reachability depends on), and what the
// lab set. Keys the model does not know are taken as set, whatever their
// name: only the kernel tells whether one exists, and a value never set is
// unknown. The host is taken as a fresh namespace, with the kernel's
// defaults, not the machine's own settings.

// sysctlDefaults are the kernel's values in a new namespace.
var sysctlDefaults = map[string]string{
	"net.ipv4.ip_forward":              "0",
	"net.ipv4.conf.all.forwarding":     "0",
	"net.ipv4.conf.default.forwarding": "0",
	"net.ipv6.conf.all.forwarding":     "0",
	"net.ipv6.conf.default.forwarding": "0",
}

// sysctlAliases are the keys that writing a key sets as well (the kernel's
// inet_forward_change and addrconf_fixup_forwarding): ip_forward is
// conf.all.forwarding, and either sets conf.default.forwarding too.
var sysctlAliases = map[string][]string{
	"net.ipv4.ip_forward":          {"net.ipv4.conf.all.forwarding", "net.ipv4.conf.default.forwarding"},
	"net.ipv4.conf.all.forwarding": {"net.ipv4.ip_forward", "net.ipv4.conf.default.forwarding"},
	"net.ipv6.conf.all.forwarding": {"net.ipv6.conf.default.forwarding"},
}

func (ns *memNS) sysctl(key string) (string, bool) {
	if v, ok := ns.sysctls[key]; ok {
		return v, true
	}
	v, ok := sysctlDefaults[key]
	return v, ok
}

// Sysctl reads a key the lab set or the model knows; any other is unknown.
func (m *Memory) Sysctl(ref NSRef, key string) (string, error) {
	if _, err := SysctlPath(key); err != nil {
		return "", err
	}
	ns, err := m.space(ref)
	if err != nil {
		return "", err
	}
	if v, ok := ns.sysctl(key); ok {
		return v, nil
	}
	return "", fmt.Errorf("sysctl %s in %s: %w", key, ns, ErrUnknown)
}

// setSysctl sets a key; one the model knows takes an integer, as the
// kernel's proc_dointvec does, and reads back as one.
func (m *Memory) setSysctl(o SysctlSet) error {
	if _, err := SysctlPath(o.Key); err != nil {
		return err
	}
	ns, err := m.space(o.NS)
	if err != nil {
		return err
	}
	value := o.Value
	if _, known := sysctlDefaults[o.Key]; known {
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil {
			return fmt.Errorf("%s in %s: %q is not an integer (the kernel: Invalid argument)", o.Key, ns, o.Value)
		}
		value = strconv.Itoa(n)
	}
	if ns.sysctls == nil {
		ns.sysctls = map[string]string{}
	}
	for _, key := range append([]string{o.Key}, sysctlAliases[o.Key]...) {
		ns.sysctls[key] = value
	}
	return nil
}

// forwards tells whether ns forwards packets of the IP version: the
// kernel decides by the input link's forwarding, which the model takes to
// be the namespace's (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding).
func (ns *memNS) forwards(v6 bool) bool {
	v, _ := ns.sysctl(ForwardingKey(v6))
	return v != "0"
}
