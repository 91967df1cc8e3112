// Command bench is the driver of make bench: it builds, checks and tears
// down the star lab of bench/star.star with nsplay and with the ways it is
// measured against — the same lab as a plain Go netlink program (the
// floor, bench/floor), as an ip -batch script (bench/star-batch.sh), as one
// ip process per step (bench/star-ip.sh) and in Mininet
// (bench/mininet_star.py) — each run in a sandbox of its own, the methods
// taking turns, several runs of each, and prints the medians per namespace
// as Markdown tables (docs/bench.md).
//
//	go run ./bench [-n 10,100,1000] [-runs 3] [-slow]
//
// It needs root, and runs in the repository's root folder.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	sizes := flag.String("n", "10,100,1000", "the numbers of hosts, comma-separated (the ip scripts and Mininet run up to 1000)")
	runs := flag.Int("runs", 3, "runs of each method at each size; the tables give their medians")
	slow := flag.Bool("slow", false, "run the ip scripts and Mininet at 1000 hosts too (minutes a run)")
	flag.Parse()
	ns, err := parseSizes(*sizes)
	if err == nil && *runs < 1 {
		err = fmt.Errorf("-runs %d: want at least 1", *runs)
	}
	if err == nil {
		err = requireRoot()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	bin, err := buildBinaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	defer os.RemoveAll(bin)
	ms := methods(bin)
	all := map[string]map[int][]result{}
	for _, m := range ms {
		all[m.name] = map[int][]result{}
	}
	for _, n := range ns {
		var here []method
		for _, m := range ms {
			if why := m.skip(n, *slow); why != "" {
				fmt.Fprintf(os.Stderr, "bench: %s at %d hosts: %s\n", m.name, n, why)
				continue
			}
			here = append(here, m)
		}
		for r := range *runs {
			// Interleaved: each run starts with another method, so that
			// what the machine does meanwhile falls on all of them, and
			// every other run goes the other way round, so that no method
			// follows the same one (Mininet, say) in every run.
			for i := range here {
				at := (i + r) % len(here)
				if r%2 == 1 {
					at = (r + len(here) - i) % len(here)
				}
				m := here[at]
				res := measure(m, n)
				all[m.name][n] = append(all[m.name][n], res)
				fmt.Fprintf(os.Stderr, "bench: %d hosts, run %d of %d, %s: %s\n", n, r+1, *runs, m.name, describe(res))
			}
		}
	}
	fmt.Printf("Star lab (bench/star.star), median of %d runs, on %s.\n\n", *runs, machine())
	printPhases(ms, ns, all, *slow)
	fmt.Println()
	printRatios(ns, all)
	if failed(all) {
		os.Exit(1)
	}
}

// parseSizes reads -n.
func parseSizes(s string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 10000 {
			return nil, fmt.Errorf("-n %s: want numbers of hosts from 1 to 10000, like 10,100,1000", s)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// buildBinaries builds nsplay and the floor into a temporary folder.
func buildBinaries() (string, error) {
	bin, err := os.MkdirTemp("", "nsplay-bench")
	if err != nil {
		return "", err
	}
	for _, pkg := range []string{"./cmd/nsplay", "./bench/floor"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, filepath.Base(pkg)), pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			os.RemoveAll(bin)
			return "", fmt.Errorf("go build %s: %w", pkg, err)
		}
	}
	return bin, nil
}

func describe(r result) string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return fmt.Sprintf("build %s, check %s, teardown %s, %d failures, peak RSS %d MB",
		r.build.Round(time.Millisecond), r.check.Round(time.Millisecond), r.down.Round(time.Millisecond), r.failures, r.rssKB>>10)
}

// machine describes the machine: CPU, cores, memory, kernel.
func machine() string {
	cpu, mem := "an unknown CPU", ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(string(b), "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %d GiB", (kb+1<<19)>>20)
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%s, %d cores%s, Linux %s", cpu, runtime.NumCPU(), mem, strings.TrimSpace(string(kernel)))
}

func failed(all map[string]map[int][]result) bool {
	for _, byN := range all {
		for _, rs := range byN {
			if slices.ContainsFunc(rs, func(r result) bool { return r.err != nil }) {
				return true
			}
		}
	}
	return false
}
