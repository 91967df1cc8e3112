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
