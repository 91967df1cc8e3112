package kernel

import (
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/model"
)

// TestNetemRoundTrip converts impairments to the netem netlink sends and
// back, as a read of the kernel's answer does: the kernel's ticks and
// 32-bit fractions give back what the user wrote. (This kernel has no
// netem to answer; see TestImpairNetem.)
func TestNetemRoundTrip(t *testing.T) {
	for _, imp := range []model.Impairment{
		{Delay: 100 * time.Millisecond},
		{Delay: 1 * time.Microsecond, Jitter: 3 * time.Microsecond},
		{Delay: 1500 * time.Millisecond, Jitter: 250 * time.Microsecond, Reorder: 25},
		{Loss: 1.5, Duplicate: 0.1, Corrupt: 100, Limit: 50},
		{Loss: 0.000001, Rate: 1_000_000},
		{Rate: 1 << 40, Limit: 1},
	} {
		op := model.ImpairLink(model.Link(model.Host, "eth0"), imp, 1500)
		q, err := qdiscOf(2, op)
		if err != nil {
			t.Fatalf("%+v: %v", imp, err)
		}
		if got := impairmentOf(q); got != imp {
			t.Errorf("netem of %+v reads back as %+v", imp, got)
		}
	}
	if _, err := qdiscOf(2, model.ImpairLink(model.Link(model.Host, "eth0"), model.Impairment{Delay: time.Hour}, 1500)); err == nil {
		t.Error("a delay of an hour fits netem's ticks?")
	}
}
