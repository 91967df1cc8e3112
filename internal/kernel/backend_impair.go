package kernel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/nsplay/nsplay/internal/model"
)

// applyQdisc sets (QdiscSet) or clears (QdiscClear) a link's impairments.
func (b *Backend) applyQdisc(op model.Op) error {
	var link model.LinkRef
	switch o := op.(type) {
	case model.QdiscSet:
		link = o.Link
	case model.QdiscClear:
		link = o.Link
	}
	ns, err := b.NS(link.NS)
	if err != nil {
		return err
	}
	if set, ok := op.(model.QdiscSet); ok {
		return ns.SetImpairment(link.Name, set)
	}
	return ns.ClearImpairment(link.Name)
}

func (b *Backend) Impairments(ref model.NSRef) (map[string]model.Impairment, error) {
	b.settlePending()
	ns, err := b.NS(ref)
	if err != nil {
		return nil, err
	}
	return ns.Impairments()
}

func (b *Backend) Throughput(ctx context.Context, srcRef, dstRef model.NSRef, to net.IP, port int, d time.Duration) (model.ThroughputResult, error) {
	b.settlePorts()
	src, err := b.NS(srcRef)
	if err != nil {
		return model.ThroughputResult{}, err
	}
	dst, err := b.NS(dstRef)
	if err != nil {
		return model.ThroughputResult{}, err
	}
	res, err := Throughput(ctx, src, dst, to, port, d)
	var u unreachable
	if errors.As(err, &u) {
		return model.ThroughputResult{}, fmt.Errorf("%w (%s)", err, src.WhyUnreachable(to, b.known()))
	}
	return model.ThroughputResult{Bytes: res.Bytes, Elapsed: res.Elapsed, Known: true}, err
}
