package kernel

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Impairments are a link's root qdisc: a tbf for a rate alone, netem for
// the rest, set with `tc qdisc replace` semantics (the kernel grafts a new
// qdisc of another kind, and changes one of the same kind in place).

// SetImpairment gives the link the root qdisc op describes. A kernel
// without the qdisc answers ENOENT (no such kind, after it tried to load
// the module) or EOPNOTSUPP: that is model.ErrUnsupported, naming the
// module and the kernel option.
func (n *NS) SetImpairment(name string, op model.QdiscSet) error {
	l, err := n.link(name)
	if err != nil {
		return err
	}
	q, err := qdiscOf(l.Attrs().Index, op)
	if err != nil {
		return fmt.Errorf("impair %s in %s: %w", name, n, err)
	}
	err = n.nl.QdiscReplace(q)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
		return missingQdisc{fmt.Sprintf("%s in %s: %s", name, n, qdiscNeeds[q.Type()]), q.Type(), err}
	}
	if err != nil {
		return fmt.Errorf("impair %s in %s: %w", name, n, classify(err))
	}
	return nil
}

// qdiscNeeds says what a kernel without the qdisc lacks.
var qdiscNeeds = map[string]string{
	"netem": "this kernel has no netem qdisc: delay, jitter, loss, duplicate, corrupt, reorder and limit need module sch_netem (kernel option CONFIG_NET_SCH_NETEM); a rate alone uses tbf",
	"tbf":   "this kernel has no tbf qdisc: a rate needs module sch_tbf (kernel option CONFIG_NET_SCH_TBF)",
}

// missingQdisc says which qdisc the kernel lacks, with the kernel's
// answer; it matches model.ErrUnsupported.
type missingQdisc struct {
	msg, kind string
	answer    error
}

func (e missingQdisc) Error() string {
	return fmt.Sprintf("%s (the kernel answers %q to qdisc kind %s)", e.msg, e.answer.Error(), e.kind)
}
func (e missingQdisc) Unwrap() []error { return []error{e.answer, model.ErrUnsupported} }

// qdiscOf is the netlink qdisc for op on the link of that index.
func qdiscOf(index int, op model.QdiscSet) (netlink.Qdisc, error) {
	attrs := netlink.QdiscAttrs{LinkIndex: index, Parent: netlink.HANDLE_ROOT}
	imp := op.Impair
	if imp.Qdisc() == "tbf" {
		// As tc computes them: the bucket as the time to send a burst,
		// the queue as what the rate sends in the latency, plus a burst.
		limit := float64(imp.Rate)*op.Latency.Seconds() + float64(op.Burst)
		if limit > math.MaxUint32 || op.Burst <= 0 {
			return nil, fmt.Errorf("a tbf of rate %s with burst %d and latency %s does not fit the kernel's 32-bit queue", model.FormatRate(imp.Rate), op.Burst, op.Latency)
		}
		return &netlink.Tbf{QdiscAttrs: attrs, Rate: imp.Rate, Limit: uint32(limit), Buffer: netlink.Xmittime(imp.Rate, uint32(op.Burst))}, nil
	}
	delay, err := netemMicros("delay", imp.Delay)
	if err != nil {
		return nil, err
	}
	jitter, err := netemMicros("jitter", imp.Jitter)
	if err != nil {
		return nil, err
	}
	return netlink.NewNetem(attrs, netlink.NetemQdiscAttrs{
		Latency: delay, Jitter: jitter, Loss: float32(imp.Loss), Duplicate: float32(imp.Duplicate),
		CorruptProb: float32(imp.Corrupt), ReorderProb: float32(imp.Reorder), Limit: uint32(imp.Limit), Rate64: imp.Rate,
	}), nil
}

// netemMicros is a time in the microseconds netlink takes for netem, which
// it sends in the kernel's 32-bit scheduler ticks.
func netemMicros(what string, d time.Duration) (uint32, error) {
	us := d.Microseconds()
	if float64(us)*netlink.TickInUsec() > math.MaxUint32 {
		most := time.Duration(math.MaxUint32/netlink.TickInUsec()) * time.Microsecond
		return 0, fmt.Errorf("%s %s is more than netem holds (%s)", what, model.FormatDuration(d), most.Truncate(time.Second))
	}
	return uint32(us), nil
}

// ClearImpairment deletes the link's tbf or netem root qdisc, and the
// kernel gives it its default one; a link without one is ErrNotFound. A
// root qdisc of another kind is not nsplay's to remove.
func (n *NS) ClearImpairment(name string) error {
	l, err := n.link(name)
	if err != nil {
		return err
	}
	roots, err := n.impairing(l.Attrs().Index)
	if err != nil {
		return err
	}
	if len(roots) == 0 {
		return fmt.Errorf("%s in %s has no tbf or netem root qdisc: %w", name, n, ErrNotFound)
	}
	if err := n.nl.QdiscDel(roots[0]); err != nil {
		return fmt.Errorf("delete the root qdisc of %s in %s: %w", name, n, classify(err))
	}
	return nil
}

// Impairments reads the tbf and netem root qdiscs of the links in n, by
// link name.
func (n *NS) Impairments() (map[string]model.Impairment, error) {
	roots, err := n.impairing(0)
	if err != nil {
		return nil, err
	}
	out := map[string]model.Impairment{}
	for _, q := range roots {
		l, err := n.LinkByIndex(q.Attrs().LinkIndex)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since the dump
		}
		if err != nil {
			return nil, err
		}
		out[l.Name] = impairmentOf(q)
	}
	return out, nil
}

// impairing lists the tbf and netem root qdiscs of the link of that index,
// or of every link for 0.
func (n *NS) impairing(index int) ([]netlink.Qdisc, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	var all []netlink.Qdisc
	err := retryDump(func() (err error) { all, err = n.nl.QdiscList(nil); return err })
	if err != nil {
		return nil, fmt.Errorf("list qdiscs in %s: %w", n, err)
	}
	var roots []netlink.Qdisc
	for _, q := range all {
		a := q.Attrs()
		if a.Parent != netlink.HANDLE_ROOT || (index != 0 && a.LinkIndex != index) {
			continue
		}
		switch q.(type) {
		case *netlink.Tbf, *netlink.Netem:
			roots = append(roots, q)
		}
	}
	return roots, nil
}

// impairmentOf reads back what a tbf or netem does, in the units a user
// wrote: the kernel keeps times in scheduler ticks and probabilities as
// fractions of 2^32, so they are rounded to the microsecond and to a
// millionth of a percent.
func impairmentOf(q netlink.Qdisc) model.Impairment {
	switch q := q.(type) {
	case *netlink.Tbf:
		return model.Impairment{Rate: q.Rate}
	case *netlink.Netem:
		imp := model.Impairment{Rate: q.Rate64, Delay: fromTicks(q.Latency), Jitter: fromTicks(q.Jitter),
			Loss: percent(q.Loss), Duplicate: percent(q.Duplicate), Corrupt: percent(q.CorruptProb), Reorder: percent(q.ReorderProb)}
		if q.Limit != model.NetemDefaultLimit {
			imp.Limit = int(q.Limit)
		}
		return imp
	}
	return model.Impairment{}
}

func fromTicks(ticks uint32) time.Duration {
	return time.Duration(math.Round(float64(ticks)/netlink.TickInUsec())) * time.Microsecond
}

func percent(fraction uint32) float64 {
	return math.Round(float64(fraction)/math.MaxUint32*100*1e6) / 1e6
}
