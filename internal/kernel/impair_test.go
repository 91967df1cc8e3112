package kernel_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// TestImpairTBF sets a rate on a link, replaces it, reads it back and
// clears it, with tc as the observer.
func TestImpairTBF(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	va := model.Link(model.Named(p.A.Name), p.va)
	if q := testenv.RootQdisc(t, p.A.Name, p.va); q.Kind != "noqueue" {
		t.Fatalf("a fresh veth has root qdisc %+v, want noqueue", q)
	}
	must(t, p.A.SetImpairment(p.va, model.ImpairLink(va, model.Impairment{Rate: 1_000_000}, 1500)))
	q := testenv.RootQdisc(t, p.A.Name, p.va)
	if q.Kind != "tbf" || q.Options["rate"] != 1e6 || q.Options["burst"] != 1e4 || q.Options["lat"] != 5e4 {
		t.Errorf("tc shows %+v, want tbf rate 1000000 (bytes/s) burst 10000 lat 50000 (us)", q)
	}
	wantImpairments(t, p.A, map[string]model.Impairment{p.va: {Rate: 1_000_000}})

	// Changed in place: a tbf stays a tbf.
	must(t, p.A.SetImpairment(p.va, model.ImpairLink(va, model.Impairment{Rate: 62_500}, 1500)))
	if q := testenv.RootQdisc(t, p.A.Name, p.va); q.Kind != "tbf" || q.Options["rate"] != 62_500.0 || q.Options["burst"] != 1514.0 {
		t.Errorf("after a second impair, tc shows %+v, want tbf rate 62500 burst 1514", q)
	}
	wantImpairments(t, p.A, map[string]model.Impairment{p.va: {Rate: 62_500}})

	must(t, p.A.ClearImpairment(p.va))
	if q := testenv.RootQdisc(t, p.A.Name, p.va); q.Kind != "noqueue" {
		t.Errorf("after ClearImpairment tc shows %+v, want the default noqueue", q)
	}
	wantImpairments(t, p.A, map[string]model.Impairment{})
	if err := p.A.ClearImpairment(p.va); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("clearing a link without impairments: %v, want ErrNotFound", err)
	}
	if err := p.A.SetImpairment("nope0", model.ImpairLink(va, model.Impairment{Rate: 1000}, 1500)); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("impairing a link that is not there: %v, want ErrNotFound", err)
	}
}

// TestImpairNetem uses netem where the kernel has it; this kernel has not
// (sch_netem absent), and then the error names what is missing, matches
// model.ErrUnsupported, and leaves the link as it was.
func TestImpairNetem(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	va := model.Link(model.Named(p.A.Name), p.va)
	imp := model.Impairment{Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 1.5, Rate: 1_000_000}
	err := p.A.SetImpairment(p.va, model.ImpairLink(va, imp, 1500))
	if err == nil {
		t.Log("this kernel has netem")
		if q := testenv.RootQdisc(t, p.A.Name, p.va); q.Kind != "netem" {
			t.Errorf("tc shows %+v, want netem", q)
		}
		wantImpairments(t, p.A, map[string]model.Impairment{p.va: imp})
		must(t, p.A.ClearImpairment(p.va))
		return
	}
	if !errors.Is(err, model.ErrUnsupported) {
		t.Errorf("netem on a kernel without it: %v, want ErrUnsupported", err)
	}
	wantErrContains(t, err, p.va+" in "+p.A.Name, "no netem qdisc", "module sch_netem", "CONFIG_NET_SCH_NETEM", "a rate alone uses tbf")
	if q := testenv.RootQdisc(t, p.A.Name, p.va); q.Kind != "noqueue" {
		t.Errorf("after the refused netem tc shows %+v, want noqueue still", q)
	}
}

func wantImpairments(t *testing.T, ns *kernel.NS, want map[string]model.Impairment) {
	t.Helper()
	got, err := ns.Impairments()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("impairments in %s: %+v, want %+v", ns, got, want)
	}
	for name, imp := range want {
		if got[name] != imp {
			t.Errorf("impairments of %s in %s: %+v, want %+v", name, ns, got[name], imp)
		}
	}
}
