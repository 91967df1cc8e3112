package model

import (
	"net"
	"testing"
)

// A router between two hosts forwards only once forwarding is on there,
// which the sysctl op sets; and the reply needs a route back.
func TestMemoryForwarding(t *testing.T) {
	m := NewMemory(DefaultPaths)
	a, b, r := Named("a"), Named("b"), Named("r")
	ops := []Op{NetnsAdd{Name: "a"}, NetnsAdd{Name: "b"}, NetnsAdd{Name: "r"}}
	for _, side := range []struct {
		ns          NSRef
		cidr, rcidr string
		gw          string
	}{{a, "10.1.0.2/24", "10.1.0.1/24", "10.1.0.1"}, {b, "10.2.0.2/24", "10.2.0.1/24", ""}} {
		eth0, port := Link(side.ns, "eth0"), Link(r, "to-"+side.ns.Name())
		ops = append(ops, LinkAdd{Link: eth0, Spec: Veth{Peer: port}},
			AddrAdd{Link: eth0, CIDR: side.cidr}, LinkSetUp{Link: eth0, Up: true},
			AddrAdd{Link: port, CIDR: side.rcidr}, LinkSetUp{Link: port, Up: true})
		if side.gw != "" {
			ops = append(ops, RouteAdd{NS: side.ns, Route: Route{Dst: "default", Via: side.gw}})
		}
	}
	for _, op := range ops {
		if err := m.Apply(op); err != nil {
			t.Fatalf("%s: %v", op.Text(), err)
		}
	}
	why := func(from NSRef, dst string) string { return m.WhyUnreachable(from, net.ParseIP(dst)) }
	if got := why(a, "10.1.0.1"); got != "" {
		t.Errorf("the router's near address: %s", got)
	}
	if got, want := why(a, "10.2.0.1"), ""; got != want {
		t.Errorf("the router's far address (a weak host takes it on any link): %q", got)
	}
	if got, want := why(a, "10.2.0.2"), "eth0 in a reaches the gateway 10.1.0.1 in r, which does not have 10.2.0.2 and does not forward (forwarding is off): sysctl(\"r\", \"net.ipv4.ip_forward\", \"1\") turns it on"; got != want {
		t.Errorf("across the router, forwarding off:\n%s\nwant\n%s", got, want)
	}
	forward := func(ns NSRef) {
		t.Helper()
		if err := m.Apply(SysctlSet{NS: ns, Key: "net.ipv4.ip_forward", Value: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	forward(r)
	if got, want := why(a, "10.2.0.2"), "10.2.0.2 answers in b, but its reply to 10.1.0.2 is lost: b has no route to 10.1.0.2"; got != want {
		t.Errorf("forwarding on, no route back:\n%s\nwant\n%s", got, want)
	}
	if err := m.Apply(RouteAdd{NS: b, Route: Route{Dst: "default", Via: "10.2.0.1"}}); err != nil {
		t.Fatal(err)
	}
	if got := why(a, "10.2.0.2"); got != "" {
		t.Errorf("forwarding on, routes both ways: %s", got)
	}
	// A route from the router back to a is a loop.
	if err := m.Apply(RouteAdd{NS: r, Route: Route{Dst: "10.9.0.0/16", Via: "10.1.0.2"}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(RouteAdd{NS: a, Route: Route{Dst: "10.9.0.0/16", Via: "10.1.0.1"}}); err != nil {
		t.Fatal(err)
	}
	forward(a)
	if got, want := why(a, "10.9.0.1"), "packets to 10.9.0.1 go round in a loop through a, r, a"; got != want {
		t.Errorf("a loop:\n%s\nwant\n%s", got, want)
	}
}
