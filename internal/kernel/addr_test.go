package kernel_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/testenv"
)

// ipAddr is one address as `ip -j addr show` prints it.
type ipAddr struct {
	Family    string `json:"family"`
	Local     string `json:"local"`
	Prefixlen int    `json:"prefixlen"`
	Broadcast string `json:"broadcast"`
	Scope     string `json:"scope"`
	Tentative bool   `json:"tentative"`
	DADFailed bool   `json:"dadfailed"`
	NoDAD     bool   `json:"nodad"`
}

// ipAddrs returns the addresses of a link as ip sees them, by "local/len".
func ipAddrs(t *testing.T, ns *kernel.NS, link string) map[string]ipAddr {
	t.Helper()
	var out []struct {
		AddrInfo []ipAddr `json:"addr_info"`
	}
	testenv.IPJSON(t, &out, "-n", ns.Name, "addr", "show", "dev", link)
	m := map[string]ipAddr{}
	for _, l := range out {
		for _, a := range l.AddrInfo {
			m[a.Local+"/"+strconv.Itoa(a.Prefixlen)] = a
		}
	}
	return m
}

func TestParseCIDR(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ip      string
		ipLen   int
		ones    int
		wantErr bool
	}{
		{in: "192.168.10.11/24", ip: "192.168.10.11", ipLen: 4, ones: 24},
		{in: "10.0.0.1/32", ip: "10.0.0.1", ipLen: 4, ones: 32},
		{in: "fd00::1/64", ip: "fd00::1", ipLen: 16, ones: 64},
		{in: "192.168.10.11", wantErr: true},
		{in: "", wantErr: true},
		{in: "foo/24", wantErr: true},
		{in: "1.2.3.4/33", wantErr: true},
		{in: "1.2.3/24", wantErr: true},
		{in: "fd00::1/129", wantErr: true},
	} {
		n, err := kernel.ParseCIDR(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseCIDR(%q) = %v, want an error", tc.in, n)
			} else if !strings.Contains(err.Error(), `"`+tc.in+`"`) || !strings.Contains(err.Error(), "192.168.10.11/24") {
				t.Errorf("ParseCIDR(%q) error %q should quote the input and show an example", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCIDR(%q): %v", tc.in, err)
			continue
		}
		ones, _ := n.Mask.Size()
		if n.IP.String() != tc.ip || len(n.IP) != tc.ipLen || ones != tc.ones || n.String() != tc.in {
			t.Errorf("ParseCIDR(%q) = %v (ip %d bytes, /%d), want host part %s in %d bytes, /%d", tc.in, n, len(n.IP), ones, tc.ip, tc.ipLen, tc.ones)
		}
	}
}

// IPv4 addresses get their prefix's broadcast address, as `ip addr add ...
// brd +` gives them; prefixes without room for one (/31, /32) and IPv6 get
// none.
func TestAddAddrBroadcast(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	must(t, ns.AddVeth("v0", "v1", nil))
	want := map[string]string{
		"192.168.10.11/24": "192.168.10.255",
		"172.16.5.4/16":    "172.16.255.255",
		"10.0.0.5/30":      "10.0.0.7",
		"10.0.1.0/31":      "",
		"10.0.2.1/32":      "",
		"fd00::1/64":       "",
	}
	for c := range want {
		must(t, ns.AddAddr("v0", cidr(t, c)))
	}

	ip := ipAddrs(t, ns, "v0")
	for c, brd := range want {
		a, ok := ip[c]
		if !ok {
			t.Errorf("ip does not show %s on v0: %v", c, ip)
			continue
		}
		if a.Broadcast != brd {
			t.Errorf("ip: %s has broadcast %q, want %q", c, a.Broadcast, brd)
		}
	}

	got, err := ns.Addrs("v0", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("Addrs(v0) = %+v, want %d addresses", got, len(want))
	}
	for _, a := range got {
		if brd, ok := want[a.CIDR]; !ok || a.Broadcast != brd || a.Scope != "global" {
			t.Errorf("Addrs(v0) has %+v; want broadcast %q, scope global", a, brd)
		}
	}
}

