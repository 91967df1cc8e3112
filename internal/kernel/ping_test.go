package kernel_test

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/testenv"
)

func TestPingAcrossVeth(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	for _, tc := range []struct {
		from *kernel.NS
		dst  string
	}{
		{p.A, "10.0.0.2"},
		{p.B, "10.0.0.1"},
		{p.A, "10.0.0.1"},  // its own address
		{p.A, "127.0.0.1"}, // lo is up
	} {
		res, err := tc.from.Ping(context.Background(), net.ParseIP(tc.dst), 3, time.Second)
		if err != nil {
			t.Fatalf("Ping %s from %s: %v", tc.dst, tc.from, err)
		}
		if res.Sent != 3 || res.Received != 3 || len(res.RTTs) != 3 {
			t.Errorf("Ping %s from %s = %+v, want 3 sent, 3 received", tc.dst, tc.from, res)
		}
		for _, rtt := range res.RTTs {
			if rtt <= 0 || rtt > time.Second {
				t.Errorf("Ping %s from %s: rtt %s", tc.dst, tc.from, rtt)
			}
		}
	}
}

func TestPingNobodyAnswers(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	const timeout = 300 * time.Millisecond
	for _, dst := range []string{
		"10.0.0.99", // on the link, but nobody has it
		"10.0.0.2",  // the peer, once it is down (below)
	} {
		if dst == "10.0.0.2" {
			must(t, p.B.SetDown(p.vb))
		}
		start := time.Now()
		res, err := p.A.Ping(context.Background(), net.ParseIP(dst), 2, timeout)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("Ping %s: %v", dst, err)
		}
		if res.Sent != 2 || res.Received != 0 || len(res.RTTs) != 0 {
			t.Errorf("Ping %s = %+v, want 2 sent, 0 received", dst, res)
		}
		if took < timeout || took > 2*timeout+time.Second {
			t.Errorf("Ping %s with 2 × %s took %s", dst, timeout, took)
		}
	}
}

// Without a route the kernel refuses to send at once: the echo counts as
// sent and lost, without waiting for the timeout.
func TestPingNoRoute(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	start := time.Now()
	res, err := p.A.Ping(context.Background(), net.ParseIP("203.0.113.1"), 2, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 2 || res.Received != 0 {
		t.Errorf("Ping without a route = %+v, want 2 sent, 0 received", res)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Ping without a route took %s", took)
	}
}

func TestPingContext(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := p.A.Ping(ctx, net.ParseIP("10.0.0.2"), 3, time.Second)
	if err != nil || res.Sent != 0 {
		t.Errorf("Ping with a cancelled context = %+v, %v; want nothing sent", res, err)
	}

	// A context deadline shorter than the timeout ends the wait.
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err = p.A.Ping(ctx, net.ParseIP("10.0.0.99"), 5, 5*time.Second)
	if err != nil || res.Received != 0 || res.Sent < 1 {
		t.Errorf("Ping to nobody with a 200ms context = %+v, %v", res, err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Ping with a 200ms context took %s", took)
	}
}

// TestPingIPv6 turns duplicate address detection off in both namespaces
// before the veth exists, so its addresses are usable at once.
func TestPingIPv6(t *testing.T) {
	testenv.RequireRoot(t)
	a, b := newNS(t), newNS(t)
	for _, ns := range []*kernel.NS{a, b} {
		must(t, ns.In(func() error {
			for _, f := range []string{"all", "default"} {
				if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+f+"/accept_dad", []byte("0"), 0o644); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	must(t, a.AddVeth("va", "vb", b))
	must(t, a.AddAddr("va", cidr(t, "fd00::1/64")))
	must(t, b.AddAddr("vb", cidr(t, "fd00::2/64")))
	must(t, a.SetUp("va"))
	must(t, b.SetUp("vb"))
	waitOperUp(t, a, "va")
	waitOperUp(t, b, "vb")
	// Without DAD the kernel still marks an address tentative until its
	// address work runs, in the background: wait for that.
	for _, w := range []struct {
		ns   *kernel.NS
		link string
		ip   string
	}{{a, "va", "fd00::1"}, {b, "vb", "fd00::2"}} {
		if _, err := w.ns.AwaitDAD(w.link, net.ParseIP(w.ip)); err != nil {
			t.Fatal(err)
		}
	}
	if out := testenv.IP(t, "-n", a.Name, "-6", "addr", "show", "dev", "va"); strings.Contains(out, "tentative") {
		t.Logf("addresses still tentative despite accept_dad=0:\n%s", out)
	}
	res, err := a.Ping(context.Background(), net.ParseIP("fd00::2"), 3, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 3 || res.Received != 3 {
		t.Errorf("Ping fd00::2 = %+v, want 3 sent, 3 received", res)
	}
	res, err = a.Ping(context.Background(), net.ParseIP("fd00::99"), 1, 300*time.Millisecond)
	if err != nil || res.Received != 0 {
		t.Errorf("Ping fd00::99 = %+v, %v; want nothing received", res, err)
	}
}
