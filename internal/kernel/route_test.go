package kernel_test

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/testenv"
)

// ipRoute is one route as `ip -j route show` prints it.
type ipRoute struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Metric   int    `json:"metric"`
	Table    string `json:"table"`
	Protocol string `json:"protocol"`
	Scope    string `json:"scope"`
	Type     string `json:"type"`
}

// key is how both ip's and Routes' routes are compared: ip leaves out /32,
// table main, metric 0 and proto boot.
func (r ipRoute) key() string {
	dst := r.Dst
	if dst != "default" && !strings.Contains(dst, "/") {
		if strings.Contains(dst, ":") {
			dst += "/128"
		} else {
			dst += "/32"
		}
	}
	table, proto := r.Table, r.Protocol
	if table == "" {
		table = "main"
	}
	if proto == "" {
		proto = "boot"
	}
	return fmt.Sprintf("%s via=%s dev=%s metric=%d table=%s proto=%s", dst, r.Gateway, r.Dev, r.Metric, table, proto)
}

func routeKey(r kernel.RouteInfo) string {
	return ipRoute{Dst: r.Dst, Gateway: r.Via, Dev: r.Dev, Metric: r.Metric, Table: r.Table, Protocol: r.Proto}.key()
}

// ipRoutes lists the routes of a table as ip sees them, in the families
// given ("-4", "-6"), without the IPv6 link-local and multicast routes
// Routes leaves out.
func ipRoutes(t *testing.T, ns *kernel.NS, table string, families ...string) []string {
	t.Helper()
	var keys []string
	for _, family := range families {
		var rs []ipRoute
		testenv.IPJSON(t, &rs, "-n", ns.Name, family, "route", "show", "table", table)
		for _, r := range rs {
			if strings.HasPrefix(r.Dst, "fe80::") || strings.HasPrefix(r.Dst, "ff00::") {
				continue
			}
			if table != "main" && r.Table == "" {
				r.Table = table
			}
			keys = append(keys, r.key())
		}
	}
	slices.Sort(keys)
	return keys
}

func routeKeys(t *testing.T, ns *kernel.NS, all bool) []string {
	t.Helper()
	rs, err := ns.Routes(all)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range rs {
		keys = append(keys, routeKey(r))
	}
	slices.Sort(keys)
	return keys
}

