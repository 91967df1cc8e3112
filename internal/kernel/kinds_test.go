package kernel_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// ipKind is what `ip -j -d link show` says of a link of the kinds.
type ipKind struct {
	Name        string `json:"ifname"`
	Link        string `json:"link"` // the parent, when in the same namespace
	LinkNetnsID *int   `json:"link_netnsid"`
	MTU         int    `json:"mtu"`
	OperState   string `json:"operstate"`
	LinkInfo    struct {
		Kind string `json:"info_kind"`
		Data struct {
			Mode    string `json:"mode"`    // macvlan
			Type    string `json:"type"`    // tun: "tap", "tun"
			Persist bool   `json:"persist"` // tun
			ID      int    `json:"id"`      // vxlan
			Port    int    `json:"port"`
			Local   string `json:"local"`
			Remote  string `json:"remote"`
			Remote6 string `json:"remote6"`
			Group   string `json:"group"`
			Dev     string `json:"link"`
		} `json:"info_data"`
	} `json:"linkinfo"`
}

func ipKindOf(t *testing.T, ns model.NSRef, name string) ipKind {
	t.Helper()
	var links []ipKind
	testenv.IPJSON(t, &links, "-n", ns.Name(), "-d", "link", "show", name)
	if len(links) != 1 {
		t.Fatalf("ip -n %s link show %s: %d links", ns, name, len(links))
	}
	return links[0]
}

// kindsLab is two namespaces joined by a veth (eth0 at both ends), built
// through the kernel backend and the in-memory model alike.
type kindsLab struct {
	k    *kernel.Backend
	m    *model.Memory
	a, b model.NSRef
}

func newKindsLab(t *testing.T) kindsLab {
	t.Helper()
	k, err := kernel.NewBackend(model.DefaultPaths)
	must(t, err)
	t.Cleanup(k.Close)
	lab := kindsLab{k: k, m: model.NewMemory(model.DefaultPaths), a: model.Named(uniq("ka")), b: model.Named(uniq("kb"))}
	t.Cleanup(func() {
		for _, ns := range []model.NSRef{lab.a, lab.b} {
			if err := k.Apply(model.NetnsDel{Name: ns.Name()}); err != nil && !errors.Is(err, model.ErrNotFound) {
				t.Errorf("clean up %s: %v", ns, err)
			}
		}
	})
	lab.apply(t, model.NetnsAdd{Name: lab.a.Name()}, model.NetnsAdd{Name: lab.b.Name()},
		model.LinkAdd{Link: model.Link(lab.a, "eth0"), Spec: model.Veth{Peer: model.Link(lab.b, "eth0")}})
	return lab
}

// apply applies ops to both backends; each must take them.
func (lab kindsLab) apply(t *testing.T, ops ...model.Op) {
	t.Helper()
	for _, op := range ops {
		if err := lab.k.Apply(op); err != nil {
			t.Fatalf("kernel: %s: %v", op.Text(), err)
		}
		if err := lab.m.Apply(op); err != nil {
			t.Fatalf("model: %s: %v", op.Text(), err)
		}
	}
}

// refuse applies an op both backends must refuse with the same error.
func (lab kindsLab) refuse(t *testing.T, op model.Op, want error) {
	t.Helper()
	kerr, merr := lab.k.Apply(op), lab.m.Apply(op)
	if kerr == nil || merr == nil || (want != nil && (!errors.Is(kerr, want) || !errors.Is(merr, want))) {
		t.Errorf("%s: kernel %v, model %v; want both to refuse it (%v)", op.Text(), kerr, merr, want)
	}
}

// agree compares what the backends read of the links, once the kernel's
// operational states have settled.
func (lab kindsLab) agree(t *testing.T, when string) {
	t.Helper()
	for _, ns := range []model.NSRef{lab.a, lab.b} {
		must(t, lab.k.Settle(ns, 2*time.Second))
		read := func(b model.Backend) []string {
			links, err := b.Links(ns)
			must(t, err)
			var out []string
			for _, l := range links {
				parent := ""
				if l.Parent != nil {
					parent = l.Parent.String()
				}
				out = append(out, fmt.Sprintf("%s %s up=%v carrier=%v oper=%s mtu=%d parent=%q %s", l.Name, l.Kind, l.Up, l.Carrier, l.Oper, l.MTU, parent, l.KindAttrs))
			}
			return out
		}
		if diff := cmp.Diff(read(lab.k), read(lab.m)); diff != "" {
			t.Errorf("%s, the links of %s (-kernel +model):\n%s", when, ns, diff)
		}
	}
}

