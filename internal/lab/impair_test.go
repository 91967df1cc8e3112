package lab_test

import (
	"errors"
	"testing"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// Impairments on a host link the lab does not own need AllowHost; they are
// journalled once, however often they change, and Down removes them after
// a crash. On the lab's own link they go with the link.
func TestImpairHostLink(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	name := newLabName(t, b)
	l, err := lab.Open(name, b, paths, "impair.star")
	must(t, err)
	xa, _ := outsideVeth(t, "")
	testenv.IP(t, "link", "set", xa, "up") // tc shows no qdisc of a link never up
	before := testenv.RootQdisc(t, "", xa)
	onXA := model.Link(model.Host, xa)
	shape := func(rate uint64) model.Op { return model.ImpairLink(onXA, model.Impairment{Rate: rate}, 1500) }

	if _, err := l.Do(shape(1_000_000)); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("impair a host link without AllowHost: %v, want ErrNotOwned", err)
	}
	if q := testenv.RootQdisc(t, "", xa); q.Kind != before.Kind {
		t.Errorf("a refused impair left %+v on %s", q, xa)
	}

	l.AllowHost = true
	do(t, l, shape(1_000_000))
	do(t, l, shape(2_000_000))
	if q := testenv.RootQdisc(t, "", xa); q.Kind != "tbf" || q.Options["rate"] != 2e6 {
		t.Errorf("tc shows %+v on %s, want tbf rate 2000000", q, xa)
	}
	want := "model.QdiscSet tc qdisc replace dev " + xa + " root tbf rate 8mbit burst 10000b latency 50ms"
	if got := objects(t, name); len(got) != 1 || got[0] != want {
		t.Errorf("objects = %q, want the first impair of %s alone: %q", got, xa, want)
	}
	do(t, l, model.QdiscClear{Link: onXA})
	if got := objects(t, name); len(got) != 0 {
		t.Errorf("objects after clear_impairments = %q, want none", got)
	}
	do(t, l, model.QdiscClear{Link: onXA}) // nothing to clear: no change

	// On the lab's own bridge nothing is journalled.
	br := uniq("br")
	do(t, l, bridge(br))
	do(t, l, model.ImpairLink(model.Link(model.Host, br), model.Impairment{Rate: 1_000_000}, 1500))
	do(t, l, shape(1_000_000))
	if got := objects(t, name); len(got) != 2 {
		t.Errorf("objects = %q, want the bridge and the impair of %s", got, xa)
	}

	l.Close() // a crash
	var reports []string
	must(t, lab.Down(name, b, paths, func(s string) { reports = append(reports, s) }))
	if q := testenv.RootQdisc(t, "", xa); q.Kind != before.Kind {
		t.Errorf("after Down %s has root qdisc %+v, want %s as before", xa, q, before.Kind)
	}
	if !contains(reports, "tc qdisc del dev "+xa+" root") || !contains(reports, "ip link del "+br) {
		t.Errorf("Down reported %q, want the impair of %s cleared and %s deleted", reports, xa, br)
	}
	if !hasLink(t, "", xa) {
		t.Errorf("Down deleted %s, which the lab did not create", xa)
	}
}
