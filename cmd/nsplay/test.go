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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aymanbagabas/go-udiff"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/sandbox"
	"github.com/nsplay/nsplay/internal/session"
	"github.com/nsplay/nsplay/interp"
	"github.com/spf13/cobra"
	"go.starlark.net/syntax"
)

type testOptions struct {
	update        bool
	updateFailing bool
	golden        string
	timeout       time.Duration
	vars          defines
	run           string
	jobs          int
	report        reportOptions
	lib           []string // --lib
	libPath       []string // the library path: --lib, then NSPLAY_PATH
}

func (c *cli) testCommand() *cobra.Command {
	var o testOptions
	cmd := c.command("test [--update | --update-failing] [--golden DIR] [--timeout DURATION] [-D name=value]... [--run REGEXP] [-j N] [--format FORMAT] [-q] [PLAYBOOK or DIR]...", "run playbooks sandboxed and compare with golden files", `Runs each playbook in a sandbox of its own, takes the lab's state at the end
of the playbook, adds the report of its checks, and compares that with the
playbook's golden file: NAME.golden beside NAME.star, or in the folder given
by --golden. A difference is printed as a unified diff (-golden +now). A
folder stands for the .star files in it. Ends with the line "N passed, M
failed", counting playbooks, and exits 1 if any failed, 130 after SIGINT.

Golden files are text to review in a pull request: one fact a line, in a
stable order; check lines give the file and the source of the check's
call, error lines the file, but no line numbers, so that moving a
statement changes nothing; round-trip times and MAC
addresses in check messages are written as "N ms" and "MAC". Create or
rewrite them with --update. A run with a failed check or an error is not
written by --update (it is a FAIL): --update-failing writes it too, for a
golden file that is meant to record a failure.`,
		cobra.ArbitraryArgs, func(args []string) (int, error) { return testCmd(o, args, c.stdout, c.stderr) })
	fs := cmd.Flags()
	fs.BoolVar(&o.update, "update", false, "write the golden files of runs whose checks all pass, instead of comparing")
	fs.BoolVar(&o.updateFailing, "update-failing", false, "like --update, and write the golden files of runs with a failed check or an error too")
	fs.StringVar(&o.golden, "golden", "", "keep the golden files in `DIR` (it must exist) instead of beside the playbooks")
	timeoutFlag(fs, &o.timeout)
	o.vars = defines{}
	definesFlag(fs, o.vars)
	fs.StringVar(&o.run, "run", "", "test only the playbooks whose name (the file name without .star) matches `REGEXP`")
	fs.IntVarP(&o.jobs, "jobs", "j", 1, "run `N` playbooks at a time, each in its sandbox; the output stays in the order of the playbooks")
	reportFlags(fs, &o.report)
	libFlag(cmd, &o.lib)
	cmd.MarkFlagDirname("golden")
	cmd.ValidArgsFunction = playbookPaths
	return cmd
}

