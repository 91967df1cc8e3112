package main

import (
	"testing"
	"time"
)

// BenchmarkSandbox runs the tutorial as nsplay does for a user, in a
// process of its own, with and without --sandbox in the same run, and
// reports what the sandbox costs per run as a ratio.
func BenchmarkSandbox(b *testing.B) {
	var plain, sandboxed time.Duration
	for b.Loop() {
		for _, args := range [][]string{{"run", tutorial}, {"run", "--sandbox", tutorial}} {
			cmd := nsplayProcess(b, args...)
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("nsplay %v: %v\n%s", args, err, out)
			}
			if len(args) == 2 {
				plain += time.Since(start)
			} else {
				sandboxed += time.Since(start)
			}
		}
	}
	perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) / 1000 }
	b.ReportMetric(perOp(plain), "ms-plain/op")
	b.ReportMetric(perOp(sandboxed), "ms-sandbox/op")
	b.ReportMetric(float64(sandboxed)/float64(plain), "x-sandbox-cost")
}