func TestAddRouteAndRoutes(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	must(t, p.A.AddAddr(p.va, cidr(t, "fd00::1/64")))

	specs := []kernel.RouteSpec{
		{Dst: "default", Via: "10.0.0.2"},
		{Dst: "10.1.0.0/16", Dev: p.va, Metric: 5},
		{Dst: "10.2.0.0/16", Via: "10.0.0.2", Dev: p.va, Metric: 7},
		{Dst: "10.9.9.9", Dev: p.va}, // a bare address is a /32
		{Dst: "10.3.0.0/16", Via: "10.0.0.2", Table: "100"},
		{Dst: "10.4.0.0/16", Via: "10.0.0.2", Table: "main", Metric: 1},
		{Dst: "fd01::/64", Via: "fd00::2"},
		{Dst: "fd02::/64", Dev: p.va, Metric: 9},
	}
	for _, s := range specs {
		if err := p.A.AddRoute(s); err != nil {
			t.Fatalf("AddRoute(%+v): %v", s, err)
		}
	}

	want := []string{
		"default via=10.0.0.2 dev=va metric=0 table=main proto=boot",
		"10.0.0.0/24 via= dev=va metric=0 table=main proto=kernel",
		"10.1.0.0/16 via= dev=va metric=5 table=main proto=boot",
		"10.2.0.0/16 via=10.0.0.2 dev=va metric=7 table=main proto=boot",
		"10.4.0.0/16 via=10.0.0.2 dev=va metric=1 table=main proto=boot",
		"10.9.9.9/32 via= dev=va metric=0 table=main proto=boot",
		"fd00::/64 via= dev=va metric=256 table=main proto=kernel",
		"fd01::/64 via=fd00::2 dev=va metric=1024 table=main proto=boot",
		"fd02::/64 via= dev=va metric=9 table=main proto=boot",
	}
	slices.Sort(want)
	got := routeKeys(t, p.A, false)
	if !slices.Equal(got, want) {
		t.Errorf("Routes(false):\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if ip := ipRoutes(t, p.A, "main", "-4", "-6"); !slices.Equal(got, ip) {
		t.Errorf("Routes(false):\n  %s\nip route show:\n  %s", strings.Join(got, "\n  "), strings.Join(ip, "\n  "))
	}

	// Scopes: a route without a gateway is scope link, as ip route add makes it.
	rs, _ := p.A.Routes(false)
	for _, r := range rs {
		if r.Dst == "10.1.0.0/16" && r.Scope != "link" || r.Dst == "default" && r.Scope != "global" {
			t.Errorf("route %+v has the wrong scope", r)
		}
	}

	// Routes(true) adds the other tables: 100, and the kernel's local table.
	all := routeKeys(t, p.A, true)
	if !slices.Contains(all, "10.3.0.0/16 via=10.0.0.2 dev=va metric=0 table=100 proto=boot") {
		t.Errorf("Routes(true) lacks the route in table 100:\n  %s", strings.Join(all, "\n  "))
	}
	if !slices.Contains(all, "10.0.0.1/32 via= dev=va metric=0 table=local proto=kernel") {
		t.Errorf("Routes(true) lacks the local route of 10.0.0.1:\n  %s", strings.Join(all, "\n  "))
	}
	if slices.ContainsFunc(got, func(k string) bool { return strings.Contains(k, "table=100") }) {
		t.Errorf("Routes(false) shows table 100")
	}
	if ip := ipRoutes(t, p.A, "100", "-4"); !slices.Equal(ip, []string{"10.3.0.0/16 via=10.0.0.2 dev=va metric=0 table=100 proto=boot"}) {
		t.Errorf("ip route show table 100: %v", ip)
	}

	// An identical route is ErrExists; deleting works for every spec, and
	// twice is ErrNotFound.
	for _, s := range specs {
		if err := p.A.AddRoute(s); !errors.Is(err, kernel.ErrExists) {
			t.Errorf("AddRoute(%+v) twice: %v, want ErrExists", s, err)
		}
	}
	for _, s := range specs {
		if err := p.A.DelRoute(s); err != nil {
			t.Errorf("DelRoute(%+v): %v", s, err)
		}
		if err := p.A.DelRoute(s); !errors.Is(err, kernel.ErrNotFound) {
			t.Errorf("DelRoute(%+v) twice: %v, want ErrNotFound", s, err)
		}
	}
	want = []string{
		"10.0.0.0/24 via= dev=va metric=0 table=main proto=kernel",
		"fd00::/64 via= dev=va metric=256 table=main proto=kernel",
	}
	if got := routeKeys(t, p.A, false); !slices.Equal(got, want) {
		t.Errorf("Routes after deleting all = %v, want %v", got, want)
	}
	if ip := ipRoutes(t, p.A, "100", "-4"); len(ip) != 0 {
		t.Errorf("table 100 after DelRoute: %v", ip)
	}
}

func TestIPv6DefaultRoute(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	must(t, p.A.AddAddr(p.va, cidr(t, "fd00::1/64")))
	s := kernel.RouteSpec{Dst: "default", Via: "fd00::2"}
	must(t, p.A.AddRoute(s))
	var rs []ipRoute
	testenv.IPJSON(t, &rs, "-n", p.A.Name, "-6", "route", "show", "default")
	if len(rs) != 1 || rs[0].Gateway != "fd00::2" || rs[0].Dev != p.va {
		t.Errorf("ip -6 route show default = %+v", rs)
	}
	if got := routeKeys(t, p.A, false); !slices.Contains(got, "default via=fd00::2 dev=va metric=1024 table=main proto=boot") {
		t.Errorf("Routes lacks the IPv6 default route: %v", got)
	}
	must(t, p.A.DelRoute(s))
}

func TestRouteErrors(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	for _, tc := range []struct {
		spec     kernel.RouteSpec
		want     string
		notFound bool
	}{
		{spec: kernel.RouteSpec{Dst: "default"}, want: "needs via= (a gateway), dev= (an output link) or both"},
		{spec: kernel.RouteSpec{Dst: "10.5.0.0/16"}, want: "needs via="},
		{spec: kernel.RouteSpec{Dst: "nowhere", Dev: "va"}, want: `route destination "nowhere" is neither "default" nor a prefix`},
		{spec: kernel.RouteSpec{Dst: "10.5.0.0/33", Dev: "va"}, want: "is neither"},
		{spec: kernel.RouteSpec{Dst: "default", Via: "gw"}, want: `gateway "gw" is not an IP address`},
		{spec: kernel.RouteSpec{Dst: "fd01::/64", Via: "10.0.0.2"}, want: "different IP versions"},
		{spec: kernel.RouteSpec{Dst: "10.5.0.0/16", Via: "fd00::2"}, want: "different IP versions"},
		{spec: kernel.RouteSpec{Dst: "10.5.0.0/16", Dev: "va", Table: "abc"}, want: `route table "abc"`},
		{spec: kernel.RouteSpec{Dst: "10.5.0.0/16", Dev: "va", Table: "0"}, want: `route table "0"`},
		{spec: kernel.RouteSpec{Dst: "10.5.0.0/16", Dev: "nope"}, want: "nope", notFound: true},
		// The kernel refuses a gateway it cannot reach.
		{spec: kernel.RouteSpec{Dst: "10.5.0.0/16", Via: "192.0.2.1"}, want: "add route 10.5.0.0/16 in " + p.A.Name},
	} {
		err := p.A.AddRoute(tc.spec)
		if err == nil {
			t.Errorf("AddRoute(%+v) succeeded", tc.spec)
			p.A.DelRoute(tc.spec)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddRoute(%+v) = %q, want it to contain %q", tc.spec, err, tc.want)
		}
		if errors.Is(err, kernel.ErrNotFound) != tc.notFound {
			t.Errorf("AddRoute(%+v) = %v: errors.Is(ErrNotFound) = %v, want %v", tc.spec, err, !tc.notFound, tc.notFound)
		}
		if tc.spec.Via == "192.0.2.1" {
			continue // valid for DelRoute's parser: it is ErrNotFound there
		}
		if err := p.A.DelRoute(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DelRoute(%+v) = %v, want an error containing %q", tc.spec, err, tc.want)
		}
	}
	if got := routeKeys(t, p.A, true); slices.ContainsFunc(got, func(k string) bool { return strings.HasPrefix(k, "10.5.") || strings.HasPrefix(k, "fd01") }) {
		t.Errorf("a refused route is there: %v", got)
	}
}

func TestRouteTo(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	empty := newNS(t)
	if _, _, err := empty.RouteTo(net.ParseIP("10.0.0.2")); err == nil {
		t.Errorf("RouteTo in a namespace without routes succeeded")
	} else {
		wantErrContains(t, err, "no route to 10.0.0.2", empty.Name)
	}

	must(t, p.A.AddRoute(kernel.RouteSpec{Dst: "10.1.0.0/16", Dev: p.va}))
	if _, _, err := p.A.RouteTo(net.ParseIP("8.8.8.8")); err == nil {
		t.Errorf("RouteTo(8.8.8.8) without a default route succeeded")
	}
	must(t, p.A.AddRoute(kernel.RouteSpec{Dst: "default", Via: "10.0.0.2"}))
	for _, tc := range []struct{ dst, dev, via string }{
		{"10.0.0.2", "va", ""},
		{"10.1.2.3", "va", ""},
		{"8.8.8.8", "va", "10.0.0.2"},
		{"10.0.0.1", "lo", ""}, // its own address goes through lo
	} {
		dev, via, err := p.A.RouteTo(net.ParseIP(tc.dst))
		gotVia := ""
		if via != nil {
			gotVia = via.String()
		}
		if err != nil || dev != tc.dev || gotVia != tc.via {
			t.Errorf("RouteTo(%s) = %q, %q, %v; want %q, %q", tc.dst, dev, gotVia, err, tc.dev, tc.via)
		}
	}
}
