package model

import (
	"errors"
	"net"
	"slices"
	"testing"
)

// natLab is a LAN host a behind gateway g, and a server s outside that has
// no route back to the LAN.
func natLab(t *testing.T) *Memory {
	t.Helper()
	m := NewMemory(DefaultPaths)
	a, g, s := Named("a"), Named("g"), Named("s")
	ops := []Op{NetnsAdd{Name: "a"}, NetnsAdd{Name: "g"}, NetnsAdd{Name: "s"}}
	for _, w := range []struct {
		end, gw     LinkRef
		cidr, gcidr string
	}{
		{Link(a, "eth0"), Link(g, "lan"), "10.1.0.2/24", "10.1.0.1/24"},
		{Link(s, "eth0"), Link(g, "wan"), "192.0.2.2/24", "192.0.2.1/24"},
	} {
		ops = append(ops, LinkAdd{Link: w.end, Spec: Veth{Peer: w.gw}},
			AddrAdd{Link: w.end, CIDR: w.cidr}, LinkSetUp{Link: w.end, Up: true},
			AddrAdd{Link: w.gw, CIDR: w.gcidr}, LinkSetUp{Link: w.gw, Up: true})
	}
	ops = append(ops, RouteAdd{NS: a, Route: Route{Dst: "default", Via: "10.1.0.1"}},
		SysctlSet{NS: g, Key: "net.ipv4.ip_forward", Value: "1"})
	for _, op := range ops {
		if err := m.Apply(op); err != nil {
			t.Fatalf("%s: %v", op.Text(), err)
		}
	}
	return m
}

// A server without a route back to the LAN answers it only once the
// gateway masquerades: its reply goes to the gateway, which passes it on.
func TestMemoryMasquerade(t *testing.T) {
	m := natLab(t)
	a, g := Named("a"), Named("g")
	why := func() string { return m.WhyUnreachable(a, net.ParseIP("192.0.2.2")) }
	if got, want := why(), "192.0.2.2 answers in s, but its reply to 10.1.0.2 is lost: s has no route to 10.1.0.2"; got != want {
		t.Errorf("without NAT:\n%s\nwant\n%s", got, want)
	}
	table := LabTable("lab")
	other := Masquerade{NS: g, Table: table, Out: "wan", Src: "10.9.0.0/16"}
	if err := m.Apply(other); err != nil {
		t.Fatal(err)
	}
	if got := why(); got == "" {
		t.Error("a masquerade of another prefix made the server answer")
	}
	if err := m.Apply(Masquerade{NS: g, Table: table, Out: "lan"}); err != nil {
		t.Fatal(err)
	}
	if got := why(); got == "" {
		t.Error("a masquerade out of another link made the server answer")
	}
	mine := Masquerade{NS: g, Table: table, Out: "wan", Src: "10.1.0.0/24"}
	forward := PortForward{NS: g, Table: table, Proto: "tcp", Port: 8080, To: "10.1.0.2:80", Dev: "wan"}
	for _, op := range []Op{mine, forward} {
		if err := m.Apply(op); err != nil {
			t.Fatalf("%s: %v", op.Text(), err)
		}
	}
	if got := why(); got != "" {
		t.Errorf("with the LAN masqueraded out of wan: %s", got)
	}
	// The server itself reaches the gateway, and not the LAN.
	if got := m.WhyUnreachable(Named("s"), net.ParseIP("10.1.0.2")); got != "s has no route to 10.1.0.2" {
		t.Errorf("from the server to the LAN: %q", got)
	}
	rules, err := m.NATRules(g, table)
	want := []string{forward.Rule(), other.Rule(), "postrouting oifname lan masquerade", mine.Rule()}
	if err != nil || !slices.Equal(rules, want) {
		t.Errorf("NATRules = %q, %v\nwant %q", rules, err, want)
	}
	if err := m.Apply(NATTableDel{NS: g, Table: table}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.NATRules(g, table); !errors.Is(err, ErrNotFound) {
		t.Errorf("NATRules after the table was deleted: %v, want ErrNotFound", err)
	}
	if err := m.Apply(NATTableDel{NS: g, Table: table}); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting the table twice: %v, want ErrNotFound", err)
	}
	if got := why(); got == "" {
		t.Error("the server still answers after the table went")
	}
}

func TestNATRuleText(t *testing.T) {
	g := Named("g")
	for _, tc := range []struct {
		op   NATRule
		text string
		err  string
	}{
		{Masquerade{NS: g, Table: "nsplay-x", Out: "eth1"}, "ip netns exec g nft add rule inet nsplay-x postrouting oifname eth1 masquerade", ""},
		{Masquerade{NS: Host, Table: "nsplay-x", Out: "eth1", Src: "fd00::/64"}, "nft add rule inet nsplay-x postrouting oifname eth1 ip6 saddr fd00::/64 masquerade", ""},
		{PortForward{NS: g, Table: "t", Proto: "udp", Port: 53, To: "[fd00::2]:5353"}, "ip netns exec g nft add rule inet t prerouting fib daddr type local udp dport 53 dnat ip6 to [fd00::2]:5353", ""},
		{PortForward{NS: g, Table: "t", Proto: "sctp", Port: 1, To: "10.0.0.1:1"}, "", `proto="sctp": use "tcp" or "udp"`},
		{PortForward{NS: g, Table: "t", Proto: "tcp", Port: 0, To: "10.0.0.1:1"}, "", "port 0 is not between 1 and 65535"},
		{PortForward{NS: g, Table: "t", Proto: "tcp", Port: 80, To: "10.0.0.1"}, "", `to="10.0.0.1" is not "addr:port": write it like "10.0.1.2:80" or "[fd00::2]:80"`},
		{Masquerade{NS: g, Table: "t", Out: "a/b"}, "", `out: interface name "a/b" contains '/', ':' or white space, which Linux does not allow`},
	} {
		err := tc.op.Check()
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%+v: %v", tc.op, err)
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%+v: error %v, want %s", tc.op, err, tc.err)
		case tc.err == "" && tc.op.Text() != tc.text:
			t.Errorf("%+v: Text\n%s\nwant\n%s", tc.op, tc.op.Text(), tc.text)
		}
	}
	if got, want := (NATTableDel{NS: g, Table: "t"}).Text(), "ip netns exec g nft delete table inet t"; got != want {
		t.Errorf("NATTableDel text %q, want %q", got, want)
	}
}