func testCmd(o testOptions, rest []string, stdout, stderr io.Writer) (int, error) {
	if len(rest) == 0 {
		rest = []string{"."}
	}
	if err := checkTimeout(o.timeout); err != nil {
		return exitError, err
	}
	var err error
	if o.libPath, err = libraryPath(o.lib); err != nil {
		return exitError, err
	}
	files, err := playbooks(rest)
	if err == nil {
		files, err = o.selected(files)
	}
	if err != nil {
		return exitError, err
	}
	if o.golden != "" {
		st, err := os.Stat(o.golden)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return exitError, fmt.Errorf("--golden %s: no such folder: create it first (mkdir -p %s), or name the folder that holds the golden files", o.golden, o.golden)
		case err != nil:
			return exitError, fmt.Errorf("--golden: %w", err)
		case !st.IsDir():
			return exitError, fmt.Errorf("--golden %s is a file; name the folder that holds the golden files", o.golden)
		}
		seen := map[string]string{}
		for _, file := range files {
			base := filepath.Base(file)
			if other, ok := seen[base]; ok {
				return exitError, fmt.Errorf("%s and %s would share the golden file %s: rename one, or test them without --golden", other, file, filepath.Join(o.golden, strings.TrimSuffix(base, ".star")+".golden"))
			}
			seen[base] = file
		}
	}
	if o.jobs < 1 {
		return exitError, usageError{fmt.Sprintf("-j %d: give the number of playbooks to run at a time, 1 or more", o.jobs)}
	}
	rep, err := newTestReport(o.report, len(files), stdout, stderr)
	if err != nil {
		return exitError, err
	}
	ctx, stop := session.SignalContext()
	defer stop()
	return runTests(ctx, files, o, rep)
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
// update, writes) its golden file. It says whether it passed and why not;
// emit gets the events of the run as they happen. A signal (ctx) is
// passed on to the sandbox, which tears the lab down.
func testPlaybook(ctx context.Context, file, golden string, o testOptions, emit func(interp.Event)) testResult {
	broken := func(msg string) testResult { return testResult{broken: true, msg: msg} }
	abs, err := filepath.Abs(file)
	if err != nil {
		return broken(": " + err.Error())
	}
	// The golden half runs in the playbook's folder: the library path is
	// given relative to it, so that the positions of recipes in golden
	// files are the same on every machine.
	args := append([]string{"golden", "--timeout", o.timeout.String()}, o.vars.args()...)
	for _, dir := range relativeTo(filepath.Dir(abs), o.libPath) {
		args = append(args, "--lib", dir)
	}
	cmd, err := sandbox.Command(append(args, abs)...)
	if err != nil {
		return broken(": " + err.Error())
	}
	// report gets the failed checks and the error with their positions,
	// which the golden text leaves out.
	var report bytes.Buffer
	out := &goldenEvents{emit: emit}
	cmd.Stdout, cmd.Stderr = out, &report
	if ctx.Err() != nil {
		return testResult{broken: true, stopped: true, msg: ": " + context.Cause(ctx).Error()}
	}
	code, err := sandbox.Wait(cmd)
	failures := strings.TrimSuffix(report.String(), "\n")
	switch {
	case ctx.Err() != nil:
		return testResult{broken: true, stopped: true, msg: fmt.Sprintf(": %v:\n%s", context.Cause(ctx), failures)}
	case err != nil:
		return broken(": could not run it: " + err.Error())
	case code != exitOK:
		return broken(fmt.Sprintf(": could not run it (status %d):\n%s", code, failures))
	case out.err != nil:
		return broken(": could not read its events: " + out.err.Error())
	case out.golden == "":
		return broken(": its run ended without the golden text:\n" + failures)
	}
	now := out.golden
	if o.update || o.updateFailing {
		ok, msg := updateGolden(file, golden, now, failures, o)
		return testResult{pass: ok, msg: msg}
	}
	want, err := os.ReadFile(golden)
	if errors.Is(err, os.ErrNotExist) {
		return testResult{msg: fmt.Sprintf(": no golden file %s; review the run and create it with '%s'", golden, o.command("--update", file))}
	}
	if err != nil {
		return broken(": " + err.Error())
	}
	if string(want) == now {
		return testResult{pass: true}
	}
	diff, err := udiff.ToUnified(golden, file+" (now)", string(want), udiff.Lines(string(want), now), udiff.DefaultContextLines)
	if err != nil {
		return testResult{msg: fmt.Sprintf(": the lab differs from %s, and the diff failed: %v", golden, err)}
	}
	return testResult{msg: fmt.Sprintf(": the lab differs from %s (-golden +now):\n%s", golden, strings.TrimSuffix(diff, "\n"))}
}

// command is the nsplay test command that does what flag says to file,
// with the --golden folder and the -D variables this run was given.
func (o testOptions) command(flag, file string) string {
	cmd := "nsplay test " + flag
	if o.golden != "" {
		cmd += " --golden " + o.golden
	}
	for _, arg := range o.vars.args() {
		cmd += " " + arg
	}
	for _, dir := range o.lib {
		cmd += " --lib " + dir
	}
	return cmd + " " + file
}

