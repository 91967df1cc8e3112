package model

import (
	"context"
	"errors"
	"net"
	"testing"
)

// The model decides every echo of a batch as Ping does, in order, and
// knows no round trip.
func TestMemoryEchoAll(t *testing.T) {
	m := NewMemory(DefaultPaths)
	a, b := Named("a"), Named("b")
	for _, op := range []Op{
		NetnsAdd{Name: "a"}, NetnsAdd{Name: "b"},
		LinkAdd{Link: Link(a, "va"), Spec: Veth{Peer: Link(b, "vb")}},
		AddrAdd{Link: Link(a, "va"), CIDR: "10.0.0.1/24"}, LinkSetUp{Link: Link(a, "va"), Up: true},
		AddrAdd{Link: Link(b, "vb"), CIDR: "10.0.0.2/24"}, LinkSetUp{Link: Link(b, "vb"), Up: true},
	} {
		if err := m.Apply(op); err != nil {
			t.Fatalf("%s: %v", op.Text(), err)
		}
	}
	echoes := []Echo{{a, net.ParseIP("10.0.0.2")}, {a, net.ParseIP("10.0.0.9")}, {b, net.ParseIP("10.0.0.1")}}
	res, err := m.EchoAll(context.Background(), echoes, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, true} {
		if res[i] != (EchoResult{Answered: want}) {
			t.Errorf("echo %d (%s to %s) = %+v, want answered %v, not known", i, echoes[i].From, echoes[i].To, res[i], want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.EchoAll(ctx, echoes, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("EchoAll with a cancelled context = %v", err)
	}
	if _, err := m.EchoAll(context.Background(), []Echo{{Named("c"), net.ParseIP("10.0.0.1")}}, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("EchoAll from a namespace that is not there = %v, want ErrNotFound", err)
	}
}
