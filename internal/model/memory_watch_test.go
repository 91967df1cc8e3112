package model

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The model keeps lists and follows links from what an operation touched,
// instead of walking every link of a star of thousands at every step. These
// tests apply random operations on a few namespaces and links of every kind
// and, after each one, compare with a walk over every link.

// TestLinkwatchMissesNoLink: the link watch visits only the links an
// operation may have affected, so one it missed would still have a
// carrier other than the one its last event saw, or an event due.
func TestLinkwatchMissesNoLink(t *testing.T) {
	randomOps(t, func(m *Memory) string {
		for _, ns := range m.spaces {
			for _, l := range ns.links {
				if on := l.rules.carrier(l); on != l.lastCarrier || l.pending {
					return "the link watch missed " + l.String()
				}
			}
		}
		return ""
	})
}

// TestAddressedListsEveryAddress: a namespace's addressed links are those
// of its links that have an address, in index order.
func TestAddressedListsEveryAddress(t *testing.T) {
	randomOps(t, func(m *Memory) string {
		for _, ns := range m.spaces {
			want := slices.DeleteFunc(slices.Clone(ns.links), func(l *memLink) bool { return len(l.addrs()) == 0 })
			if !slices.Equal(ns.addressed, want) {
				return "the addressed links of " + ns.String() + " are not those with an address"
			}
		}
		return ""
	})
}

// randomOps applies random operations to fresh models and fails the test
// when check says what is wrong after one.
func randomOps(t *testing.T, check func(*Memory) string) {
	t.Helper()
	spaces := []NSRef{Host, Named("a"), Named("b")}
	names := []string{"br0", "br1", "v0", "v1", "v2", "v3", "m0", "q0", "x0"}
	rng := rand.New(rand.NewPCG(1, 2))
	// Most links are in the host, so that bridges get ports.
	pick := func() LinkRef { return Link(spaces[max(0, rng.IntN(len(spaces)+2)-2)], names[rng.IntN(len(names))]) }
	randomOp := func() Op {
		l := pick()
		switch rng.IntN(22) {
		case 0:
			return NetnsAdd{Name: spaces[1+rng.IntN(2)].Name()}
		case 1:
			return NetnsDel{Name: spaces[1+rng.IntN(2)].Name()}
		case 2:
			return LinkAdd{Link: l, Spec: Bridge{STP: rng.IntN(4) == 0}}
		case 3, 4:
			return LinkAdd{Link: l, Spec: Veth{Peer: pick()}}
		case 5:
			return LinkAdd{Link: l, Spec: Macvlan{Parent: pick(), Mode: []string{"bridge", "private", "passthru"}[rng.IntN(3)]}}
		case 6:
			return LinkAdd{Link: l, Spec: Vlan{Parent: pick(), ID: 1 + rng.IntN(2)}}
		case 7:
			return LinkAdd{Link: l, Spec: []LinkSpec{Vxlan{VNI: 1, Dev: names[rng.IntN(len(names))], Port: 4789}, Tuntap{Mode: "tap"}, Dummy{}}[rng.IntN(3)]}
		case 8, 9, 10, 11, 12:
			return LinkSetUp{Link: l, Up: rng.IntN(3) > 0}
		case 13, 14, 15:
			return LinkSetMaster{Link: l, Master: []string{"br0", "br1", ""}[rng.IntN(3)]}
		case 16:
			return BridgeSetSTP{Link: l, On: rng.IntN(2) == 0}
		case 17:
			return LinkMove{Link: l, To: spaces[rng.IntN(len(spaces))]}
		case 18, 19:
			cidr := []string{"10.0.0.1/24", "10.0.0.2/24", "10.0.0.3/16", "fd00::1/64", "fe80::1/64"}[rng.IntN(5)]
			if rng.IntN(3) == 0 {
				return AddrDel{Link: l, CIDR: cidr}
			}
			return AddrAdd{Link: l, CIDR: cidr}
		}
		return LinkDel{Link: l}
	}
	for run := range 200 {
		m := NewMemory(Paths{})
		for step := range 300 {
			op := randomOp()
			if o, ok := op.(LinkSetMaster); ok && onItself(m, o) {
				continue
			}
			err := m.Apply(op)
			if why := check(m); why != "" {
				t.Fatalf("run %d, step %d, %s (error: %v): %s", run, step, op.Text(), err, why)
			}
		}
	}
}

// onItself tells whether o makes a link made on a bridge a port of that
// bridge. The kernel refuses it (Device or resource busy); the model does
// not, and then follows the bridge's carrier round in a loop.
func onItself(m *Memory, o LinkSetMaster) bool {
	l, err := m.link(o.Link)
	for ; err == nil && l != nil; l = l.lower {
		if l.name == o.Master && l.ns.ref == o.Link.NS {
			return true
		}
	}
	return false
}
