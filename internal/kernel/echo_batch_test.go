package kernel_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// backendFor opens a kernel backend for a test.
func backendFor(t *testing.T) *kernel.Backend {
	t.Helper()
	b, err := kernel.NewBackend(model.DefaultPaths)
	must(t, err)
	t.Cleanup(b.Close)
	return b
}

// EchoAll answers each echo in the order given; the ones that fail wait
// their timeout at the same time, not one after the other; and a failed
// one is diagnosed as expect.reachable diagnoses it.
func TestEchoAll(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	b := backendFor(t)
	a, bb := model.Named(p.A.Name), model.Named(p.B.Name)
	echoes := []model.Echo{
		{From: a, To: net.ParseIP("10.0.0.2")},
		{From: a, To: net.ParseIP("10.0.0.99")},   // on the link, nobody has it
		{From: bb, To: net.ParseIP("10.0.0.1")},   // the other way
		{From: a, To: net.ParseIP("203.0.113.1")}, // no route: refused at once
		{From: a, To: net.ParseIP("10.0.0.98")},
		{From: a, To: net.ParseIP("10.0.0.97")},
		{From: a, To: net.ParseIP("127.0.0.1")},
	}
	want := []bool{true, false, true, false, false, false, true}
	const timeout = 600 * time.Millisecond
	start := time.Now()
	res, err := b.EchoAll(context.Background(), echoes, timeout)
	took := time.Since(start)
	must(t, err)
	if len(res) != len(echoes) {
		t.Fatalf("EchoAll gave %d results for %d echoes", len(res), len(echoes))
	}
	for i, r := range res {
		if r.Answered != want[i] || !r.Known {
			t.Errorf("echo %d (%s to %s) = %+v, want answered %v, known", i, echoes[i].From, echoes[i].To, r, want[i])
		}
		if r.Answered && (r.RTT <= 0 || r.RTT > timeout) {
			t.Errorf("echo %d: round trip %s", i, r.RTT)
		}
	}
	// Four failures, one after the other, would take 2.4 s.
	if took < timeout || took > 2*timeout {
		t.Errorf("EchoAll with four failing echoes of %s each took %s, want about one timeout", timeout, took)
	}

	// The peer down: the echo to it fails, and the diagnosis says why.
	must(t, p.B.SetDown(p.vb))
	res, err = b.EchoAll(context.Background(), echoes[:1], 300*time.Millisecond)
	must(t, err)
	if res[0].Answered {
		t.Fatalf("echo to a peer that is down answered: %+v", res[0])
	}
	why := b.WhyUnreachable(a, echoes[0].To)
	if want := "va in " + p.A.Name + " has no carrier: its peer vb in " + p.B.Name + " is down"; !strings.HasPrefix(why, want) {
		t.Errorf("WhyUnreachable = %q, want it to begin %q", why, want)
	}
}

// More echoes than EchoWorkers from one namespace: every raw socket there
// sees every reply, and each takes its own by its ICMP id.
func TestEchoAllManyFromOneNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	b := backendFor(t)
	echoes := make([]model.Echo, kernel.EchoWorkers+50)
	for i := range echoes {
		echoes[i] = model.Echo{From: model.Named(p.A.Name), To: net.ParseIP("10.0.0.2")}
	}
	res, err := b.EchoAll(context.Background(), echoes, 2*time.Second)
	must(t, err)
	for i, r := range res {
		if !r.Answered {
			t.Errorf("echo %d of %d not answered", i, len(echoes))
		}
	}
}

// A cancelled context stops the batch with its error, within an attempt;
// a namespace that is not there stops it before anything is sent.
func TestEchoAllStops(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	b := backendFor(t)
	echoes := make([]model.Echo, 2*kernel.EchoWorkers)
	for i := range echoes {
		echoes[i] = model.Echo{From: model.Named(p.A.Name), To: net.ParseIP("10.0.0.99")}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := b.EchoAll(ctx, echoes, 5*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("EchoAll with a context that ends = %v, want %v", err, context.DeadlineExceeded)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("EchoAll took %s to stop", took)
	}

	gone := []model.Echo{{From: model.Named(uniq("nowhere")), To: net.ParseIP("10.0.0.2")}}
	if _, err := b.EchoAll(context.Background(), gone, time.Second); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("EchoAll from a namespace that is not there = %v, want ErrNotFound", err)
	}
}