func TestAddrsLeavesOutIPv6LinkLocal(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	must(t, ns.AddVeth("v0", "v1", nil))
	must(t, ns.AddAddr("v0", cidr(t, "192.168.10.11/24")))
	must(t, ns.AddAddr("v0", cidr(t, "fd00::11/64")))
	must(t, ns.SetUp("v0"))
	must(t, ns.SetUp("v1"))
	// The kernel gives v0 an fe80:: address once it has carrier.
	var ll string
	if !eventually(3*time.Second, func() bool {
		for c, a := range ipAddrs(t, ns, "v0") {
			if a.Scope == "link" {
				ll = c
			}
		}
		return ll != ""
	}) {
		t.Fatalf("the kernel gave v0 no link-local address: %v", ipAddrs(t, ns, "v0"))
	}

	short, err := ns.Addrs("v0", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := cidrs(short); strings.Join(got, " ") != "192.168.10.11/24 fd00::11/64" {
		t.Errorf("Addrs(v0, false) = %v, want 192.168.10.11/24 fd00::11/64", got)
	}
	all, err := ns.Addrs("v0", true)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range all {
		if a.CIDR == ll {
			found = a.Scope == "link" && a.Broadcast == ""
		}
	}
	if !found || len(all) != 3 {
		t.Errorf("Addrs(v0, true) = %+v, want the two addresses and %s with scope link", all, ll)
	}

	// lo's ::1 is not link-local: it is always listed.
	must(t, ns.SetUp("lo"))
	lo, err := ns.Addrs("lo", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := cidrs(lo); strings.Join(got, " ") != "127.0.0.1/8 ::1/128" {
		t.Errorf("Addrs(lo) = %+v", lo)
	}
	for _, a := range lo {
		if a.Scope != "host" {
			t.Errorf("Addrs(lo): %s scope %q, want host", a.CIDR, a.Scope)
		}
	}
}

func cidrs(as []kernel.AddrInfo) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.CIDR)
	}
	return out
}

func TestAddAndDelAddrErrors(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	must(t, ns.AddVeth("v0", "v1", nil))
	a := cidr(t, "192.168.10.11/24")
	must(t, ns.AddAddr("v0", a))

	err := ns.AddAddr("v0", a)
	if !errors.Is(err, kernel.ErrExists) {
		t.Errorf("AddAddr twice: %v, want ErrExists", err)
	}
	wantErrContains(t, err, "192.168.10.11/24", "v0", ns.Name)
	if err := ns.AddAddr("nope", a); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("AddAddr to a missing link: %v, want ErrNotFound", err)
	}
	if _, err := ns.Addrs("nope", false); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("Addrs of a missing link: %v, want ErrNotFound", err)
	}

	must(t, ns.DelAddr("v0", a))
	if ip := ipAddrs(t, ns, "v0"); len(ip) != 0 {
		t.Errorf("ip shows %v on v0 after DelAddr", ip)
	}
	if got, _ := ns.Addrs("v0", true); len(got) != 0 {
		t.Errorf("Addrs(v0) after DelAddr = %+v", got)
	}
	wantErrContains(t, ns.DelAddr("v0", a), "192.168.10.11/24", "v0")
	if err := ns.DelAddr("nope", a); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("DelAddr on a missing link: %v, want ErrNotFound", err)
	}
}

