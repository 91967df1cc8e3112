package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/nsplay/nsplay/internal/testenv"
)

// The documentation: the front page and the pages under docs/.
const (
	frontPage = "../../README.md"
	docsDir   = "../../docs"
)

// docPages returns the path of every page.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages in %s: %v", docsDir, err)
	}
	return append([]string{frontPage}, pages...)
}

// proseLines returns the page's lines outside fenced code blocks, and the
// fenced blocks by their info string ("mermaid").
func proseLines(text string) (prose []string, fenced map[string][]string) {
	fenced = map[string][]string{}
	var info string
	var block []string
	in := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "```") && !in:
			in, info, block = true, strings.TrimPrefix(line, "```"), nil
		case strings.HasPrefix(line, "```"):
			in = false
			fenced[info] = append(fenced[info], strings.Join(block, "\n")+"\n")
		case in:
			block = append(block, line)
		default:
			prose = append(prose, line)
		}
	}
	return prose, fenced
}

var (
	codeSpan = regexp.MustCompile("`[^`]*`")
	heading  = regexp.MustCompile(`^#{1,6} (.*)$`)
	mdLink   = regexp.MustCompile(`\]\(([^)\s]+)\)`)
)

// anchors returns the anchors GitHub gives the page's headings: lower
// case, without punctuation, spaces as hyphens, and -1, -2 after a repeat.
func anchors(text string) []string {
	var out []string
	seen := map[string]int{}
	prose, _ := proseLines(text)
	for _, line := range prose {
		m := heading.FindStringSubmatch(strings.ReplaceAll(line, "`", ""))
		if m == nil {
			continue
		}
		a := strings.Map(func(r rune) rune {
			switch {
			case r == ' ':
				return '-'
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				return unicode.ToLower(r)
			}
			return -1
		}, strings.TrimSpace(m[1]))
		if n := seen[a]; n > 0 {
			seen[a] = n + 1
			a += "-" + strconv.Itoa(n)
		} else {
			seen[a] = 1
		}
		out = append(out, a)
	}
	return out
}

// TestDocsLinks follows every relative link of the documentation: the
// file must exist, and a #anchor must be one of its headings.
func TestDocsLinks(t *testing.T) {
	for _, page := range docPages(t) {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		prose, _ := proseLines(string(data))
		for _, line := range prose {
			// A link in a code span is text, not a link.
			for _, m := range mdLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, "``"), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				path, anchor, _ := strings.Cut(target, "#")
				file := page
				if path != "" {
					file = filepath.Join(filepath.Dir(page), path)
				}
				linked, err := os.ReadFile(file)
				if err != nil {
					if info, serr := os.Stat(file); serr == nil && info.IsDir() && anchor == "" {
						continue
					}
					t.Errorf("%s: link %s: %v", page, target, err)
					continue
				}
				if anchor != "" && !slices.Contains(anchors(string(linked)), anchor) {
					t.Errorf("%s: link %s: %s has no heading with the anchor #%s", page, target, file, anchor)
				}
			}
		}
	}
}

// TestReadmeGraph holds the graphs of the tutorial that the documentation
// shows (every Mermaid block of the front page and of docs/plan.md) to
// what `nsplay graph --format mermaid` draws.
func TestReadmeGraph(t *testing.T) {
	want, stderr, code := run(t, "graph", "--format", "mermaid", tutorial)
	if code != exitOK {
		t.Fatalf("graph: status %d: %s", code, stderr)
	}
	for _, page := range []string{frontPage, filepath.Join(docsDir, "plan.md")} {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		_, fenced := proseLines(string(data))
		if len(fenced["mermaid"]) == 0 {
			t.Errorf("%s shows no Mermaid graph of the tutorial", page)
		}
		for _, got := range fenced["mermaid"] {
			if got != want {
				t.Errorf("%s shows a graph of the tutorial that nsplay does not draw:\n%s\nnsplay graph --format mermaid %s:\n%s", page, got, tutorial, want)
			}
		}
	}
}

