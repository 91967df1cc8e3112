package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/sandbox"
	"github.com/nsplay/nsplay/interp"
)

type testOptions struct {
	update bool
	golden string
}

func testFlagSet(o *testOptions) *flagSet {
	fs := newFlagSet("test", "[--update] [--golden DIR] [PLAYBOOK or DIR]...", `Runs each playbook in a sandbox of its own, takes the lab's state at the end
of the playbook, adds the report of its checks, and compares that with the
playbook's golden file: NAME.golden beside NAME.star, or in the folder given
by --golden. A difference is printed as a diff (-golden +now). A folder
stands for the .star files in it. Ends with the line "N passed, M failed",
counting playbooks, and exits 1 if any failed.

Golden files are text to review in a pull request: one fact a line, in a
stable order; round-trip times and MAC addresses in check messages are
written as "N ms" and "MAC". Create or rewrite them with --update.`)
	fs.BoolVar(&o.update, "update", false, "write the golden files from this run instead of comparing")
	fs.StringVar(&o.golden, "golden", "", "keep the golden files in `DIR` instead of beside the playbooks")
	return fs
}

func testFlags() *flagSet { return testFlagSet(&testOptions{}) }

func testCmd(args []string, stdout, stderr io.Writer) (int, error) {
	var o testOptions
	fs := testFlagSet(&o)
	fs.help = stdout
	rest, err := fs.parse(args)
	if err != nil {
		return exitError, err
	}
	if len(rest) == 0 {
		rest = []string{"."}
	}
	files, err := playbooks(rest)
	if err != nil {
		return exitError, err
	}
	if o.golden != "" {
		seen := map[string]string{}
		for _, file := range files {
			base := filepath.Base(file)
			if other, ok := seen[base]; ok {
				return exitError, fmt.Errorf("%s and %s would share the golden file %s: rename one, or test them without --golden", other, file, filepath.Join(o.golden, strings.TrimSuffix(base, ".star")+".golden"))
			}
			seen[base] = file
		}
	}
	passed, failed := 0, 0
	for _, file := range files {
		golden := strings.TrimSuffix(file, ".star") + ".golden"
		if o.golden != "" {
			golden = filepath.Join(o.golden, filepath.Base(golden))
		}
		ok, msg := testPlaybook(file, golden, o.update)
		verdict := "PASS"
		if ok {
			passed++
		} else {
			verdict = "FAIL"
			failed++
		}
		fmt.Fprintf(stdout, "%s %s%s\n", verdict, file, msg)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitFailed, nil
	}
	return exitOK, nil
}

// playbooks expands folders to the .star files in them.
func playbooks(args []string) ([]string, error) {
	var files []string
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, arg)
			continue
		}
		found, err := filepath.Glob(filepath.Join(arg, "*.star"))
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s holds no .star playbooks", arg)
		}
		files = append(files, found...)
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// testPlaybook runs one playbook in a sandbox and compares (or, with
// update, writes) its golden file. It says whether it passed and why not.
func testPlaybook(file, golden string, update bool) (bool, string) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return false, ": " + err.Error()
	}
	cmd, err := sandbox.Command("golden", abs)
	if err != nil {
		return false, ": " + err.Error()
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	code, err := sandbox.Wait(cmd)
	if err != nil || code != exitOK {
		return false, fmt.Sprintf(": could not run it (status %d, %v):\n%s", code, err, errOut.String())
	}
	now := out.String()
	if update {
		if old, err := os.ReadFile(golden); err == nil && string(old) == now {
			return true, " (golden file unchanged)"
		}
		if err := os.WriteFile(golden, []byte(now), 0o644); err != nil {
			return false, ": " + err.Error()
		}
		return true, " (wrote " + golden + ")"
	}
	want, err := os.ReadFile(golden)
	if errors.Is(err, os.ErrNotExist) {
		return false, fmt.Sprintf(": no golden file %s; review the run and create it with 'nsplay test --update %s'", golden, file)
	}
	if err != nil {
		return false, ": " + err.Error()
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(now, "\n")); diff != "" {
		return false, fmt.Sprintf(": the lab differs from %s (-golden +now):\n%s", golden, diff)
	}
	return true, ""
}

// goldenCmd is the sandboxed half of `nsplay test`: it runs one playbook
// from its own folder (so positions do not depend on where nsplay ran),
// and prints the golden text: the state at the end, the checks, the
// summary. It is not listed in the help.
func goldenCmd(args []string, stdout io.Writer) error {
	if len(args) != 1 || !sandbox.Inside() {
		return usageError{"golden is run by 'nsplay test' inside a sandbox"}
	}
	if err := sandbox.Setup(); err != nil {
		return err
	}
	dir, file := filepath.Split(args[0])
	if err := os.Chdir(dir); err != nil {
		return err
	}
	host, err := kernel.Current()
	if err != nil {
		return err
	}
	defer host.Close()
	l, err := lab.Open(strings.TrimSuffix(file, ".star"), host, args[0])
	if err != nil {
		return err
	}
	var checks strings.Builder
	emit := func(e interp.Event) {
		if e.Kind == "check" {
			verdict := "PASS"
			if !*e.Pass {
				verdict = "FAIL"
			}
			fmt.Fprintf(&checks, "check %s %s: %s\n", verdict, e.Pos, e.Msg)
		}
	}
	res, runErr := interp.Run(context.Background(), l, file, interp.Options{Emit: emit})
	snap, snapErr := l.Snapshot(nil)
	downErr := l.Teardown(func(string) {})
	if err := errors.Join(snapErr, downErr); err != nil {
		return err
	}
	var golden strings.Builder
	fmt.Fprintf(&golden, "# nsplay test: the lab of %s at the end of the playbook, then its checks.\n", file)
	golden.WriteString(snap.Text())
	golden.WriteString(checks.String())
	var pe *interp.Error
	if errors.As(runErr, &pe) {
		fmt.Fprintf(&golden, "error %s\n", pe)
	} else if runErr != nil {
		return runErr
	}
	fmt.Fprintf(&golden, "%d passed, %d failed\n", res.Passed, res.Failed)
	_, err = io.WriteString(stdout, normalize(golden.String()))
	return err
}

// normalize writes what changes from run to run the same way every time:
// round-trip times, MAC addresses, process ids.
func normalize(s string) string {
	s = rttPattern.ReplaceAllString(s, "N ms")
	s = macPattern.ReplaceAllString(s, "MAC")
	s = procPattern.ReplaceAllString(s, "/proc/PID/")
	s = handlePattern.ReplaceAllString(s, "process(PID,")
	return inProcessPattern.ReplaceAllString(s, "process PID")
}

var (
	rttPattern       = regexp.MustCompile(`\d+(\.\d+)? ms\b`)
	macPattern       = regexp.MustCompile(`\b([0-9a-f]{2}:){5}[0-9a-f]{2}\b`)
	procPattern      = regexp.MustCompile(`/proc/\d+/`)
	handlePattern    = regexp.MustCompile(`process\(\d+,`)
	inProcessPattern = regexp.MustCompile(`\bprocess \d+\b`)
)
