package interp_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/session"
	"github.com/nsplay/nsplay/interp"
)

// BenchmarkTutorial builds and tears down the tutorial's lab with nsplay
// and, in the same run, with one ip process per step (the tutorial's own
// way), and reports how many times faster nsplay is.
func BenchmarkTutorial(b *testing.B) { benchAgainstIP(b, "tutorial", "ns1") }

// BenchmarkStar20 does the same for 20 namespaces on a switch namespace.
func BenchmarkStar20(b *testing.B) { benchAgainstIP(b, "star", "") }

// BenchmarkStarNsplay100 and BenchmarkStarNsplay1000 run the star lab of
// the scale benchmark (bench/star.star: a bridge, N hosts, one
// reachability check each) and report what building, checking and tearing
// it down cost per namespace; a false failure fails the benchmark.
func BenchmarkStarNsplay100(b *testing.B)  { benchStar(b, 100) }
func BenchmarkStarNsplay1000(b *testing.B) { benchStar(b, 1000) }

// BenchmarkPlanStar100 and BenchmarkPlanStar1000 plan the same star lab
// against the in-memory model (nsplay plan), and report what a host costs:
// the model's own work should grow with the hosts, not with their square.
func BenchmarkPlanStar100(b *testing.B)  { benchPlanStar(b, 100) }
func BenchmarkPlanStar1000(b *testing.B) { benchPlanStar(b, 1000) }

func benchPlanStar(b *testing.B, hosts int) {
	start := time.Now()
	for b.Loop() {
		res, err := session.Run(session.Options{Playbook: "../bench/star.star", Plan: true, Paths: session.PlanPaths(),
			Vars: map[string]string{"hosts": strconv.Itoa(hosts)}})
		if err == nil {
			err = errors.Join(res.RunErr, res.DownErr)
		}
		if err != nil {
			b.Fatal(err)
		}
		if res.Result.Failed > 0 || res.Result.Passed != 1 {
			b.Fatalf("%d passed, %d failed; want 1 passed", res.Result.Passed, res.Result.Failed)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N)/float64(hosts), "ms/host")
}

func benchStar(b *testing.B, hosts int) {
	requireRootBench(b)
	var build, check, down time.Duration
	for b.Loop() {
		var firstCheck, firstDown time.Time
		start := time.Now()
		res, err := session.Run(session.Options{Playbook: "../bench/star.star", Name: "benchstar", Paths: model.DefaultPaths,
			Vars: map[string]string{"hosts": strconv.Itoa(hosts)},
			Emit: func(e interp.Event) {
				switch {
				case e.Kind == "check" && firstCheck.IsZero():
					firstCheck = time.Now()
				case e.Kind == "teardown" && firstDown.IsZero():
					firstDown = time.Now()
				}
			}})
		end := time.Now()
		if err == nil {
			err = errors.Join(res.RunErr, res.DownErr)
		}
		if err != nil {
			b.Fatal(err)
		}
		// One check: expect.all_reachable of every host.
		if res.Result.Failed > 0 || res.Result.Passed != 1 || firstCheck.IsZero() || firstDown.IsZero() {
			b.Fatalf("%d passed, %d failed; want the one check of all %d hosts passed", res.Result.Passed, res.Result.Failed, hosts)
		}
		build += firstCheck.Sub(start)
		check += firstDown.Sub(firstCheck)
		down += end.Sub(firstDown)
	}
	perNS := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) / float64(hosts) }
	b.ReportMetric(perNS(build), "ms-build/ns")
	b.ReportMetric(perNS(check), "ms-check/ns")
	b.ReportMetric(perNS(down), "ms-down/ns")
	b.ReportMetric(perNS(build+check+down), "ms-total/ns")
}

// benchAgainstIP times testdata/bench/NAME.star against the ip steps in
// NAME.ip and NAME.ip.down; resolvNS also gets a resolv.conf in the ip run,
// as the playbook writes one.
func benchAgainstIP(b *testing.B, name, resolvNS string) {
	requireRootBench(b)
	ipSteps := readSteps(b, "testdata/bench/"+name+".ip")
	ipDown := readSteps(b, "testdata/bench/"+name+".ip.down")
	var nsplayTime, ipTime time.Duration
	for b.Loop() {
		start := time.Now()
		buildAndTearDown(b, "testdata/bench/"+name+".star")
		nsplayTime += time.Since(start)

		start = time.Now()
		for _, step := range ipSteps {
			runIP(b, step)
		}
		if resolvNS != "" {
			// As the lab does: /etc/netns goes again only if it was not there.
			_, err := os.Stat(model.DefaultPaths.EtcNetns)
			madeEtcNetns := os.IsNotExist(err)
			dir := filepath.Join(model.DefaultPaths.EtcNetns, resolvNS)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 8.8.8.8\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			if err := os.RemoveAll(dir); err != nil {
				b.Fatal(err)
			}
			if madeEtcNetns {
				if err := os.Remove(model.DefaultPaths.EtcNetns); err != nil {
					b.Fatal(err)
				}
			}
		}
		for _, step := range ipDown {
			runIP(b, step)
		}
		ipTime += time.Since(start)
	}
	perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) / 1000 }
	b.ReportMetric(perOp(ipTime), "ms-iproute2/op")
	b.ReportMetric(perOp(nsplayTime), "ms-nsplay/op")
	b.ReportMetric(float64(ipTime)/float64(nsplayTime), "x-faster-than-iproute2")
}

func requireRootBench(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
}

func buildAndTearDown(b *testing.B, file string) {
	res, err := session.Run(session.Options{Playbook: file, Name: "bench", Paths: model.DefaultPaths})
	if err == nil {
		err = errors.Join(res.RunErr, res.DownErr)
	}
	if err != nil {
		b.Fatal(err)
	}
}

func readSteps(b *testing.B, file string) []string {
	data, err := os.ReadFile(filepath.Clean(file))
	if err != nil {
		b.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func runIP(b *testing.B, step string) {
	if out, err := exec.Command("ip", strings.Fields(step)...).CombinedOutput(); err != nil {
		b.Fatalf("ip %s: %v\n%s", step, err, out)
	}
}
