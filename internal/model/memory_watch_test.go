package model

import (
	"math/rand/v2"
	"testing"
)

// TestLinkwatchMissesNoLink applies random operations on a few namespaces
// and links of every kind, and after each one looks at every link: the
// link watch visits only the links an operation may have affected, so one
// it missed would still have a carrier other than the one its last event
// saw, or an event due.
func TestLinkwatchMissesNoLink(t *testing.T) {
	spaces := []NSRef{Host, Named("a"), Named("b")}
	names := []string{"br0", "br1", "v0", "v1", "v2", "v3", "m0", "q0", "x0"}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() LinkRef { return Link(spaces[max(0, rng.IntN(len(spaces)+2)-2)], names[rng.IntN(len(names))]) }
	randomOp := func() Op {
		l := pick()
		switch rng.IntN(20) {
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
		}
		return LinkDel{Link: l}
	}
	for run := range 200 {
		m := NewMemory(Paths{})
		for step := range 300 {
			op := randomOp()
			err := m.Apply(op)
			for _, ns := range m.spaces {
				for _, l := range ns.links {
					if on := l.rules.carrier(l); on != l.lastCarrier || l.pending {
						t.Fatalf("run %d, step %d, %s (%v): the link watch missed %s (carrier %v, last event saw %v, pending %v)",
							run, step, op.Text(), err, l, on, l.lastCarrier, l.pending)
					}
				}
			}
		}
	}
}
