package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// printPhases prints a table of the methods' medians per namespace: build,
// check and teardown milliseconds, the whole run, the most failures of a
// run (echoes not answered) and the largest peak RSS.
func printPhases(ms []method, ns []int, all map[string]map[int][]result, slow bool) {
	fmt.Println("| hosts | method | build ms/ns | check ms/ns | teardown ms/ns | total s | failures | peak RSS MB |")
	fmt.Println("|--:|---|--:|--:|--:|--:|--:|--:|")
	for _, n := range ns {
		for _, m := range ms {
			rs := all[m.name][n]
			if len(rs) == 0 {
				if why := m.skip(n, slow); why != "" && (m.maxN == 0 || n <= m.maxN) {
					fmt.Printf("| %d | %s | %s | | | | | |\n", n, m.name, why)
				}
				continue
			}
			if err := firstError(rs); err != nil {
				fmt.Printf("| %d | %s | error: %s | | | | | |\n", n, m.name, strings.ReplaceAll(err.Error(), "|", "/"))
				continue
			}
			per := func(d func(result) time.Duration) string {
				return fmt.Sprintf("%.2f", millis(median(rs, d))/float64(n))
			}
			worst, rss := 0, int64(0)
			for _, r := range rs {
				worst, rss = max(worst, r.failures), max(rss, r.rssKB)
			}
			fmt.Printf("| %d | %s | %s | %s | %s | %.2f | %d | %d |\n", n, m.name,
				per(func(r result) time.Duration { return r.build }), per(func(r result) time.Duration { return r.check }),
				per(func(r result) time.Duration { return r.down }), median(rs, result.total).Seconds(), worst, rss>>10)
		}
	}
}

// printRatios prints how the whole runs compare: nsplay against the floor
// (how far above it), the others against nsplay (how many times slower).
func printRatios(ns []int, all map[string]map[int][]result) {
	fmt.Println("| hosts | nsplay/floor | ip-batch/nsplay | iproute2/nsplay | mininet/nsplay |")
	fmt.Println("|--:|--:|--:|--:|--:|")
	ratio := func(a, b string, n int) string {
		ra, rb := all[a][n], all[b][n]
		if len(ra) == 0 || len(rb) == 0 || firstError(ra) != nil || firstError(rb) != nil {
			return "–"
		}
		return fmt.Sprintf("%.1f", millis(median(ra, result.total))/millis(median(rb, result.total)))
	}
	for _, n := range ns {
		fmt.Printf("| %d | %s | %s | %s | %s |\n", n, ratio("nsplay", "floor", n),
			ratio("ip-batch", "nsplay", n), ratio("iproute2", "nsplay", n), ratio("mininet", "nsplay", n))
	}
}

func median(rs []result, of func(result) time.Duration) time.Duration {
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = of(r)
	}
	slices.Sort(ds)
	if len(ds)%2 == 0 {
		return (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
	}
	return ds[len(ds)/2]
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func firstError(rs []result) error {
	for _, r := range rs {
		if r.err != nil {
			return r.err
		}
	}
	return nil
}
