package kernel_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/testenv"
)

func TestWhyUnreachable(t *testing.T) {
	testenv.RequireRoot(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, p pair)
		dst   string
		known bool   // pass both namespaces as known
		want  string // with A and B replaced by the namespaces' names
	}{
		{
			name:  "no route",
			setup: func(t *testing.T, p pair) { must(t, p.A.DelAddr(p.va, cidr(t, "10.0.0.1/24"))) },
			dst:   "10.0.0.2",
			want:  "A has no route to 10.0.0.2",
		},
		{
			name:  "no route off the link",
			setup: func(t *testing.T, p pair) {},
			dst:   "203.0.113.1",
			want:  "A has no route to 203.0.113.1",
		},
		{
			name:  "no carrier: the peer is down",
			setup: func(t *testing.T, p pair) { must(t, p.B.SetDown(p.vb)) },
			dst:   "10.0.0.2",
			known: true,
			want:  "va in A has no carrier: its peer vb in B is down",
		},
		{
			name:  "no carrier, the peer's namespace unknown",
			setup: func(t *testing.T, p pair) { must(t, p.B.SetDown(p.vb)) },
			dst:   "10.0.0.2",
			want:  "va in A has no carrier",
		},
		{
			name: "the peer is a port of a bridge that is down",
			setup: func(t *testing.T, p pair) {
				must(t, p.B.AddBridge("br0", 0))
				must(t, p.B.SetMaster(p.vb, "br0"))
			},
			dst:   "10.0.0.2",
			known: true,
			want:  "va in A is up with carrier: its peer vb in B is a port of br0, which is down",
		},
		{
			name:  "nobody has the address",
			setup: func(t *testing.T, p pair) {},
			dst:   "10.0.0.99",
			known: true,
			want:  "va in A is up with carrier, but no reply came from 10.0.0.99: check that it is up, has the address and answers ICMP",
		},
		{
			// The gateway's namespace is not known: what is past it is
			// not looked into (see TestWhyUnreachableThroughGateway).
			name:  "through a gateway",
			setup: func(t *testing.T, p pair) { must(t, p.A.AddRoute(kernel.RouteSpec{Dst: "default", Via: "10.0.0.2"})) },
			dst:   "203.0.113.1",
			want:  "va in A is up with carrier, but no reply came from 203.0.113.1: check that the gateway 10.0.0.2 is up, has the address and answers ICMP",
		},
		{
			name: "no address",
			setup: func(t *testing.T, p pair) {
				must(t, p.A.DelAddr(p.va, cidr(t, "10.0.0.1/24")))
				must(t, p.A.AddRoute(kernel.RouteSpec{Dst: "10.5.0.0/16", Dev: p.va}))
			},
			dst:   "10.5.0.1",
			known: true,
			want:  "va in A has no address",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newConnected(t)
			tc.setup(t, p)
			var known []*kernel.NS
			if tc.known {
				known = []*kernel.NS{p.A, p.B}
			}
			want := strings.NewReplacer(" A", " "+p.A.Name, "A ", p.A.Name+" ", " B", " "+p.B.Name).Replace(tc.want)
			if got := p.A.WhyUnreachable(net.ParseIP(tc.dst), known); got != want {
				t.Errorf("WhyUnreachable(%s) =\n  %q\nwant\n  %q", tc.dst, got, want)
			}
		})
	}
}

// A link that is down loses its routes, so WhyUnreachable finds it by the
// prefix of its address instead of reporting a missing route.
func TestWhyUnreachableLinkDown(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	must(t, p.A.SetDown(p.va))
	// The kernel's view: the address is still there, the route is gone.
	if _, ok := ipAddrs(t, p.A, p.va)["10.0.0.1/24"]; !ok {
		t.Fatalf("the address left %s when it went down", p.va)
	}
	res, err := p.A.Ping(context.Background(), net.ParseIP("10.0.0.2"), 1, 200*time.Millisecond)
	if err != nil || res.Received != 0 {
		t.Fatalf("Ping over a link that is down = %+v, %v", res, err)
	}
	got := p.A.WhyUnreachable(net.ParseIP("10.0.0.2"), []*kernel.NS{p.A, p.B})
	want := "va in " + p.A.Name + " is down"
	if got != want {
		t.Errorf("WhyUnreachable with the output link down =\n  %q\nwant\n  %q", got, want)
	}
}

// An IPv6 address that duplicate address detection keeps from use is named
// as the cause: the destination still tentative in a namespace WhyUnreachable
// knows, the sender's only address tentative, or the sender's only address
// dadfailed because the other end of the veth has it.
func TestWhyUnreachableDAD(t *testing.T) {
	testenv.RequireRoot(t)
	t.Run("tentative", func(t *testing.T) {
		p := newPair(t)
		setSysctl(t, p.B, "neigh/"+p.vb+"/retrans_time_ms", "10000") // DAD of vb's addresses takes 10 s
		must(t, p.A.AddAddrNoDAD(p.va, cidr(t, "fd00:1::1/64")))
		must(t, p.B.AddAddr(p.vb, cidr(t, "fd00:1::2/64"))) // no carrier: does not wait
		must(t, p.A.SetUp(p.va))
		must(t, p.B.SetUp(p.vb))
		waitOperUp(t, p.A, p.va)
		if a := ipAddrs(t, p.B, p.vb)["fd00:1::2/64"]; !a.Tentative {
			t.Fatalf("ip: fd00:1::2/64 on vb = %+v, want it tentative", a)
		}
		if res, err := p.A.Ping(context.Background(), net.ParseIP("fd00:1::2"), 1, 300*time.Millisecond); err != nil || res.Received != 0 {
			t.Fatalf("Ping of a tentative address = %+v, %v; want no answer", res, err)
		}
		known := []*kernel.NS{p.A, p.B}
		want := "fd00:1::2/64 on vb in " + p.B.Name + " is still tentative (duplicate address detection has not finished)"
		if got := p.A.WhyUnreachable(net.ParseIP("fd00:1::2"), known); got != want {
			t.Errorf("WhyUnreachable to a tentative address =\n  %q\nwant\n  %q", got, want)
		}
		if got := p.B.WhyUnreachable(net.ParseIP("fd00:1::1"), known); got != want {
			t.Errorf("WhyUnreachable from a tentative address =\n  %q\nwant\n  %q", got, want)
		}
	})
	t.Run("dadfailed", func(t *testing.T) {
		p := newPair(t)
		must(t, p.B.AddAddrNoDAD(p.vb, cidr(t, "fd00:1::5/64")))
		must(t, p.A.AddAddr(p.va, cidr(t, "fd00:1::5/64"))) // no carrier: does not wait
		must(t, p.B.SetUp(p.vb))
		must(t, p.A.SetUp(p.va))
		_, err := p.A.AwaitDAD(p.va, net.ParseIP("fd00:1::5"))
		if !errors.Is(err, kernel.ErrDuplicateAddr) {
			t.Fatalf("AwaitDAD of an address the peer has = %v, want ErrDuplicateAddr", err)
		}
		if a := ipAddrs(t, p.A, p.va)["fd00:1::5/64"]; !a.DADFailed {
			t.Fatalf("ip: fd00:1::5/64 on va = %+v, want it dadfailed", a)
		}
		want := "fd00:1::5/64 on va in " + p.A.Name + " failed duplicate address detection (dadfailed): another host on the link has it"
		if got := p.A.WhyUnreachable(net.ParseIP("fd00:1::9"), []*kernel.NS{p.A, p.B}); got != want {
			t.Errorf("WhyUnreachable from a dadfailed address =\n  %q\nwant\n  %q", got, want)
		}
	})
}
