package kernel_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

func mbps(r kernel.ThroughputResult) float64 {
	return model.ThroughputResult{Bytes: r.Bytes, Elapsed: r.Elapsed}.Mbps()
}

// TestThroughput measures a veth pair as it is, and with a tbf of 8mbit
// on the sender's end; the receiver is gone after each run.
func TestThroughput(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	to := net.ParseIP("10.0.0.2").To4()
	fast, err := kernel.Throughput(t.Context(), p.A, p.B, to, 5201, 300*time.Millisecond)
	must(t, err)
	t.Logf("unshaped: %d bytes in %s: %.1f mbit/s", fast.Bytes, fast.Elapsed, mbps(fast))
	if mbps(fast) < 100 || fast.Elapsed < 250*time.Millisecond || fast.Elapsed > 300*time.Millisecond {
		t.Errorf("a veth pair carries %.1f mbit/s in %s, want more than 100 in about 300ms", mbps(fast), fast.Elapsed)
	}
	if listening(t, p.B, "tcp", 5201) {
		t.Error("the receiver still listens after the run")
	}

	va := model.Link(model.Named(p.A.Name), p.va)
	must(t, p.A.SetImpairment(p.va, model.ImpairLink(va, model.Impairment{Rate: 1_000_000}, 1500)))
	shaped, err := kernel.Throughput(t.Context(), p.A, p.B, to, 5201, time.Second)
	must(t, err)
	t.Logf("tbf 8mbit: %d bytes in %s: %.3f mbit/s", shaped.Bytes, shaped.Elapsed, mbps(shaped))
	// The tbf caps the rate, however fast the machine: above its 8 (TCP's
	// payload of it) is a failure. A machine busy with other tests may not
	// fill it; a rate in bytes where bits are meant would be 1.
	if mbps(shaped) > 8.5 || mbps(shaped) < 4 {
		t.Errorf("through a tbf of 8mbit: %.3f mbit/s, want 4 to 8.5 (TCP's payload of 8, on a machine that may be busy)", mbps(shaped))
	}
}

func TestThroughputErrors(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	to := net.ParseIP("10.0.0.2").To4()

	_, port := listenIn(t, p.B, "tcp4", "0.0.0.0:0")
	_, err := kernel.Throughput(t.Context(), p.A, p.B, to, port, time.Second)
	wantErrContains(t, err, "is in use in "+p.B.Name, "pass another port=")

	_, err = kernel.Throughput(t.Context(), p.A, p.B, net.ParseIP("10.9.9.9").To4(), 5201, time.Second)
	wantErrContains(t, err, p.A.Name+" cannot reach 10.9.9.9 port 5201", "network is unreachable")

	// 10.0.0.1 is A's own address: nothing listens there.
	_, err = kernel.Throughput(t.Context(), p.A, p.B, net.ParseIP("10.0.0.1").To4(), 5201, time.Second)
	wantErrContains(t, err, "10.0.0.1 port 5201 refused the connection", "the receiver listens in "+p.B.Name)

	_, err = kernel.Throughput(t.Context(), p.A, p.B, to, 5201, 0)
	wantErrContains(t, err, "give a positive duration")
	if listening(t, p.B, "tcp", 5201) {
		t.Error("a receiver is left listening after the errors")
	}
}

// TestThroughputCancel cancels a long run: it ends at once, and leaves no
// receiver behind.
func TestThroughputCancel(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := kernel.Throughput(ctx, p.A, p.B, net.ParseIP("10.0.0.2").To4(), 5201, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled run: %v, want the context's error", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a run cancelled after 200ms ended after %s", took)
	}
	if listening(t, p.B, "tcp", 5201) {
		t.Error("the receiver still listens after the cancelled run")
	}
}
