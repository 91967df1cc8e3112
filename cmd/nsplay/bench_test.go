package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/testenv"
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

// BenchmarkStartup runs an empty playbook with the binary `make build`
// makes, in a process of its own, plain and with --sandbox, against the
// floors of bench/startfloor in the same run: a Go program that does
// nothing, and one that runs itself again in the namespaces of the
// sandbox. It reports each in milliseconds and nsplay's cost as a ratio
// to its floor.
func BenchmarkStartup(b *testing.B) {
	testenv.RequireRoot(b) // the sandbox's floor makes namespaces as root does
	dir := b.TempDir()
	empty := filepath.Join(dir, "empty.star")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	nsplay, floor := goBuild(b, dir, "."), goBuild(b, dir, "../../bench/startfloor")
	runs := []struct {
		metric string
		argv   []string
	}{
		{"ms-empty/op", []string{nsplay, "run", empty}},
		{"ms-empty-sandbox/op", []string{nsplay, "run", "--sandbox", empty}},
		{"ms-floor/op", []string{floor}},
		{"ms-floor-sandbox/op", []string{floor, "-sandbox"}},
	}
	took := make([]time.Duration, len(runs))
	for b.Loop() {
		for i, r := range runs {
			start := time.Now()
			if out, err := exec.Command(r.argv[0], r.argv[1:]...).CombinedOutput(); err != nil {
				b.Fatalf("%v: %v\n%s", r.argv, err, out)
			}
			took[i] += time.Since(start)
		}
	}
	for i, r := range runs {
		b.ReportMetric(float64(took[i].Microseconds())/float64(b.N)/1000, r.metric)
	}
	b.ReportMetric(float64(took[0])/float64(took[2]), "x-empty-vs-floor")
	b.ReportMetric(float64(took[1])/float64(took[3]), "x-sandbox-vs-floor")
}

// goBuild builds the command in pkg, as make build does (no cgo), into dir.
func goBuild(b *testing.B, dir, pkg string) string {
	b.Helper()
	out := filepath.Join(dir, filepath.Base(filepath.Clean(pkg)))
	if pkg == "." {
		out = filepath.Join(dir, "nsplay")
	}
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}