// updateGolden writes the golden file of a run, unless it records a failed
// check or an error (the failures, with their positions) and the user did
// not ask for that with --update-failing.
func updateGolden(file, golden, now, failures string, o testOptions) (bool, string) {
	if old, err := os.ReadFile(golden); err == nil && string(old) == now {
		return true, " (golden file unchanged)"
	}
	failed := recordsFailure(now)
	if failed && !o.updateFailing {
		return false, fmt.Sprintf(": a check failed or the playbook stopped with an error, so %s was not written:\n%s\nfix the playbook, or record the failure in the golden file with '%s'", golden, failures, o.command("--update-failing", file))
	}
	if err := os.WriteFile(golden, []byte(now), 0o644); err != nil {
		return false, ": " + err.Error()
	}
	if failed {
		return true, " (wrote " + golden + ", which records a failed check or an error)"
	}
	return true, " (wrote " + golden + ")"
}

// recordsFailure tells whether a golden text has a "check FAIL" or an
// "error" line. Messages are one line each (oneLine), so no message can
// start a line.
func recordsFailure(golden string) bool {
	for line := range strings.Lines(golden) {
		if strings.HasPrefix(line, "check FAIL ") || strings.HasPrefix(line, "error ") {
			return true
		}
	}
	return false
}

// goldenCommand is the sandboxed half of `nsplay test`: it runs one playbook
// from its own folder (so positions do not depend on where nsplay ran),
// and prints its events as --format json does, then the golden text (the
// state at the end, the checks, the summary) as the last JSON line, of
// kind "golden". On stderr it reports the failed checks and the error
// with their positions. A signal stops the playbook and tears the lab
// down, as in `nsplay run`. It is not listed in the help.
func (c *cli) goldenCommand() *cobra.Command {
	var timeout time.Duration
	var lib []string
	vars := defines{}
	const only = "golden is run by 'nsplay test' inside a sandbox"
	cmd := c.command("golden [--timeout DURATION] [-D name=value]... [--lib DIR]... PLAYBOOK", only, "", takes(one, only),
		func(args []string) (int, error) { return goldenCmd(timeout, vars, lib, args[0], c.stdout, c.stderr) })
	cmd.Hidden = true
	timeoutFlag(cmd.Flags(), &timeout)
	definesFlag(cmd.Flags(), vars)
	// Not libFlag: the library path comes whole from nsplay test, without
	// NSPLAY_PATH, relative to the playbook's folder.
	cmd.Flags().StringArrayVar(&lib, "lib", nil, "a folder of the library path")
	return cmd
}

func goldenCmd(timeout time.Duration, vars defines, lib []string, playbook string, stdout, stderr io.Writer) (int, error) {
	if !sandbox.Inside() {
		return exitError, usageError{"golden is run by 'nsplay test' inside a sandbox"}
	}
	if err := sandbox.Setup(); err != nil {
		return exitError, err
	}
	dir, file := filepath.Split(playbook)
	if err := os.Chdir(dir); err != nil {
		return exitError, err
	}
	var checks strings.Builder
	sources := callSources{}
	events := newJSONLines(stdout)
	emit := func(e interp.Event) {
		events.event(e)
		if e.Kind == "check" {
			fmt.Fprintf(&checks, "check %s\n", sources.checkLine(e))
			if e.Pass != nil && !*e.Pass {
				fmt.Fprintln(stderr, textLine(e))
			}
		}
	}
	res, err := session.Run(session.Options{Playbook: file, Vars: vars, Paths: model.DefaultPaths, Snapshot: true, Emit: emit, Timeout: timeout, Lib: lib})
	if err != nil {
		return exitError, err
	}
	var pe *interp.Error
	errors.As(res.RunErr, &pe)
	if res.Interrupted != nil || res.TimedOut != nil {
		return outcome(res, false, false, stderr)
	}
	if res.DownErr != nil {
		return exitError, res.DownErr
	}
	snap, runErr := res.Snapshot, res.RunErr
	var golden strings.Builder
	fmt.Fprintf(&golden, "# nsplay test: the lab of %s at the end of the playbook, then its checks.\n", file)
	golden.WriteString(snap.Text())
	golden.WriteString(checks.String())
	if pe != nil {
		line := textLine(interp.Event{Kind: "error", Pos: pe.Pos, Msg: pe.Msg})
		fmt.Fprintln(stderr, line)
		fmt.Fprintln(&golden, line)
	} else if runErr != nil {
		return exitError, runErr
	}
	fmt.Fprintf(&golden, "%d passed, %d failed\n", res.Result.Passed, res.Result.Failed)
	events.event(interp.Event{Kind: "golden", Msg: normalize(golden.String()), Time: time.Now()})
	return exitOK, nil
}

