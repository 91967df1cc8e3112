package kernel_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
)

// The hot paths of a star lab, one kernel request each (make bench). Each
// benchmark works in namespaces of its own, deleted at the end, which
// takes everything made in them along: what is timed is the making.

// benchNS creates a named namespace for a benchmark.
func benchNS(b *testing.B) *kernel.NS {
	b.Helper()
	ns, err := kernel.CreateNamed(paths.RunNetns, uniq("kb"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ns.Close()
		kernel.DeleteNamed(paths.RunNetns, ns.Name)
	})
	return ns
}

// benchPair is two namespaces joined by a veth up on both ends, with
// 10.0.0.1/24 on va and 10.0.0.2/24 on vb, lo up.
func benchPair(b *testing.B) (a, z *kernel.NS) {
	b.Helper()
	a, z = benchNS(b), benchNS(b)
	for _, err := range []error{
		a.AddVeth("va", "vb", z),
		a.AddAddrNoDAD("va", &net.IPNet{IP: net.IPv4(10, 0, 0, 1), Mask: net.CIDRMask(24, 32)}),
		z.AddAddrNoDAD("vb", &net.IPNet{IP: net.IPv4(10, 0, 0, 2), Mask: net.CIDRMask(24, 32)}),
		a.SetUp("lo"), z.SetUp("lo"), a.SetUp("va"), z.SetUp("vb"),
	} {
		if err != nil {
			b.Fatal(err)
		}
	}
	// The link's queue starts only once linkwatch has seen the carrier.
	deadline := time.Now().Add(3 * time.Second)
	for {
		l, err := a.Link("va")
		if err == nil && l.Oper == "up" {
			return a, z
		}
		if time.Now().After(deadline) {
			b.Fatalf("va is not up: %+v, %v", l, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkLinkCreate makes a veth pair with its other end already in
// another namespace, as veth(..., ns=h, peer_ns=...) does: nothing moves.
func BenchmarkLinkCreate(b *testing.B) {
	a, z := benchNS(b), benchNS(b)
	i := 0
	for b.Loop() {
		i++
		if err := a.AddVeth(fmt.Sprintf("a%d", i), fmt.Sprintf("z%d", i), z); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddrAdd adds an IPv4 address to a link.
func BenchmarkAddrAdd(b *testing.B) {
	a, _ := benchPair(b)
	i := 0
	for b.Loop() {
		i++
		ip := &net.IPNet{IP: net.IPv4(10, byte(1+i>>16&63), byte(i>>8), byte(i)), Mask: net.CIDRMask(32, 32)}
		if err := a.AddAddr("va", ip); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRouteAdd adds a route through a gateway.
func BenchmarkRouteAdd(b *testing.B) {
	a, _ := benchPair(b)
	i := 0
	for b.Loop() {
		i++
		r := model.Route{Dst: fmt.Sprintf("10.%d.%d.%d/32", 100+i>>16&63, i>>8&255, i&255), Via: "10.0.0.2"}
		if err := a.AddRoute(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEcho sends one echo across a veth and waits for its reply, as
// one pair of expect.all_reachable does: a socket opened in the namespace,
// a request, its reply.
func BenchmarkEcho(b *testing.B) {
	a, _ := benchPair(b)
	dst := net.IPv4(10, 0, 0, 2)
	i := 0
	for b.Loop() {
		i++
		if _, ok, err := a.EchoUntil(context.Background(), dst, i&0xffff, time.Second); err != nil || !ok {
			b.Fatalf("echo %d: answered %v, %v", i, ok, err)
		}
	}
}

// BenchmarkEchoAll100 checks 100 pairs at once through the backend, as
// expect.all_reachable does; ns/op is for the batch.
func BenchmarkEchoAll100(b *testing.B) {
	a, _ := benchPair(b)
	k, err := kernel.NewBackend(model.DefaultPaths)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(k.Close)
	echoes := make([]model.Echo, 100)
	for i := range echoes {
		echoes[i] = model.Echo{From: model.Named(a.Name), To: net.IPv4(10, 0, 0, 2)}
	}
	for b.Loop() {
		res, err := k.EchoAll(context.Background(), echoes, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		for i, r := range res {
			if !r.Answered {
				b.Fatalf("echo %d not answered", i)
			}
		}
	}
}