// TestLinkKinds makes a link of each kind this kernel has, each where it
// belongs in one request, and checks it with ip; the in-memory model a
// plan runs on reads the same kinds, attributes, carriers, operational
// states and MTUs at each step.
func TestLinkKinds(t *testing.T) {
	testenv.RequireRoot(t)
	lab := newKindsLab(t)
	a, b := lab.a, lab.b
	eth0A, eth0B := model.Link(a, "eth0"), model.Link(b, "eth0")
	made := []model.LinkAdd{
		{Link: model.Link(a, "mvb"), Spec: model.Macvlan{Parent: eth0A, Mode: "bridge"}},
		// Made on eth0 in a and placed in b in the same request.
		{Link: model.Link(b, "mvp"), Spec: model.Macvlan{Parent: eth0A, Mode: "private"}},
		{Link: model.Link(a, "mvv"), Spec: model.Macvlan{Parent: eth0A, Mode: "vepa"}},
		{Link: model.Link(b, "mvt"), Spec: model.Macvlan{Parent: eth0B, Mode: "passthru"}},
		{Link: model.Link(a, "vx0"), Spec: model.Vxlan{VNI: 42, Local: "10.0.0.1", Remote: "10.0.0.2", Dev: "eth0", Port: 4789}},
		{Link: model.Link(b, "vxg"), Spec: model.Vxlan{VNI: 43, Group: "239.1.1.1", Dev: "eth0", Port: 4790}},
		{Link: model.Link(b, "vx6"), Spec: model.Vxlan{VNI: 44, Remote: "fd00::1", Port: 8472}},
		{Link: model.Link(a, "tap0"), Spec: model.Tuntap{Mode: "tap"}},
		{Link: model.Link(b, "tun0"), Spec: model.Tuntap{Mode: "tun"}},
	}
	for _, op := range made {
		lab.apply(t, op)
	}
	lab.agree(t, "made")

	idOfA := lab.netnsID(t, b, a)
	for _, tc := range []struct {
		ns   model.NSRef
		name string
		want func(l *ipKind)
	}{
		{a, "mvb", func(l *ipKind) { l.LinkInfo.Kind, l.LinkInfo.Data.Mode, l.Link = "macvlan", "bridge", "eth0" }},
		{b, "mvp", func(l *ipKind) { l.LinkInfo.Kind, l.LinkInfo.Data.Mode, l.LinkNetnsID = "macvlan", "private", &idOfA }},
		{a, "mvv", func(l *ipKind) { l.LinkInfo.Kind, l.LinkInfo.Data.Mode, l.Link = "macvlan", "vepa", "eth0" }},
		{b, "mvt", func(l *ipKind) { l.LinkInfo.Kind, l.LinkInfo.Data.Mode, l.Link = "macvlan", "passthru", "eth0" }},
		{a, "vx0", func(l *ipKind) {
			d := &l.LinkInfo.Data
			l.LinkInfo.Kind, d.ID, d.Port, d.Local, d.Remote, d.Dev, l.MTU = "vxlan", 42, 4789, "10.0.0.1", "10.0.0.2", "eth0", 1450
		}},
		{b, "vxg", func(l *ipKind) {
			d := &l.LinkInfo.Data
			l.LinkInfo.Kind, d.ID, d.Port, d.Group, d.Dev = "vxlan", 43, 4790, "239.1.1.1", "eth0"
		}},
		{b, "vx6", func(l *ipKind) { l.LinkInfo.Kind, l.LinkInfo.Data.ID, l.LinkInfo.Data.Remote6 = "vxlan", 44, "fd00::1" }},
		{a, "tap0", func(l *ipKind) { l.LinkInfo.Kind, l.LinkInfo.Data.Type, l.LinkInfo.Data.Persist = "tun", "tap", true }},
		{b, "tun0", func(l *ipKind) { l.LinkInfo.Kind, l.LinkInfo.Data.Type, l.LinkInfo.Data.Persist = "tun", "tun", true }},
	} {
		got := ipKindOf(t, tc.ns, tc.name)
		want := got
		tc.want(&want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ip -d link show %s in %s (-want +got):\n%s", tc.name, tc.ns, diff)
		}
	}
	if _, ok := testenv.Links(t, a.Name())["mvp"]; ok {
		t.Errorf("mvp, placed in %s, is in %s too", b, a)
	}

	// Set up with their parents down: a macvlan has no carrier
	// (lowerlayerdown), a vxlan has (unknown), a tun/tap without a
	// program has none (down).
	for _, op := range made {
		lab.apply(t, model.LinkSetUp{Link: op.Link, Up: true})
	}
	lab.agree(t, "set up, their parents down")
	lab.apply(t, model.LinkSetUp{Link: eth0A, Up: true}, model.LinkSetUp{Link: eth0B, Up: true})
	lab.agree(t, "with their parents up")
	lab.apply(t, model.LinkSetUp{Link: eth0A})
	lab.agree(t, "with eth0 in a down again")
	lab.apply(t, model.LinkSetMTU{Link: eth0A, MTU: 1400})
	lab.agree(t, "with eth0 in a at MTU 1400")
}

func (lab kindsLab) netnsID(t *testing.T, in, of model.NSRef) int {
	t.Helper()
	id, err := lab.k.NetnsID(in, of)
	must(t, err)
	return id
}

