package model

import (
	"context"
	"fmt"
	"net"
	"time"
)

// Impairments in the model: a link keeps what its last QdiscSet gave it,
// as the kernel keeps a root qdisc, through set_down and renames, until
// QdiscClear, its deletion, or a move to another namespace, where the
// kernel gives it its default qdisc (measured, Linux 6.18). The model
// accepts netem, which the kernel a plan is made for may have.

func (m *Memory) applyQdisc(op Op) error {
	var ref LinkRef
	switch o := op.(type) {
	case QdiscSet:
		if err := o.Impair.Check(); err != nil {
			return err
		}
		ref = o.Link
	case QdiscClear:
		ref = o.Link
	}
	l, err := m.link(ref)
	if err != nil {
		return err
	}
	switch o := op.(type) {
	case QdiscSet:
		l.impair = o.Impair
	case QdiscClear:
		if l.impair.IsZero() {
			return fmt.Errorf("%s has no tbf or netem root qdisc: %w", l, ErrNotFound)
		}
		l.impair = Impairment{}
	}
	return nil
}

func (m *Memory) Impairments(ref NSRef) (map[string]Impairment, error) {
	ns, err := m.space(ref)
	if err != nil {
		return nil, err
	}
	out := map[string]Impairment{}
	for _, l := range ns.links {
		if !l.impair.IsZero() {
			out[l.name] = l.impair
		}
	}
	return out, nil
}

// Throughput: how much gets through only the kernel knows. The model says
// whether the connection would be made: to must answer from src, in dst.
func (m *Memory) Throughput(_ context.Context, srcRef, dstRef NSRef, to net.IP, port int, _ time.Duration) (ThroughputResult, error) {
	src, err := m.space(srcRef)
	if err != nil {
		return ThroughputResult{}, err
	}
	dst, err := m.space(dstRef)
	if err != nil {
		return ThroughputResult{}, err
	}
	if why := m.trace(src, norm(to)); why != "" {
		return ThroughputResult{}, fmt.Errorf("connect from %s to %s port %d: %s", src, to, port, why)
	}
	if at, _, _, _ := m.send(src, packet{dst: norm(to)}, nil); at != dst {
		return ThroughputResult{}, fmt.Errorf("connect from %s to %s port %d: %s is in %s, not in %s, where the receiver listens", src, to, port, to, at, dst)
	}
	return ThroughputResult{}, nil
}
