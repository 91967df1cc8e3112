package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A method is one way of building, checking and tearing down the star of
// bench/star.star. Each run of one gets a sandbox of its own and reports
// where its phases end on its standard output: nsplay by its JSON events,
// the others by the lines "bench: check" (built), "bench: failures F" and
// "bench: down" (checked); the run ends when the lab is gone.
type method struct {
	name string
	// maxN is the largest lab it runs (0: any); from slowN on it runs only
	// with -slow (0: always).
	maxN, slowN int
	// missing says why it cannot run on this machine, or "".
	missing string
	argv    func(n int) []string
	events  func() reader
}

// A reader follows a run's output, line by line, with the time since
// the run started.
type reader interface {
	line(s string, at time.Duration)
	// phases are where the build and the check ended, and how many echoes
	// were not answered.
	phases() (built, checked time.Duration, failures int, ok bool)
}

// sandbox runs argv as make bench runs every method but nsplay (which has
// --sandbox): in fresh network, mount and PID namespaces, so that nothing
// it makes is seen by the machine or outlives it (the PID namespace ends
// every process of it when argv ends), with a private /run (where ip netns
// keeps the namespaces) and /proc/sys read-only (no method may change a
// host-wide sysctl).
func sandbox(argv ...string) []string {
	const setup = `mount -t tmpfs -o mode=755 tmpfs /run && mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$@"`
	return append([]string{"unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private", "--", "/bin/sh", "-c", setup, "sandbox"}, argv...)
}

// methods are the ways measured, nsplay first; bin holds the nsplay and
// floor binaries.
func methods(bin string) []method {
	noPing := ""
	if _, err := exec.LookPath("ping"); err != nil {
		noPing = "ping is not installed (apt-get install iputils-ping)"
	}
	noMininet := noPing
	if err := exec.Command("/usr/bin/python3", "-c", "import mininet.net").Run(); err != nil {
		noMininet = "Mininet is not installed (apt-get install mininet)"
	} else if _, err := exec.LookPath("brctl"); err != nil {
		noMininet = "Mininet's Linux bridge needs brctl (apt-get install bridge-utils)"
	}
	hosts := func(n int) string { return strconv.Itoa(n) }
	return []method{
		{name: "nsplay", events: func() reader { return &nsplayEvents{} },
			argv: func(n int) []string {
				return []string{bin + "/nsplay", "run", "--sandbox", "--json", "-D", "hosts=" + hosts(n), "bench/star.star"}
			}},
		{name: "floor", events: markerReader,
			argv: func(n int) []string { return sandbox(bin+"/floor", "-hosts", hosts(n)) }},
		{name: "ip-batch", maxN: 1000, slowN: 1000, missing: noPing, events: markerReader,
			argv: func(n int) []string { return sandbox("/bin/sh", "bench/star-batch.sh", hosts(n)) }},
		{name: "iproute2", maxN: 1000, slowN: 1000, missing: noPing, events: markerReader,
			argv: func(n int) []string { return sandbox("/bin/sh", "bench/star-ip.sh", hosts(n)) }},
		{name: "mininet", maxN: 1000, slowN: 1000, missing: noMininet, events: markerReader,
			argv: func(n int) []string { return sandbox("/usr/bin/python3", "bench/mininet_star.py", hosts(n)) }},
	}
}

// skip says why m does not run a lab of n hosts, or "".
func (m method) skip(n int, slow bool) string {
	switch {
	case m.missing != "":
		return m.missing
	case m.maxN > 0 && n > m.maxN:
		return fmt.Sprintf("not measured past %d hosts", m.maxN)
	case m.slowN > 0 && n >= m.slowN && !slow:
		return "slow at this size: BENCH_SLOW=1 runs it"
	}
	return ""
}

// result is one run of a method.
type result struct {
	build, check, down time.Duration
	failures           int
	rssKB              int64 // the peak resident set of its largest process
	err                error
}

func (r result) total() time.Duration { return r.build + r.check + r.down }

// runTimeout ends a run that takes longer (the per-step script of 1000
// hosts takes minutes on a loaded machine).
const runTimeout = 30 * time.Minute