// roundTrip is a round-trip time in a check line, which differs from run
// to run.
var roundTrip = regexp.MustCompile(`\(\d+\.\d+ ms\)`)

// TestFirstPlaybook follows docs/first-playbook.md as a reader would, in a
// folder of its own. Before a fenced block, a comment says what to do
// with it:
//
//	<!-- file: NAME -->    the block is the whole of file NAME
//	<!-- append: NAME -->  the block is added at the end of NAME
//	<!-- edit: NAME -->    the block is a diff: its - lines become its + lines
//	<!-- whole: NAME -->   the block is what NAME holds by now
//
// and each ```console block is run: its `$ nsplay ...` commands, with the
// output shown below each (stdout and stderr, round-trip times aside),
// `$ echo $?` the exit status of the command before, `$ cat NAME` and
// `$ touch NAME`. Nothing may be left on the machine.
func TestFirstPlaybook(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	page := filepath.Join(docsDir, "first-playbook.md")
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := func(name string) string { return filepath.Join(dir, name) }
	read := func(name string) string {
		data, err := os.ReadFile(file(name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	write := func(name, content string) {
		if err := os.WriteFile(file(name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	marker := regexp.MustCompile(`^<!-- (file|append|edit|whole): (\S+) -->$`)
	var action, name string
	consoles := 0
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		if m := marker.FindStringSubmatch(lines[i]); m != nil {
			action, name = m[1], m[2]
			continue
		}
		if !strings.HasPrefix(lines[i], "```") {
			continue
		}
		info := strings.TrimPrefix(lines[i], "```")
		var block []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			block = append(block, lines[i])
		}
		text := strings.Join(block, "\n") + "\n"
		switch {
		case info == "console":
			consoles++
			runConsole(t, dir, block)
		case action == "file":
			write(name, text)
		case action == "append":
			write(name, read(name)+text)
		case action == "edit":
			var old, new []string
			for _, l := range block {
				if strings.HasPrefix(l, "-") {
					old = append(old, l[1:]+"\n")
				} else if strings.HasPrefix(l, "+") {
					new = append(new, l[1:]+"\n")
				}
			}
			content := read(name)
			if !strings.Contains(content, strings.Join(old, "")) {
				t.Fatalf("%s: the edit of %s takes out lines it does not hold:\n%s", page, name, strings.Join(old, ""))
			}
			write(name, strings.Replace(content, strings.Join(old, ""), strings.Join(new, ""), 1))
		case action == "whole":
			if got := read(name); got != text {
				t.Errorf("%s: the whole %s is not what the steps before built:\n%s\nthe steps built:\n%s", page, name, text, got)
			}
		}
		action = ""
	}
	if consoles < 5 {
		t.Errorf("%s: %d console blocks, want the commands of every step", page, consoles)
	}
	before.AssertUnchanged(t)
}

// runConsole runs the commands of one console block in dir and compares
// what each prints with the lines below it.
func runConsole(t *testing.T, dir string, block []string) {
	t.Helper()
	status := -1
	for i := 0; i < len(block); {
		cmdline, ok := strings.CutPrefix(block[i], "$ ")
		if !ok {
			t.Fatalf("console: %q is not a command", block[i])
		}
		var want []string
		for i++; i < len(block) && !strings.HasPrefix(block[i], "$ "); i++ {
			want = append(want, block[i])
		}
		args := strings.Fields(cmdline)
		var got string
		switch args[0] {
		case "nsplay":
			cmd := nsplayProcess(t, args[1:]...)
			cmd.Dir = dir
			out, _ := cmd.CombinedOutput()
			got, status = string(out), cmd.ProcessState.ExitCode()
		case "echo":
			got = fmt.Sprintf("%d\n", status)
		case "cat":
			data, err := os.ReadFile(filepath.Join(dir, args[1]))
			if err != nil {
				t.Fatal(err)
			}
			got = string(data)
		case "touch":
			if err := os.WriteFile(filepath.Join(dir, args[1]), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("console: the test does not run %q", cmdline)
		}
		wantText := ""
		if len(want) > 0 {
			wantText = strings.Join(want, "\n") + "\n"
		}
		if roundTrip.ReplaceAllString(got, "(N ms)") != roundTrip.ReplaceAllString(wantText, "(N ms)") {
			t.Errorf("$ %s\nprints:\n%s\nthe page shows:\n%s", cmdline, got, wantText)
		}
	}
}

// tourRoot is the folder the samples of docs/tour.md were run in, which
// their output names (nsplay ls, the prompt of nsplay shell).
const tourRoot = "/work/main"

// A tourCommand is one `# nsplay ...` line of a sample of docs/tour.md and
// the lines the page shows below it.
type tourCommand struct {
	line int      // on the page
	args []string // after "nsplay"
	want []string // the lines of the page below it, one after the other
}

// tourSamples returns the samples of the page, each an indented block
// whose first line is `# nsplay run ...`, as its commands.
func tourSamples(text string) [][]tourCommand {
	lines := strings.Split(text, "\n")
	// blankInside tells whether lines[i] is a blank line within an
	// indented block: the next line that is not blank is indented.
	blankInside := func(i int) bool {
		for ; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) != "" {
				return strings.HasPrefix(lines[i], "    ")
			}
		}
		return false
	}
	var samples [][]tourCommand
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "    # nsplay run ") {
			continue
		}
		var sample []tourCommand
		for ; i < len(lines); i++ {
			line, indented := strings.CutPrefix(lines[i], "    ")
			if !indented && (strings.TrimSpace(lines[i]) != "" || !blankInside(i)) {
				break
			}
			if args, ok := strings.CutPrefix(line, "# nsplay "); ok {
				sample = append(sample, tourCommand{line: i + 1, args: strings.Fields(args)})
				continue
			}
			last := &sample[len(sample)-1]
			last.want = append(last.want, strings.TrimSpace(line))
		}
		samples = append(samples, sample)
	}
	return samples
}

var (
	// measured is a round-trip time or a throughput, which differ from
	// run to run.
	measured = regexp.MustCompile(`\d+\.\d+ (ms|mbit/s)`)
	// aPID is a process id in a step line (/proc/PID/ns/net, nsenter -t
	// PID, spawn's "= pid PID") or a teardown line (kill PID).
	aPID = regexp.MustCompile(`(/proc/|kill |-t |= pid )\d+`)
	aMAC = regexp.MustCompile(`\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b`)
	// labMAC is a MAC address the lab sets (static_neighbours), derived
	// from its names: the same in every run, unlike those the kernel picks.
	labMAC = regexp.MustCompile(`link set \S+ address ([0-9a-f]{2}(?::[0-9a-f]{2}){5})`)
	// shellPrompt is a line typed at the prompt of nsplay shell.
	shellPrompt = regexp.MustCompile(`^\[[^\]]+\] \S*# (.*)$`)
)

// tourNormalizer makes the page's lines and nsplay's comparable: what
// differs from run to run (round trips, throughputs, pids, and the MACs
// that the output does not show the lab setting) is replaced, and runs of
// spaces (the widths of table columns, which follow the folder's name) are
// one space.
type tourNormalizer struct{ labMACs map[string]bool }

func newTourNormalizer(output string) tourNormalizer {
	n := tourNormalizer{labMACs: map[string]bool{}}
	for _, m := range labMAC.FindAllStringSubmatch(output, -1) {
		n.labMACs[m[1]] = true
	}
	return n
}

func (n tourNormalizer) lines(lines []string) []string {
	var out []string
	for _, line := range lines {
		line = measured.ReplaceAllString(line, "N $1")
		line = aPID.ReplaceAllString(line, "${1}PID")
		line = aMAC.ReplaceAllStringFunc(line, func(mac string) string {
			if n.labMACs[mac] {
				return mac
			}
			return "MAC"
		})
		out = append(out, strings.Join(strings.Fields(line), " "))
	}
	return out
}

// matchLines matches got against want, in which a line "..." stands for
// any number of lines: on a mismatch it returns the index in want of the
// first line it cannot match and says why, else -1.
func matchLines(want, got []string) (int, string) {
	// The lines between the "..."s, each run at the first place it
	// matches after the one before; the first is held to the start of
	// got and the last to its end unless "..." stands before or after.
	type run struct{ from, to int } // in want
	var runs []run
	from := 0
	for i := 0; i <= len(want); i++ {
		if i == len(want) || want[i] == "..." {
			runs = append(runs, run{from, i})
			from = i + 1
		}
	}
	// matches returns how many lines of r match got from position at.
	matches := func(r run, at int) int {
		n := 0
		for r.from+n < r.to && at+n < len(got) && want[r.from+n] == got[at+n] {
			n++
		}
		return n
	}
	pos := 0
	for k, r := range runs {
		size := r.to - r.from
		// A want that ends with "..." ends with an empty run, which
		// holds nothing to the end.
		first, last := k == 0, k == len(runs)-1 && (size > 0 || k == 0)
		var places []int
		switch {
		case first:
			places = []int{0}
		case last:
			places = []int{len(got) - size}
		default:
			for at := pos; at <= len(got)-size; at++ {
				places = append(places, at)
			}
		}
		found := -1
		for _, at := range places {
			if at >= pos && matches(r, at) == size && (!last || at+size == len(got)) {
				found = at
				break
			}
		}
		if found >= 0 {
			pos = found + size
			continue
		}
		// Say where it goes wrong: at the place that matches most.
		best, bestN := pos, -1
		for at := pos; at <= len(got); at++ {
			if n := matches(r, at); n > bestN && (!first || at == 0) {
				best, bestN = at, n
			}
		}
		wrong := r.from + bestN // the first line of want that does not match
		switch {
		case size == 0:
			return r.from, fmt.Sprintf("the page shows no output; the output has %q", got[0])
		case len(got) == 0:
			return wrong, fmt.Sprintf("the page shows %q; the output is empty", want[wrong])
		case bestN == size:
			return r.to - 1, fmt.Sprintf("the page ends the sample with %q, but the output goes on after it (output line %d) with %q", want[r.to-1], best+bestN, got[best+bestN])
		case bestN == 0 && !first && pos == 0:
			return wrong, fmt.Sprintf("the page shows %q, which is not in the output", want[wrong])
		case bestN == 0 && !first:
			return wrong, fmt.Sprintf("the page shows %q, which is not in the output after output line %d %q", want[wrong], pos, got[pos-1])
		case best+bestN == 0:
			return wrong, fmt.Sprintf("the page shows %q first; the output starts with %q", want[wrong], got[0])
		case best+bestN == len(got):
			return wrong, fmt.Sprintf("after output line %d %q, the page shows %q; the output ends there", best+bestN, got[best+bestN-1], want[wrong])
		}
		return wrong, fmt.Sprintf("after output line %d %q, the page shows %q; the output has %q", best+bestN, got[best+bestN-1], want[wrong], got[best+bestN])
	}
	return -1, ""
}

// TestMatchLines holds matchLines to what TestTour needs of it.
func TestMatchLines(t *testing.T) {
	for _, tc := range []struct {
		want, got string
		wrong     int
	}{
		{"a b c", "a b c", -1},
		{"a ... c", "a b c", -1},
		{"a ... b c", "a b c", -1},
		{"... c", "a b c", -1},
		{"a ...", "a b c", -1},
		{"...", "", -1},
		{"", "", -1},
		{"a ... b ... c", "a x b b y c", -1},
		{"a ... c", "a b c d", 2},
		{"a c", "a b c", 1},
		{"b ...", "a b c", 0},
		{"a ... d", "a b c", 2},
		{"a ... b d ... c", "a b c b c", 3},
		{"", "a", 0},
		{"a", "", 0},
	} {
		want, got := strings.Fields(tc.want), strings.Fields(tc.got)
		if wrong, why := matchLines(want, got); wrong != tc.wrong {
			t.Errorf("matchLines(%q, %q) = %d %q, want %d", want, got, wrong, why, tc.wrong)
		}
	}
}

// TestTour runs the sample runs of docs/tour.md and holds them to what
// nsplay prints now. Each indented block that starts with `# nsplay run
// ARGS` is a sample: its `# nsplay ...` lines are run in the repository
// (run without --sandbox: the test runs in a sandbox already), and the
// lines below each must be its output, stdout and stderr, where `...`
// stands for any number of lines; round-trip times, throughputs, pids,
// MACs the kernel picked, the repository's folder and column widths may
// differ. The lines typed at the prompt of `nsplay shell` are its input.
// Every playbook has a sample, and nothing may be left on the machine.
func TestTour(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	page := filepath.Join(docsDir, "tour.md")
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for _, sample := range tourSamples(string(data)) {
		up := labsUp()
		for _, c := range sample {
			c.args = slices.DeleteFunc(c.args, func(a string) bool { return a == "--sandbox" })
			if c.args[0] == "run" {
				shown[c.args[len(c.args)-1]] = true
			}
			output, want := runTourCommand(t, root, c)
			norm := newTourNormalizer(output)
			got := norm.lines(strings.Split(strings.TrimSuffix(output, "\n"), "\n"))
			if i, why := matchLines(norm.lines(want), got); i >= 0 {
				t.Errorf("%s:%d: the sample of nsplay %s (line %d): %s\nits output, as compared:\n    %s",
					page, c.line+1+i, strings.Join(c.args, " "), c.line, why, strings.Join(got, "\n    "))
			}
		}
		// A lab the sample keeps and does not take down goes now.
		for name := range labsUp() {
			if !up[name] {
				run(t, "down", name)
			}
		}
	}
	playbooks, err := filepath.Glob(filepath.Join(root, "playbooks", "*.star"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range playbooks {
		if name := "playbooks/" + filepath.Base(file); !shown[name] {
			t.Errorf("%s shows no sample run of %s", page, name)
		}
	}
	before.AssertUnchanged(t)
}

// runTourCommand runs one command of a sample in the repository root and
// returns its output, with root written as tourRoot, and the lines the
// page shows for it. nsplay shell gets the lines typed at its prompt as
// input, in bash without the user's ~/.bashrc, and its output is what it
// prints on stdout; the prompt, on stderr, is TestShell's.
func runTourCommand(t *testing.T, root string, c tourCommand) (output string, want []string) {
	t.Helper()
	cmd := nsplayProcess(t, c.args...)
	cmd.Dir = root
	want = c.want
	var out []byte
	if c.args[0] == "shell" {
		var typed strings.Builder
		want = nil
		for _, line := range c.want {
			if m := shellPrompt.FindStringSubmatch(line); m != nil {
				typed.WriteString(m[1] + "\n")
			} else {
				want = append(want, line)
			}
		}
		cmd.Stdin = strings.NewReader(typed.String())
		cmd.Env = append(cmd.Env, "SHELL=/bin/bash", "HOME="+t.TempDir(), "TMPDIR="+t.TempDir())
		out, _ = cmd.Output()
	} else {
		out, _ = cmd.CombinedOutput()
	}
	if cmd.ProcessState == nil {
		t.Fatalf("nsplay %s did not run", strings.Join(c.args, " "))
	}
	return strings.ReplaceAll(string(out), root, tourRoot), want
}