// A new IPv6 address is tentative until duplicate address detection has
// passed, ~1-2 s after its link has carrier, and the kernel neither sends
// from it nor answers to it before. On a link with carrier AddAddr returns
// once it has passed. Without carrier it has not begun: AddAddr returns at
// once and AwaitDAD reports the address pending, and waits for it once the
// link has carrier.
func TestAddAddrWaitsForDAD(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	start := time.Now()
	must(t, p.A.SetUp(p.va))
	must(t, p.A.AddAddr(p.va, cidr(t, "fd00:1::1/64")))
	must(t, p.B.AddAddr(p.vb, cidr(t, "fd00:1::2/64")))
	if d := time.Since(start); d > time.Second {
		t.Errorf("AddAddr on links without carrier took %s; it should not wait for DAD, which has not begun", d)
	}
	if a := ipAddrs(t, p.A, p.va)["fd00:1::1/64"]; !a.Tentative {
		t.Errorf("ip: fd00:1::1/64 on a link without carrier = %+v, want it tentative", a)
	}
	if pending, err := p.A.AwaitDAD(p.va, net.ParseIP("fd00:1::1")); !pending || err != nil {
		t.Errorf("AwaitDAD on a link without carrier = %v, %v; want pending", pending, err)
	}

	must(t, p.B.SetUp(p.vb))
	for _, end := range []struct {
		ns   *kernel.NS
		link string
		ip   string
	}{{p.A, p.va, "fd00:1::1"}, {p.B, p.vb, "fd00:1::2"}} {
		if pending, err := end.ns.AwaitDAD(end.link, net.ParseIP(end.ip)); pending || err != nil {
			t.Errorf("AwaitDAD(%s) with carrier = %v, %v; want it done", end.ip, pending, err)
		}
		if a := ipAddrs(t, end.ns, end.link)[end.ip+"/64"]; a.Local == "" || a.Tentative {
			t.Errorf("ip: %s/64 on %s after AwaitDAD = %+v, want it there and not tentative", end.ip, end.link, a)
		}
	}

	must(t, p.A.AddAddr(p.va, cidr(t, "fd00:1::3/64")))
	if a := ipAddrs(t, p.A, p.va)["fd00:1::3/64"]; a.Local == "" || a.Tentative {
		t.Errorf("ip: fd00:1::3/64 after AddAddr on a link with carrier = %+v, want it there and not tentative", a)
	}
	waitOperUp(t, p.A, p.va)
	if res, err := p.A.Ping(context.Background(), net.ParseIP("fd00:1::2"), 1, 500*time.Millisecond); err != nil || res.Received != 1 {
		t.Errorf("Ping fd00:1::2 after DAD = %+v, %v; want an answer", res, err)
	}
}

// AddAddrNoDAD skips duplicate address detection, as `ip addr add ...
// nodad`: the address is usable at once.
func TestAddAddrNoDAD(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	must(t, p.A.SetUp(p.va))
	must(t, p.B.SetUp(p.vb))
	waitOperUp(t, p.A, p.va)
	start := time.Now()
	must(t, p.A.AddAddrNoDAD(p.va, cidr(t, "fd00:1::1/64")))
	must(t, p.B.AddAddrNoDAD(p.vb, cidr(t, "fd00:1::2/64")))
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("AddAddrNoDAD took %s; it should not wait", d)
	}
	if a := ipAddrs(t, p.A, p.va)["fd00:1::1/64"]; !a.NoDAD || a.Tentative {
		t.Errorf("ip: fd00:1::1/64 added without DAD = %+v, want nodad and not tentative", a)
	}
	// The wait is for neighbour discovery, which a loaded machine delays;
	// DAD would take seconds.
	if res, err := p.A.Ping(context.Background(), net.ParseIP("fd00:1::2"), 1, 2*time.Second); err != nil || res.Received != 1 {
		t.Errorf("Ping fd00:1::2 right after AddAddrNoDAD = %+v, %v; want an answer", res, err)
	}
}

// An address another host of the link has fails duplicate address
// detection: AddAddr says which and takes it off again, so that nothing is
// left of the failed step.
func TestAddAddrDuplicate(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	must(t, p.A.SetUp(p.va))
	must(t, p.B.SetUp(p.vb))
	must(t, p.B.AddAddrNoDAD(p.vb, cidr(t, "fd00:1::5/64")))
	err := p.A.AddAddr(p.va, cidr(t, "fd00:1::5/64"))
	if !errors.Is(err, kernel.ErrDuplicateAddr) {
		t.Errorf("AddAddr of an address the peer has = %v, want ErrDuplicateAddr", err)
	}
	wantErrContains(t, err, "fd00:1::5/64 on va in "+p.A.Name, "dadfailed", "another host on the link has it", "choose another address")
	if a, ok := ipAddrs(t, p.A, p.va)["fd00:1::5/64"]; ok {
		t.Errorf("ip: the duplicate is still on va: %+v", a)
	}
}

// setSysctl writes an IPv6 setting of the namespace, like sysctl -w
// net.ipv6.KEY=VALUE run in it.
func setSysctl(t *testing.T, ns *kernel.NS, key, value string) {
	t.Helper()
	must(t, ns.In(func() error { return os.WriteFile("/proc/sys/net/ipv6/"+key, []byte(value), 0o644) }))
}
