package model

import (
	"errors"
	"strings"
	"testing"
)

func TestMemorySysctl(t *testing.T) {
	m := NewMemory(DefaultPaths)
	if err := m.Apply(NetnsAdd{Name: "r"}); err != nil {
		t.Fatal(err)
	}
	r := Named("r")
	read := func(key string) string {
		t.Helper()
		v, err := m.Sysctl(r, key)
		if err != nil {
			t.Fatalf("Sysctl(%s): %v", key, err)
		}
		return v
	}
	if read("net.ipv4.ip_forward") != "0" || read("net.ipv6.conf.all.forwarding") != "0" {
		t.Error("forwarding is on in a new namespace")
	}
	// ip_forward is conf.all.forwarding, and both set conf.default too.
	if err := m.Apply(SysctlSet{NS: r, Key: "net.ipv4.ip_forward", Value: " 1\n"}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv4.conf.default.forwarding"} {
		if read(key) != "1" {
			t.Errorf("%s = %q after ip_forward=1", key, read(key))
		}
	}
	if read("net.ipv6.conf.all.forwarding") != "0" {
		t.Error("ip_forward turned IPv6 forwarding on")
	}
	if err := m.Apply(SysctlSet{NS: r, Key: "net.ipv4.ip_forward", Value: "on"}); err == nil || !strings.Contains(err.Error(), "is not an integer") {
		t.Errorf("ip_forward=on: %v", err)
	}
	if _, err := m.Sysctl(r, "net.core.somaxconn"); !errors.Is(err, ErrUnknown) {
		t.Errorf("a key the model does not know: %v, want ErrUnknown", err)
	}
	if err := m.Apply(SysctlSet{NS: r, Key: "net.core.somaxconn", Value: "512"}); err != nil || read("net.core.somaxconn") != "512" {
		t.Errorf("a key the model does not know, set: %v", err)
	}
	if err := m.Apply(SysctlSet{NS: r, Key: "kernel.hostname", Value: "x"}); !errors.Is(err, ErrGlobal) {
		t.Errorf("kernel.hostname: %v, want ErrGlobal", err)
	}
	if _, err := m.Sysctl(Named("nope"), "net.ipv4.ip_forward"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a namespace that is not there: %v", err)
	}
}

func TestSysctlPath(t *testing.T) {
	for key, want := range map[string]string{
		"net.ipv4.ip_forward":              "/proc/sys/net/ipv4/ip_forward",
		"net.ipv4.conf.eth0/5.forwarding":  "/proc/sys/net/ipv4/conf/eth0.5/forwarding",
		"net.ipv6.conf.all.forwarding":     "/proc/sys/net/ipv6/conf/all/forwarding",
		"kernel.hostname":                  "",
		"net":                              "",
		"net..x":                           "",
		"net.ipv4.conf.//.x":               "",
		"vm.swappiness":                    "",
		"net.ipv4.conf.default.forwarding": "/proc/sys/net/ipv4/conf/default/forwarding",
	} {
		got, err := SysctlPath(key)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("SysctlPath(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	op := SysctlSet{NS: Named("r"), Key: "net.ipv4.ip_forward", Value: "1", Old: "0"}
	if got, want := op.Text(), "ip netns exec r sysctl -w net.ipv4.ip_forward=1"; got != want {
		t.Errorf("Text %q, want %q", got, want)
	}
	if got, want := op.Inverse(), (SysctlSet{NS: Named("r"), Key: "net.ipv4.ip_forward", Value: "0", Old: "1"}); got != want {
		t.Errorf("Inverse %+v, want %+v", got, want)
	}
	if got, want := SysctlCall(AtPath("/proc/9/ns/net"), "net.ipv4.ip_forward", "1"), `sysctl(netns(path = "/proc/9/ns/net"), "net.ipv4.ip_forward", "1")`; got != want {
		t.Errorf("SysctlCall %s, want %s", got, want)
	}
}
