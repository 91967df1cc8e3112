package kernel_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// Through a gateway nsplay knows, WhyUnreachable says what is missing:
// forwarding in the gateway's namespace, the gateway's route on, or the
// destination's route back; masquerade at the gateway makes the way back
// the gateway's own subnet.
func TestWhyUnreachableThroughGateway(t *testing.T) {
	testenv.RequireRoot(t)
	// A (10.0.0.1) -- B, the gateway (10.0.0.2 | 10.1.0.1) -- C (10.1.0.2)
	p := newConnected(t)
	a, b, c := p.A, p.B, newNS(t)
	must(t, b.AddVeth("vc", "vd", c))
	must(t, b.AddAddr("vc", cidr(t, "10.1.0.1/24")))
	must(t, c.AddAddr("vd", cidr(t, "10.1.0.2/24")))
	for _, l := range []struct {
		ns   *kernel.NS
		name string
	}{{b, "vc"}, {c, "vd"}, {c, "lo"}} {
		must(t, l.ns.SetUp(l.name))
	}
	waitOperUp(t, b, "vc")
	waitOperUp(t, c, "vd")
	must(t, a.AddRoute(kernel.RouteSpec{Dst: "default", Via: "10.0.0.2"}))
	known := []*kernel.NS{a, b, c}
	why := func(dst string) string { return a.WhyUnreachable(net.ParseIP(dst), known) }
	answers := func() bool {
		res, err := a.Ping(context.Background(), net.ParseIP("10.1.0.2"), 1, 500*time.Millisecond)
		return err == nil && res.Received == 1
	}
	names := strings.NewReplacer("A", a.Name, "B", b.Name, "C", c.Name)

	if answers() {
		t.Fatal("C answers through B before B forwards")
	}
	if got, want := why("10.1.0.2"), names.Replace(`va in A reaches the gateway 10.0.0.2 in B, which does not have 10.1.0.2 and does not forward (forwarding is off): sysctl("B", "net.ipv4.ip_forward", "1") turns it on`); got != want {
		t.Errorf("forwarding off:\n  %q\nwant\n  %q", got, want)
	}
	must(t, b.SetSysctl("net.ipv4.ip_forward", "1"))
	if answers() {
		t.Fatal("C answers without a route back")
	}
	if got, want := why("10.1.0.2"), names.Replace("10.1.0.2 in C has no route back to 10.0.0.1, where the echo comes from: give C a route to it, or have the gateway masquerade what it forwards (nat)"); got != want {
		t.Errorf("no route back:\n  %q\nwant\n  %q", got, want)
	}
	if got, want := why("10.9.0.1"), names.Replace("the gateway 10.0.0.2 in B forwards, but has no route to 10.9.0.1"); got != want {
		t.Errorf("no route on:\n  %q\nwant\n  %q", got, want)
	}

	// Masqueraded, the echo comes from the gateway's 10.1.0.1: C answers.
	table := model.LabTable("kt")
	must(t, b.AddNATRule(model.Masquerade{NS: model.Named(b.Name), Table: table, Out: "vc"}))
	if !answers() {
		t.Errorf("C does not answer with B masquerading: %s", why("10.1.0.2"))
	}
	must(t, b.DeleteNATTable(table))

	must(t, c.AddRoute(kernel.RouteSpec{Dst: "10.0.0.0/24", Via: "10.1.0.1"}))
	if !answers() {
		t.Errorf("C does not answer with forwarding and a route back: %s", why("10.1.0.2"))
	}
}
