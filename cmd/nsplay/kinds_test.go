package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/testenv"
)

const kindsPlaybook = "testdata/kinds.star"

// TestLinkKindsKept: a kept lab's macvlan, vxlan, tap and tun are there as
// ip shows them, a re-run adopts each, one whose attributes the playbook
// changed is refused, and down leaves nothing.
func TestLinkKindsKept(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	stdout, stderr, code := run(t, "run", "--keep", kindsPlaybook)
	wantExit(t, code, exitOK, stdout, stderr)
	kinds := func() map[string]string {
		out := map[string]string{}
		for _, netns := range []string{"", "kinds-a"} {
			for name, l := range testenv.Links(t, netns) {
				out[netns+"/"+name] = l.LinkInfo.Kind
			}
		}
		return out
	}
	kept := kinds()
	for link, want := range map[string]string{"kinds-a/mv0": "macvlan", "kinds-a/vx0": "vxlan", "/kinds-tap0": "tun", "kinds-a/tun0": "tun"} {
		if kept[link] != want {
			t.Errorf("%s is a %q link after run --keep, want %s", link, kept[link], want)
		}
	}
	stdout, _, _ = run(t, "show", "kinds")
	for _, row := range []string{`kinds-a\s+mv0\s+macvlan\s+down\s+1500\s+-\s+-\s+-\s+mode=private parent=kinds-a0@host`,
		`kinds-a\s+vx0\s+vxlan\s+down\s+1450\s+-\s+-\s+-\s+vni=42 port=4789 local=10.60.0.1 remote=10.60.0.2 parent=eth0@kinds-a`,
		`host\s+kinds-tap0\s+tuntap\s+down\s+1500\s+-\s+-\s+-\s+mode=tap`, `kinds-a\s+tun0\s+tuntap\s+down\s+1500\s+-\s+-\s+-\s+mode=tun`} {
		if !regexpMatch(row, stdout) {
			t.Errorf("show kinds lacks a row like %q:\n%s", row, stdout)
		}
	}

	stdout, stderr, code = run(t, "run", "--keep", kindsPlaybook)
	wantExit(t, code, exitOK, stdout, stderr)
	for _, line := range []string{"macvlan mv0 is the lab's already: adopted", "vxlan vx0 is the lab's already: adopted",
		"tuntap kinds-tap0 is the lab's already: adopted", "tuntap tun0 is the lab's already: adopted"} {
		if !strings.Contains(stdout, line) {
			t.Errorf("re-run output lacks %q:\n%s", line, stdout)
		}
	}
	if again := kinds(); !mapsEqual(again, kept) {
		t.Errorf("the re-run changed the links: %v, before %v", again, kept)
	}

	_, stderr, code = run(t, "run", "--keep", "-D", "vni=43", kindsPlaybook)
	if code != exitError || !strings.Contains(stderr, "vx0 in kinds-a is the lab's already, but a vxlan with vni=42 port=4789 local=10.60.0.1 remote=10.60.0.2, not vni=43") {
		t.Errorf("a re-run with another VNI: status %d, stderr %q; want it refused", code, stderr)
	}

	stdout, stderr, code = run(t, "down", "kinds")
	wantExit(t, code, exitOK, stdout, stderr)
	before.AssertUnchanged(t)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestPlanAgreesOnLinkKinds: for playbooks that make links of the new
// kinds, nsplay plan prints the step lines nsplay run prints and ends as
// it does (the model refuses what the kernel refuses).
func TestPlanAgreesOnLinkKinds(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	for _, file := range []string{"../../playbooks/vxlan.star", kindsPlaybook, "../../interp/testdata/macvlan.star",
		"../../interp/testdata/vxlan.star", "../../interp/testdata/tuntap.star"} {
		t.Run(file, func(t *testing.T) {
			ran, _, runCode := run(t, "run", file)
			planned, _, planCode := run(t, "plan", file)
			if planCode != runCode {
				t.Errorf("plan ends with status %d, run with %d\nplan:\n%s\nrun:\n%s", planCode, runCode, planned, ran)
			}
			if got, want := steps(planned), steps(ran); !slices.Equal(got, want) {
				t.Errorf("plan's steps differ from run's\nplan:\n%s\nrun:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
	before.AssertUnchanged(t)
}

// steps are the step lines of a text report: "FILE:LINE: ..." (print()
// lines too, which agree as well).
func steps(out string) []string {
	var lines []string
	step := regexp.MustCompile(`^\S+\.star:\d+: `)
	for line := range strings.Lines(out) {
		if step.MatchString(line) {
			lines = append(lines, strings.TrimSuffix(line, "\n"))
		}
	}
	return lines
}
