package interp_test

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/session"
	"github.com/nsplay/nsplay/internal/testenv"
	"github.com/nsplay/nsplay/interp"
)

var update = flag.Bool("update", false, "rewrite the .expect files from the actual reports")

func TestMain(m *testing.M) { testenv.Main(m) }

// TestPlaybooks runs every testdata/*.star playbook in a lab of its own and
// compares its report with the .expect file beside it. Header lines
// "# -D name=value", "# --allow-host" and "# --lib DIR" set run options; "# setup: ARGS"
// runs `ip ARGS` before the playbook and "# cleanup: ARGS" after it, to
// prepare objects the lab does not own. After each playbook the machine must
// be as it was before: the lab gone without a trace, nothing else touched.
func TestPlaybooks(t *testing.T) {
	testenv.RequireRoot(t)
	playAll(t)
}

// TestPlaybooksOnUsedMachine runs the playbooks as TestPlaybooks does, with
// an /etc/netns of root's that holds another namespace's folder, and
// bridges and veths of other tools in the host. The reports are the same.
// (Other named namespaces are not made here: netns_list and ip netns
// list-id would show them in the reports. cmd/nsplay's TestUsedMachine
// runs the repository's playbooks among them.)
func TestPlaybooksOnUsedMachine(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.UseEtcNetns(t, "used1")
	testenv.IP(t, "link", "add", "usedbr0", "up", "type", "bridge")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "usedbr0").Run() })
	testenv.IP(t, "link", "add", "usedv0", "master", "usedbr0", "type", "veth", "peer", "name", "usedv1")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "usedv0").Run() })
	playAll(t)
}

// playAll runs every testdata/*.star playbook in a subtest and compares
// its report with its .expect file, or writes that with -update.
func playAll(t *testing.T) {
	files, err := filepath.Glob("testdata/*.star")
	if err != nil || len(files) == 0 {
		t.Fatalf("no playbooks in testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".star"), func(t *testing.T) {
			got := runPlaybook(t, file)
			golden := strings.TrimSuffix(file, ".star") + ".expect"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestPlaybooks ./interp -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("report of %s differs from %s (-want +got):\n%s", file, golden, diff)
			}
		})
	}
}

// runPlaybook runs one playbook, tears its lab down, checks that the
// machine is as it was before, and returns the normalized report.
func runPlaybook(t *testing.T, file string) string {
	t.Helper()
	before := testenv.TakeSnapshot(t)
	h := header(t, file)
	for _, args := range h.setup {
		testenv.IP(t, args...)
	}
	var report strings.Builder
	emit := func(e interp.Event) {
		switch e.Kind {
		case "check":
			verdict := "PASS"
			if !*e.Pass {
				verdict = "FAIL"
			}
			fmt.Fprintf(&report, "%s %s: %s\n", verdict, e.Pos, e.Msg)
		case "step", "result", "log", "warning":
			fmt.Fprintf(&report, "%s %s\n", e.Kind, strings.TrimPrefix(e.Pos+": "+e.Msg, ": "))
		}
	}
	res, err := session.Run(session.Options{Playbook: file, Vars: h.vars, AllowHost: h.allowHost, Lib: h.lib, Paths: model.DefaultPaths, Emit: emit})
	if err != nil {
		t.Fatal(err)
	}
	var pe *interp.Error
	switch {
	case errors.As(res.RunErr, &pe):
		fmt.Fprintf(&report, "error %s\n", pe)
	case res.RunErr != nil:
		t.Fatalf("run: %v (want an *interp.Error)", res.RunErr)
	}
	fmt.Fprintf(&report, "%d passed, %d failed\n", res.Result.Passed, res.Result.Failed)
	if res.DownErr != nil {
		t.Errorf("teardown: %v", res.DownErr)
	}
	for _, args := range h.cleanup {
		exec.Command("ip", args...).Run()
	}
	before.AssertUnchanged(t)
	return normalize(report.String())
}

// testHeader is what a playbook's leading comments ask of the test.
type testHeader struct {
	vars           map[string]string
	allowHost      bool
	lib            []string // "# --lib DIR": the library path
	setup, cleanup [][]string
}

func header(t *testing.T, file string) testHeader {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := testHeader{vars: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() && strings.HasPrefix(sc.Text(), "#") {
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "#"))
		if def, ok := strings.CutPrefix(line, "-D "); ok {
			k, v, _ := strings.Cut(def, "=")
			h.vars[k] = v
		}
		if line == "--allow-host" {
			h.allowHost = true
		}
		if dir, ok := strings.CutPrefix(line, "--lib "); ok {
			h.lib = append(h.lib, dir)
		}
		if args, ok := strings.CutPrefix(line, "setup: "); ok {
			h.setup = append(h.setup, strings.Fields(args))
		}
		if args, ok := strings.CutPrefix(line, "cleanup: "); ok {
			h.cleanup = append(h.cleanup, strings.Fields(args))
		}
	}
	return h
}

// normalize replaces what changes from run to run: round-trip times, MAC
// addresses, process ids.
func normalize(s string) string {
	for re, repl := range map[*regexp.Regexp]string{
		regexp.MustCompile(`\d+\.\d+ ms`):                  "N ms",
		regexp.MustCompile(`([0-9a-f]{2}:){5}[0-9a-f]{2}`): "MAC",
		regexp.MustCompile(`/proc/\d+/`):                   "/proc/PID/",
		regexp.MustCompile(`\(pid \d+\)`):                  "(pid N)",
		regexp.MustCompile(`: pid \d+\n`):                  ": pid N\n",
		regexp.MustCompile(`nsenter -t \d+`):               "nsenter -t N",
		regexp.MustCompile(`kill -([A-Z]+) -\d+`):          "kill -$1 -N",
		regexp.MustCompile(`process\(\d+,`):                "process(N,",
	} {
		s = re.ReplaceAllString(s, repl)
	}
	return s
}