// TestLinkKindsRefused: what the kernel refuses of the kinds, the model
// refuses too.
func TestLinkKindsRefused(t *testing.T) {
	testenv.RequireRoot(t)
	lab := newKindsLab(t)
	a := lab.a
	eth0A := model.Link(a, "eth0")
	lab.apply(t,
		model.LinkAdd{Link: model.Link(a, "br0"), Spec: model.Bridge{}},
		model.LinkAdd{Link: model.Link(a, "p0"), Spec: model.Veth{Peer: model.Link(a, "p1")}},
		model.LinkSetMaster{Link: model.Link(a, "p0"), Master: "br0"},
		model.LinkAdd{Link: model.Link(a, "mv0"), Spec: model.Macvlan{Parent: eth0A, Mode: "bridge"}},
		model.LinkAdd{Link: model.Link(a, "vx0"), Spec: model.Vxlan{VNI: 42, Dev: "eth0", Port: 4789}},
		model.LinkAdd{Link: model.Link(a, "tun0"), Spec: model.Tuntap{Mode: "tun"}},
	)
	lab.refuse(t, model.LinkSetMaster{Link: eth0A, Master: "br0"}, nil)                                                             // a macvlan's parent
	lab.refuse(t, model.LinkAdd{Link: model.Link(a, "mv1"), Spec: model.Macvlan{Parent: model.Link(a, "p0"), Mode: "bridge"}}, nil) // a port
	lab.refuse(t, model.LinkAdd{Link: model.Link(a, "mv2"), Spec: model.Macvlan{Parent: eth0A, Mode: "passthru"}}, nil)
	lab.refuse(t, model.LinkAdd{Link: model.Link(a, "mv3"), Spec: model.Macvlan{Parent: model.Link(a, "tun0"), Mode: "bridge"}}, nil)
	lab.refuse(t, model.LinkAdd{Link: model.Link(a, "mv4"), Spec: model.Macvlan{Parent: model.Link(a, "nope"), Mode: "bridge"}}, model.ErrNotFound)
	lab.refuse(t, model.LinkAdd{Link: model.Link(a, "vx1"), Spec: model.Vxlan{VNI: 42, Port: 4789}}, model.ErrExists)
	lab.refuse(t, model.LinkAdd{Link: model.Link(a, "vx2"), Spec: model.Vxlan{VNI: 43, Dev: "nope", Port: 4789}}, model.ErrNotFound)
	lab.refuse(t, model.LinkAdd{Link: model.Link(a, "tun0"), Spec: model.Tuntap{Mode: "tap"}}, model.ErrExists)
	lab.refuse(t, model.LinkSetMaster{Link: model.Link(a, "tun0"), Master: "br0"}, nil)
	lab.refuse(t, model.LinkSetMTU{Link: model.Link(a, "vx0"), MTU: 1500}, nil) // eth0's 1500 less 50 at most
	lab.agree(t, "after the refusals")

	// A macvlan asked for on a macvlan is made on its parent; a vxlan goes
	// when its dev leaves the namespace, a macvlan stays with its parent.
	lab.apply(t, model.LinkAdd{Link: model.Link(a, "mv5"), Spec: model.Macvlan{Parent: model.Link(a, "mv0"), Mode: "vepa"}})
	if got := ipKindOf(t, a, "mv5").Link; got != "eth0" {
		t.Errorf("a macvlan on mv0 has the parent %q, want eth0", got)
	}
	lab.apply(t, model.LinkMove{Link: eth0A, To: model.Host})
	t.Cleanup(func() { lab.k.Apply(model.LinkDel{Link: model.Link(model.Host, "eth0")}) })
	lab.agree(t, "with eth0 moved out of a")
}

// TestVlanAndDummyNeedTheirDrivers: a kernel without 802.1Q or dummy (this
// one) refuses them, and nsplay says which module or option it lacks;
// nothing is made. On a kernel that has them, they are made.
func TestVlanAndDummyNeedTheirDrivers(t *testing.T) {
	testenv.RequireRoot(t)
	lab := newKindsLab(t)
	for _, tc := range []struct {
		op    model.LinkAdd
		lacks []string
	}{
		{model.LinkAdd{Link: model.Link(lab.a, "eth0.10"), Spec: model.Vlan{Parent: model.Link(lab.a, "eth0"), ID: 10}},
			[]string{"no vlan driver", "module 8021q", "CONFIG_VLAN_8021Q"}},
		{model.LinkAdd{Link: model.Link(lab.a, "dummy0"), Spec: model.Dummy{}},
			[]string{"no dummy driver", "module dummy", "CONFIG_DUMMY"}},
	} {
		err := lab.k.Apply(tc.op)
		if err == nil {
			t.Logf("this kernel has %s links", tc.op.Spec.Kind())
			if got := ipKindOf(t, lab.a, tc.op.Link.Name).LinkInfo.Kind; got != tc.op.Spec.Kind() {
				t.Errorf("%s made a %q link", tc.op.Text(), got)
			}
			continue
		}
		if !errors.Is(err, model.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", tc.op.Text(), err)
		}
		for _, part := range tc.lacks {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("%s: %q does not say %q", tc.op.Text(), err, part)
			}
		}
		if _, ok := testenv.Links(t, lab.a.Name())[tc.op.Link.Name]; ok {
			t.Errorf("%s failed, and left the link behind", tc.op.Text())
		}
	}
}
