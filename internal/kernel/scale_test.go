package kernel_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// TestScaleSettingsInTheKernel checks what the scale settings ask of the
// kernel, as ip shows it: the IPv6 sysctls of a namespace, a link's MAC,
// no link-local address on a link set so before it is up, and permanent
// neighbour entries made, replaced and listed.
func TestScaleSettingsInTheKernel(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	must(t, p.A.SetSysctlsOfEach(model.QuietIPv6Settings))
	for _, s := range model.QuietIPv6Settings {
		if v, err := p.A.Sysctl(s.Key); err != nil || v != s.Value {
			t.Errorf("%s in %s = %q, %v; want %q", s.Key, p.A, v, err, s.Value)
		}
	}

	mac := model.StableMAC("lab", model.Link(model.Named(p.A.Name), p.va))
	must(t, p.A.SetMAC(p.va, mac))
	if got := ipLink(t, p.A, p.va).Address; got != mac {
		t.Errorf("ip shows %s with MAC %s, want %s", p.va, got, mac)
	}
	must(t, p.B.SetNoLinkLocal(p.vb))
	must(t, p.A.SetUp(p.va))
	must(t, p.B.SetUp(p.vb))
	waitOperUp(t, p.B, p.vb)
	if out := testenv.IP(t, "-n", p.B.Name, "-6", "addr", "show", "dev", p.vb, "scope", "link"); strings.Contains(out, "fe80") {
		t.Errorf("%s got a link-local address despite addrgenmode none:\n%s", p.vb, out)
	}

	must(t, p.A.SetNeigh(p.va, "10.0.0.2", "02:00:00:00:00:01"))
	must(t, p.A.SetNeigh(p.va, "10.0.0.2", "02:00:00:00:00:02")) // replaced, not refused
	must(t, p.A.SetNeigh(p.va, "fd00::2", "02:00:00:00:00:02"))
	got, err := p.A.Neighbours()
	must(t, err)
	want := []model.NeighInfo{{IP: "10.0.0.2", MAC: "02:00:00:00:00:02", Dev: p.va}, {IP: "fd00::2", MAC: "02:00:00:00:00:02", Dev: p.va}}
	if !slices.Equal(got, want) {
		t.Errorf("Neighbours = %v, want %v", got, want)
	}
	if out := testenv.IP(t, "-n", p.A.Name, "neigh", "show", "nud", "permanent"); !strings.Contains(out, "10.0.0.2 dev "+p.va+" lladdr 02:00:00:00:00:02 PERMANENT") {
		t.Errorf("ip neigh show nud permanent:\n%s", out)
	}

	// A link changed by name that is not there is ErrNotFound, as it was
	// when the change looked it up first.
	if err := p.A.SetUp("nosuch0"); !errors.Is(err, kernel.ErrNotFound) || !strings.Contains(err.Error(), "link nosuch0 in "+p.A.Name) {
		t.Errorf("SetUp(nosuch0) = %v, want ErrNotFound naming the link", err)
	}
}