// measure runs m once for n hosts, once the kernel has freed the
// namespaces of the run before.
func measure(m method, n int) result {
	awaitFreedNamespaces()
	argv := m.argv(n)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return result{err: err}
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{err: err}
	}
	rd := m.events()
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 16<<20) // a check line lists every pair that failed
	for sc.Scan() {
		rd.line(sc.Text(), time.Since(start))
	}
	err = cmd.Wait()
	end := time.Since(start)
	built, checked, failures, ok := rd.phases()
	res := result{build: built, check: checked - built, down: end - checked, failures: failures}
	if u, isRusage := cmd.ProcessState.SysUsage().(*syscall.Rusage); isRusage {
		res.rssKB = u.Maxrss
	}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.err = fmt.Errorf("stopped after %s", runTimeout)
	case !ok:
		res.err = fmt.Errorf("%s: %v%s", strings.Join(argv, " "), err, lastLine(stderr.String()))
	case err != nil && !(m.name == "nsplay" && errors.As(err, &exit) && exit.ExitCode() == 1):
		// nsplay exits 1 when a check failed: counted as failures.
		res.err = fmt.Errorf("%s: %v%s", m.name, err, lastLine(stderr.String()))
	}
	return res
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if l := lines[len(lines)-1]; l != "" {
		return ": " + l
	}
	return ""
}

// markers reads the "bench: ..." lines of the scripts, the floor and the
// Mininet script.
type markers struct {
	built, checked time.Duration
	failures       int
	seen           int
}

// awaitFreedNamespaces waits (up to a minute) until the kernel has freed
// the network namespaces of earlier runs, which it does in the background
// after a run has ended; a run that starts meanwhile would pay for the
// last one's teardown. Freed means the number of namespaces the kernel
// holds (the net_namespace objects of /proc/slabinfo) has not fallen for
// a quarter of a second. Where slabinfo cannot be read, it does not wait.
func awaitFreedNamespaces() {
	last, stable := -1, 0
	for deadline := time.Now().Add(time.Minute); stable < 5 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		n, ok := namespacesHeld()
		if !ok {
			return
		}
		if n == last {
			stable++
		} else {
			last, stable = n, 0
		}
	}
}

// namespacesHeld is the number of network namespaces the kernel holds.
func namespacesHeld() (int, bool) {
	data, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "net_namespace" {
			n, err := strconv.Atoi(f[1])
			return n, err == nil
		}
	}
	return 0, false
}

func markerReader() reader { return &markers{} }

func (m *markers) line(s string, at time.Duration) {
	switch {
	case s == "bench: check":
		m.built = at
		m.seen++
	case s == "bench: down":
		m.checked = at
		m.seen++
	case strings.HasPrefix(s, "bench: failures "):
		m.failures, _ = strconv.Atoi(strings.TrimPrefix(s, "bench: failures "))
	}
}

func (m *markers) phases() (time.Duration, time.Duration, int, bool) {
	return m.built, m.checked, m.failures, m.seen == 2
}

// nsplayEvents reads nsplay's --json events: the build ends with the last
// step before the first check, the check with the last check; the pairs
// expect.all_reachable counts as not answered are its failures (any other
// failed check counts one).
type nsplayEvents struct {
	built, checked time.Duration
	failures       int
	checks         int
}

var answered = regexp.MustCompile(`^expect\.all_reachable: (\d+) of (\d+) answered`)

func (e *nsplayEvents) line(s string, at time.Duration) {
	var ev struct {
		Kind, Msg string
		Pass      *bool
	}
	if json.Unmarshal([]byte(s), &ev) != nil {
		return
	}
	switch ev.Kind {
	case "step":
		if e.checks == 0 {
			e.built = at
		}
	case "check":
		e.checks++
		e.checked = at
		if m := answered.FindStringSubmatch(ev.Msg); m != nil {
			got, _ := strconv.Atoi(m[1])
			of, _ := strconv.Atoi(m[2])
			e.failures += of - got
		} else if ev.Pass != nil && !*ev.Pass {
			e.failures++
		}
	}
}

func (e *nsplayEvents) phases() (time.Duration, time.Duration, int, bool) {
	return e.built, e.checked, e.failures, e.checks > 0
}

// requireRoot stops make bench early when it cannot make namespaces.
func requireRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("make bench needs root: every method but nsplay makes namespaces of its own (run it as root)")
	}
	if _, err := os.Stat("bench/star.star"); err != nil {
		return errors.New("run make bench (go run ./bench) in the repository's root folder")
	}
	return nil
}