// callSources holds the playbook files whose checks a golden file records,
// parsed, by name.
type callSources map[string]*sourceFile

type sourceFile struct {
	syntax *syntax.File // nil if the file did not parse
	lines  []string
}

// checkLine is a check as a golden file records it: in place of the
// position, the file and the source of the check's call, which do not
// change when a line is added above it,
// PASS lxcbr0.star `expect.eq(br.stp, False)`: expect.eq(False, False).
func (c callSources) checkLine(e interp.Event) string {
	i := strings.LastIndex(e.Pos, ":")
	if line, err := strconv.Atoi(e.Pos[i+1:]); i > 0 && err == nil {
		e.Pos = e.Pos[:i]
		if src := c.call(e.Pos, line); src != "" {
			e.Pos += " `" + src + "`"
		}
	}
	return textLine(e)
}

// call is the source of the outermost call that opens on a line of file
// (where the position of a call points: its parenthesis), on one line;
// "" if there is none.
func (c callSources) call(file string, line int) string {
	f, ok := c[file]
	if !ok {
		f = &sourceFile{}
		if data, err := os.ReadFile(file); err == nil {
			// Lines end as the Starlark scanner ends them, so that its
			// columns (counted in runes) index them.
			f.lines = strings.Split(lineEnds.Replace(string(data)), "\n")
			f.syntax, _ = (&syntax.FileOptions{}).Parse(file, data, 0)
		}
		c[file] = f
	}
	if f.syntax == nil {
		return ""
	}
	var found *syntax.CallExpr
	syntax.Walk(f.syntax, func(n syntax.Node) bool {
		if call, ok := n.(*syntax.CallExpr); ok && found == nil && int(call.Lparen.Line) == line {
			found = call
		}
		return found == nil
	})
	if found == nil {
		return ""
	}
	start, end := found.Span()
	var parts []string
	for l := start.Line; l <= end.Line; l++ {
		text := []rune(f.lines[l-1])
		if l == end.Line {
			text = text[:end.Col-1]
		}
		if l == start.Line {
			text = text[start.Col-1:]
		}
		parts = append(parts, strings.TrimSpace(string(text)))
	}
	return joinLines(parts)
}

var lineEnds = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// joinLines writes the trimmed lines of a call as one would write the call
// on one line: "expect.eq(", "a,", "b,", ")" becomes expect.eq(a, b).
func joinLines(parts []string) string {
	s := parts[0]
	for _, p := range parts[1:] {
		switch {
		case p == "":
			continue
		case strings.ContainsAny(p[:1], ")]}"):
			s = strings.TrimSuffix(s, ",")
		case !strings.HasSuffix(s, "(") && !strings.HasSuffix(s, "[") && !strings.HasSuffix(s, "{"):
			s += " "
		}
		s += p
	}
	return s
}

// normalize writes what changes from run to run the same way every time:
// round-trip times, MAC addresses, process ids; and drops the lines and
// columns of the playbook positions in error lines and messages
// (lxcbr0.star:3:5 becomes lxcbr0.star), so that a comment or a blank
// line added above a statement changes nothing.
func normalize(s string) string {
	for _, r := range normalizers() {
		s = r.pattern.ReplaceAllString(s, r.with)
	}
	return s
}

// normalizers are what normalize replaces, in order. They are compiled on
// first use, not when the program starts: every command exec_in and spawn
// start runs this binary first (kernel's exec helper), and with it every
// package-level initialisation.
var normalizers = sync.OnceValue(func() []replacement {
	return []replacement{
		{regexp.MustCompile(`(\.star)(:\d+){1,2}\b`), "$1"},
		{regexp.MustCompile(`\d+(\.\d+)? ms\b`), "N ms"},
		{regexp.MustCompile(`\b([0-9a-f]{2}:){5}[0-9a-f]{2}\b`), "MAC"},
		{regexp.MustCompile(`/proc/\d+/`), "/proc/PID/"},
		{regexp.MustCompile(`process\(\d+,`), "process(PID,"},
		{regexp.MustCompile(`\bprocess \d+\b`), "process PID"},
	}
})

// replacement is one thing normalize replaces: what pattern matches, by with.
type replacement struct {
	pattern *regexp.Regexp
	with    string
}
